"""Predictive-maintenance model: train (daily) → evaluate vs champion → gate → promote.

The model of day D is trained on ``maintenance_training_set`` of day D (labelled machine-hours
of the window ending at D). Each step calls :mod:`mfg_assets.models.maintenance.workflow`.
"""

import base64
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from mfg_assets.defs.partitions import daily_partitions
from mfg_assets.settings import data_dir

MODEL_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=7), warn_window=timedelta(days=2)
)
TRAINING_TAGS = {"mfg/kind": "training"}


class MaintenanceTrainingConfig(dg.Config):
    """Which experiment to run (a YAML under mfg_assets/models/experiments, or a path)."""

    experiment: str = "maintenance_default"
    epochs: int | None = None


def _load_config(config: MaintenanceTrainingConfig) -> Any:
    from mfg_assets.models.config import ExperimentConfigError, apply_overrides, load_experiment

    try:
        experiment = load_experiment(config.experiment)
        if config.epochs is not None:
            experiment = apply_overrides(experiment, {"training.epochs": config.epochs})
    except ExperimentConfigError as exc:
        raise dg.Failure(f"experiment {config.experiment!r} is invalid: {exc}") from exc
    return experiment


def _image_markdown(plots: dict[str, str]) -> str:
    parts = []
    for name, path in plots.items():
        encoded = base64.b64encode(Path(path).read_bytes()).decode()
        parts.append(f"**{name}**\n\n![{name}](data:image/png;base64,{encoded})")
    return "\n\n".join(parts)


@dg.asset(
    partitions_def=daily_partitions,
    ins={"maintenance_training_set": dg.AssetIn()},
    required_resource_keys={"mlflow"},
    group_name="maintenance_model",
    kinds={"pytorch", "mlflow"},
    freshness_policy=MODEL_FRESHNESS,
    op_tags=TRAINING_TAGS,
    io_manager_key="model_io_manager",
    description="MLP on the hourly machine features predicting failure within the label "
    "horizon, trained per an experiment YAML (AdamW, cosine LR, early stopping, seeded), "
    "logged to MLflow and registered as the `challenger` of `maintenance_model`.",
)
def maintenance_model(
    context: dg.AssetExecutionContext,
    config: MaintenanceTrainingConfig,
    maintenance_training_set: pl.DataFrame,
) -> dg.Output[dict]:
    from mfg_assets.models.maintenance.workflow import train_and_register
    from mfg_assets.models.tracking import mlflow_epoch_logger

    experiment = _load_config(config)
    window = context.partition_time_window
    tags = {
        "dagster_run_id": context.run.run_id,
        "dagster_partition": context.partition_key,
        "training_window_start": str(maintenance_training_set["event_timestamp"].min()),
        "training_window_end": str(maintenance_training_set["event_timestamp"].max()),
        "model_day": window.start.date().isoformat(),
    }
    mlflow_log = mlflow_epoch_logger()

    def on_epoch(report: Any) -> None:
        mlflow_log(report)
        context.log.info(
            f"epoch {report.epoch}/{report.epochs} train_loss={report.train_loss:.4f} "
            f"val_loss={report.val_loss:.4f} val_roc_auc="
            f"{report.val_metrics.get('roc_auc', float('nan')):.3f} lr={report.lr:.2e}"
        )

    checkpoints = data_dir() / "checkpoints" / "maintenance" / context.partition_key
    trained = train_and_register(
        maintenance_training_set,
        experiment,
        tags,
        experiment=config.experiment,
        on_epoch=on_epoch,
        checkpoint_dir=checkpoints,
    )
    return dg.Output(
        trained.as_dict(),
        metadata={
            "model_version": trained.version,
            "mlflow_run_id": trained.run_id,
            "experiment": trained.experiment,
            "threshold": trained.threshold,
            "best_epoch": trained.best_epoch,
            "epochs_run": trained.epochs_run,
            "stopped_early": trained.stopped_early,
            "training_seconds": round(trained.seconds, 2),
            "training_rows": maintenance_training_set.height,
            **{f"val_{k}": v for k, v in trained.validation_metrics.items()},
        },
    )


