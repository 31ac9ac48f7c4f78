"""S3 storage through dagster-aws against a real S3 API server on loopback: the file store, the
parquet IO manager and the env-driven selection that makes the profile configuration only."""

from __future__ import annotations

import io

import dagster as dg
import polars as pl
import pytest

from mfg_assets.storage.files import (
    FileStoreError,
    LocalFileStore,
    S3FileStore,
    file_store_from_uri,
    join_uri,
)
from mfg_assets_tests.fixtures.s3 import S3Server


def test_s3_file_store_round_trip(s3_server: S3Server, s3_bucket: str):
    store = file_store_from_uri(f"s3://{s3_bucket}/unit/store", s3_server.resource())
    assert isinstance(store, S3FileStore)
    assert not store.exists("a/b.bin")
    uri = store.write_bytes("a/b.bin", b"\x00payload\xff")
    assert uri == store.uri("a/b.bin") == f"s3://{s3_bucket}/unit/store/a/b.bin"
    assert store.exists("a/b.bin")
    assert store.read_bytes("a/b.bin") == b"\x00payload\xff"
    store.write_bytes("a/b.bin", b"replaced")  # overwrite is a whole-object replace
    assert store.read_bytes("a/b.bin") == b"replaced"
    store.write_bytes("a/c.bin", b"")
    assert store.list_files("a") == ["a/b.bin", "a/c.bin"]
    head = s3_server.client().head_object(Bucket=s3_bucket, Key="unit/store/a/b.bin")
    assert head["ContentLength"] == len(b"replaced")


def test_missing_object_and_missing_bucket_are_clear(s3_server: S3Server, s3_bucket: str):
    store = file_store_from_uri(f"s3://{s3_bucket}/unit", s3_server.resource())
    with pytest.raises(FileStoreError, match=rf"refused reading s3://{s3_bucket}/unit/nope"):
        store.read_bytes("nope")
    no_bucket = file_store_from_uri("s3://no-such-bucket-mfg/x", s3_server.resource())
    with pytest.raises(FileStoreError, match=r"s3://no-such-bucket-mfg/x/f.*NoSuchBucket"):
        no_bucket.write_bytes("f", b"1")


def test_unreachable_endpoint_names_it():
    from dagster_aws.s3 import S3Resource

    from mfg_assets_tests.fixtures.s3 import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    resource = S3Resource(
        endpoint_url=dead, aws_access_key_id="k", aws_secret_access_key="s", max_attempts=1
    )
    store = file_store_from_uri("s3://bucket/p", resource)
    with pytest.raises(FileStoreError) as info:
        store.write_bytes("x.parquet", b"1")
    assert f"S3 endpoint {dead} unreachable writing s3://bucket/p/x.parquet" in str(info.value)


def test_uri_factory_and_join(tmp_path):
    assert isinstance(file_store_from_uri(tmp_path), LocalFileStore)
    assert isinstance(file_store_from_uri(f"file://{tmp_path}"), LocalFileStore)
    assert join_uri("s3://b/p/", "warehouse", "x") == "s3://b/p/warehouse/x"
    assert join_uri(str(tmp_path), "warehouse") == str(tmp_path / "warehouse")
    with pytest.raises(ValueError, match="unsupported storage URI"):
        file_store_from_uri("gs://bucket/x")


def test_storage_is_selected_by_environment(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
):
    """Same code, two profiles: only MFG_STORAGE_URI and the AWS_* variables differ."""
    from mfg_assets.defs.resources import parquet_io_manager
    from mfg_assets.storage.location import artifact_store
    from mfg_assets.storage.partitions import warehouse_store, warehouse_uri

    for key in ("MFG_STORAGE_URI", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    local = parquet_io_manager()
    assert local.base_dir == warehouse_uri() and local.s3 is None
    assert isinstance(artifact_store("reports"), LocalFileStore)

    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MFG_STORAGE_URI", f"s3://{s3_bucket}/envsel")
    remote = parquet_io_manager()
    assert remote.base_dir == f"s3://{s3_bucket}/envsel/warehouse"
    # Endpoint and credentials stay env var references (the UI shows names, never secrets).
    assert isinstance(remote.s3.endpoint_url, dg.EnvVar)
    assert remote.s3.endpoint_url.env_var_name == "AWS_ENDPOINT_URL"
    assert remote.s3.aws_secret_access_key.env_var_name == "AWS_SECRET_ACCESS_KEY"

    reports = artifact_store("reports")
    uri = reports.write_bytes("drift/2026-11-02.html", b"<html>ok</html>")
    assert uri == f"s3://{s3_bucket}/envsel/reports/drift/2026-11-02.html"
    assert artifact_store("reports").read_bytes("drift/2026-11-02.html") == b"<html>ok</html>"
    assert isinstance(warehouse_store(), S3FileStore)
    with pytest.raises(ValueError, match="plain relative name"):
        artifact_store("../escape")


def test_parquet_io_manager_writes_and_reads_partitions_in_s3(s3_server: S3Server, s3_bucket):
    from mfg_assets.defs.resources.io_managers import PartitionedParquetIOManager

    hourly = dg.HourlyPartitionsDefinition(start_date="2026-11-02-00:00")
    manager = PartitionedParquetIOManager(
        base_dir=f"s3://{s3_bucket}/iom/warehouse", s3=s3_server.resource()
    )

    @dg.asset(partitions_def=hourly, io_manager_key="pq")
    def readings(context) -> pl.DataFrame:
        return pl.DataFrame({"hour": [context.partition_key], "value": [1.5]})

    @dg.asset(
        partitions_def=hourly,
        io_manager_key="pq",
        ins={
            "readings": dg.AssetIn(
                partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=0)
            )
        },
    )
    def two_hours(readings: pl.DataFrame) -> pl.DataFrame:
        return readings.with_columns(n=pl.len())

    for key in ("2026-11-02-00:00", "2026-11-02-01:00"):
        assert dg.materialize(
            [readings, two_hours], partition_key=key, resources={"pq": manager}
        ).success
    client = s3_server.client()
    body = client.get_object(
        Bucket=s3_bucket, Key="iom/warehouse/two_hours/2026-11-02-0100.parquet"
    )["Body"].read()
    frame = pl.read_parquet(io.BytesIO(body))
    assert frame["hour"].to_list() == ["2026-11-02-00:00", "2026-11-02-01:00"]  # read back
    assert frame["n"].to_list() == [2, 2]


