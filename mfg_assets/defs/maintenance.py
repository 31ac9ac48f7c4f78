"""Predictive-maintenance model: train (daily) → evaluate vs champion → gate → promote.

The model of day D is trained on ``maintenance_training_set`` of day D (labelled machine-hours
of the window ending at D). Each step calls :mod:`mfg_assets.models.maintenance.workflow`.
"""

from typing import Any

import dagster as dg
import polars as pl

from mfg_assets.defs.common.k8s import TRAINING_K8S_TAGS
from mfg_assets.defs.common.model_lifecycle import (
    MODEL_FRESHNESS,
    TRAINING_TAGS,
    ExperimentRunConfig,
    champion_asset,
    decision_run_tags,
    evaluation_outputs,
    lineage_tags,
    load_experiment_config,
    mlflow_experiment_name,
    promotion_gate_spec,
    trained_metadata,
    transient_errors_retry,
)
from mfg_assets.defs.common.partitions import daily_partitions
from mfg_assets.settings import data_dir, label_horizon_hours
from mfg_assets.storage.location import publish_folder

__all__ = ["MODEL_FRESHNESS", "TRAINING_TAGS", "MaintenanceTrainingConfig"]


def default_experiment() -> str:
    """``maintenance_<active plant>`` when such an experiment exists (shipped:
    ``maintenance_azure_pdm``; or in ``MFG_EXPERIMENTS_DIR``), else ``maintenance_default``
    (the simulator plant's)."""
    from mfg_assets.models.config import available_experiments
    from mfg_assets.plant.definition import active_plant

    named = f"maintenance_{active_plant().name}"
    return named if named in available_experiments() else "maintenance_default"


DEFAULT_EXPERIMENT = default_experiment()  # fixed when the code location loads
MLFLOW_RESOURCE = "mlflow"


def maintenance_mlflow_experiment() -> str:
    """The MLflow experiment the active plant's default maintenance experiment logs to."""
    return mlflow_experiment_name(default_experiment())


class MaintenanceTrainingConfig(ExperimentRunConfig):
    """Which experiment to run (a YAML under mfg_assets/models/experiments, or a path)."""

    experiment: str = DEFAULT_EXPERIMENT


def _load_config(config: MaintenanceTrainingConfig) -> Any:
    """The experiment, refused when its label horizon is not the one the labels were built
    with (the YAML's ``data.horizon_hours`` must describe what the model really predicts)."""
    experiment = load_experiment_config(config.experiment, config.epochs, kind="maintenance")
    labels_horizon = label_horizon_hours()
    if experiment.data.horizon_hours != labels_horizon:
        raise dg.Failure(
            f"experiment {config.experiment!r}: data.horizon_hours is "
            f"{experiment.data.horizon_hours} but failure_labels look {labels_horizon} h ahead "
            "(MFG_LABEL_HORIZON_HOURS): set both to the same value",
            allow_retries=False,
        )
    return experiment


