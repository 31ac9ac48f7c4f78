"""Drift reports as the retraining sensor reads them (no Dagster): :class:`DriftObservation`
(what a report says), the cool-down and report-age settings, run keys and run tags. The
decisions come from :mod:`mfg_assets.monitoring.retrain_plan`.

Times are plant times (the reports' partition hours), not wall time. The cool-down is
``MFG_DRIFT_RETRAIN_COOLDOWN_HOURS`` (default 24). The one wall-clock rule: a drifted report for
an hour more than ``MFG_DRIFT_MAX_REPORT_AGE_HOURS`` (default 72, 0 = no limit) in the past is
``stale`` and never retrains, so backfilling a month of drift reports does not retrain a model
per past day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from mfg_assets.settings import get_settings
from mfg_assets.storage.partitions import day_key, parse_hour_key

COOLDOWN_ENV = "MFG_DRIFT_RETRAIN_COOLDOWN_HOURS"

MAX_AGE_ENV = "MFG_DRIFT_MAX_REPORT_AGE_HOURS"


def retrain_cooldown() -> timedelta:
    """``MFG_DRIFT_RETRAIN_COOLDOWN_HOURS`` (default 24) as a timedelta; read on every call."""
    return timedelta(hours=get_settings().mfg_drift_retrain_cooldown_hours)


def max_report_age() -> timedelta | None:
    """``MFG_DRIFT_MAX_REPORT_AGE_HOURS`` (default 72; 0 = no limit): drift reports for hours
    older than this (against the wall clock) never start a retrain - a backfill of old drift
    reports must not retrain models for days long past."""
    hours = get_settings().mfg_drift_max_report_age_hours
    return timedelta(hours=hours) if hours > 0 else None


def hour_of(partition_key: str) -> datetime:
    """Start of an hourly partition (UTC)."""
    return parse_hour_key(partition_key)


def retrain_partition(partition_key: str) -> str:
    """The daily model partition a drifted report at ``partition_key`` retrains."""
    return day_key(hour_of(partition_key))


def run_key(episode_id: str) -> str:
    """The run key of an episode's retrain: Dagster never launches two runs with one key."""
    return f"drift-retrain:{episode_id}"


@dataclass(frozen=True)
class DriftObservation:
    """What the sensor reads from one drift report materialization."""

    storage_id: int
    run_id: str
    partition: str
    status: str
    dataset_drift: bool | None = None
    drifted_columns: tuple[str, ...] = ()
    champion_version: int | None = None
    reason: str | None = None

    @classmethod
    def from_metadata(
        cls, storage_id: int, run_id: str, partition: str | None, metadata: Mapping[str, Any]
    ) -> DriftObservation:
        """From the report's metadata (plain values). Anything short of a computed report
        with a boolean ``dataset_drift`` is ``not_usable``, with the reason."""
        status = str(metadata.get("status", "missing"))
        version = metadata.get("champion_version")
        base = cls(
            storage_id=storage_id,
            run_id=run_id,
            partition=partition or "",
            status=status,
            champion_version=int(version) if isinstance(version, (int, float)) else None,
        )
        if not partition:
            return replace(base, status="invalid", reason="report has no partition")
        if status != "ok":
            reason = metadata.get("skip_reason") or f"report status {status!r}"
            return replace(base, reason=str(reason))
        drift = metadata.get("dataset_drift")
        if not isinstance(drift, bool):
            return replace(base, status="invalid", reason="report has no dataset_drift flag")
        columns = metadata.get("drifted_columns") or []
        return replace(base, dataset_drift=drift, drifted_columns=tuple(map(str, columns)))

    @property
    def usable(self) -> bool:
        return self.status == "ok" and self.dataset_drift is not None


def retrain_tags(
    report: DriftObservation, episode_id: str | None, limit: int = 200
) -> dict[str, str]:
    """Run tags that say which drift report (of which episode) a retrain reacts to."""
    columns = ",".join(report.drifted_columns)
    if len(columns) > limit:
        columns = columns[: limit - 3] + "..."
    return {
        "mfg/trigger": "drift",
        "mfg/drift_episode": episode_id or "",
        "mfg/drift_report_partition": report.partition,
        "mfg/drift_report_run_id": report.run_id,
        "mfg/drift_report_storage_id": str(report.storage_id),
        "mfg/drift_reference_version": str(report.champion_version or ""),
        "mfg/drifted_columns": columns,
    }
