"""The retrain planner as plain functions: a drift episode retrains once, when enough
post-change labels exist, and not again within the cool-down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mfg_assets.monitoring.episodes import DriftObservation
from mfg_assets.monitoring.retrain_plan import PlanConfig, PlanState, decide_plan, plan_retrain

H = timedelta(hours=1)
CONFIG = PlanConfig(horizon=24 * H, post_change=12 * H, cooldown=24 * H)
T0 = datetime(2026, 11, 5, 3, tzinfo=UTC)


def report(n: int, hour: datetime, drift: bool | None = True, version: int = 1):
    meta = {"status": "ok", "dataset_drift": drift, "champion_version": version}
    if drift is None:
        meta = {"status": "skipped", "skip_reason": "no champion"}
    return DriftObservation.from_metadata(n, f"r{n}", hour.strftime("%Y-%m-%d-%H:%M"), meta)


def replay(hours: list[tuple[datetime, bool | None, int]], config: PlanConfig = CONFIG):
    state, decisions = PlanState(), []
    for n, (hour, drift, version) in enumerate(hours, start=1):
        state, decision = decide_plan(state, report(n, hour, drift, version), config)
        decisions.append(decision)
    return state, decisions


def test_plan_waits_one_horizon_plus_the_post_change_hours() -> None:
    ready, partition = plan_retrain(T0, CONFIG)
    assert ready == T0 + 36 * H and partition == "2026-11-06"
    # the training set of day D holds the labels of the days before D: with a short horizon
    # the partition moves to the first day that starts 12 h after the change
    short = PlanConfig(horizon=2 * H, post_change=12 * H, cooldown=24 * H)
    ready, partition = plan_retrain(T0, short)
    assert partition == "2026-11-06" and ready == datetime(2026, 11, 6, tzinfo=UTC)


def test_no_retrain_before_enough_post_change_labels_then_one_per_episode() -> None:
    hours = [(T0 + k * H, True, 1) for k in range(0, 48)]
    state, decisions = replay(hours)
    actions = [d.action for d in decisions]
    assert actions[0] == "planned"
    first_retrain = actions.index("retrain")
    assert hours[first_retrain][0] == T0 + 36 * H  # not one report earlier
    assert set(actions[1:first_retrain]) == {"pending"}
    assert actions.count("retrain") == 1  # one run for the episode
    assert set(actions[first_retrain + 1 :]) == {"same_episode"}
    retrain = decisions[first_retrain]
    assert retrain.planned_partition == "2026-11-06"
    assert retrain.episode_id == "v1-2026-11-05-03:00"
    assert state.requested and state.last_retrain == "2026-11-06-15:00"


def test_cool_down_after_a_retrain_then_a_new_planned_episode() -> None:
    after = T0 + 36 * H
    hours = [(T0, True, 1), (after, True, 1)]
    # the retrain promoted v2; v2 still drifts: within the cool-down no new episode
    hours += [(after + k * H, True, 2) for k in (1, 23)]
    hours += [(after + 24 * H, True, 2)]  # past it: a new episode, planned afresh
    _, decisions = replay(hours)
    assert [d.action for d in decisions] == [
        "planned",
        "retrain",
        "cool_down",
        "cool_down",
        "planned",
    ]
    assert decisions[-1].episode_id == f"v2-{(after + 24 * H):%Y-%m-%d-%H:%M}"


def test_clean_report_cancels_a_pending_episode_and_skipped_reports_change_nothing() -> None:
    hours = [(T0, True, 1), (T0 + H, None, 1), (T0 + 5 * H, False, 1), (T0 + 40 * H, True, 1)]
    state, decisions = replay(hours)
    assert [d.action for d in decisions] == ["planned", "not_usable", "cancelled", "planned"]
    assert not state.requested and state.episode_start == f"{T0 + 40 * H:%Y-%m-%d-%H:%M}"


def test_cursor_round_trip_and_former_cursor() -> None:
    state, _ = replay([(T0, True, 1)])
    assert PlanState.from_json(state.to_json()) == state
    old = '{"after_storage_id": 7, "episode_id": "v1-x", "episode_start": "2026-11-05-03:00"}'
    former = PlanState.from_json(old)
    assert former.after_storage_id == 7 and former.requested  # its retrain was requested
    assert PlanState.from_json("not json") == PlanState()


def test_stale_reports_change_nothing() -> None:
    """A drifted report older than the sensor's cut-off (a backfill) neither opens an episode
    nor plans a retrain; a fresh one does."""
    cutoff = T0 + 2 * H
    state, decision = decide_plan(PlanState(), report(1, T0, True), CONFIG, cutoff)
    assert decision.action == "stale" and state.episode_id is None
    assert state.after_storage_id == 1
    _, fresh = decide_plan(state, report(2, cutoff, True), CONFIG, cutoff)
    assert fresh.action == "planned"
