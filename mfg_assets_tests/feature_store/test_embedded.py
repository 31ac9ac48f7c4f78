"""Embedded profile end to end: SQLite online store, file registry, file offline store."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mfg_assets.feature_store.errors import (
    PartitionsNotFoundError,
    StaleFeaturesError,
    UnknownMachineError,
)
from mfg_assets.feature_store.names import feature_store_dir
from mfg_assets.feature_store.offline import latest_per_machine
from mfg_assets.feature_store.online import online_features
from mfg_assets.feature_store.store import apply_definitions, materialize_window, open_store
from mfg_assets.features.schema import feature_columns

from .conftest import HOUR, HOURS, MACHINES, T0, Plant, partition_frame

REPO_DIR = Path(__file__).resolve().parents[2] / "mfg_assets" / "feature_store" / "repo"


def _expected_online(rows: pl.DataFrame, machines: list[str]) -> pl.DataFrame:
    latest = latest_per_machine(rows)
    order = pl.DataFrame({"machine_id": machines})
    return order.join(latest, on="machine_id", how="left", maintain_order="left").select(
        "machine_id", *feature_columns(), "event_timestamp"
    )


def _online_row_count(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "feature_store" / "online.db") as conn:
        return conn.execute('SELECT count(*) FROM "mfg_test_machine_hourly_features"').fetchone()[0]


def test_materialize_then_lookup_equals_offline_latest(plant: Plant, embedded_store) -> None:
    result = materialize_window(embedded_store, T0, T0 + HOURS * HOUR)
    assert result.rows_written == len(MACHINES)
    assert result.entities == MACHINES
    assert result.source_rows == len(MACHINES) * HOURS
    assert result.latest_event_timestamp == T0 + HOURS * HOUR
    assert result.to_metadata()["online_rows_written"] == len(MACHINES)

    ids = ["M03", "M01", "M02", "M01"]
    online = online_features(embedded_store, ids)
    assert online.columns == ["machine_id", *feature_columns(), "event_timestamp"]
    assert_frame_equal(online, _expected_online(plant.all_rows(), ids))
    assert online.filter(pl.col("machine_id") == "M01")["defect_rate"].to_list() == [None, None]


def test_window_covers_partitions_start_to_end(plant: Plant, embedded_store) -> None:
    result = materialize_window(embedded_store, T0 + 3 * HOUR, T0 + 6 * HOUR)
    assert result.source_rows == 3 * len(MACHINES)  # partitions 03:00, 04:00, 05:00
    online = online_features(embedded_store, list(MACHINES))
    assert online["event_timestamp"].to_list() == [T0 + 6 * HOUR] * len(MACHINES)
    expected = partition_frame(5).select("machine_id", *feature_columns(), "event_timestamp")
    assert_frame_equal(online, expected)


def test_materializing_twice_changes_nothing(plant: Plant, data_dir: Path, embedded_store) -> None:
    first = materialize_window(embedded_store, T0, T0 + 6 * HOUR)
    before = online_features(embedded_store, list(MACHINES))
    rows_before = _online_row_count(data_dir)
    second = materialize_window(embedded_store, T0, T0 + 6 * HOUR)
    assert (second.rows_written, second.source_rows) == (first.rows_written, first.source_rows)
    assert_frame_equal(online_features(embedded_store, list(MACHINES)), before)
    assert _online_row_count(data_dir) == rows_before == len(MACHINES) * len(feature_columns())


def test_backfilling_an_older_window_keeps_newer_online_rows(plant: Plant, embedded_store) -> None:
    materialize_window(embedded_store, T0 + 6 * HOUR, T0 + 12 * HOUR)
    newest = online_features(embedded_store, list(MACHINES))
    backfill = materialize_window(embedded_store, T0, T0 + 3 * HOUR)
    assert backfill.kept_newer == MACHINES
    assert backfill.rows_written == 0
    assert_frame_equal(online_features(embedded_store, list(MACHINES)), newest)


def test_new_partitions_reach_the_online_store(plant: Plant, embedded_store) -> None:
    materialize_window(embedded_store, T0, T0 + HOURS * HOUR)
    changed = partition_frame(HOURS).with_columns(pl.lit(42.0).alias("current_mean"))
    plant.write(HOURS, changed)
    result = materialize_window(embedded_store, T0 + HOURS * HOUR, T0 + (HOURS + 1) * HOUR)
    assert result.rows_written == len(MACHINES)
    assert online_features(embedded_store, ["M02"])["current_mean"].item() == 42.0


def test_empty_window_writes_nothing(plant: Plant, embedded_store) -> None:
    result = materialize_window(embedded_store, T0 + 100 * HOUR, T0 + 101 * HOUR)
    assert (result.rows_written, result.source_rows, result.entities) == (0, 0, ())
    with pytest.raises(UnknownMachineError):
        online_features(embedded_store, ["M01"])


def test_missing_partitions_folder_is_a_clear_error(data_dir: Path) -> None:
    store = open_store("embedded")
    with pytest.raises(PartitionsNotFoundError, match=r"warehouse/machine_hourly_features"):
        materialize_window(store, T0, T0 + HOUR)


def test_unknown_ids_raise_with_the_unknown_ids(plant: Plant, embedded_store) -> None:
    materialize_window(embedded_store, T0, T0 + HOURS * HOUR)
    with pytest.raises(UnknownMachineError) as info:
        online_features(embedded_store, ["M01", "X-404", "M02", "X-405"])
    assert info.value.machine_ids == ["X-404", "X-405"]
    assert "'X-404', 'X-405'" in str(info.value)
    assert "M01" not in str(info.value)
    empty = online_features(embedded_store, [])
    assert empty.is_empty() and empty.columns[0] == "machine_id"
    with pytest.raises(TypeError):
        online_features(embedded_store, "M01")


def test_max_age_refuses_stale_rows(plant: Plant, embedded_store) -> None:
    materialize_window(embedded_store, T0, T0 + HOURS * HOUR)
    now = T0 + HOURS * HOUR + timedelta(hours=2)
    fresh = online_features(embedded_store, ["M01"], max_age=timedelta(hours=6), now=now)
    assert fresh.height == 1
    with pytest.raises(StaleFeaturesError, match="M01"):
        online_features(embedded_store, ["M01"], max_age=timedelta(hours=1), now=now)


def test_apply_is_skipped_when_definitions_are_unchanged(plant: Plant, embedded_store) -> None:
    registry = feature_store_dir() / "registry.db"
    stamp = registry.stat().st_mtime_ns
    assert apply_definitions(embedded_store) is False
    open_store("embedded")
    assert registry.stat().st_mtime_ns == stamp
    assert apply_definitions(embedded_store, force=True) is True


def test_feast_cli_apply_in_the_repo_folder(plant: Plant, data_dir: Path) -> None:
    """`feast apply` with the repo's own yaml; one subprocess only (importing feast is slow)."""
    env = dict(os.environ, MFG_DATA_DIR=str(data_dir), MFG_FEAST_PROJECT="mfg_test")
    feast = str(Path(sys.executable).parent / "feast")
    applied = subprocess.run(
        [feast, "apply"], cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=180
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    store = open_store("embedded", apply=False)
    assert [v.name for v in store.list_feature_views()] == ["machine_hourly_features"]
    assert apply_definitions(store) is False  # CLI and code register identical specs
    materialize_window(store, T0, T0 + HOURS * HOUR)
    assert online_features(store, ["M01"]).height == 1


def test_module_cli_renders_the_profile_and_runs_feast(
    plant: Plant, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feast.repo_config import load_repo_config

    from mfg_assets.feature_store import __main__ as cli

    seen = {}

    def fake_call(command: list[str], env: dict[str, str]) -> int:
        yaml_path = Path(command[command.index("-f") + 1])
        seen["config"] = load_repo_config(cli.REPO_DIR, yaml_path)
        seen["command"], seen["env"] = command, env
        return 0

    monkeypatch.setattr(cli.subprocess, "call", fake_call)
    monkeypatch.setenv("FEAST_REDIS_CONNECTION", "127.0.0.1:6390")
    assert cli.main(["--profile", "redis", "feature-views", "list"]) == 0
    assert seen["command"][0].endswith("feast")
    assert seen["command"][-2:] == ["feature-views", "list"]
    assert seen["command"][1:3] == ["-c", str(cli.REPO_DIR)]
    assert seen["config"].online_store.connection_string == "127.0.0.1:6390"
    assert seen["config"].project == "mfg_test"
    assert seen["env"]["MFG_DATA_DIR"] == str(data_dir)
    assert (data_dir / "feature_store" / "offline" / "machine_hourly_features").is_dir()
