"""Drift observations, run tags, the cool-down and age settings and the late-hour finder as
plain functions (the retrain decisions: test_retrain_plan.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mfg_assets.monitoring.episodes import (
    COOLDOWN_ENV,
    DriftObservation,
    retrain_cooldown,
    retrain_partition,
    retrain_tags,
)
from mfg_assets.monitoring.lateness import overdue_hours
from mfg_assets.monitoring.reference import ReferenceUnavailable, hour_keys, training_hours


def report(n: int, hour: str, drift: bool | None, version: int = 1, **meta) -> DriftObservation:
    metadata = {"status": "ok", "champion_version": version, **meta}
    if drift is not None:
        metadata["dataset_drift"] = drift
        metadata["drifted_columns"] = ["temperature_mean"] if drift else []
    return DriftObservation.from_metadata(n, f"run{n}", hour, metadata)


def test_report_age_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from mfg_assets.monitoring.episodes import MAX_AGE_ENV, max_report_age

    assert max_report_age() == timedelta(hours=72)
    monkeypatch.setenv(MAX_AGE_ENV, "0")
    assert max_report_age() is None


def test_reports_that_could_not_be_computed_are_not_usable() -> None:
    skipped = DriftObservation.from_metadata(
        2,
        "run2",
        "2026-11-05-05:00",
        {"status": "skipped", "skip_reason": "maintenance_model has no champion yet"},
    )
    assert not skipped.usable and "no champion" in skipped.reason
    # "ok" without a drift flag is not clean either
    assert not report(3, "2026-11-05-06:00", None).usable
    assert not DriftObservation.from_metadata(4, "r", None, {"status": "ok"}).usable
    assert report(5, "2026-11-05-07:00", True).usable


def test_retrain_partition_tags_and_cooldown_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert retrain_partition("2026-11-05-23:00") == "2026-11-05"
    tags = retrain_tags(report(9, "2026-11-05-23:00", True, 3), "v3-2026-11-05-23:00")
    assert tags["mfg/drift_episode"] == "v3-2026-11-05-23:00"
    assert tags["mfg/drift_report_partition"] == "2026-11-05-23:00"
    assert tags["mfg/drift_report_run_id"] == "run9"
    assert tags["mfg/drifted_columns"] == "temperature_mean"
    assert tags["mfg/drift_reference_version"] == "3"
    monkeypatch.setenv(COOLDOWN_ENV, "6")
    assert retrain_cooldown() == timedelta(hours=6)
    monkeypatch.setenv(COOLDOWN_ENV, "soon")
    with pytest.raises(ValueError, match=COOLDOWN_ENV):
        retrain_cooldown()


def test_training_window_tags_to_hours() -> None:
    tags = {
        "training_window_start": "2026-11-02 01:00:00+00:00",  # label time of hour 00:00
        "training_window_end": "2026-11-04 00:00:00+00:00",  # label time of hour 23:00
    }
    start, end = training_hours(tags)
    keys = hour_keys(start, end)
    assert keys[0] == "2026-11-02-00:00" and keys[-1] == "2026-11-03-23:00" and len(keys) == 48
    inspections = training_hours(
        {"training_window_start": "2026-11-02T00:12:00", "training_window_end": "2026-11-03T23:59"},
        label_times=False,
    )
    assert hour_keys(*inspections) == keys
    with pytest.raises(ReferenceUnavailable, match="training_window_end"):
        training_hours({"training_window_start": "2026-11-02"})


def test_overdue_hours_finds_gaps_behind_newer_hours() -> None:
    first = datetime(2026, 11, 1, tzinfo=UTC)
    now = datetime(2026, 11, 3, 12, 30, tzinfo=UTC)
    hours = hour_keys(now - timedelta(hours=48), now)
    materialized = set(hours) - {"2026-11-03-05:00", "2026-11-03-10:00", "2026-11-03-11:00"}
    # 10:00 ended at 11:00 + 60 min grace = 12:00 → late; 11:00 is not due before 13:00
    assert overdue_hours(materialized, now, first) == ["2026-11-03-05:00", "2026-11-03-10:00"]
    assert overdue_hours(set(hours), now, first) == []
    # nothing is due before the first partition
    assert overdue_hours(set(), datetime(2026, 11, 1, 2, 30, tzinfo=UTC), first) == [
        "2026-11-01-00:00"
    ]


def test_monitoring_definitions_import_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, mfg_assets.definitions, mfg_assets.defs.monitoring, "
        "mfg_assets.defs.automation.drift_sensor, mfg_assets.monitoring.reports\n"
        "heavy = [m for m in ('evidently', 'mlflow', 'torch', 'sklearn') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
