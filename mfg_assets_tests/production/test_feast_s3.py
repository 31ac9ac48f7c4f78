"""Feast in the production profile: features materialized by Dagster into the bucket
(``MFG_STORAGE_URI=s3://…``) reach Feast's offline store through the storage layer (the daily
mirror is a local cache built from the bucket), the online store and SQL registry are in
PostgreSQL, and a training set built through Feast matches the partitions in the bucket. Real
Dagster runs, the seeded PostgreSQL plant and the loopback S3 API server."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import timedelta

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mfg_assets_tests.fixtures.s3 import S3Server
from mfg_assets_tests.integration.plant_fixtures import HOUR, plant_assets

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

HOURS = (10, 11, 12)  # partitions 2026-11-02 10:00..12:00 of the seeded plant
FEATURES_PREFIX = "warehouse/machine_hourly_features"


@pytest.fixture
def s3_profile(
    s3_server: S3Server, s3_bucket: str, postgres_server: None, tmp_path, monkeypatch
) -> Iterator[str]:
    """The production settings, as deploy/compose.yaml sets them: files in S3 (through the
    AWS_* variables, a fresh prefix), Feast's SQL registry and online store in PostgreSQL (a
    throwaway database); the local data directory only holds the offline cache."""
    from mfg_assets_tests.fixtures.services import PG_HOST, PG_PORT
    from mfg_assets_tests.production.conftest import throwaway_database

    prefix = f"feast-{uuid.uuid4().hex[:8]}"
    with throwaway_database("mfg_feast_s3") as database:
        env = {
            **s3_server.env(),
            "MFG_STORAGE_URI": f"s3://{s3_bucket}/{prefix}",
            "MFG_DATA_DIR": str(tmp_path / "data"),
            "MFG_FEATURE_STORE": "postgres",
            "FEAST_PG_HOST": PG_HOST,
            "FEAST_PG_PORT": str(PG_PORT),
            "FEAST_PG_DB": database,
            "FEAST_PG_USER": "postgres",
            "FEAST_REGISTRY_URL": f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{database}",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield prefix


def _materialize_features_into_s3(plant_pg_url: str) -> None:
    from mfg_assets.defs.resources import PlantDatabase, parquet_io_manager

    resources = {
        "plant_db": PlantDatabase(url=plant_pg_url),
        "parquet_io_manager": parquet_io_manager(),
    }
    for hour in HOURS:
        key = (HOUR + timedelta(hours=hour - 10)).strftime("%Y-%m-%d-%H:%M")
        assert dg.materialize(plant_assets(), partition_key=key, resources=resources).success


def _bucket_features(s3_server: S3Server, bucket: str, prefix: str) -> pl.DataFrame:
    client = s3_server.client()
    listing = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/{FEATURES_PREFIX}/")
    keys = sorted(item["Key"] for item in listing.get("Contents", []))
    assert [k.rsplit("/", 1)[1] for k in keys] == [f"2026-11-02-{h}00.parquet" for h in HOURS]
    frames = [
        pl.read_parquet(io.BytesIO(client.get_object(Bucket=bucket, Key=k)["Body"].read()))
        for k in keys
    ]
    return pl.concat(frames)


def test_feast_reads_the_feature_partitions_from_s3(
    s3_profile: str, s3_server: S3Server, s3_bucket: str, plant_pg_url: str, tmp_path
):
    from mfg_assets.feature_store.errors import PartitionsNotFoundError
    from mfg_assets.feature_store.offline import partition_source, sync_offline_store
    from mfg_assets.feature_store.online import online_features
    from mfg_assets.feature_store.store import materialize_window, open_store, training_frame
    from mfg_assets.features.schema import feature_columns
    from mfg_assets.storage.files import S3FileStore

    assert isinstance(partition_source().store, S3FileStore)
    with pytest.raises(PartitionsNotFoundError, match=rf"s3://{s3_bucket}/{s3_profile}/"):
        sync_offline_store()  # nothing in the bucket yet: a clear error naming it

    _materialize_features_into_s3(plant_pg_url)
    local = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet"))
    assert local == [], "partitions must go to S3 only"
    in_bucket = _bucket_features(s3_server, s3_bucket, s3_profile)
    assert in_bucket.height == 4 * len(HOURS)  # 4 machines

    store = open_store()
    assert store.config.online_store.type == "postgres"
    assert store.config.registry.registry_type == "sql"
    start, end = HOUR, HOUR + timedelta(hours=len(HOURS))
    loaded = materialize_window(store, start, end)
    assert loaded.source_rows == in_bucket.height and loaded.rows_written == 4
    assert loaded.source_days_rebuilt == ("2026-11-02",)
    machines = sorted(in_bucket["machine_id"].unique().to_list())
    online = online_features(store, machines)
    last_hour = in_bucket.filter(pl.col("event_timestamp") == end).sort("machine_id")
    assert online["vibration_mean"].to_list() == pytest.approx(
        last_hour["vibration_mean"].to_list()
    )

    # A training set through Feast's get_historical_features, label times at each hour end.
    labels = in_bucket.select("machine_id", "event_timestamp").with_columns(
        label=pl.col("machine_id").str.len_chars()
    )
    frame = training_frame(store, labels, engine="feast")
    names = feature_columns()
    got = frame.sort("event_timestamp", "machine_id").select("machine_id", *names)
    want = in_bucket.sort("event_timestamp", "machine_id").select("machine_id", *names)
    assert_frame_equal(got, want, check_dtypes=False)

    # A partition rewritten in the bucket (a re-materialization) is picked up by the next read.
    client = s3_server.client()
    key = f"{s3_profile}/{FEATURES_PREFIX}/2026-11-02-1100.parquet"
    hour_11 = pl.read_parquet(
        io.BytesIO(client.get_object(Bucket=s3_bucket, Key=key)["Body"].read())
    )
    buffer = io.BytesIO()
    hour_11.with_columns(pl.lit(-7.25).alias("vibration_mean")).write_parquet(buffer)
    client.put_object(Bucket=s3_bucket, Key=key, Body=buffer.getvalue())
    assert sync_offline_store().days_rebuilt == ("2026-11-02",)
    assert sync_offline_store().days_rebuilt == ()  # fingerprint (ETag) unchanged: no rebuild
    cache = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet"))
    assert cache == ["data/feature_store/offline/machine_hourly_features/2026-11-02.parquet"]
    at_noon = labels.filter(pl.col("event_timestamp") == HOUR + timedelta(hours=2))
    refreshed = training_frame(store, at_noon, engine="feast")
    assert refreshed["vibration_mean"].to_list() == [-7.25] * 4
