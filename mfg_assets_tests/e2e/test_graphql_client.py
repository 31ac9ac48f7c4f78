"""An external tool launches a partitioned materialization through dagster-graphql's client."""

from __future__ import annotations

import time

import pytest

from mfg_assets_tests.e2e.conftest import QUALITY_CHECKS, DagsterUI

RUN_TIMEOUT_S = 300

ASSET_PARTITION_QUERY = """
query AssetPartition($assetKey: AssetKeyInput!, $partition: String!) {
  assetNodeOrError(assetKey: $assetKey) {
    __typename
    ... on AssetNode {
      partitionStats { numMaterialized }
      assetMaterializations(partitions: [$partition]) { partition runId }
      assetChecksOrError {
        __typename
        ... on AssetChecks {
          checks {
            name
            executionForLatestMaterialization {
              runId
              status
              evaluation { success }
            }
          }
        }
      }
    }
  }
}
"""

RUN_ERRORS_QUERY = """
query RunErrors($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message }
        ... on ExecutionStepFailureEvent { error { message stack } }
        ... on RunFailureEvent { error { message } }
      }
    }
  }
}
"""


def wait_for_run(client, run_id: str, timeout_s: float):
    """Poll the run's status until it finishes (or the timeout)."""
    from dagster import DagsterRunStatus

    finished = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    deadline = time.monotonic() + timeout_s
    status = client.get_run_status(run_id)
    while status not in finished and time.monotonic() < deadline:
        time.sleep(1.0)
        status = client.get_run_status(run_id)
    return status


def run_messages(client, run_id: str) -> str:
    data = client._execute(RUN_ERRORS_QUERY, {"runId": run_id})["logsForRun"]
    events = data.get("events", [])
    return "\n".join(str(e.get("error") or e.get("message")) for e in events[-30:])


@pytest.mark.slow
def test_graphql_client_launches_a_partitioned_materialization(dagster_ui: DagsterUI):
    import dagster as dg
    from dagster_graphql import DagsterGraphQLClient

    hour_key = dagster_ui.open_keys[-1]  # an hour with plant data, not materialized yet
    client = DagsterGraphQLClient(dagster_ui.host, port_number=dagster_ui.port, timeout=60)

    run_id = client.submit_job_execution(
        "hourly_plant_job", tags={"dagster/partition": hour_key, "mfg/trigger": "graphql-test"}
    )
    status = wait_for_run(client, run_id, RUN_TIMEOUT_S)
    assert status == dg.DagsterRunStatus.SUCCESS, (
        f"run {run_id} ended {status}:\n{run_messages(client, run_id)}\n{dagster_ui.log_tail()}"
    )

    # What the API reports for the partition: materialized by that run, checks evaluated on it.
    for asset in ("sensor_readings", "machine_hourly_features"):
        node = client._execute(
            ASSET_PARTITION_QUERY, {"assetKey": {"path": [asset]}, "partition": hour_key}
        )["assetNodeOrError"]
        assert node["__typename"] == "AssetNode", node
        assert node["assetMaterializations"] == [{"partition": hour_key, "runId": run_id}]
        assert node["partitionStats"]["numMaterialized"] == len(dagster_ui.materialized_keys) + 1
        checks = {
            c["name"]: c["executionForLatestMaterialization"]
            for c in node["assetChecksOrError"]["checks"]
        }
        for name in QUALITY_CHECKS[asset]:  # the hour's own data quality, evaluated by that run
            execution = checks[name]
            assert execution["runId"] == run_id, (asset, name, execution)
            assert execution["status"] == "SUCCEEDED", (asset, name, execution)
            assert execution["evaluation"]["success"], (asset, name, execution)

    # The same in the instance, and the partition's rows in the warehouse.
    with dg.DagsterInstance.from_config(str(dagster_ui.home)) as instance:
        run = instance.get_run_by_id(run_id)
        assert run.tags["dagster/partition"] == hour_key
        done = instance.get_materialized_partitions(dg.AssetKey("machine_hourly_features"))
        assert done == {*dagster_ui.materialized_keys, hour_key}
    partition_file = f"{hour_key.replace(':', '')}.parquet"
    for asset in ("sensor_readings", "machine_hourly_features"):
        assert (dagster_ui.data_dir / "warehouse" / asset / partition_file).stat().st_size > 0
