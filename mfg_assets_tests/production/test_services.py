"""Every Dagster service of deploy/compose.yaml, run as a plain process on loopback with the
command and environment compose gives it: the user-code gRPC server, the webserver and the
daemon, on the deploy/dagster.yaml instance (throwaway PostgreSQL database, S3 compute logs on
the loopback S3 server).

The hourly schedule is evaluated by the code server through the webserver (the UI's "test
schedule"), its run request is launched the way the UI launches it, waits in the queue, and the
daemon hands it to the code server, whose run worker writes the partition to S3.
"""

from __future__ import annotations

import io
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
import yaml

from mfg_assets.storage.partitions import partition_file
from mfg_assets_tests.fixtures.s3 import ACCESS_KEY, SECRET_KEY, S3Server, free_port
from mfg_assets_tests.fixtures.services import PG_HOST, PG_PORT
from mfg_assets_tests.production.conftest import make_dagster_home
from mfg_assets_tests.production.stack import (
    DEPLOY,
    Service,
    executable,
    graphql,
    http_get,
    service_command,
    service_environment,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

LOCATION = "mfg_assets"
SCHEDULED_AT = datetime(2026, 11, 2, 13, 10, tzinfo=UTC)  # → partition 2026-11-02-12:00
PARTITION = "2026-11-02-12:00"


@dataclass
class Stack:
    env: dict[str, str]
    grpc_port: int
    webserver_url: str
    bucket: str
    services: dict[str, Service]


def compose_variables(bucket: str) -> dict[str, str]:
    """Values for compose's ${...} variables in the test (the local server trusts loopback, so
    the password is a placeholder it never checks)."""
    return {
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "unused-on-loopback",
        "MFG_BUCKET": bucket,
        "MFG_S3_ACCESS_KEY": ACCESS_KEY,
        "MFG_S3_SECRET_KEY": SECRET_KEY,
        "AWS_REGION": "us-east-1",
    }


def loopback_env(service: str, bucket: str, s3: S3Server, database: str, plant_url: str, home):
    """The compose service's environment with in-network addresses pointed at loopback."""
    env = service_environment(
        service,
        compose_variables(bucket),
        {"http://minio:9000": s3.endpoint, "postgres:5432": f"{PG_HOST}:{PG_PORT}"},
    )
    for key, value in env.items():
        if value == "postgres" and key.endswith("_HOST"):
            env[key] = PG_HOST
    env.update(
        DAGSTER_HOME=str(home),
        DAGSTER_PG_DB=database,  # the throwaway database instead of compose's `dagster`
        PLANT_DB_URL=plant_url,  # the seeded plant instead of compose's `plant`
        AWS_MAX_ATTEMPTS="2",
    )
    return env


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    instance_database: str,
    plant_pg_url: str,
    s3_server: S3Server,
    s3_bucket: str,
) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("stack")
    home = make_dagster_home(root / "dagster_home")
    grpc_port, web_port = free_port(), free_port()
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    workspace["load_from"][0]["grpc_server"].update(host="127.0.0.1", port=grpc_port)
    (root / "workspace.yaml").write_text(yaml.safe_dump(workspace))

    def env(service: str) -> dict[str, str]:
        return loopback_env(service, s3_bucket, s3_server, instance_database, plant_pg_url, home)

    def command(service: str, port: int) -> list[str]:
        args = service_command(service, {}, port)
        return [str(root / "workspace.yaml") if a.endswith("workspace.yaml") else a for a in args]

    services: dict[str, Service] = {}
    try:
        services["user-code"] = Service(
            "user-code", command("user-code", grpc_port), env("user-code"), root
        )
        # The webserver and daemon wait for the code server, as compose's depends_on does.
        wait_until(
            lambda: grpc_health(grpc_port, env("user-code")),
            120,
            "the gRPC code server",
            services["user-code"],
            every=1,
        )
        services["dagster-webserver"] = Service(
            "dagster-webserver",
            command("dagster-webserver", web_port),
            env("dagster-webserver"),
            root,
        )
        services["dagster-daemon"] = Service(
            "dagster-daemon", command("dagster-daemon", 0), env("dagster-daemon"), root
        )
        url = f"http://127.0.0.1:{web_port}"
        wait_until(
            lambda: http_get(f"{url}/server_info")[0] == 200,
            120,
            "the webserver",
            services["dagster-webserver"],
            every=0.5,
        )
        yield Stack(env("user-code"), grpc_port, url, s3_bucket, services)
    finally:
        for service in reversed(list(services.values())):
            service.stop()


