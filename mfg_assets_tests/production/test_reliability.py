"""Outages of the production services mid-run.

* The S3 server stops right after the first partition file of a run is stored: the remaining
  writes fail with an error naming the endpoint, the steps are retried per their policy
  (STEP_UP_FOR_RETRY), the run fails; once the server is back the partition re-runs cleanly and
  the bucket holds only complete, readable parquet files.
* A connection cut in the middle of a PUT body (a loopback proxy drops it) leaves no object.
* The PostgreSQL plant database stops accepting connections right after the first extract of a
  run (``ALTER DATABASE … ALLOW_CONNECTIONS false`` + ``pg_terminate_backend``): the other
  extracts fail naming the database, are retried per PLANT_DB_RETRY, the run fails without
  features; once connections are allowed again the partition re-runs cleanly and the bucket
  holds exactly one complete file per asset.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from collections.abc import Iterator

import dagster as dg
import polars as pl
import pytest
from dagster_aws.s3 import S3Resource

from mfg_assets.defs.resources import PlantDatabase
from mfg_assets.defs.resources.io_managers import PartitionedParquetIOManager
from mfg_assets.storage.files import FileStoreError, S3FileStore
from mfg_assets_tests.fixtures.s3 import S3Server, free_port, start_s3_server
from mfg_assets_tests.integration.plant_fixtures import HOUR_KEY, plant_assets

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

_OUTAGE: dict[str, object] = {}


def _stop_server_after_put(**kwargs) -> None:
    server = _OUTAGE.pop("server", None)
    if server is not None:
        _OUTAGE["stored_before_outage"] = kwargs.get("params", {}).get("url_path", "?")
        server.stop()  # the PUT's response is already in; every later call is refused


class S3ResourceWithOutage(S3Resource):
    """An S3Resource whose client stops the S3 server right after its first successful PUT
    (when armed): a real outage at a deterministic point of the run."""

    def get_client(self):
        client = super().get_client()
        client.meta.events.register("after-call.s3.PutObject", _stop_server_after_put)
        return client


@pytest.fixture
def outage_server() -> Iterator[S3Server]:
    server = start_s3_server()  # its own port: the session's server stays up
    try:
        yield server
    finally:
        server.stop()
        _OUTAGE.clear()


def _resources(server: S3Server, bucket: str, plant_url: str) -> dict[str, object]:
    env = server.env()
    return {
        "plant_db": PlantDatabase(url=plant_url),
        "parquet_io_manager": PartitionedParquetIOManager(
            base_dir=f"s3://{bucket}/mfg/warehouse",
            s3=S3ResourceWithOutage(
                endpoint_url=server.endpoint,
                region_name=env["AWS_REGION"],
                aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                max_attempts=2,
            ),
        ),
    }


def _run_hour(
    instance: dg.DagsterInstance, resources: dict[str, object]
) -> dg.ExecuteInProcessResult:
    """Ingestion + features for HOUR_KEY, failures returned rather than raised."""
    return dg.materialize(
        plant_assets(),
        partition_key=HOUR_KEY,
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )


def _stored_keys(client, bucket: str) -> list[str]:
    """Every object key in ``bucket``, after checking each object is a complete parquet file."""
    keys = sorted(item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", []))
    for key in keys:
        pl.read_parquet(io.BytesIO(client.get_object(Bucket=bucket, Key=key)["Body"].read()))
    return keys


def _events(result: dg.ExecuteInProcessResult, kind: str) -> list[dg.DagsterEvent]:
    return [e for e in result.all_events if e.event_type_value == kind]


def test_s3_outage_mid_run_fails_clearly_retries_and_reruns_cleanly(
    production_instance: dg.DagsterInstance, outage_server: S3Server, plant_pg_url: str
):
    bucket = outage_server.create_bucket("mfg-outage")
    resources = _resources(outage_server, bucket, plant_pg_url)

    _OUTAGE["server"] = outage_server
    failed = _run_hour(production_instance, resources)
    assert not outage_server.running, "the outage hook never fired"
    assert not failed.success
    retries = _events(failed, "STEP_UP_FOR_RETRY")
    failures = _events(failed, "STEP_FAILURE")
    assert failures, "the writes after the outage must fail"
    # Ingestion steps carry PLANT_DB_RETRY (2 retries): each failed step was retried twice.
    for failure in failures:
        step_retries = [e for e in retries if e.step_key == failure.step_key]
        assert len(step_retries) == 2, (failure.step_key, len(step_retries))
    message = failures[0].step_failure_data.error.to_string()
    assert f"S3 endpoint {outage_server.endpoint} unreachable writing s3://{bucket}/" in message
    assert "Could not connect to the endpoint URL" in message
    built = {e.asset_key.to_user_string() for e in failed.get_asset_materialization_events()}
    assert "machine_hourly_features" not in built, "no features from a partial hour"
    assert _OUTAGE["stored_before_outage"]  # one file made it before the outage

    # The service comes back (same port, same buckets); the partition re-runs cleanly.
    outage_server.start()
    rerun = _run_hour(production_instance, resources)
    assert rerun.success
    assert not _events(rerun, "STEP_UP_FOR_RETRY")

    keys = _stored_keys(outage_server.client(), bucket)  # complete parquet files only
    expected = {
        f"mfg/warehouse/{asset}/2026-11-02-1000.parquet"
        for asset in (
            "sensor_readings",
            "quality_inspections",
            "machine_events",
            "machine_hourly_features",
            "quarantined_readings",
        )
    }
    assert set(keys) == expected, keys  # nothing temporary, nothing half-written
    features = outage_server.client().get_object(
        Bucket=bucket, Key="mfg/warehouse/machine_hourly_features/2026-11-02-1000.parquet"
    )
    assert pl.read_parquet(io.BytesIO(features["Body"].read())).height == 4


class CuttingProxy:
    """A loopback TCP proxy to the S3 server that, while ``cut_after`` is set, forwards that many
    request bytes of each connection and then drops it: PUTs that die mid-body."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.cut_after: int | None = None
        self.cuts = 0
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        limit = self.cut_after

        def pump(src: socket.socket, dst: socket.socket, budget: int | None) -> None:
            sent = 0
            try:
                while chunk := src.recv(65536):
                    if budget is not None and sent + len(chunk) >= budget:
                        dst.sendall(chunk[: budget - sent])
                        self.cuts += 1
                        break
                    dst.sendall(chunk)
                    sent += len(chunk)
            except OSError:
                pass
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

        threading.Thread(target=pump, args=(upstream, client, None), daemon=True).start()
        pump(client, upstream, limit)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()


