"""Outages of the production services mid-run.

* The S3 server stops right after the first partition file of a run is stored: the remaining
  writes fail with an error naming the endpoint, the steps are retried per their policy
  (STEP_UP_FOR_RETRY), the run fails; once the server is back the partition re-runs cleanly and
  the bucket holds only complete, readable parquet files.
* A connection cut in the middle of a PUT body (a loopback proxy drops it) leaves no object.
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

from mfg_assets.defs.io_managers import PartitionedParquetIOManager
from mfg_assets.defs.resources import PlantDatabase
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


def _events(result: dg.ExecuteInProcessResult, kind: str) -> list[dg.DagsterEvent]:
    return [e for e in result.all_events if e.event_type_value == kind]


def test_s3_outage_mid_run_fails_clearly_retries_and_reruns_cleanly(
    production_instance: dg.DagsterInstance, outage_server: S3Server, plant_pg_url: str
):
    bucket = outage_server.create_bucket("mfg-outage")
    resources = _resources(outage_server, bucket, plant_pg_url)

    _OUTAGE["server"] = outage_server
    failed = dg.materialize(
        plant_assets(),
        partition_key=HOUR_KEY,
        instance=production_instance,
        resources=resources,
        raise_on_error=False,
    )
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
    rerun = dg.materialize(
        plant_assets(),
        partition_key=HOUR_KEY,
        instance=production_instance,
        resources=resources,
        raise_on_error=False,
    )
    assert rerun.success
    assert not _events(rerun, "STEP_UP_FOR_RETRY")

    listing = outage_server.client().list_objects_v2(Bucket=bucket)
    keys = sorted(item["Key"] for item in listing.get("Contents", []))
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
    for key in keys:
        body = outage_server.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        pl.read_parquet(io.BytesIO(body))  # every object is a complete parquet file
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
