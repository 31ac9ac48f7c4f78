"""The MLflow tracking server of deploy/compose.yaml on loopback: PostgreSQL backend store
(throwaway database), artifacts proxied to the S3 bucket (``--serve-artifacts``), started with
compose's command and environment. A client logs params, metrics and an artifact and reads
them back; the artifact is an object in the bucket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mfg_assets_tests.fixtures.s3 import ACCESS_KEY, SECRET_KEY, S3Server, free_port
from mfg_assets_tests.fixtures.services import PG_HOST, PG_PORT
from mfg_assets_tests.production.conftest import throwaway_database
from mfg_assets_tests.production.stack import (
    Service,
    http_get,
    service_command,
    service_environment,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def mlflow_server(
    postgres_server: None, s3_server: S3Server, s3_bucket: str, tmp_path_factory
) -> Iterator[str]:
    variables = {
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "unused-on-loopback",
        "MFG_BUCKET": s3_bucket,
        "MFG_S3_ACCESS_KEY": ACCESS_KEY,
        "MFG_S3_SECRET_KEY": SECRET_KEY,
    }
    with throwaway_database("mfg_prod_mlflow") as database:
        env = service_environment(
            "mlflow",
            variables,
            {
                "postgres:5432/mlflow": f"{PG_HOST}:{PG_PORT}/{database}",
                "http://minio:9000": s3_server.endpoint,
            },
        )
        assert env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg2://")
        env["MLFLOW_WORKERS"] = "1"  # 2 cores here; compose runs 2
        port = free_port()
        started = time.perf_counter()
        service = Service(
            "mlflow", service_command("mlflow", variables, port), env, tmp_path_factory.mktemp("ml")
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until(lambda: http_get(f"{url}/health")[0] == 200, 150, "mlflow", service)
            print(f"\nmlflow server on PostgreSQL ready in {time.perf_counter() - started:.1f}s")
            yield url
        finally:
            service.stop()


def test_mlflow_server_tracks_runs_in_postgres_and_artifacts_in_s3(
    mlflow_server: str, s3_server: S3Server, s3_bucket: str, tmp_path
):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server)
    experiment_id = client.create_experiment("production-profile-check")
    run = client.create_run(experiment_id, tags={"mfg/kind": "training"})
    run_id = run.info.run_id
    client.log_param(run_id, "optimizer", "AdamW")
    client.log_param(run_id, "lr", "0.001")
    for epoch, loss in enumerate([0.9, 0.5, 0.3]):
        client.log_metric(run_id, "val_loss", loss, step=epoch)
    report = tmp_path / "evaluation.json"
    report.write_text('{"accuracy": 0.97}')
    client.log_artifact(run_id, str(report), artifact_path="reports")
    client.set_terminated(run_id)

    # Read back through the server.
    fetched = client.get_run(run_id)
    assert fetched.data.params == {"optimizer": "AdamW", "lr": "0.001"}
    assert fetched.data.metrics["val_loss"] == 0.3
    history = client.get_metric_history(run_id, "val_loss")
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == [0.9, 0.5, 0.3]
    assert fetched.info.artifact_uri.startswith("mlflow-artifacts:")  # proxied by the server
    assert [a.path for a in client.list_artifacts(run_id, "reports")] == ["reports/evaluation.json"]
    local = client.download_artifacts(run_id, "reports/evaluation.json", str(tmp_path / "dl"))
    assert Path(local).read_text() == '{"accuracy": 0.97}'

    # The artifact is an object in the bucket, under the configured destination.
    objects = s3_server.client().list_objects_v2(Bucket=s3_bucket, Prefix="mlflow/")
    keys = [item["Key"] for item in objects.get("Contents", [])]
    assert any(k.endswith(f"{run_id}/artifacts/reports/evaluation.json") for k in keys), keys

    # The registry lives in the same PostgreSQL backend.
    client.create_registered_model("maintenance_model_check")
    version = client.create_model_version(
        "maintenance_model_check", f"{fetched.info.artifact_uri}/reports", run_id=run_id
    )
    client.set_registered_model_alias("maintenance_model_check", "champion", version.version)
    champion = client.get_model_version_by_alias("maintenance_model_check", "champion")
    assert champion.run_id == run_id
