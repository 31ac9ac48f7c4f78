"""MLflow tracking set-up shared by every model: where runs go, experiments, epoch metrics.

Default store (embedded profile): ``sqlite:///<MFG_DATA_DIR>/mlflow/mlflow.db`` with artifacts
under ``<MFG_DATA_DIR>/mlflow/artifacts/<experiment>``; ``MLFLOW_TRACKING_URI`` overrides it.
MLflow's telemetry and progress bars are switched off (there is no network). No autologging.
mlflow is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mfg_assets.settings import data_dir, export_env, get_settings

QUIET_ENV: dict[str, str] = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the SQLite store under the data directory."""
    configured = get_settings().mlflow_tracking_uri
    if configured:
        return configured
    folder = data_dir() / "mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def artifact_root() -> Path:
    """Where local (SQLite/file) stores keep run and model artifacts."""
    return data_dir() / "mlflow" / "artifacts"


def configure_mlflow() -> str:
    """Quiet MLflow and point its fluent API at :func:`tracking_uri` (unless already set)."""
    uri = tracking_uri()
    export_env({**QUIET_ENV, "MLFLOW_TRACKING_URI": uri})
    return uri


def ensure_experiment(name: str) -> str:
    """Id of experiment ``name``, created (artifacts under :func:`artifact_root`) if missing."""
    import mlflow

    uri = configure_mlflow()
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id
    local = uri.startswith(("sqlite:", "file:")) or "://" not in uri
    location = str(artifact_root() / name) if local else None
    return client.create_experiment(name, artifact_location=location)


@contextmanager
def start_run(
    experiment_name: str, run_name: str | None = None, tags: Mapping[str, str] | None = None
) -> Iterator[Any]:
    """``mlflow.start_run`` in ``experiment_name`` on the configured store; ends the run."""
    import mlflow

    experiment_id = ensure_experiment(experiment_name)
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=run_name, tags=dict(tags or {})
    ) as run:
        yield run


@contextmanager
def active_or_new_run(experiment_name: str, run_name: str | None = None) -> Iterator[Any]:
    """The active MLflow run (e.g. dagster-mlflow's, left open), or a new one in
    ``experiment_name`` that is ended on exit."""
    import mlflow

    configure_mlflow()
    active = mlflow.active_run()
    if active is not None:
        yield active
        return
    with start_run(experiment_name, run_name=run_name) as run:
        yield run


def mlflow_epoch_logger(run_id: str | None = None) -> Callable[[Any], None]:
    """Epoch callback logging ``report.as_metrics()`` at ``step=report.epoch``.

    Logs to ``run_id``, or to the run active when called (error if none: a metric must never
    start a stray run).
    """
    import mlflow

    def log(report: Any) -> None:
        target = run_id or _active_run_id()
        mlflow.log_metrics(report.as_metrics(), step=report.epoch, run_id=target)

    return log


def log_evaluation(
    metrics: Mapping[str, float],
    plots_dir: str | Path | None = None,
    run_id: str | None = None,
    prefix: str = "test_",
) -> None:
    """Held-out metrics as ``<prefix><name>`` (what ``mfg-models status`` shows) + plot files."""
    import mlflow

    target = run_id or _active_run_id()
    mlflow.log_metrics({f"{prefix}{k}": float(v) for k, v in metrics.items()}, run_id=target)
    if plots_dir is not None:
        mlflow.log_artifacts(str(plots_dir), artifact_path="evaluation", run_id=target)


def _active_run_id() -> str:
    import mlflow

    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("no active MLflow run: start one (tracking.start_run) or pass run_id")
    return run.info.run_id