def test_connection_cut_mid_upload_leaves_no_object(s3_server: S3Server, s3_bucket: str):
    proxy = CuttingProxy(s3_server.port)
    try:
        resource = S3Resource(
            endpoint_url=f"http://127.0.0.1:{proxy.port}",
            region_name="us-east-1",
            aws_access_key_id="k",
            aws_secret_access_key="s",
            max_attempts=1,
        )
        store = S3FileStore(resource, s3_bucket, "cut")
        payload = bytes(range(256)) * 4096  # 1 MiB
        proxy.cut_after = 600_000  # headers + about half of the body
        with pytest.raises(FileStoreError, match=f"127.0.0.1:{proxy.port}"):
            store.write_bytes("half.parquet", payload)
        assert proxy.cuts >= 1
        direct = S3FileStore(s3_server.resource(), s3_bucket, "cut")
        assert not direct.exists("half.parquet"), "a cut upload must leave nothing visible"
        assert direct.list_files() == []

        proxy.cut_after = None  # the network recovers; the retry stores the whole object
        store.write_bytes("half.parquet", payload)
        assert direct.read_bytes("half.parquet") == payload
    finally:
        proxy.close()


_DB_OUTAGE: dict[str, str] = {}


def _set_connections(database: str, allowed: bool) -> None:
    from mfg_assets_tests.fixtures.services import _admin_conn

    with _admin_conn() as conn:
        conn.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:  # and drop the sessions already open
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )


