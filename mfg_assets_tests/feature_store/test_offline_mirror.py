"""The daily mirror Feast reads: rebuilt from the hourly partitions, idempotent, no duplicates."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mfg_assets.feature_store.errors import FeatureStoreError, PartitionsNotFoundError
from mfg_assets.feature_store.names import offline_source_dir
from mfg_assets.feature_store.offline import (
    partition_window_rows,
    read_offline,
    sync_offline_store,
)

from .conftest import HOUR, HOURS, MACHINES, T0, Plant, partition_frame


def _all_offline() -> pl.DataFrame:
    return read_offline(T0 - 24 * HOUR, T0 + 48 * HOUR)


def test_mirror_holds_every_row_once(plant: Plant) -> None:
    result = sync_offline_store()
    assert result.days_rebuilt == ("2026-11-01",)
    assert sorted(p.name for p in offline_source_dir().iterdir()) == ["2026-11-01.parquet"]
    offline = _all_offline()
    assert offline.height == len(MACHINES) * HOURS
    expected = plant.all_rows().sort(["event_timestamp", "machine_id"])
    assert_frame_equal(offline, expected)
    assert sync_offline_store().days_rebuilt == ()  # unchanged: nothing rebuilt


def test_rewriting_a_partition_with_the_same_data_changes_nothing(plant: Plant) -> None:
    before = _all_offline()
    plant.write(5)  # re-materialized partition, same content, new file
    assert sync_offline_store().days_rebuilt == ("2026-11-01",)
    assert_frame_equal(_all_offline(), before)


def test_new_and_changed_partitions_are_picked_up(plant: Plant) -> None:
    changed = partition_frame(3).with_columns(pl.lit(-1.5).alias("vibration_mean"))
    plant.write(3, changed)
    plant.write(30)  # next day
    sync = sync_offline_store()
    assert sync.days_rebuilt == ("2026-11-01", "2026-11-02")
    window = partition_window_rows(T0 + 3 * HOUR, T0 + 4 * HOUR)
    assert window["vibration_mean"].to_list() == [-1.5] * len(MACHINES)
    assert partition_window_rows(T0 + 30 * HOUR, T0 + 31 * HOUR).height == len(MACHINES)


def test_deleted_partitions_leave_the_mirror(plant: Plant) -> None:
    plant.write(30)
    sync_offline_store()
    (plant.data_dir / "warehouse" / "machine_hourly_features" / "2026-11-02-0600.parquet").unlink()
    assert sync_offline_store().days_removed == ("2026-11-02",)
    assert not (offline_source_dir() / "2026-11-02.parquet").exists()


def test_window_is_partition_aligned(plant: Plant) -> None:
    rows = partition_window_rows(T0 + 3 * HOUR, T0 + 6 * HOUR)
    assert rows["hour"].unique().sort().to_list() == [T0 + h * HOUR for h in (3, 4, 5)]
    assert rows["event_timestamp"].min() == T0 + 4 * HOUR
    assert rows["event_timestamp"].max() == T0 + 6 * HOUR


def test_temporary_files_are_ignored(plant: Plant) -> None:
    folder = plant.data_dir / "warehouse" / "machine_hourly_features"
    (folder / ".2026-11-01-0100.parquet.abc123.tmp").write_bytes(b"half written")
    sync_offline_store()
    assert _all_offline().height == len(MACHINES) * HOURS


def test_missing_partitions_folder_is_a_clear_error(data_dir: Path) -> None:
    with pytest.raises(PartitionsNotFoundError, match="machine_hourly_features"):
        sync_offline_store()


def test_partition_with_wrong_schema_is_a_clear_error(plant: Plant) -> None:
    plant.write(2, partition_frame(2).drop("pressure_std"))
    with pytest.raises(FeatureStoreError, match=r"2026-11-01-0200.parquet lacks .*pressure_std"):
        sync_offline_store()
