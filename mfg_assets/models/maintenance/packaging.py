"""Log a trained maintenance model to MLflow and load logged ones back as ``predict_proba``.

The logged model is an MLflow pyfunc taking a pandas frame of raw feature columns (extra columns
are ignored) and returning ``failure_probability`` / ``failure_predicted``; the train-split
normalizer and the decision threshold travel inside it. Signature and input example use the
feature schema's dtypes (``double``, ``long`` for counts). mlflow is imported inside functions.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mfg_assets.features.schema import model_feature_schema
from mfg_assets.models.config import ExperimentConfig, dump_config, flatten_config
from mfg_assets.models.maintenance.dataset import finite_feature_matrix
from mfg_assets.models.maintenance.predictor import PREDICTOR_ARTIFACT, MaintenancePredictor
from mfg_assets.models.maintenance.training import TrainedMaintenanceModel
from mfg_assets.models.tracking import active_or_new_run, configure_mlflow

MODEL_ARTIFACT = "model"


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    model_uri: str  # models:/<model_id>, what ModelRegistry.register takes
    model_id: str


def pandas_features(frame: Any, feature_names: list[str]) -> Any:
    """A pandas frame of just the features, typed like the feature schema (ints stay ints)."""
    return _typed_frame(finite_feature_matrix(frame, feature_names), feature_names)


def _typed_frame(x: np.ndarray, feature_names: list[str]) -> Any:
    import pandas as pd

    schema = model_feature_schema()
    integer = {name for name, dtype in schema.items() if dtype.is_integer()}
    return pd.DataFrame(
        {
            name: x[:, j].astype(np.int64 if name in integer else np.float64)
            for j, name in enumerate(feature_names)
        }
    )


def log_maintenance_model(
    trained: TrainedMaintenanceModel,
    config: ExperimentConfig,
    config_path: str | Path | None = None,
    tags: Mapping[str, str] | None = None,
) -> LoggedModel:
    """Log params (flattened config), the config file, summary metrics and the pyfunc model.

    Logs into the active MLflow run (e.g. dagster-mlflow's), or starts and ends one in
    ``config.logging.experiment_name``. Per-epoch metrics are not logged here: pass
    ``tracking.mlflow_epoch_logger()`` as the training callback.
    """
    import mlflow
    from mlflow.models import infer_signature

    run_context = active_or_new_run(config.logging.experiment_name, config.experiment.name)
    example = _typed_frame(trained.example_rows, trained.feature_names)
    proba = trained.predictor.predict_proba_array(trained.example_rows)
    output = {"failure_probability": proba, "failure_predicted": proba >= trained.threshold}
    with warnings.catch_warnings():  # "integer columns cannot hold NaN": inputs are NaN-checked
        warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
        signature = infer_signature(example, _frame(output))
    with run_context as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tags({"model_kind": config.model.kind, **dict(tags or {})})
        mlflow.log_params(flatten_config(config))
        if config_path is not None:
            mlflow.log_artifact(str(config_path), artifact_path="config")
        else:
            mlflow.log_text(dump_config(config), "config/experiment.yaml")
        mlflow.log_metrics(trained.summary_metrics())
        info = mlflow.pyfunc.log_model(
            name=MODEL_ARTIFACT,
            python_model=Path(__file__).with_name("pyfunc.py"),
            artifacts={PREDICTOR_ARTIFACT: str(trained.predictor.save(tmp))},
            signature=signature,
            input_example=example,
            pip_requirements=_requirements(),
            metadata={
                "threshold": trained.threshold,
                "feature_names": trained.feature_names,
                "label_column": config.data.label_column,
                "horizon_hours": config.data.horizon_hours,
                "experiment": config.experiment.name,
            },
        )
        return LoggedModel(run_id=run.info.run_id, model_uri=info.model_uri, model_id=info.model_id)


@dataclass(frozen=True)
class LoadedMaintenanceModel:
    """A logged model's ``predict_proba(frame)``, its decision threshold and logged metadata."""

    predict_proba: Callable[[Any], np.ndarray]
    threshold: float
    metadata: dict[str, Any]


_REGISTERED_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))$")