class PlantDatabaseWithOutage(PlantDatabase):
    """The plant database resource; when armed, the database refuses every connection right
    after the first extract returns (a real outage at a deterministic point of the run)."""

    def _then_maybe_refuse(self, frame: pl.DataFrame) -> pl.DataFrame:
        database = _DB_OUTAGE.pop("database", None)
        if database is not None:
            _DB_OUTAGE["refused_after"] = str(frame.height)
            _set_connections(database, allowed=False)
        return frame

    def sensor_readings(self, start, end) -> pl.DataFrame:
        return self._then_maybe_refuse(super().sensor_readings(start, end))

    def quality_inspections(self, start, end) -> pl.DataFrame:
        return self._then_maybe_refuse(super().quality_inspections(start, end))

    def machine_events(self, start, end) -> pl.DataFrame:
        return self._then_maybe_refuse(super().machine_events(start, end))


@pytest.fixture
def outage_plant_db(postgres_server: None) -> Iterator[tuple[str, str]]:
    """A seeded plant in its own database (name, URL), connections allowed again at the end."""
    from mfg_assets_tests.fixtures.services import PG_HOST, PG_PORT
    from mfg_assets_tests.integration.plant_fixtures import seed_small_plant
    from mfg_assets_tests.production.conftest import throwaway_database

    with throwaway_database("mfg_outage_plant") as name:
        url = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
        seed_small_plant(url)
        try:
            yield name, url
        finally:
            _DB_OUTAGE.clear()
            _set_connections(name, allowed=True)


def test_plant_db_refusing_connections_mid_run_fails_clearly_retries_and_reruns_cleanly(
    production_instance: dg.DagsterInstance,
    s3_server: S3Server,
    outage_plant_db: tuple[str, str],
):
    database, url = outage_plant_db
    bucket = s3_server.create_bucket("mfg-db-outage")
    plant_db = PlantDatabaseWithOutage(url=url)
    resources = {
        "plant_db": plant_db,
        "parquet_io_manager": PartitionedParquetIOManager(
            base_dir=f"s3://{bucket}/mfg/warehouse", s3=s3_server.resource()
        ),
    }

    _DB_OUTAGE["database"] = database
    failed = _run_hour(production_instance, resources)
    assert "refused_after" in _DB_OUTAGE, "the outage hook never fired"
    assert not failed.success
    failures = _events(failed, "STEP_FAILURE")
    assert len(failures) == 2, [f.step_key for f in failures]  # the two extracts after it
    retries = _events(failed, "STEP_UP_FOR_RETRY")
    for failure in failures:  # PLANT_DB_RETRY: each failed extract was retried twice
        assert len([e for e in retries if e.step_key == failure.step_key]) == 2
    message = failures[0].step_failure_data.error.to_string()
    assert f"cannot read plant database {plant_db.masked_url}" in message
    assert f'database "{database}" is not currently accepting connections' in message
    built = {e.asset_key.to_user_string() for e in failed.get_asset_materialization_events()}
    assert len(built) == 1 and "machine_hourly_features" not in built, built

    client = s3_server.client()
    file_of = "mfg/warehouse/{}/2026-11-02-1000.parquet".format
    assert _stored_keys(client, bucket) == [file_of(next(iter(built)))], "only the finished one"

    # The database accepts connections again; the same partition re-runs cleanly.
    _set_connections(database, allowed=True)
    rerun = _run_hour(production_instance, resources)
    assert rerun.success
    assert not _events(rerun, "STEP_UP_FOR_RETRY")
    rebuilt = {e.asset_key.to_user_string() for e in rerun.get_asset_materialization_events()}
    assert {"sensor_readings", "quality_inspections", "machine_events"} < rebuilt
    assert "machine_hourly_features" in rebuilt
    assert _stored_keys(client, bucket) == sorted(file_of(asset) for asset in rebuilt)
    features = client.get_object(Bucket=bucket, Key=file_of("machine_hourly_features"))
    assert pl.read_parquet(io.BytesIO(features["Body"].read())).height == 4
