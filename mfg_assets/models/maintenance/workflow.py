"""The maintenance model's lifecycle steps as plain functions: train → register as challenger
→ evaluate against the champion on the same rows → decide → promote.

The Dagster assets in ``mfg_assets.defs.maintenance`` are thin wrappers over these.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mfg_assets.models import lifecycle
from mfg_assets.models.config import ExperimentConfig, experiment_path
from mfg_assets.models.lifecycle import Evaluation
from mfg_assets.models.registry import CHAMPION, REGISTERED_MODELS, ModelRegistry

__all__ = ["MODEL_NAME", "Evaluation", "TrainedVersion", "evaluate_against_champion", "promote"]

MODEL_NAME = REGISTERED_MODELS["maintenance"]


@dataclass(frozen=True)
class TrainedVersion:
    """A trained, logged and registered challenger."""

    model_name: str
    version: int
    model_uri: str
    run_id: str
    threshold: float
    experiment: str  # the experiment's name, or the YAML path it was loaded from
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    seconds: float
    validation_metrics: dict[str, float] = field(default_factory=dict)
    training_window: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_and_register(
    training_set: Any,
    config: ExperimentConfig,
    tags: Mapping[str, str],
    experiment: str,
    on_epoch: Callable[[Any], None] | None = None,
    checkpoint_dir: Path | None = None,
) -> TrainedVersion:
    """Train, log to the active MLflow run, register a version and alias it ``challenger``.

    ``experiment`` is what the config was loaded from (a shipped name or a YAML path); its
    file is logged as an artifact and recorded so the evaluation reloads the same config.
    """
    from mfg_assets.models.maintenance.packaging import log_maintenance_model
    from mfg_assets.models.maintenance.training import train_maintenance_model

    started = time.perf_counter()
    trained = train_maintenance_model(
        training_set, config, log=on_epoch, checkpoint_dir=checkpoint_dir
    )
    seconds = time.perf_counter() - started
    logged = log_maintenance_model(
        trained, config, config_path=experiment_path(experiment), tags=tags
    )
    version = lifecycle.register_challenger(logged.model_uri, MODEL_NAME, tags)
    return TrainedVersion(
        model_name=MODEL_NAME,
        version=version,
        model_uri=f"models:/{MODEL_NAME}/{version}",
        run_id=logged.run_id,
        threshold=float(trained.threshold),
        experiment=experiment,
        best_epoch=int(trained.best_epoch),
        epochs_run=len(trained.history),
        stopped_early=bool(trained.stopped_early),
        seconds=seconds,
        validation_metrics={k: float(v) for k, v in trained.validation_metrics.items()},
        training_window={k: str(v) for k, v in tags.items() if k.startswith("training_window")},
    )


def evaluate_against_champion(
    test_frame: Any,
    challenger: TrainedVersion,
    config: ExperimentConfig,
    plots_dir: Path,
) -> Evaluation:
    """Score the challenger and the current champion on the same test rows; decide."""
    from mfg_assets.models.maintenance.evaluation import evaluate
    from mfg_assets.models.maintenance.packaging import load_maintenance_predict_proba

    label = config.data.label_column
    challenger_metrics = evaluate(
        load_maintenance_predict_proba(challenger.model_uri),
        test_frame,
        challenger.threshold,
        label_column=label,
        plots_dir=plots_dir,
    )
    registry = ModelRegistry()
    champion_version = registry.get_alias_version(MODEL_NAME, CHAMPION)
    champion_metrics = None
    if champion_version is not None and champion_version != challenger.version:
        champion_uri = f"models:/{MODEL_NAME}/{champion_version}"
        import mlflow

        champion_info = mlflow.pyfunc.load_model(champion_uri).metadata.metadata or {}
        champion_metrics = evaluate(
            load_maintenance_predict_proba(champion_uri),
            test_frame,
            float(champion_info.get("threshold", 0.5)),
            label_column=label,
            baseline_feature=None,
        )
    decision = lifecycle.gate(challenger_metrics, champion_metrics, config.promotion)
    plots = {p.stem: str(p) for p in sorted(Path(plots_dir).glob("*.png"))}
    return Evaluation(challenger_metrics, champion_metrics, champion_version, decision, plots)


def promote(version: int) -> int | None:
    """Move ``champion`` to ``version``; returns the previous champion."""
    return lifecycle.promote(MODEL_NAME, version)