@dg.asset(
    partitions_def=daily_partitions,
    ins={"maintenance_model": dg.AssetIn(), "maintenance_training_set": dg.AssetIn()},
    required_resource_keys={"mlflow"},
    group_name="maintenance_model",
    kinds={"mlflow"},
    freshness_policy=MODEL_FRESHNESS,
    io_manager_key="model_io_manager",
    check_specs=[
        dg.AssetCheckSpec(
            "promotion_gate",
            asset="maintenance_model_evaluation",
            blocking=True,
            description="The challenger meets the experiment's absolute threshold AND beats "
            "the champion by the configured margin on the same test rows (the first model "
            "needs only the threshold). Blocks promotion when it fails.",
        )
    ],
    description="Held-out test metrics of the challenger (threshold chosen on validation) and "
    "of the current champion on the same rows; confusion matrix, PR and ROC curves.",
)
def maintenance_model_evaluation(
    context: dg.AssetExecutionContext,
    maintenance_model: dict,
    maintenance_training_set: pl.DataFrame,
):
    from mfg_assets.models.maintenance.workflow import TrainedVersion, evaluate_against_champion
    from mfg_assets.models.tracking import log_evaluation

    challenger = TrainedVersion(**maintenance_model)
    experiment = _load_config(MaintenanceTrainingConfig(experiment=challenger.experiment))
    test = maintenance_training_set.filter(pl.col(experiment.data.split_column) == "test")
    plots_dir = data_dir() / "reports" / "maintenance" / context.partition_key
    result = evaluate_against_champion(test, challenger, experiment, plots_dir)
    log_evaluation(result.challenger, plots_dir=plots_dir, run_id=challenger.run_id)
    metric = experiment.promotion.metric
    numbers = {f"challenger_{k}": float(v) for k, v in result.challenger.items()}
    if result.champion:
        numbers.update({f"champion_{k}": float(v) for k, v in result.champion.items()})
    yield dg.Output(
        {
            "challenger_version": challenger.version,
            "champion_version": result.champion_version,
            "challenger": result.challenger,
            "champion": result.champion,
            "passed": result.decision.passed,
            "reason": result.decision.reason,
        },
        metadata={
            **numbers,
            "challenger_version": challenger.version,
            "champion_version": result.champion_version or 0,
            "gate_metric": metric,
            "plots": dg.MetadataValue.md(_image_markdown(result.plots)),
            "plots_dir": dg.MetadataValue.path(str(plots_dir)),
        },
    )
    yield dg.AssetCheckResult(
        check_name="promotion_gate",
        passed=result.decision.passed,
        description=result.decision.reason,
        metadata={
            "metric": metric,
            "challenger": result.decision.challenger_value,
            "champion": result.decision.champion_value
            if result.decision.champion_value is not None
            else "none",
            "threshold": experiment.promotion.threshold,
            "margin": experiment.promotion.champion_margin,
        },
    )


@dg.asset(
    partitions_def=daily_partitions,
    deps=["maintenance_model_evaluation"],
    ins={"maintenance_model": dg.AssetIn()},
    group_name="maintenance_model",
    kinds={"mlflow"},
    freshness_policy=MODEL_FRESHNESS,
    io_manager_key="model_io_manager",
    description="Moves the `champion` alias of `maintenance_model` to the evaluated challenger. "
    "Runs only when the blocking `promotion_gate` check passed; roll back with "
    "`mfg-models rollback maintenance`.",
)
def maintenance_champion(context: dg.AssetExecutionContext, maintenance_model: dict) -> dict:
    from mfg_assets.models.maintenance.workflow import promote

    version = int(maintenance_model["version"])
    previous = promote(version)
    context.add_output_metadata({"champion_version": version, "previous_champion": previous or 0})
    return {"champion_version": version, "previous_champion": previous}
