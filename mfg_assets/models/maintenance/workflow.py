"""The maintenance model's part of the shared lifecycle (:mod:`mfg_assets.models.lifecycle`):
train and log an MLflow pyfunc, register it as the challenger, score a registered version on
held-out rows.

The Dagster assets in ``mfg_assets.defs.maintenance`` are thin wrappers over these.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mfg_assets.models import lifecycle
from mfg_assets.models.config import ExperimentConfig, experiment_path
from mfg_assets.models.lifecycle import (
    Evaluation,
    FitSummary,
    RegisteredVersion,
    Role,
    Scored,
    Scorer,
    TrainedVersion,
    VersionTags,
)
from mfg_assets.models.registry import REGISTERED_MODELS, PromotionDecision

__all__ = [
    "KIND",
    "MAINTENANCE",
    "MODEL_NAME",
    "Evaluation",
    "MaintenanceLifecycle",
    "TrainedVersion",
    "promote",
    "train_and_register",
]

KIND = "maintenance"
MODEL_NAME = REGISTERED_MODELS[KIND]


class MaintenanceLifecycle:
    """The maintenance MLP: trained on a labelled feature frame, scored on its test rows."""

    kind = KIND

    def train_and_register(
        self,
        data: Any,
        config: ExperimentConfig,
        tags: Mapping[str, str],
        experiment: str,
        out_dir: Path | None = None,
        on_epoch: Callable[..., None] | None = None,
    ) -> TrainedVersion:
        """Train on the training frame ``data``, log to the active MLflow run, register a
        version and alias it ``challenger``.

        ``tags`` is the lineage (:data:`lifecycle.LINEAGE_TAGS`); ``experiment`` is what the
        config was loaded from (a shipped name or a YAML path): its file is logged and it is
        recorded so the evaluation reloads the same config. Checkpoints go to ``out_dir``.
        """
        from mfg_assets.models.maintenance.packaging import log_maintenance_model
        from mfg_assets.models.maintenance.training import train_maintenance_model

        version_tags = VersionTags.build(KIND, config.experiment.name, tags)
        started = time.perf_counter()
        trained = train_maintenance_model(data, config, log=on_epoch, checkpoint_dir=out_dir)
        fit = FitSummary(
            best_epoch=int(trained.best_epoch),
            epochs_run=len(trained.history),
            stopped_early=bool(trained.stopped_early),
            seconds=time.perf_counter() - started,
            validation_metrics=trained.validation_metrics,
        )
        logged = log_maintenance_model(
            trained, config, config_path=experiment_path(experiment), tags=version_tags.as_tags()
        )
        return lifecycle.register_trained(
            logged.model_uri,
            logged.run_id,
            version_tags,
            fit,
            experiment,
            threshold=float(trained.threshold),
        )

    def scorer(self, held_out: Any, config: ExperimentConfig, out_dir: Path) -> Scorer:
        """Score a version at its own threshold on the test rows of ``held_out`` (a whole
        training frame, or its test rows alone); the challenger's plots (confusion matrix,
        PR and ROC curves) go to ``out_dir``. Per-row probabilities are in the details."""
        from mfg_assets.models.maintenance.evaluation import evaluate
        from mfg_assets.models.maintenance.gate import SCORES_DETAIL, held_out_test_rows
        from mfg_assets.models.maintenance.packaging import load_maintenance_model

        test = held_out_test_rows(held_out, config.data.split_column)

        def score(version: RegisteredVersion, role: Role) -> Scored:
            loaded = load_maintenance_model(version.uri)
            challenger = role == "challenger"
            proba = loaded.predict_proba(test)
            metrics = evaluate(
                lambda _: proba,
                test,
                loaded.threshold,
                label_column=config.data.label_column,
                plots_dir=out_dir if challenger else None,
                **({} if challenger else {"baseline_feature": None}),
            )
            plots = {p.stem: str(p) for p in sorted(Path(out_dir).glob("*.png"))}
            return Scored(metrics, plots if challenger else {}, {SCORES_DETAIL: proba})

        return score

    def decide(
        self,
        challenger: Scored,
        champion: Scored | None,
        held_out: Any,
        config: ExperimentConfig,
        out_dir: Path,
    ) -> tuple[PromotionDecision, dict[str, Any]]:
        """The gate with bootstrap intervals over machines (:mod:`.gate`)."""
        from mfg_assets.models.maintenance.gate import decide

        return decide(challenger, champion, held_out, config, out_dir)


MAINTENANCE = MaintenanceLifecycle()
train_and_register = MAINTENANCE.train_and_register


def promote(version: int) -> int | None:
    """Move ``champion`` to ``version``; returns the previous champion."""
    return lifecycle.promote(MODEL_NAME, version)
