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

from .conftest import HOUR, HOURS, MACHINES, T0, Plant, feature_value, partition_frame


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


def test_polars_engine_matches_feast(data_dir) -> None:
    plant = Plant(data_dir)
    for h in range(HOURS):
        plant.write(h)
    store = open_store("embedded")
    rng = random.Random(7)
    labels = pl.DataFrame(
        {
            "machine_id": [rng.choice([*MACHINES, "M99"]) for _ in range(200)],
            "event_timestamp": [
                T0 + timedelta(minutes=rng.randrange(-120, (HOURS + 10) * 60, 15))
                for _ in range(200)
            ],
            "row": list(range(200)),
        }
    )
    feast = training_frame(store, labels, chunk_rows=64)
    fast = training_frame(store, labels, engine="polars")
    assert_frame_equal(feast, fast)
    assert feast["temperature_mean"].null_count() < 200


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
