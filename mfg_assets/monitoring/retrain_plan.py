"""Drift episodes with a planned retrain: retrain once enough post-change labels exist (no Dagster).

A failure label looks ``MFG_LABEL_HORIZON_HOURS`` ahead, so a retrain started at the first
drifted report holds no post-change row and cannot beat the champion. Here a drift episode
opens at the first drifted report (hour ``S``) and its one retrain is *planned*:

* it may run from the report of hour ``S + horizon + MFG_DRIFT_RETRAIN_POST_CHANGE_HOURS`` on
  (``ready_at``): by then the labels of at least that many post-change hours exist;
* for the day partition of that report (``planned_partition``; the model of day D trains on the
  labelled days before D, so the partition is moved to a later day while D starts before
  ``S + post-change hours``, which only happens for a horizon under a day).

Reports are fed in storage order (the sensor's cursor holds :class:`PlanState`):

* a report that could not be computed (``status`` not ``ok``) changes nothing;
* a clean report ends the episode; a pending one is cancelled (the change went away before a
  retrain could learn it: nothing to retrain for);
* a drifted report opens an episode (``planned``), waits (``pending``), starts the one retrain
  once its hour reaches ``ready_at`` (``retrain``), or belongs to the episode whose retrain was
  requested (``same_episode``);
* after a retrain no new episode opens within the cool-down (``MFG_DRIFT_RETRAIN_COOLDOWN_HOURS``
  plant hours from the report that started it); drift that persists past it, or drift against a
  different champion, is a new episode with its own plan;
* a drifted report for an hour before ``stale_before`` (a backfill) never opens or starts
  anything (``stale``).

Times are plant times (the reports' partition hours), so a replay behaves like live operation.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from mfg_assets.monitoring.episodes import (
    COOLDOWN_ENV,
    MAX_AGE_ENV,
    DriftObservation,
    hour_of,
    retrain_tags,
)
from mfg_assets.settings import get_settings, label_horizon_hours
from mfg_assets.storage.partitions import day_key, hour_key

POST_CHANGE_ENV = "MFG_DRIFT_RETRAIN_POST_CHANGE_HOURS"
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

PlanAction = Literal[
    "planned",
    "pending",
    "retrain",
    "same_episode",
    "cool_down",
    "clean",
    "cancelled",
    "not_usable",
    "stale",
]


@dataclass(frozen=True)
class PlanConfig:
    """How long an episode waits for post-change labels, and the cool-down after a retrain."""

    horizon: timedelta
    post_change: timedelta
    cooldown: timedelta

    @classmethod
    def from_settings(cls) -> PlanConfig:
        """Label horizon, ``MFG_DRIFT_RETRAIN_POST_CHANGE_HOURS`` and the cool-down; read on
        every call."""
        settings = get_settings()
        return cls(
            horizon=timedelta(hours=label_horizon_hours()),
            post_change=timedelta(hours=settings.mfg_drift_retrain_post_change_hours),
            cooldown=timedelta(hours=settings.mfg_drift_retrain_cooldown_hours),
        )


def plan_retrain(start: datetime, config: PlanConfig) -> tuple[datetime, str]:
    """For an episode opened by the report of hour ``start``: the first report hour whose run
    may start its retrain, and the day partition it retrains (see the module docstring)."""
    ready = start + config.horizon + config.post_change
    ready = ready.replace(minute=0, second=0, microsecond=0) + (
        HOUR if ready.minute or ready.second or ready.microsecond else timedelta(0)
    )
    day = ready.replace(hour=0)
    while max(day - start, timedelta(0)) < config.post_change:
        day += DAY
        ready = max(ready, day)
    return ready, day_key(day)


@dataclass(frozen=True)
class PlanState:
    """The sensor's cursor: last report read, the open episode and its plan, the last retrain."""

    after_storage_id: int = 0
    episode_id: str | None = None
    episode_start: str | None = None  # partition of the report that opened it
    episode_champion: int | None = None
    ready_at: str | None = None  # first report hour that may start the retrain
    planned_partition: str | None = None
    requested: bool = False  # the episode's retrain was requested
    last_retrain: str | None = None  # partition of the report that started the last retrain

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> PlanState:
        """The state stored in a cursor; a fresh state for no (or an unreadable) cursor.
        A cursor of the former episode sensor (no plan fields) keeps its position."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            values = {k: data.get(k) for k in cls.__dataclass_fields__}
            values["after_storage_id"] = int(values["after_storage_id"] or 0)
            if "requested" not in data:  # the former sensor requested at the episode's start
                values["requested"] = values["episode_id"] is not None
            values["requested"] = bool(values["requested"])
            return cls(**values)
        except (ValueError, TypeError, AttributeError):
            return cls()

    @property
    def pending(self) -> bool:
        return self.episode_id is not None and not self.requested


@dataclass(frozen=True)
class PlanDecision:
    """What one report means for retraining, and why (shown as the sensor's reason)."""

    action: PlanAction
    message: str
    observation: DriftObservation
    episode_id: str | None = None
    planned_partition: str | None = None
    ready_at: str | None = None

    @property
    def retrain(self) -> bool:
        return self.action == "retrain"


def _closed(state: PlanState) -> PlanState:
    return replace(
        state,
        episode_id=None,
        episode_start=None,
        episode_champion=None,
        ready_at=None,
        planned_partition=None,
        requested=False,
    )


def _start_retrain(state: PlanState, report: DriftObservation, config: PlanConfig):
    message = (
        f"report {report.partition}: episode {state.episode_id} has "
        f"{_hours(config.post_change)} h of post-change labels: retrain of "
        f"{state.planned_partition} requested"
    )
    started = replace(state, requested=True, last_retrain=report.partition)
    return started, PlanDecision(
        "retrain",
        message,
        report,
        state.episode_id,
        state.planned_partition,
        state.ready_at,
    )


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g}"


