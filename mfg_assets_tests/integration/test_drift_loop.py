"""The drift loop end to end on a small plant, through the code location's own definitions:
clean history → champion → sensor_offset from hour T → hourly features → feature_drift_report
→ drift_retraining_sensor → the requested maintenance_training_job run → a new model version,
trained and evaluated. Real SQLite plant, Feast embedded store, MLflow SQLite store, torch,
Evidently, a persistent temporary Dagster instance."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from mfg_assets_tests.integration.plant_fixtures import EPOCH, seed_small_plant
from mfg_assets_tests.integration.test_model_pipeline import experiment_file, ranged

CLEAN_DAYS = 3
T = EPOCH + timedelta(days=CLEAN_DAYS)  # sensor_offset (temperature +6 degC) from here on
KEY = "%Y-%m-%d-%H:%M"


def run_job(defs: dg.Definitions, name: str, instance, **kwargs) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def(name).execute_in_process(
        instance=instance, raise_on_error=False, **kwargs
    )


def report_partition(defs, instance, hour) -> dict:
    result = run_job(defs, "drift_report_job", instance, partition_key=hour.strftime(KEY))
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    return {k: v.value for k, v in meta.items()}


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory):
    """Clean history, ingested, labelled, with a champion trained on it."""
    from mfg_assets.definitions import build_definitions

    root = tmp_path_factory.mktemp("drift_loop")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MFG_DATA_DIR", str(root / "data"))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.setenv("MFG_EXPERIMENTS_DIR", str(root))  # the tests' experiment YAMLs
        mp.setenv("MFG_DRIFT_RETRAIN_COOLDOWN_HOURS", "24")
        mp.setenv("MFG_DRIFT_MAX_REPORT_AGE_HOURS", "0")  # November 2026 is a replay
        (root / "data").mkdir()
        url = f"sqlite:///{root / 'data' / 'plant.db'}"  # the embedded default under MFG_DATA_DIR
        db = seed_small_plant(url, days=CLEAN_DAYS, machines=8, dirt=True)
        defs = dg.Definitions.merge(
            build_definitions(),
            dg.Definitions(
                jobs=[
                    dg.define_asset_job("labels_job", selection=["failure_labels"]),
                    dg.define_asset_job("drift_report_job", selection=["feature_drift_report"]),
                ]
            ),
        )
        experiment = experiment_file(root)
        config = {
            "ops": {"maintenance_model": {"config": {"experiment": experiment, "epochs": 10}}}
        }
        with dg.instance_for_test() as instance:
            last_clean_hour = T - timedelta(hours=1)
            hourly = run_job(
                defs, "hourly_plant_job", instance, tags=ranged(EPOCH, last_clean_hour)
            )
            assert hourly.success
            labelled = run_job(
                defs,
                "labels_job",
                instance,
                tags=ranged(EPOCH, last_clean_hour - timedelta(hours=24)),
            )
            assert labelled.success
            model_day = (T - timedelta(days=1)).strftime("%Y-%m-%d")
            first = run_job(
                defs,
                "maintenance_training_job",
                instance,
                partition_key=model_day,
                run_config=config,
            )
            assert first.success, [e.message for e in first.all_events if e.is_failure]
            yield {"root": root, "db": db, "defs": defs, "instance": instance, "config": config}


def test_sensor_offset_is_detected_and_retrains(loop) -> None:
    from mfg_assets.models.registry import ModelRegistry
    from mfg_assets.plant.driver import run_live

    defs, instance, db, config = loop["defs"], loop["instance"], loop["db"], loop["config"]
    last_clean_hour = T - timedelta(hours=1)
    registry = ModelRegistry()
    assert registry.get_alias_version("maintenance_model", "champion") == 1

    # The last clean hour against the champion's training window: computed, not drifted.
    before = report_partition(defs, instance, last_clean_hour)
    assert before["status"] == "ok" and before["champion_version"] == 1
    assert before["dataset_drift"] is False, before["summary"]
    assert before["reference_cache"] == "prepared"

    # The plant is recalibrated at T; 13 hours of it are written and ingested.
    db.add_scenario("sensor_offset", T)
    run_live(db, speed=1e9, tick_s=0, until=T + timedelta(hours=13))
    assert run_job(
        defs, "hourly_plant_job", instance, tags=ranged(T, T + timedelta(hours=12))
    ).success
    after = report_partition(defs, instance, T + timedelta(hours=11))  # half the window changed
    assert after["status"] == "ok" and after["dataset_drift"] is True
    scores = after["column_scores"]
    top = sorted(scores, key=lambda c: -scores[c])[:3]
    # the recalibrated channel leads (which temperature statistics rank 2nd-3rd moved once
    # cleaning stopped clipping to the previous hour's range: max now carries the offset too)
    assert all(c.startswith("temperature_") for c in top), str(scores)
    assert {"temperature_mean", "temperature_min"} <= set(top), str(scores)
    assert set(top) <= set(after["drifted_columns"])
    assert after["reference_cache"] == "hit"  # the champion's sample is reused
    later = report_partition(defs, instance, T + timedelta(hours=12))
    assert later["dataset_drift"] is True

    sensor = defs.resolve_sensor_def("drift_retraining_sensor")
    tick = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    # two drifted hours, one episode; its retrain waits for 24 h + 12 h of post-change labels
    assert not tick.run_requests
    [plan] = tick.asset_events
    assert plan.partition == (T + timedelta(hours=11)).strftime(KEY)
    assert plan.metadata["retrain_plan"].value == "pending"
    ready = T + timedelta(hours=11 + 24 + 12)
    assert plan.metadata["planned_partition"].value == ready.strftime("%Y-%m-%d")
    # the reports go on drifting until the plan is due (recorded, not recomputed: the plant
    # would have to run 36 more hours)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=dg.AssetKey("feature_drift_report"),
            partition=ready.strftime(KEY),
            metadata={k: v for k, v in later.items() if k in ("status", "dataset_drift")}
            | {"champion_version": 1, "drifted_columns": later["drifted_columns"]},
        )
    )
    due = sensor(dg.build_sensor_context(instance=instance, cursor=tick.cursor, definitions=defs))
    assert len(due.run_requests) == 1
    request = due.run_requests[0]
    assert request.partition_key == ready.strftime("%Y-%m-%d")
    assert request.tags["mfg/drift_report_partition"] == ready.strftime(KEY)
    assert request.tags["mfg/drift_episode_start"] == (T + timedelta(hours=11)).strftime(KEY)
    again = sensor(dg.build_sensor_context(instance=instance, cursor=due.cursor, definitions=defs))
    assert not again.run_requests

    # The labels of the day before T whose 24 h look-ahead has been written by now
    assert run_job(
        defs, "labels_job", instance, tags=ranged(T - timedelta(hours=24), T - timedelta(hours=12))
    ).success
    retrain = run_job(
        defs,
        "maintenance_training_job",
        instance,
        partition_key=request.partition_key,
        tags=request.tags,
        run_config=config,
    )
    trained = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in retrain.get_asset_materialization_events()
    }
    assert trained["maintenance_model"]["model_version"].value == 2
    evaluation = trained["maintenance_model_evaluation"]
    assert evaluation["challenger_version"].value == 2
    assert evaluation["champion_version"].value == 1  # scored against the champion
    run = instance.get_run_by_id(retrain.run_id)
    assert run.tags["mfg/drift_episode"] == request.tags["mfg/drift_episode"]
    assert registry.version_info("maintenance_model", 2)["tags"]["dagster_partition"] == (
        request.partition_key
    )


def test_bad_windows_give_skipped_reports_that_never_retrain(loop, tmp_path) -> None:
    """Against the real champion: an empty window, too few hours, columns missing on one side
    and a reference whose partitions are gone are skipped reports with the reason."""
    from mfg_assets.defs.automation.drift_sensor import FEATURE_DRIFT_REPORT
    from mfg_assets.monitoring.reports import feature_drift_report
    from mfg_assets.monitoring.retrain_plan import PlanState
    from mfg_assets.storage.files import LocalFileStore

    defs, instance = loop["defs"], loop["instance"]
    seen = instance.fetch_materializations(FEATURE_DRIFT_REPORT, limit=1).records
    cursor = PlanState(after_storage_id=seen[0].storage_id if seen else 0).to_json()
    empty = report_partition(defs, instance, T + timedelta(hours=60))
    assert empty["status"] == "skipped" and "dataset_drift" not in empty
    assert empty["skip_reason"] == "current window is empty (0 rows)"
    assert empty["champion_version"] >= 1  # the reference was there; the data was not
    sensor = defs.resolve_sensor_def("drift_retraining_sensor")
    tick = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs))
    assert not tick.run_requests and "current window is empty" in tick.skip_reason.skip_message

    from mfg_assets.defs.resources import parquet_io_manager

    read = parquet_io_manager().partitions().reader("machine_hourly_features")
    hours = [T - timedelta(hours=h) for h in range(24, 0, -1)]
    current = pl.concat([read(h.strftime(KEY)) for h in hours])
    window = (hours[0], T)
    stores = {
        "cache": LocalFileStore(tmp_path / "cache"),
        "reports": LocalFileStore(tmp_path / "reports"),
        "report_path": "r.html",
    }
    few = feature_drift_report(
        current.filter(pl.col("hour") >= T - timedelta(hours=3)), window, read=read, **stores
    )
    assert few.status == "skipped" and "holds 3 of 24 hours" in few.metadata["skip_reason"]
    missing = feature_drift_report(current.drop("temperature_mean"), window, read=read, **stores)
    assert missing.status == "skipped" and "dataset_drift" not in missing.metadata
    assert "missing from the current window: temperature_mean" in missing.metadata["skip_reason"]
    # the champion's partitions are gone (a cached sample would still serve: a fresh cache)
    fresh = {**stores, "cache": LocalFileStore(tmp_path / "fresh_cache")}
    gone = feature_drift_report(current, window, read=lambda key: None, **fresh)
    assert gone.status == "skipped" and "is stored any more" in gone.metadata["skip_reason"]
    assert "skipped" in (tmp_path / "reports" / "r.html").read_text()
    ok = feature_drift_report(current, window, read=read, **stores)
    assert ok.status == "ok" and ok.metadata["dataset_drift"] is False


def test_model_performance_and_inspection_drift(loop) -> None:
    defs, instance = loop["defs"], loop["instance"]
    job = dg.define_asset_job(
        "daily_monitoring_job",
        selection=["maintenance_model_performance", "inspection_drift_report"],
    )
    defs = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
    day = (T - timedelta(days=2)).strftime("%Y-%m-%d")  # labelled in full by the fixture
    result = run_job(defs, "daily_monitoring_job", instance, partition_key=day)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    meta = {
        e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }
    performance = meta["maintenance_model_performance"]
    from mfg_assets.models.registry import ModelRegistry

    champion = ModelRegistry().get_alias_version("maintenance_model", "champion")
    assert performance["status"] == "ok" and performance["champion_version"] == champion
    assert 150 < performance["n_rows"] <= 8 * 24  # running machine-hours
    assert performance["reference_roc_auc"] is not None  # the champion's test metric
    assert "roc_auc" in performance["summary"]
    inspection = meta["inspection_drift_report"]
    assert inspection["status"] == "ok", inspection.get("skip_reason")
    assert inspection["reference_id"].startswith("previous 7 days")  # no defect champion yet
    assert inspection["reference_hours"] == 168
    assert inspection["reference_hours_missing"] == 144  # the plant starts a day before
    assert inspection["image_stats_current_rows"] == inspection["image_stats_reference_rows"] == 300
    assert inspection["defect_mix_dataset_drift"] is False
    assert inspection["image_stats_dataset_drift"] is False
    assert Path(inspection["image_stats_uri"]).is_file()


def test_report_and_reference_cache_on_s3(loop, s3_server, s3_bucket) -> None:
    """The production profile: HTML and the per-champion sample go to an S3 API server."""
    from mfg_assets.defs.resources import parquet_io_manager
    from mfg_assets.monitoring.reports import feature_drift_report
    from mfg_assets.storage.files import file_store_from_uri

    read = parquet_io_manager().partitions().reader("machine_hourly_features")
    hours = [T - timedelta(hours=h) for h in range(24, 0, -1)]
    current = pl.concat([read(h.strftime(KEY)) for h in hours])
    store = file_store_from_uri(f"s3://{s3_bucket}/drift", s3_server.resource())
    kwargs = {"read": read, "cache": store, "reports": store, "report_path": "reports/x.html"}
    first = feature_drift_report(current, (hours[0], T), **kwargs)
    second = feature_drift_report(current, (hours[0], T), **kwargs)
    assert first.metadata["reference_cache"] == "prepared"
    assert second.metadata["reference_cache"] == "hit"
    assert first.metadata["column_scores"] == second.metadata["column_scores"]
    assert second.metadata["report_uri"] == f"s3://{s3_bucket}/drift/reports/x.html"
    assert b"<html" in store.read_bytes("reports/x.html").lower()
    assert any(p.endswith("reference.parquet") for p in store.list_files("drift_reference"))