def fetch_maintenance_predictor(model_uri: str, dst: Path) -> tuple[MaintenancePredictor, dict]:
    """The predictor and ``MLmodel`` of a logged maintenance model, without running anything
    from the artifact store (MLflow's ``pyfunc.load_model`` would execute the logged code file).

    A registered version (``models:/<name>/<n>`` or ``models:/<name>@<alias>``) is downloaded
    to ``dst`` and checked against the ``artifact_sha256`` recorded at registration; then only
    data is read: ``MLmodel`` as YAML, ``predictor.json``, and ``weights.pt`` with
    ``weights_only=True`` (:class:`ArtifactIntegrityError` when it holds more than tensors).
    """
    import pickle

    import mlflow
    import yaml

    from mfg_assets.models.artifacts import ArtifactIntegrityError, required_digest, verify_sha256
    from mfg_assets.models.registry import ModelRegistry

    expected = None
    match = _REGISTERED_URI.match(model_uri)
    if match and not match["name"].startswith("m-"):
        registry = ModelRegistry()
        name = match["name"]
        version = int(match["version"]) if match["version"] else None
        if version is None:
            version = registry.get_alias_version(name, match["alias"])
            if version is None:
                raise ArtifactIntegrityError(f"{name} has no version @{match['alias']}")
        tags = registry.version_info(name, version)["tags"]
        model_uri = f"models:/{name}/{version}"
        expected = required_digest(tags.get("artifact_sha256"), "artifact_sha256", model_uri)
    local = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=model_uri, dst_path=str(dst), tracking_uri=configure_mlflow()
        )
    )
    if expected is not None:
        verify_sha256(local, expected)
    mlmodel = yaml.safe_load((local / "MLmodel").read_text()) or {}
    artifacts = mlmodel.get("flavors", {}).get("python_function", {}).get("artifacts") or {}
    relpath = str((artifacts.get(PREDICTOR_ARTIFACT) or {}).get("path") or "")
    folder = (local / relpath).resolve()
    if not relpath or not folder.is_relative_to(local.resolve()) or not folder.is_dir():
        raise ArtifactIntegrityError(f"{model_uri}: the model has no {PREDICTOR_ARTIFACT!r} folder")
    try:
        return MaintenancePredictor.load(folder), mlmodel
    except pickle.UnpicklingError as exc:  # weights_only refused a non-tensor object
        raise ArtifactIntegrityError(
            f"{model_uri}: weights.pt holds more than tensors; refusing to load it ({exc})"
        ) from exc


def load_maintenance_model(model_uri: str) -> LoadedMaintenanceModel:
    """A logged/registered model (e.g. ``models:/maintenance_model@champion``) with a
    ``predict_proba(frame)`` for pandas or polars frames, loaded as data only and, when
    registered, verified against its digest (:func:`fetch_maintenance_predictor`)."""
    with tempfile.TemporaryDirectory(prefix="maintenance_model_") as tmp:
        predictor, mlmodel = fetch_maintenance_predictor(model_uri, Path(tmp))
    return LoadedMaintenanceModel(
        predictor.predict_proba, float(predictor.threshold), dict(mlmodel.get("metadata") or {})
    )


def load_maintenance_predict_proba(model_uri: str) -> Callable[[Any], np.ndarray]:
    """:func:`load_maintenance_model`'s ``predict_proba`` alone."""
    return load_maintenance_model(model_uri).predict_proba


def _frame(columns: Mapping[str, np.ndarray]) -> Any:
    import pandas as pd

    return pd.DataFrame(columns)


def _requirements() -> list[str]:
    from importlib.metadata import version

    packages = ("mlflow", "torch", "numpy", "pandas", "polars")
    return [f"{name}=={version(name).split('+')[0]}" for name in packages] + ["mfg_assets"]