@dg.asset(
    partitions_def=daily_partitions,
    ins={"maintenance_training_set": dg.AssetIn()},
    required_resource_keys={MLFLOW_RESOURCE},
    group_name="maintenance_model",
    kinds={"pytorch", "mlflow"},
    freshness_policy=MODEL_FRESHNESS,
    op_tags={**TRAINING_TAGS, **TRAINING_K8S_TAGS},
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
    from mfg_assets.models.maintenance.workflow import MAINTENANCE
    from mfg_assets.models.tracking import mlflow_epoch_logger

    experiment = _load_config(config)
    times = maintenance_training_set["event_timestamp"]
    tags = lineage_tags(context, times.min(), times.max())
    mlflow_log = mlflow_epoch_logger()

    def on_epoch(report: Any) -> None:
        mlflow_log(report)
        context.log.info(
            f"epoch {report.epoch}/{report.epochs} train_loss={report.train_loss:.4f} "
            f"val_loss={report.val_loss:.4f} val_roc_auc="
            f"{report.val_metrics.get('roc_auc', float('nan')):.3f} lr={report.lr:.2e}"
        )

    checkpoints = data_dir() / "checkpoints" / "maintenance" / context.partition_key
    with transient_errors_retry(context):
        trained = MAINTENANCE.train_and_register(
            maintenance_training_set,
            experiment,
            tags,
            experiment=config.experiment,
            out_dir=checkpoints,
            on_epoch=on_epoch,
        )
    return dg.Output(
        trained.as_dict(),
        metadata=trained_metadata(
            trained,
            threshold=trained.threshold,
            training_rows=maintenance_training_set.height,
            **{f"val_{k}": v for k, v in trained.validation_metrics.items()},
        ),
    )


@dg.asset(
    partitions_def=daily_partitions,
    ins={"maintenance_model": dg.AssetIn(), "maintenance_training_set": dg.AssetIn()},
    required_resource_keys={MLFLOW_RESOURCE},
    group_name="maintenance_model",
    kinds={"mlflow"},
    freshness_policy=MODEL_FRESHNESS,
    io_manager_key="model_io_manager",
    check_specs=[promotion_gate_spec("maintenance_model_evaluation", "test rows")],
    description="Held-out test metrics of the challenger (threshold chosen on validation) and "
    "of the current champion on the same rows, with bootstrap intervals over machines; the "
    "gate's decision against champion, prior and best single-feature heuristic (and, where the "
    "experiment names it, the gradient-boosted trees `reference` fitted on the same train rows; "
    "also the run tag `mfg/promotion_decision`); planner metrics; confusion matrix, PR and ROC "
    "curves.",
)
def maintenance_model_evaluation(
    context: dg.AssetExecutionContext,
    maintenance_model: dict,
    maintenance_training_set: pl.DataFrame,
):
    from mfg_assets.features.splits import TEST
    from mfg_assets.models.lifecycle import TrainedVersion, evaluate_against_champion
    from mfg_assets.models.maintenance.workflow import MAINTENANCE
    from mfg_assets.models.tracking import log_evaluation

    challenger = TrainedVersion.from_dict(maintenance_model)
    experiment = _load_config(MaintenanceTrainingConfig(experiment=challenger.experiment))
    split = pl.col(experiment.data.split_column)
    if maintenance_training_set.filter(split == TEST).is_empty():
        raise dg.Failure("the training set has no test rows to evaluate on", allow_retries=False)
    plots_dir = data_dir() / "reports" / "maintenance" / context.partition_key
    # the whole frame: the scorer evaluates its test rows, the heuristic is chosen on train rows
    with transient_errors_retry(context):
        result = evaluate_against_champion(
            MAINTENANCE, challenger, maintenance_training_set, experiment, plots_dir
        )
        log_evaluation(result.challenger, plots_dir=plots_dir, run_id=challenger.run_id)
    plots_uri = publish_folder(plots_dir, "reports", f"maintenance/{context.partition_key}")
    context.instance.add_run_tags(
        context.run_id, decision_run_tags(result.decision, challenger.version)
    )
    yield from evaluation_outputs(
        result,
        challenger.version,
        experiment.promotion,
        plots_uri,
        metadata=evidence_metadata(result.evidence),
    )


def evidence_metadata(evidence: dict[str, Any]) -> dict[str, Any]:
    """The gate's evidence as UI metadata: comparisons with intervals, test rows and machines,
    the heuristic, and the planner table."""
    if not evidence:
        return {}
    lines = ["| vs | difference | interval |", "|---|---:|---|"]
    for c in evidence["comparisons"]:
        lines.append(
            f"| {c['against']} | {c['difference']:+.4f} | [{c['low']:+.4f}, {c['high']:+.4f}] |"
        )
    boot = evidence["bootstrap"]
    intervals = ["| scorer | roc_auc | pr_auc |", "|---|---|---|"]
    for name, metrics in boot["scores"].items():
        cells = [
            f"{m['point']:.3f} [{m['low']:.3f}, {m['high']:.3f}]"
            for m in (metrics["roc_auc"], metrics["pr_auc"])
        ]
        intervals.append(f"| {name} | {' | '.join(cells)} |")
    heuristic = evidence["heuristic"]
    reference = evidence.get("reference")
    if reference is not None:  # the experiment compares with the gradient-boosted trees
        about = reference.get("skipped") or (
            f"{reference['model']} on {reference['train_rows']} {reference['fitted_on']}, "
            f"{reference['features']} features"
            + (f" ({reference['note']})" if "note" in reference else "")
        )
    return {
        **({"reference_model": about} if reference is not None else {}),
        "gate_comparisons": dg.MetadataValue.md("\n".join(lines)),
        "bootstrap_intervals": dg.MetadataValue.md(
            f"{boot['confidence']:.0%} intervals, {boot['valid_resamples']} of "
            f"{boot['resamples']} machine resamples usable\n\n" + "\n".join(intervals)
        ),
        "test_rows": evidence["test_rows"],
        "test_machines": evidence["test_machines"],
        "test_failing_machines": evidence["test_failing_machines"],
        "min_test_machines": evidence["min_test_machines"],
        "test_window": ", ".join(evidence["test_window"]),
        "heuristic_feature": f"{'-' if heuristic['sign'] < 0 else ''}{heuristic['feature']} "
        f"(chosen on {heuristic['chosen_on']})",
        "planner": dg.MetadataValue.md(evidence["planner_table"]),
        **{
            f"planner_{name}_{key}": float(value)
            for name, values in evidence["planner"].items()
            for key, value in values.items()
            if key in ("share_warned_early", "median_lead_hours", "false_alarms_per_machine_week")
        },
    }


maintenance_champion = champion_asset(
    "maintenance_champion",
    model="maintenance",
    model_asset="maintenance_model",
    evaluation_asset="maintenance_model_evaluation",
    group="maintenance_model",
    description="Moves the `champion` alias of `maintenance_model` to the evaluated challenger "
    "when its recorded gate decision passed; otherwise skips its materialization and records "
    "an observation with the reason (the run still succeeds). Roll back with "
    "`mfg-models rollback maintenance`.",
)