def test_model_io_manager_pickles_to_s3_by_configuration(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
):
    from dagster_aws.s3 import S3PickleIOManager

    from mfg_assets.defs.resources import model_io_manager

    monkeypatch.delenv("MFG_STORAGE_URI", raising=False)
    assert isinstance(model_io_manager(), dg.FilesystemIOManager)
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MFG_STORAGE_URI", f"s3://{s3_bucket}/models-env")
    manager = model_io_manager()
    assert isinstance(manager, S3PickleIOManager)

    @dg.asset(io_manager_key="model_io")
    def trained_model() -> dict:
        return {"weights": [0.25, 0.5], "kind": "maintenance"}

    @dg.asset(io_manager_key="model_io")
    def model_report(trained_model: dict) -> str:
        return f"{trained_model['kind']}: {len(trained_model['weights'])} weights"

    result = dg.materialize([trained_model, model_report], resources={"model_io": manager})
    assert result.success
    assert result.output_for_node("model_report") == "maintenance: 2 weights"
    listing = s3_server.client().list_objects_v2(Bucket=s3_bucket, Prefix="models-env/model_io/")
    keys = {item["Key"] for item in listing["Contents"]}
    assert "models-env/model_io/trained_model" in keys


def test_listing_gives_sizes_and_versions_that_change_on_replace(
    s3_server: S3Server, s3_bucket: str, tmp_path
):
    """What the Feast offline mirror fingerprints: a rewrite changes the version, in both stores."""
    for store in (
        file_store_from_uri(f"s3://{s3_bucket}/unit/entries", s3_server.resource()),
        LocalFileStore(tmp_path),
    ):
        store.write_bytes("day/a.parquet", b"12345")
        store.write_bytes("day/b.parquet", b"1")
        (first, second) = store.list_entries("day")
        assert (first.relpath, first.size, first.name) == ("day/a.parquet", 5, "a.parquet")
        assert second.size == 1
        store.write_bytes("day/a.parquet", b"54321")  # same size, new content
        (again, _) = store.list_entries("day")
        assert again.size == 5 and again.version != first.version, type(store).__name__


def test_published_report_folders_land_in_the_bucket(
    s3_server: S3Server, s3_bucket: str, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    """Evaluation plots written to local scratch end up under <storage>/reports in production;
    in the embedded profile the scratch folder already is the reports folder (no copy)."""
    from mfg_assets.storage.location import publish_folder

    monkeypatch.setenv("MFG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MFG_STORAGE_URI", raising=False)
    local = tmp_path / "data" / "reports" / "maintenance" / "2026-11-02"
    (local / "curves").mkdir(parents=True)
    (local / "roc.png").write_bytes(b"\x89PNG roc")
    (local / "curves" / "pr.png").write_bytes(b"\x89PNG pr")
    assert publish_folder(local, "reports", "maintenance/2026-11-02") == str(local)
    assert sorted(p.name for p in local.rglob("*.png")) == ["pr.png", "roc.png"]

    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MFG_STORAGE_URI", f"s3://{s3_bucket}/pub")
    uri = publish_folder(local, "reports", "maintenance/2026-11-02")
    assert uri == f"s3://{s3_bucket}/pub/reports/maintenance/2026-11-02"
    store = file_store_from_uri(uri, s3_server.resource())
    assert store.list_files() == ["curves/pr.png", "roc.png"]
    assert store.read_bytes("curves/pr.png") == b"\x89PNG pr"