def decide_plan(
    state: PlanState,
    report: DriftObservation,
    config: PlanConfig,
    stale_before: datetime | None = None,
) -> tuple[PlanState, PlanDecision]:
    """The new state and the decision for one report (see the module docstring)."""
    state = replace(state, after_storage_id=max(state.after_storage_id, report.storage_id))
    where = f"report {report.partition}"
    if not report.usable:
        message = f"{where} not usable for retraining ({report.status}): {report.reason}"
        return state, PlanDecision("not_usable", message, report)
    if not report.dataset_drift:
        if state.pending:
            message = (
                f"{where} clean: episode {state.episode_id} ended before its retrain "
                f"(planned for {state.planned_partition} at report {state.ready_at}): cancelled"
            )
            return _closed(state), PlanDecision(
                "cancelled", message, report, state.episode_id, state.planned_partition
            )
        closed = f"; episode {state.episode_id} ended" if state.episode_id else ""
        return _closed(state), PlanDecision("clean", f"{where} clean{closed}", report)
    at = hour_of(report.partition)
    if stale_before is not None and at < stale_before:
        message = (
            f"{where} drifted, but is older than {stale_before:%Y-%m-%d %H:%M} "
            f"({MAX_AGE_ENV}): a backfilled report does not retrain"
        )
        return state, PlanDecision("stale", message, report)
    same_champion = state.episode_champion == report.champion_version
    if state.pending and same_champion and state.ready_at is not None:
        if at >= hour_of(state.ready_at):
            return _start_retrain(state, report, config)
        message = (
            f"{where} drifted: episode {state.episode_id} pending, retrain of "
            f"{state.planned_partition} planned at report {state.ready_at} (waits for "
            f"{_hours(config.horizon)} h label horizon + {_hours(config.post_change)} h; "
            f"{POST_CHANGE_ENV})"
        )
        return state, PlanDecision(
            "pending", message, report, state.episode_id, state.planned_partition, state.ready_at
        )
    last = hour_of(state.last_retrain) if state.last_retrain else None
    if last is not None and abs(at - last) < config.cooldown:
        if state.episode_id is not None and same_champion:
            message = f"{where} drifted: same episode {state.episode_id} (retrain requested)"
            return state, PlanDecision("same_episode", message, report, state.episode_id)
        until = hour_key(last + config.cooldown)
        message = (
            f"{where} drifted, but within the cool-down of the retrain started by report "
            f"{state.last_retrain} (until {until}; {COOLDOWN_ENV})"
        )
        return state, PlanDecision("cool_down", message, report)
    episode = f"v{report.champion_version or 0}-{report.partition}"
    ready, partition = plan_retrain(at, config)
    opened = replace(
        _closed(state),
        episode_id=episode,
        episode_start=report.partition,
        episode_champion=report.champion_version,
        ready_at=hour_key(ready),
        planned_partition=partition,
    )
    if at >= ready:
        return _start_retrain(opened, report, config)
    columns = ", ".join(report.drifted_columns) or "none listed"
    message = (
        f"{where} drifted ({columns}): new episode {episode}, retrain of {partition} planned "
        f"at report {hour_key(ready)} (label horizon {_hours(config.horizon)} h + "
        f"{_hours(config.post_change)} h of post-change labels)"
    )
    return opened, PlanDecision("planned", message, report, episode, partition, hour_key(ready))


def plan_metadata(decision: PlanDecision) -> dict[str, str]:
    """What the sensor records on the drift report (an observation) for a planned, started or
    cancelled retrain: the episode's state and its planned partition."""
    state = {"planned": "pending", "retrain": "requested", "cancelled": "cancelled"}
    return {
        "retrain_plan": state.get(decision.action, decision.action),
        "drift_episode": decision.episode_id or "",
        "planned_partition": decision.planned_partition or "",
        "retrain_ready_at_report": decision.ready_at or "",
        "reason": decision.message,
    }


def plan_tags(decision: PlanDecision, episode_start: str | None) -> dict[str, str]:
    """Run tags of a planned retrain: the report that started it, the episode and its start."""
    tags = retrain_tags(decision.observation, decision.episode_id)
    tags["mfg/drift_episode_start"] = episode_start or ""
    return tags
