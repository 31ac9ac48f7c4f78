"""drift_retraining_sensor against a real temporary instance holding drift report
materializations (recorded through the instance, as a run of the report asset records them)."""

from __future__ import annotations

import dagster as dg
import pytest

from mfg_assets.defs.automation.drift_sensor import FEATURE_DRIFT_REPORT, drift_retraining_sensor
from mfg_assets.monitoring.episodes import COOLDOWN_ENV, MAX_AGE_ENV


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


def test_one_episode_one_run_then_cool_down_then_a_new_episode(instance, monkeypatch) -> None:
    monkeypatch.setenv(COOLDOWN_ENV, "12")
    first = tick(instance, None)
    assert not first.run_requests
    assert "no new feature_drift_report" in first.skip_reason.skip_message

    clean(instance, "2026-11-05-02:00")
    drifted(instance, "2026-11-05-03:00")
    result = tick(instance, first.cursor)
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.partition_key == "2026-11-05"
    assert request.run_key == "drift-retrain:v1-2026-11-05-03:00"
    assert request.tags["mfg/drift_report_partition"] == "2026-11-05-03:00"
    assert request.tags["mfg/drifted_columns"] == "temperature_mean,temperature_max"
    records = instance.fetch_materializations(FEATURE_DRIFT_REPORT, limit=1).records
    assert request.tags["mfg/drift_report_storage_id"] == str(records[0].storage_id)
    assert request.tags["mfg/drift_report_run_id"] == records[0].run_id

    # the same tick again (same cursor) would ask for the same run key: Dagster dedups it;
    # the next tick (new cursor) sees nothing new
    again = tick(instance, result.cursor)
    assert not again.run_requests
    # more drifted hours of the same episode: no run, and the reason says so
    drifted(instance, "2026-11-05-04:00")
    drifted(instance, "2026-11-05-09:00")
    same = tick(instance, again.cursor)
    assert not same.run_requests
    assert "same episode v1-2026-11-05-03:00" in same.skip_reason.skip_message

    # past the 12 h cool-down, persisting drift is a new episode: exactly one run
    drifted(instance, "2026-11-05-15:00")
    drifted(instance, "2026-11-05-16:00")
    later = tick(instance, same.cursor)
    assert [r.run_key for r in later.run_requests] == ["drift-retrain:v1-2026-11-05-15:00"]


def test_backfilled_old_drift_never_retrains(instance, monkeypatch) -> None:
    from datetime import UTC, datetime, timedelta

    monkeypatch.delenv(MAX_AGE_ENV)  # the default: 72 h
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    drifted(instance, (now - timedelta(days=20)).strftime("%Y-%m-%d-%H:00"))
    old = tick(instance, None)
    assert not old.run_requests and "a backfilled report does not retrain" in (
        old.skip_reason.skip_message
    )
    drifted(instance, (now - timedelta(hours=2)).strftime("%Y-%m-%d-%H:00"))
    assert len(tick(instance, old.cursor).run_requests) == 1


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
