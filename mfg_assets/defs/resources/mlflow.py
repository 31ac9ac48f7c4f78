"""dagster-mlflow's ``mlflow_tracking`` resource, wrapped for this code location.

Why a wrapper and not ``dagster_mlflow.mlflow_tracking`` directly:

* ``dagster_mlflow`` imports ``mlflow`` at module import (~4 s): importing it in the code
  location would slow every load, so the resource imports it when a run initializes it;
* its ``mlflow.set_experiment`` creates a missing experiment with artifacts in ``./mlruns``
  under the working directory: the experiment is created first, with artifacts under the data
  directory (or the server's artifact store);
* its ``end_mlflow_on_run_finished`` hook ends the MLflow run only when the job's topologically
  last op runs, which never happens for asset subsets or plain ``materialize()``: the resource
  ends the run at teardown instead (a later step of the same Dagster run resumes it, found by
  its ``dagster_run_id`` tag), and :data:`mark_mlflow_run_failed` records failures.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import dagster as dg

MLFLOW_CONFIG_SCHEMA = {
    "experiment_name": dg.Field(dg.StringSource, description="MLflow experiment name."),
    "mlflow_tracking_uri": dg.Field(
        dg.Noneable(dg.StringSource),
        default_value=None,
        is_required=False,
        description="Tracking URI; default MLFLOW_TRACKING_URI or the embedded SQLite store.",
    ),
    "extra_tags": dg.Field(dg.Permissive(), is_required=False, description="Tags on the run."),
}


@dg.resource(config_schema=MLFLOW_CONFIG_SCHEMA, description=__doc__.splitlines()[0])
def mlflow_tracking(init_context: dg.InitResourceContext) -> Iterator[Any]:
    from mfg_assets.models.tracking import configure_mlflow, ensure_experiment

    config = dict(init_context.resource_config)
    config["mlflow_tracking_uri"] = config.get("mlflow_tracking_uri") or configure_mlflow()
    ensure_experiment(config["experiment_name"])
    from dagster_mlflow.resources import MlFlow
    from mlflow.tracking._tracking_service import utils as tracking_utils

    # MlFlow sets the process-global tracking URI; restore it at teardown so nothing else in
    # the process (another resource, a later run in the same process) inherits this one.
    previous_uri = getattr(tracking_utils, "_tracking_uri", None)
    # MlFlow reads only these four attributes; pass the completed config alongside them.
    tracker = MlFlow(
        SimpleNamespace(
            log=init_context.log,
            dagster_run=init_context.run,
            run_id=init_context.run.run_id if init_context.run else None,
            resource_config=config,
        )
    )
    try:
        yield tracker
    finally:
        import mlflow

        if mlflow.active_run() is not None:
            mlflow.end_run()
        tracking_utils._tracking_uri = previous_uri


@dg.failure_hook(required_resource_keys=set())
def mark_mlflow_run_failed(context: dg.HookContext) -> None:
    """Mark the active MLflow run FAILED when a step of the training job fails."""
    import sys

    if "mlflow" not in sys.modules:
        return
    import mlflow

    if mlflow.active_run() is not None:
        mlflow.end_run(status="FAILED")