def grpc_health(port: int, env: dict[str, str]) -> bool:
    proc = subprocess.run(
        [executable("dagster"), "api", "grpc-health-check", "-p", str(port)],
        env={**env, "PATH": str(Path(executable("dagster")).parent) + ":/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode == 0


def test_code_server_answers_the_compose_healthcheck(stack: Stack):
    assert grpc_health(stack.grpc_port, stack.env)


def test_webserver_loads_the_code_location_from_the_grpc_server(stack: Stack):
    data = graphql(
        stack.webserver_url,
        """{ workspaceOrError { ... on Workspace { locationEntries {
              name loadStatus
              locationOrLoadError { __typename ... on PythonError { message } } } } } }""",
    )
    entries = {e["name"]: e for e in data["workspaceOrError"]["locationEntries"]}
    assert entries[LOCATION]["loadStatus"] == "LOADED"
    assert entries[LOCATION]["locationOrLoadError"]["__typename"] == "RepositoryLocation"


SCHEDULE_DRY_RUN = """
mutation DryRun($selector: ScheduleSelector!, $timestamp: Float) {
  scheduleDryRun(selectorData: $selector, timestamp: $timestamp) {
    __typename
    ... on DryRunInstigationTick { evaluationResult {
        runRequests { runKey jobName runConfigYaml tags { key value } }
        skipReason error { message } } }
    ... on PythonError { message stack }
  }
}"""

LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""

RUN_STATUS = """
query Run($runId: ID!) { runOrError(runId: $runId) { ... on Run { status tags { key value } } } }
"""


def test_schedule_tick_is_queued_launched_by_the_daemon_and_lands_in_s3(
    stack: Stack, s3_server: S3Server
):
    started = time.perf_counter()
    tick = graphql(
        stack.webserver_url,
        SCHEDULE_DRY_RUN,
        {
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": "__repository__",
                "scheduleName": "hourly_plant_schedule",
            },
            "timestamp": SCHEDULED_AT.timestamp(),
        },
    )["scheduleDryRun"]
    assert tick["__typename"] == "DryRunInstigationTick", tick
    requests = tick["evaluationResult"]["runRequests"]
    assert len(requests) == 1
    request = requests[0]
    tags = {t["key"]: t["value"] for t in request["tags"]}
    assert tags["dagster/partition"] == PARTITION

    launched = graphql(
        stack.webserver_url,
        LAUNCH_RUN,
        {
            "params": {
                "selector": {
                    "repositoryLocationName": LOCATION,
                    "repositoryName": "__repository__",
                    "jobName": request["jobName"] or "hourly_plant_job",
                },
                "runConfigData": yaml.safe_load(request["runConfigYaml"]) or {},
                "executionMetadata": {
                    "tags": [
                        {"key": k, "value": v}
                        for k, v in {
                            **tags,
                            "dagster/schedule_name": "hourly_plant_schedule",
                        }.items()
                    ]
                },
            }
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    # Submitted through the QueuedRunCoordinator: the daemon, not the webserver, starts it.
    assert launched["run"]["status"] in ("QUEUED", "NOT_STARTED", "STARTING", "STARTED")

    def finished() -> str | None:
        status = graphql(stack.webserver_url, RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
        return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

    status = wait_until(finished, 180, f"run {run_id}", stack.services["dagster-daemon"], every=1)
    elapsed = time.perf_counter() - started
    print(f"\nschedule tick → queued → daemon → code server → S3: {elapsed:.1f}s")
    assert status == "SUCCESS", stack.services["user-code"].tail()

    client = s3_server.client()
    key = f"mfg/warehouse/{partition_file(['machine_hourly_features'], PARTITION)}"
    features = pl.read_parquet(
        io.BytesIO(client.get_object(Bucket=stack.bucket, Key=key)["Body"].read())
    )
    assert features.height == 4
    # Step stdout/stderr were shipped to the bucket by the S3ComputeLogManager.
    logs = client.list_objects_v2(Bucket=stack.bucket, Prefix="dagster/compute-logs/")
    log_keys = [item["Key"] for item in logs.get("Contents", [])]
    print("compute log objects:", log_keys[:6])
    assert any(run_id in k for k in log_keys), f"no compute logs of {run_id} in S3: {log_keys}"


def test_daemon_passes_its_compose_liveness_check(stack: Stack):
    def alive() -> bool:
        proc = subprocess.run(
            [executable("dagster-daemon"), "liveness-check"],
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return proc.returncode == 0

    assert wait_until(alive, 90, "daemon heartbeats", stack.services["dagster-daemon"], every=2)
    heartbeat = graphql(
        stack.webserver_url,
        "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }",
    )
    statuses = heartbeat["instance"]["daemonHealth"]["allDaemonStatuses"]
    required = {s["daemonType"]: s["healthy"] for s in statuses if s["required"]}
    assert required.get("QUEUED_RUN_COORDINATOR") and required.get("SCHEDULER"), json.dumps(
        statuses
    )
