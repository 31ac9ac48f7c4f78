"""Historical features: point-in-time correct, TTL respected, entity order and columns kept."""

from __future__ import annotations

import random
from datetime import timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mfg_assets.feature_store.errors import InvalidEntityRowsError
from mfg_assets.feature_store.names import FEATURE_TTL
from mfg_assets.feature_store.store import open_store, training_frame
from mfg_assets.features.schema import feature_columns

from .conftest import HOUR, MACHINES, T0, Plant, feature_value, partition_frame


@pytest.fixture
def two_hours(data_dir) -> object:
    """Partition 02:00 (known at 03:00) and 03:00 (known at 04:00) with different values."""
    plant = Plant(data_dir)
    plant.write(2, partition_frame(2).with_columns(pl.lit(10.0).alias("vibration_max")))
    plant.write(3, partition_frame(3).with_columns(pl.lit(99.0).alias("vibration_max")))
    return open_store("embedded")


def test_later_values_never_leak_into_earlier_labels(two_hours) -> None:
    labels = pl.DataFrame(
        {
            "machine_id": ["M01", "M01", "M01", "M02", "M01"],
            "event_timestamp": [
                T0 + 3 * HOUR + timedelta(minutes=59),  # only 02:00's row is known
                T0 + 4 * HOUR,  # 03:00's row became known exactly now: used
                T0 + 4 * HOUR - timedelta(microseconds=1),  # one tick earlier: not yet
                T0 + 3 * HOUR,
                T0 + 2 * HOUR,  # before any row is known
            ],
            "label": [0, 1, 0, 1, 0],
        }
    )
    out = training_frame(two_hours, labels)
    assert out.select("machine_id", "event_timestamp", "label").equals(labels)  # order kept
    assert out["vibration_max"].to_list() == [10.0, 99.0, 10.0, 10.0, None]
    assert out["n_readings"].to_list()[:2] == [
        feature_value("M01", 2, "n_readings"),
        feature_value("M01", 3, "n_readings"),
    ]
    assert out.columns == ["machine_id", "event_timestamp", "label", *feature_columns()]


def test_rewritten_partition_with_same_data_changes_nothing(data_dir, two_hours) -> None:
    labels = pl.DataFrame(
        {"machine_id": list(MACHINES) * 2, "event_timestamp": [T0 + 4 * HOUR] * 6}
    )
    before = training_frame(two_hours, labels)
    Plant(data_dir).write(3, partition_frame(3).with_columns(pl.lit(99.0).alias("vibration_max")))
    after = training_frame(two_hours, labels)
    assert_frame_equal(after, before)
    assert after.height == 6


def test_ttl_gives_nulls_instead_of_stale_rows(two_hours) -> None:
    known = T0 + 4 * HOUR  # newest row's event_timestamp
    labels = pl.DataFrame(
        {
            "machine_id": ["M03", "M03", "M03"],
            "event_timestamp": [known + FEATURE_TTL, known + FEATURE_TTL + HOUR, known + 30 * HOUR],
        }
    )
    out = training_frame(two_hours, labels)
    assert out.height == 3  # Feast drops rows without a match; they come back as nulls
    assert out["vibration_max"].to_list() == [99.0, None, None]


def test_unknown_machine_and_pandas_input(two_hours) -> None:
    labels = pl.DataFrame(
        {
            "machine_id": ["ZZ", "M02"],
            "event_timestamp": [T0 + 5 * HOUR, T0 + 5 * HOUR],
            "y": [1, 2],
        }
    )
    out = training_frame(two_hours, labels.to_pandas(), features=["vibration_max", "n_defects"])
    assert out.columns == ["machine_id", "event_timestamp", "y", "vibration_max", "n_defects"]
    assert out["vibration_max"].to_list() == [None, 99.0]


def test_polars_engine_matches_feast_across_days(data_dir) -> None:
    plant = Plant(data_dir)
    hours = 40  # 2026-11-01 00:00 .. 2026-11-02 15:00: labels straddle midnight
    for h in range(hours):
        if h != 20:  # one missing partition: labels right after it fall back to older rows
            plant.write(h)
    store = open_store("embedded")
    rng = random.Random(7)
    labels = pl.DataFrame(
        {
            "machine_id": [rng.choice([*MACHINES, "M99"]) for _ in range(300)],
            "event_timestamp": [
                T0 + timedelta(minutes=rng.randrange(-120, (hours + 10) * 60, 15))
                for _ in range(300)
            ],
            "row": list(range(300)),
        }
    )
    midnight = pl.DataFrame(
        {
            "machine_id": list(MACHINES),
            "event_timestamp": [T0 + 24 * HOUR + timedelta(minutes=30)] * len(MACHINES),
            "row": [-1] * len(MACHINES),
        }
    )
    labels = pl.concat([labels, midnight])
    feast = training_frame(store, labels, chunk_rows=64)
    fast = training_frame(store, labels, engine="polars")
    assert_frame_equal(feast, fast)
    assert 0 < feast["temperature_mean"].null_count() < 150
    after_midnight = feast.filter(
        (pl.col("event_timestamp") == T0 + 24 * HOUR + timedelta(minutes=30))
        & (pl.col("machine_id") != "M99")
    )
    assert after_midnight.height >= len(MACHINES)
    for row in after_midnight.iter_rows(named=True):  # the row of partition 23:00, known 00:00
        assert row["n_readings"] == feature_value(row["machine_id"], 23, "n_readings")


def test_malformed_entity_rows(two_hours) -> None:
    with pytest.raises(InvalidEntityRowsError, match="event_timestamp"):
        training_frame(two_hours, pl.DataFrame({"machine_id": ["M01"]}))
    with pytest.raises(InvalidEntityRowsError, match="clash"):
        training_frame(
            two_hours,
            pl.DataFrame({"machine_id": ["M01"], "event_timestamp": [T0], "vibration_max": [1.0]}),
        )
    empty = training_frame(
        two_hours,
        pl.DataFrame(schema={"machine_id": pl.String, "event_timestamp": pl.Datetime("us")}),
    )
    assert empty.is_empty() and "temperature_mean" in empty.columns
