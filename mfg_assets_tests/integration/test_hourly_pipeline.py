"""Real hourly partitions materialized in-process against a real plant database.

Runs the same scenarios on SQLite and on PostgreSQL (a throwaway database on 127.0.0.1:5432).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from sqlalchemy import create_engine, insert

from mfg_assets.plant.schema import sensor_readings as readings_table
from mfg_assets.storage.partitions import partition_file
from mfg_assets_tests.integration.plant_fixtures import (
    HOUR,
    HOUR_KEY,
    plant_assets,
    resources,
    seed_small_plant,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def plant_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'plant.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    seed_small_plant(url)
    return url


def materialize_hour(url: str, warehouse: Path, instance: dg.DagsterInstance, key: str = HOUR_KEY):
    return dg.materialize(
        plant_assets(),
        partition_key=key,
        instance=instance,
        resources=resources(url, warehouse),
        raise_on_error=False,
    )


def read_partition(warehouse: Path, asset: str, key: str = HOUR_KEY) -> pl.DataFrame:
    return pl.read_parquet(warehouse / partition_file([asset], key))


def digest(warehouse: Path, asset: str, key: str = HOUR_KEY) -> str:
    return hashlib.sha256(read_partition(warehouse, asset, key).write_csv().encode()).hexdigest()


def check_outcomes(result: dg.ExecuteInProcessResult) -> dict[str, tuple[bool, str]]:
    return {
        f"{e.asset_key.to_user_string()}:{e.check_name}": (e.passed, e.severity.value)
        for e in result.get_asset_check_evaluations()
    }


def test_hour_materializes_and_rerun_is_idempotent(plant_url: str, tmp_path: Path):
    warehouse = tmp_path / "warehouse"
    with dg.instance_for_test() as instance:
        first = materialize_hour(plant_url, warehouse, instance)
        assert first.success
        features = read_partition(warehouse, "machine_hourly_features")
        readings = read_partition(warehouse, "sensor_readings")
        assert features.height == 4  # 4 machines running, one row each
        assert features.select(pl.struct("machine_id", "hour").is_unique().all()).item()
        assert readings["ts"].min() >= HOUR
        assert readings["ts"].max() < HOUR + timedelta(hours=1)
        before = {a: digest(warehouse, a) for a in ("sensor_readings", "machine_hourly_features")}

        second = materialize_hour(plant_url, warehouse, instance)
        assert second.success
        after = {a: digest(warehouse, a) for a in before}
        assert after == before  # same rows, same values: no duplicates on re-run
        assert all(passed for passed, _ in check_outcomes(second).values())
        mats = instance.get_latest_materialization_event(dg.AssetKey("machine_hourly_features"))
        meta = mats.asset_materialization.metadata
        assert meta["dagster/row_count"].value == 4
        assert "preview" in meta


def test_dirty_hour_is_quarantined_and_nothing_is_lost(plant_url: str, tmp_path: Path):
    t = HOUR + timedelta(minutes=7, seconds=3)
    dirt = [
        {"ts": t, "machine_id": "M999", "sensor_type": "temperature", "value": 60.0},
        {"ts": t, "machine_id": "M001", "sensor_type": "vibration", "value": 999.0},
        {"ts": t, "machine_id": "M001", "sensor_type": "pressure", "value": None},
        {"ts": t, "machine_id": "M002", "sensor_type": "current", "value": 18.0},
        {"ts": t, "machine_id": "M002", "sensor_type": "current", "value": 18.0},
    ]
    engine = create_engine(plant_url)
    with engine.begin() as conn:
        conn.execute(insert(readings_table), dirt)
    engine.dispose()

    warehouse = tmp_path / "warehouse"
    with dg.instance_for_test() as instance:
        result = materialize_hour(plant_url, warehouse, instance)
    assert result.success
    raw = read_partition(warehouse, "sensor_readings")
    quarantined = read_partition(warehouse, "quarantined_readings")
    counts = dict(quarantined.group_by("reason").len().iter_rows())
    assert counts == {
        "unknown_machine": 1,
        "out_of_range": 1,
        "missing_value": 1,
        "duplicate": 1,
    }
    mat = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("machine_hourly_features")
    ][0]
    meta = mat.step_materialization_data.materialization.metadata
    assert meta["rows_in"].value == raw.height
    assert meta["rows_in"].value == meta["rows_clean"].value + meta["rows_quarantined"].value
    assert meta["rows_quarantined"].value == quarantined.height == 4


def test_hour_without_data_gives_empty_output_and_failing_check(plant_url: str, tmp_path: Path):
    warehouse = tmp_path / "warehouse"
    empty_key = "2026-11-01-05:00"  # before the plant's history begins
    with dg.instance_for_test() as instance:
        result = materialize_hour(plant_url, warehouse, instance, key=empty_key)
    assert result.success  # no exception: an empty, schema-correct partition
    features = read_partition(warehouse, "machine_hourly_features", empty_key)
    assert features.is_empty()
    from mfg_assets.features.schema import feature_schema

    assert dict(features.schema) == feature_schema()
    outcomes = check_outcomes(result)
    assert outcomes["machine_hourly_features:non_empty"] == (False, "ERROR")
    assert outcomes["sensor_readings:non_empty"] == (False, "ERROR")


def test_missing_plant_database_fails_clearly_and_partition_reruns(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'not_there.db'}"
    warehouse = tmp_path / "warehouse"
    with dg.instance_for_test() as instance:
        failed = materialize_hour(url, warehouse, instance)
        assert not failed.success
        failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
        message = failure.step_failure_data.error.to_string()
        assert "not_there.db" in message and "not found" in message
        assert not (warehouse / "sensor_readings").exists()  # nothing partial left visible

        seed_small_plant(url)
        assert materialize_hour(url, warehouse, instance).success


def test_unreachable_postgres_names_the_url_with_password_masked(tmp_path: Path):
    url = "postgresql+psycopg://plant:s3cret@127.0.0.1:1/plant"
    with dg.instance_for_test() as instance:
        failed = materialize_hour(url, tmp_path / "w", instance)
    assert not failed.success
    retried = [e for e in failed.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert retried, "a refused connection is transient: the step is retried"
    message = retried[0].event_specific_data.error.to_string()
    assert "plant:***@127.0.0.1:1/plant" in message
    assert "s3cret" not in message
