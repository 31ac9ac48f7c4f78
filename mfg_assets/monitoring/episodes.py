"""Drift episodes: when a stream of hourly drift reports should start a retrain (no Dagster).

:class:`DriftObservation` (what a report says), the cool-down and age settings, run keys and
tags are what ``drift_retraining_sensor`` uses; its decisions come from
:mod:`mfg_assets.monitoring.retrain_plan`, which waits for post-change labels. :func:`decide`
below is the earlier policy that requests the retrain at the first drifted report (no
post-change label can be in it); nothing in the platform calls it any more.

* A report that could not be computed (``status`` not ``ok``: no champion, empty window, the
  reference's partitions gone, columns missing) never counts as clean or drifted: it changes
  nothing and its reason is reported.
* A clean report ends the open episode.
* A drifted report opens an episode and requests one retrain, unless it belongs to the open
  episode (same champion as reference, opened less than the cool-down ago) or falls within the
  cool-down of the last retrain (a flapping plant retrains at most once per cool-down).
* Drift that persists past the cool-down is a new episode, and so is drift against a new
  champion: each retrain then sees the post-change labels that have arrived since (a failure
  label exists only ``MFG_LABEL_HORIZON_HOURS`` after its hour).

Times are plant times (the reports' partition hours), not wall time, so a backfill or a replay
behaves exactly like live operation. The cool-down is ``MFG_DRIFT_RETRAIN_COOLDOWN_HOURS``
(default 24). The one wall-clock rule: a drifted report for an hour more than
``MFG_DRIFT_MAX_REPORT_AGE_HOURS`` (default 72, 0 = no limit) in the past is ``stale`` and never
retrains, so backfilling a month of drift reports does not retrain a model per past day (the
sensor applies it; :func:`decide` takes it as ``stale_before``). The retrain is requested for
the day partition of the report's hour (the model of day D trains on the labels of the days
before D).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from mfg_assets.settings import get_settings
from mfg_assets.storage.partitions import day_key, hour_key, parse_hour_key

COOLDOWN_ENV = "MFG_DRIFT_RETRAIN_COOLDOWN_HOURS"

MAX_AGE_ENV = "MFG_DRIFT_MAX_REPORT_AGE_HOURS"

Action = Literal["retrain", "same_episode", "cool_down", "clean", "not_usable", "stale"]


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


@dataclass(frozen=True)
class EpisodeState:
    """The sensor's cursor: last report read, the open episode, the last retrain."""

    after_storage_id: int = 0
    episode_id: str | None = None
    episode_start: str | None = None  # partition of the report that opened it
    episode_champion: int | None = None
    last_retrain: str | None = None  # partition of the report that requested the last retrain

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> EpisodeState:
        """The state stored in a cursor; a fresh state for no (or an unreadable) cursor."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            values = {k: data.get(k) for k in cls.__dataclass_fields__}
            values["after_storage_id"] = int(values["after_storage_id"] or 0)
            return cls(**values)
        except (ValueError, TypeError, AttributeError):
            return cls()


@dataclass(frozen=True)
class Decision:
    """What one report means for retraining, and why (shown as the sensor's reason)."""

    action: Action
    message: str
    observation: DriftObservation
    episode_id: str | None = None

    @property
    def retrain(self) -> bool:
        return self.action == "retrain"


def decide(
    state: EpisodeState,
    report: DriftObservation,
    cooldown: timedelta,
    stale_before: datetime | None = None,
) -> tuple[EpisodeState, Decision]:
    """The new state and the decision for one report (see the module docstring).

    A drifted report for an hour before ``stale_before`` is ``stale``: it changes nothing."""
    state = replace(state, after_storage_id=max(state.after_storage_id, report.storage_id))
    where = f"report {report.partition}"
    if not report.usable:
        message = f"{where} not usable for retraining ({report.status}): {report.reason}"
        return state, Decision("not_usable", message, report)
    if not report.dataset_drift:
        closed = f"; episode {state.episode_id} ended" if state.episode_id else ""
        cleared = replace(state, episode_id=None, episode_start=None, episode_champion=None)
        return cleared, Decision("clean", f"{where} clean{closed}", report)
    at = hour_of(report.partition)
    if stale_before is not None and at < stale_before:
        message = (
            f"{where} drifted, but is older than {stale_before:%Y-%m-%d %H:%M} "
            f"({MAX_AGE_ENV}): a backfilled report does not retrain"
        )
        return state, Decision("stale", message, report)
    if (
        state.episode_id is not None
        and state.episode_start is not None
        and state.episode_champion == report.champion_version
        and abs(at - hour_of(state.episode_start)) < cooldown
    ):
        message = f"{where} drifted: same episode {state.episode_id} (retrain already requested)"
        return state, Decision("same_episode", message, report, state.episode_id)
    if state.last_retrain is not None and abs(at - hour_of(state.last_retrain)) < cooldown:
        until = hour_key(hour_of(state.last_retrain) + cooldown)
        message = (
            f"{where} drifted, but within the cool-down of the retrain requested by report "
            f"{state.last_retrain} (until {until}; {COOLDOWN_ENV})"
        )
        return state, Decision("cool_down", message, report)
    episode = f"v{report.champion_version or 0}-{report.partition}"
    columns = ", ".join(report.drifted_columns) or "none listed"
    message = f"{where} drifted ({columns}): new episode {episode}, retrain requested"
    opened = replace(
        state,
        episode_id=episode,
        episode_start=report.partition,
        episode_champion=report.champion_version,
        last_retrain=report.partition,
    )
    return opened, Decision("retrain", message, report, episode)


def retrain_tags(decision: Decision, limit: int = 200) -> dict[str, str]:
    """Run tags that say which drift report a retrain reacts to."""
    report = decision.observation
    columns = ",".join(report.drifted_columns)
    if len(columns) > limit:
        columns = columns[: limit - 3] + "..."
    return {
        "mfg/trigger": "drift",
        "mfg/drift_episode": decision.episode_id or "",
        "mfg/drift_report_partition": report.partition,
        "mfg/drift_report_run_id": report.run_id,
        "mfg/drift_report_storage_id": str(report.storage_id),
        "mfg/drift_reference_version": str(report.champion_version or ""),
        "mfg/drifted_columns": columns,
    }
