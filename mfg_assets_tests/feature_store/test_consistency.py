"""Training/serving consistency: faithful stores pass, tampered ones fail naming the culprit."""

from __future__ import annotations

import polars as pl

from mfg_assets.feature_store.consistency import MISSING_ONLINE, check_online_offline
from mfg_assets.feature_store.offline import read_offline
from mfg_assets.feature_store.store import materialize_window, write_online

from .conftest import HOUR, HOURS, T0, Plant

NOW = T0 + 48 * HOUR


def _latest_partitions() -> pl.DataFrame:
    return read_offline(T0 + (HOURS - 2) * HOUR, T0 + HOURS * HOUR)


def test_faithful_store_passes_exactly(plant: Plant, embedded_store) -> None:
    materialize_window(embedded_store, T0, T0 + HOURS * HOUR)
    report = check_online_offline(embedded_store, _latest_partitions(), 3, seed=1, now=NOW)
    assert report.passed, report.describe()
    assert report.machines_checked == 3
    assert report.max_abs_diff == 0.0  # float64 round-trips bit for bit


def test_tampered_value_fails_naming_machine_and_feature(plant: Plant, embedded_store) -> None:
    materialize_window(embedded_store, T0, T0 + HOURS * HOUR)
    latest = _latest_partitions().filter(pl.col("event_timestamp") == T0 + HOURS * HOUR)
    tampered = latest.filter(pl.col("machine_id") == "M02").with_columns(
        pl.col("temperature_mean") + 1e-6
    )
    assert write_online(embedded_store, tampered) == 1
    report = check_online_offline(embedded_store, _latest_partitions(), 3, seed=1, now=NOW)
    assert not report.passed
    assert [(m.machine_id, m.feature) for m in report.mismatches] == [("M02", "temperature_mean")]
    assert abs(report.max_abs_diff - 1e-6) < 1e-9
    assert "M02.temperature_mean" in report.describe()
    assert report.to_metadata()["mismatches"] == 1


def test_stale_online_rows_and_missing_machines_fail(plant: Plant, embedded_store) -> None:
    materialize_window(embedded_store, T0, T0 + (HOURS - 1) * HOUR)  # last hour not loaded
    report = check_online_offline(embedded_store, _latest_partitions(), 3, seed=1, now=NOW)
    assert not report.passed
    assert {m.feature for m in report.mismatches} == {"event_timestamp"}

    extra = (
        _latest_partitions()
        .filter(pl.col("machine_id") == "M01")
        .with_columns(pl.lit("M77").alias("machine_id"))
    )
    report = check_online_offline(embedded_store, extra, 5, seed=0, now=NOW)
    assert [(m.machine_id, m.feature) for m in report.mismatches] == [("M77", MISSING_ONLINE)]


def test_rows_after_now_are_ignored_and_empty_frames_pass_vacuously(
    plant: Plant, embedded_store
) -> None:
    materialize_window(embedded_store, T0, T0 + (HOURS - 1) * HOUR)
    report = check_online_offline(
        embedded_store, _latest_partitions(), 3, seed=1, now=T0 + (HOURS - 1) * HOUR
    )
    assert report.passed, report.describe()  # the 12:00 row is not known yet at 11:00
    empty = check_online_offline(embedded_store, _latest_partitions().head(0), 3, seed=1)
    assert empty.passed and empty.machines_checked == 0 and empty.note
