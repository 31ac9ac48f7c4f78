"""drift_retraining_sensor against a real temporary instance holding drift report
materializations (recorded through the instance, as a run of the report asset records them)."""

from __future__ import annotations

import dagster as dg
import pytest

from mfg_assets.defs.automation.drift_sensor import FEATURE_DRIFT_REPORT, drift_retraining_sensor
from mfg_assets.monitoring.episodes import COOLDOWN_ENV, MAX_AGE_ENV
from mfg_assets.monitoring.retrain_plan import POST_CHANGE_ENV


@pytest.fixture()
def instance(monkeypatch: pytest.MonkeyPatch):
    # the reports below are for November 2026: replays, so no wall-clock age limit
    monkeypatch.setenv(MAX_AGE_ENV, "0")
    with dg.instance_for_test() as instance:
        yield instance


def record(instance: dg.DagsterInstance, partition: str, **metadata) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=FEATURE_DRIFT_REPORT, partition=partition, metadata=metadata
        )
    )


def drifted(instance: dg.DagsterInstance, partition: str, version: int = 1) -> None:
    record(
        instance,
        partition,
        status="ok",
        dataset_drift=True,
        drift_share=0.133,
        drifted_columns=["temperature_mean", "temperature_max"],
        champion_version=version,
    )


def clean(instance: dg.DagsterInstance, partition: str) -> None:
    record(
        instance,
        partition,
        status="ok",
        dataset_drift=False,
        drifted_columns=[],
        champion_version=1,
    )


