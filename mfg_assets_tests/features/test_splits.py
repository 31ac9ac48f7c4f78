"""The one time split: the same names and cut rule for the maintenance frame and the defect
dataset; YOLO's ``val`` only in data.yaml."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from mfg_assets.features.splits import SPLITS, split_labels, time_ordered_split

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_split_names_are_train_validation_test() -> None:
    assert SPLITS == ("train", "validation", "test")
    labels = split_labels([T0 + timedelta(minutes=i) for i in range(20)], 0.15, 0.15)
    assert labels == ["train"] * 14 + ["validation"] * 3 + ["test"] * 3


def test_a_cut_moves_past_rows_of_the_same_time() -> None:
    times = [T0] * 3 + [T0 + timedelta(hours=1)] * 3 + [T0 + timedelta(hours=2)] * 4
    labels = split_labels(times, validation_fraction=0.1, test_fraction=0.4)
    assert labels == ["train"] * 6 + ["test"] * 4  # the 50 % cut lands inside hour 1


@pytest.mark.parametrize(("validation", "test"), [(0.0, 0.2), (0.2, 1.0), (0.5, 0.5)])
def test_fractions_must_leave_rows_to_train_on(validation: float, test: float) -> None:
    with pytest.raises(ValueError, match="fraction"):
        split_labels([T0], validation, test)


def test_frame_split_keeps_every_machine_hour_together() -> None:
    hours = 40
    frame = pl.DataFrame(
        {
            "event_timestamp": [T0 + timedelta(hours=h) for h in range(hours) for _ in range(3)],
            "machine_id": [f"M{m}" for _ in range(hours) for m in range(3)],
        }
    )
    split = time_ordered_split(frame.reverse(), validation_fraction=0.25, test_fraction=0.25)
    per_hour = split.group_by("event_timestamp").agg(pl.col("split").n_unique().alias("n"))
    assert per_hour["n"].max() == 1 and split.height == frame.height
    counts = dict(split.group_by("split").len().iter_rows())
    assert counts == {"train": 60, "validation": 30, "test": 30}
    bounds = split.group_by("split").agg(
        pl.col("event_timestamp").min().alias("lo"), pl.col("event_timestamp").max().alias("hi")
    )
    b = {r["split"]: r for r in bounds.iter_rows(named=True)}
    assert b["train"]["hi"] < b["validation"]["lo"] and b["validation"]["hi"] < b["test"]["lo"]
    assert split["event_timestamp"].is_sorted()


def test_test_days_hold_out_the_last_days_when_enough_history_precedes_them():
    hours = [T0 + timedelta(hours=h) for h in range(14 * 24)]
    frame = pl.DataFrame({"event_timestamp": hours, "machine_id": ["M001"] * len(hours)})
    split = time_ordered_split(frame, test_days=3)
    test = split.filter(pl.col("split") == "test")["event_timestamp"]
    assert test.len() == 72 and test.min() == hours[-72]  # exactly the last three days
    assert split.filter(pl.col("split") == "train").height > 0
    # six days (the demo plant's labels) hold three test days and three to train on
    demo = time_ordered_split(frame.head(6 * 24), test_days=3)
    assert demo.filter(pl.col("split") == "test").height == 72
    # five days leave less than two to train on: the fraction rules
    short = time_ordered_split(frame.head(5 * 24), test_fraction=0.15, test_days=3)
    assert short.filter(pl.col("split") == "test").height == 18
