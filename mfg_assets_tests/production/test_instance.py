"""A DAGSTER_HOME built from deploy/dagster.yaml (PostgreSQL storage via dagster-postgres, S3
compute logs, queued runs) runs the code location: real hourly partitions of the seeded plant
land in the S3 bucket and are read back, and the hourly schedule's tick is evaluated against the
instance and its run request executed."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime

import dagster as dg
import polars as pl
import pytest

from mfg_assets.storage.partitions import partition_file
from mfg_assets_tests.fixtures.s3 import S3Server
from mfg_assets_tests.integration.plant_fixtures import HOUR_KEY

pytestmark = pytest.mark.postgres

PREVIOUS_HOUR_KEY = "2026-11-02-09:00"
PLANT_ASSETS = ("sensor_readings", "quality_inspections", "machine_events")


def _object(s3: S3Server, bucket: str, asset: str, key: str) -> pl.DataFrame:
    body = s3.client().get_object(
        Bucket=bucket, Key=f"mfg/warehouse/{partition_file([asset], key)}"
    )
    return pl.read_parquet(io.BytesIO(body["Body"].read()))


def test_instance_is_the_production_one(production_instance: dg.DagsterInstance):
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
    from dagster_postgres import (
        PostgresEventLogStorage,
        PostgresRunStorage,
        PostgresScheduleStorage,
    )

    instance = production_instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    assert isinstance(instance.compute_log_manager, S3ComputeLogManager)
    coordinator = instance.run_coordinator
    assert isinstance(coordinator, QueuedRunCoordinator)
    limits = {
        (t["key"], t.get("value")): t["limit"]
        for t in coordinator.get_run_queue_config().tag_concurrency_limits
    }
    assert limits[("mfg/kind", "training")] == 1
    assert coordinator.get_run_queue_config().max_concurrent_runs > 1
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
    assert instance.run_monitoring_enabled
    assert not instance.telemetry_enabled
    # psycopg2 scheme: SQLAlchemy 2.1 would read a bare postgresql:// as psycopg 3.
    assert instance.run_storage.postgres_url.startswith("postgresql+psycopg2://")


def test_hourly_partitions_materialize_to_s3_and_read_back(
    production_instance: dg.DagsterInstance, s3_server: S3Server, s3_bucket: str
):
    from mfg_assets.definitions import build_definitions

    defs = build_definitions()  # storage chosen by MFG_STORAGE_URI / AWS_* only
    job = defs.resolve_job_def("hourly_plant_job")
    timings = {}
    for key in (PREVIOUS_HOUR_KEY, HOUR_KEY):
        start = time.perf_counter()
        result = job.execute_in_process(instance=production_instance, partition_key=key)
        timings[key] = time.perf_counter() - start
        assert result.success
    print(f"\nhourly_plant_job to S3 on PostgreSQL instance, seconds per partition: {timings}")

    # The 10:00 features read 09:00's readings back from S3 (the IQR reference window).
    readings = _object(s3_server, s3_bucket, "sensor_readings", HOUR_KEY)
    features = _object(s3_server, s3_bucket, "machine_hourly_features", HOUR_KEY)
    assert readings.height > 0 and features.height == 4
    assert features["hour"].dt.replace_time_zone(None).unique().to_list() == [
        datetime(2026, 11, 2, 10)
    ]
    listing = s3_server.client().list_objects_v2(Bucket=s3_bucket, Prefix="mfg/warehouse/")
    keys = {item["Key"] for item in listing["Contents"]}
    for asset in (*PLANT_ASSETS, "machine_hourly_features"):
        for key in (PREVIOUS_HOUR_KEY, HOUR_KEY):
            assert f"mfg/warehouse/{partition_file([asset], key)}" in keys

    # Materializations, with their S3 URIs, are recorded in PostgreSQL.
    event = production_instance.get_latest_materialization_event(
        dg.AssetKey("machine_hourly_features")
    )
    assert event.asset_materialization.partition == HOUR_KEY
    uri = event.asset_materialization.metadata["uri"].value
    assert uri == f"s3://{s3_bucket}/mfg/warehouse/machine_hourly_features/2026-11-02-1000.parquet"
    materialized = production_instance.get_materialized_partitions(dg.AssetKey("sensor_readings"))
    assert {PREVIOUS_HOUR_KEY, HOUR_KEY} <= set(materialized)


def test_schedule_tick_against_the_instance_launches_the_hour(
    production_instance: dg.DagsterInstance, s3_server: S3Server, s3_bucket: str
):
    from mfg_assets.definitions import build_definitions

    defs = build_definitions()
    schedule = defs.resolve_schedule_def("hourly_plant_schedule")
    context = dg.build_schedule_context(
        instance=production_instance,
        scheduled_execution_time=datetime(2026, 11, 2, 12, 10, tzinfo=UTC),
    )
    requests = schedule.evaluate_tick(context).run_requests
    assert requests and len(requests) == 1
    request = requests[0]
    assert request.partition_key == "2026-11-02-11:00"

    job = defs.resolve_job_def(schedule.job_name)
    result = job.execute_in_process(
        instance=production_instance,
        partition_key=request.partition_key,
        tags={**request.tags, "dagster/schedule_name": schedule.name},
        run_config=request.run_config or None,
    )
    assert result.success
    run = production_instance.get_run_by_id(result.run_id)
    assert run.tags["dagster/partition"] == "2026-11-02-11:00"
    assert run.tags["mfg/kind"] == "ingestion"
    features = _object(s3_server, s3_bucket, "machine_hourly_features", "2026-11-02-11:00")
    assert features.height == 4