def tick(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = drift_retraining_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def observations(instance: dg.DagsterInstance, result: dg.SensorResult) -> list[dict]:
    return [
        {"partition": e.partition, **{k: v.value for k, v in e.metadata.items()}}
        for e in result.asset_events
    ]


def test_episode_waits_for_post_change_labels_then_one_run_then_cool_down(
    instance, monkeypatch
) -> None:
    monkeypatch.setenv(COOLDOWN_ENV, "12")
    monkeypatch.setenv(POST_CHANGE_ENV, "12")
    monkeypatch.setenv("MFG_LABEL_HORIZON_HOURS", "24")
    first = tick(instance, None)
    assert not first.run_requests
    assert "no new feature_drift_report" in first.skip_reason.skip_message

    clean(instance, "2026-11-05-02:00")
    drifted(instance, "2026-11-05-03:00")
    planned = tick(instance, first.cursor)
    # no post-change label exists yet: the retrain is planned, not started
    assert not planned.run_requests
    message = planned.skip_reason.skip_message
    assert "new episode v1-2026-11-05-03:00" in message
    assert "retrain of 2026-11-06 planned at report 2026-11-06-15:00" in message
    [shown] = observations(instance, planned)
    assert shown["partition"] == "2026-11-05-03:00"
    assert shown["retrain_plan"] == "pending" and shown["planned_partition"] == "2026-11-06"

    # drift goes on: pending until 24 h horizon + 12 h of post-change labels exist
    drifted(instance, "2026-11-05-04:00")
    drifted(instance, "2026-11-06-14:00")
    waiting = tick(instance, planned.cursor)
    assert not waiting.run_requests and not waiting.asset_events
    assert "episode v1-2026-11-05-03:00 pending" in waiting.skip_reason.skip_message

    drifted(instance, "2026-11-06-15:00")
    drifted(instance, "2026-11-06-16:00")
    ready = tick(instance, waiting.cursor)
    assert len(ready.run_requests) == 1  # one run for the episode
    request = ready.run_requests[0]
    assert request.partition_key == "2026-11-06"
    assert request.run_key == "drift-retrain:v1-2026-11-05-03:00"
    assert request.tags["mfg/drift_episode_start"] == "2026-11-05-03:00"
    assert request.tags["mfg/drift_report_partition"] == "2026-11-06-15:00"
    assert request.tags["mfg/drifted_columns"] == "temperature_mean,temperature_max"
    records = instance.fetch_materializations(FEATURE_DRIFT_REPORT, limit=2).records
    assert request.tags["mfg/drift_report_storage_id"] == str(records[1].storage_id)
    assert [o["retrain_plan"] for o in observations(instance, ready)] == ["requested"]

    # the same tick again (same cursor) would ask for the same run key: Dagster dedups it;
    # the next tick (new cursor) sees nothing new
    again = tick(instance, ready.cursor)
    assert not again.run_requests
    drifted(instance, "2026-11-07-02:00")
    same = tick(instance, again.cursor)
    assert not same.run_requests
    assert "same episode v1-2026-11-05-03:00" in same.skip_reason.skip_message

    # past the 12 h cool-down, persisting drift is a new episode with its own plan
    drifted(instance, "2026-11-07-04:00")
    later = tick(instance, same.cursor)
    assert not later.run_requests
    assert "new episode v1-2026-11-07-04:00" in later.skip_reason.skip_message


def test_drift_that_ends_before_its_retrain_is_cancelled(instance, monkeypatch) -> None:
    monkeypatch.setenv(POST_CHANGE_ENV, "12")
    drifted(instance, "2026-11-05-03:00")
    clean(instance, "2026-11-05-20:00")
    drifted(instance, "2026-11-06-20:00", version=1)  # a new episode, planned afresh
    result = tick(instance, None)
    assert not result.run_requests
    assert [o["retrain_plan"] for o in observations(instance, result)] == [
        "pending",
        "cancelled",
        "pending",
    ]


def test_backfilled_old_drift_never_retrains(instance, monkeypatch) -> None:
    from datetime import UTC, datetime, timedelta

    monkeypatch.delenv(MAX_AGE_ENV)  # the default: 72 h
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    drifted(instance, (now - timedelta(days=20)).strftime("%Y-%m-%d-%H:00"))
    old = tick(instance, None)
    assert not old.run_requests and "a backfilled report does not retrain" in (
        old.skip_reason.skip_message
    )
    monkeypatch.setenv(POST_CHANGE_ENV, "0")
    monkeypatch.setenv("MFG_LABEL_HORIZON_HOURS", "1")
    drifted(instance, (now - timedelta(hours=3)).strftime("%Y-%m-%d-%H:00"))
    recent = tick(instance, old.cursor)
    assert not recent.run_requests and "planned" in recent.skip_reason.skip_message
    drifted(instance, (now - timedelta(hours=2)).strftime("%Y-%m-%d-%H:00"))
    assert len(tick(instance, recent.cursor).run_requests) == 1


def test_clean_report_is_a_skip_reason(instance) -> None:
    clean(instance, "2026-11-05-02:00")
    result = tick(instance, None)
    assert not result.run_requests
    assert "report 2026-11-05-02:00 clean" in result.skip_reason.skip_message


def test_skipped_or_broken_reports_never_start_a_run(instance) -> None:
    record(
        instance,
        "2026-11-05-02:00",
        status="skipped",
        skip_reason="maintenance_model has no champion yet: there is no training window",
    )
    record(instance, "2026-11-05-03:00", status="ok")  # no dataset_drift flag
    record(instance, "2026-11-05-04:00", dataset_drift=True)  # no status
    result = tick(instance, None)
    assert not result.run_requests
    message = result.skip_reason.skip_message
    assert "no champion yet" in message and "no dataset_drift flag" in message
    assert "report status 'missing'" in message


def test_real_report_materialization_without_champion_is_harmless(
    instance, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Materialize feature_drift_report itself on a plant with no champion yet."""
    from mfg_assets.defs.monitoring import feature_drift_report
    from mfg_assets_tests.integration.plant_fixtures import plant_assets, resources

    # a registry of its own: the session's store holds other tests' champions
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")

    result = dg.materialize(
        [feature_drift_report, *plant_assets()],
        selection=[feature_drift_report],
        partition_key="2026-11-05-03:00",
        instance=instance,
        resources=resources(f"sqlite:///{tmp_path / 'plant.db'}", tmp_path / "warehouse"),
    )
    assert result.success
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["status"].value == "skipped" and "dataset_drift" not in meta
    assert "no champion" in meta["skip_reason"].value
    assert meta["report_uri"].value.endswith("2026-11-05-0300.html")
    outcome = tick(instance, None)
    assert not outcome.run_requests and "no champion" in outcome.skip_reason.skip_message
