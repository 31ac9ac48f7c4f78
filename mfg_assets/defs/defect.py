"""Surface-defect detector: dataset (daily) → train + ONNX export (daily, MLflow) → evaluate vs
champion → blocking gate → promote.

The detector of day D is trained on the inspections of the window ending with D. Each step calls
:mod:`mfg_assets.models.defect.workflow`; the shared lifecycle pieces are in
:mod:`mfg_assets.defs.common.model_lifecycle`.
"""

import shutil
from typing import Any

import dagster as dg
import polars as pl

from mfg_assets.defs.common.k8s import TRAINING_K8S_TAGS
from mfg_assets.defs.common.model_lifecycle import (
    MODEL_FRESHNESS,
    TRAINING_TAGS,
    ExperimentRunConfig,
    champion_asset,
    evaluation_outputs,
    image_markdown,
    lineage_tags,
    load_experiment_config,
    mlflow_experiment_name,
    promotion_gate_spec,
    trained_metadata,
)
from mfg_assets.defs.common.partitions import daily_partitions, trailing_window_input
from mfg_assets.settings import data_dir, training_window_days

GROUP = "defect_model"


def default_experiment() -> str:
    """``defect_<active plant>`` when such an experiment ships (``defect_neu_det``), else
    ``defect_default`` (the simulator plant's)."""
    from mfg_assets.models.config import available_experiments
    from mfg_assets.settings import get_settings

    named = f"defect_{get_settings().mfg_plant}"
    return named if named in available_experiments() else "defect_default"


DEFAULT_EXPERIMENT = default_experiment()  # fixed when the code location loads
MLFLOW_RESOURCE = "defect_mlflow"
# Hourly inspection partitions loaded for the dataset of day D: the days D-(N-1) … D, where N is
# MFG_TRAINING_WINDOW_DAYS; the experiment's data.window_days narrows it further.
WINDOW_DAYS = training_window_days()


def defect_mlflow_experiment() -> str:
    """The MLflow experiment the active plant's default defect experiment logs to."""
    return mlflow_experiment_name(default_experiment())


class DefectDatasetConfig(dg.Config):
    """Whose ``data`` section (window, split fractions, caps) builds the dataset."""

    experiment: str = DEFAULT_EXPERIMENT


class DefectTrainingConfig(ExperimentRunConfig):
    """Which experiment to train (a YAML under mfg_assets/models/experiments, or a path)."""

    experiment: str = DEFAULT_EXPERIMENT


def _load(experiment: str, epochs: int | None = None) -> Any:
    return load_experiment_config(experiment, epochs, kind="defect")


def _dataset(info: dict) -> Any:
    from pathlib import Path

    from mfg_assets.models.defect.dataset import DatasetError
    from mfg_assets.models.defect.workflow import open_dataset

    try:
        return open_dataset(Path(info["root"]), info["published_prefix"])
    except DatasetError as exc:
        raise dg.Failure(str(exc)) from exc


@dg.asset(
    partitions_def=daily_partitions,
    ins={"quality_inspections": trailing_window_input(WINDOW_DAYS)},
    group_name=GROUP,
    kinds={"yolo", "polars"},
    freshness_policy=MODEL_FRESHNESS,
    io_manager_key="model_io_manager",
    description=f"YOLO dataset (images/labels train|validation|test, data.yaml) from the quality "
    f"inspections of the {WINDOW_DAYS} days ending with D (narrowed to the experiment's "
    "data.window_days), split by inspection time, background share and size capped per the "
    "experiment. Inspection images are rendered once into the `inspection_images` store "
    "(data directory, or S3 in production) and reused.",
)
def defect_dataset(
    context: dg.AssetExecutionContext,
    config: DefectDatasetConfig,
    quality_inspections: pl.DataFrame,
) -> dg.Output[dict]:
    from mfg_assets.models.defect.dataset import DatasetError, preview_grid
    from mfg_assets.models.defect.workflow import (
        DATASETS_AREA,
        IMAGES_AREA,
        build_dataset,
        dataset_window,
        publish_dataset,
    )
    from mfg_assets.storage.location import artifact_store

    experiment = _load(config.experiment)
    window = context.partition_time_window
    inspections = dataset_window(quality_inspections, experiment, window.end)
    if inspections.is_empty():
        raise dg.Failure(
            f"no quality inspections in the {experiment.data.window_days} days ending with "
            f"{context.partition_key}: materialize quality_inspections for those hours first"
        )
    store = artifact_store(IMAGES_AREA)
    prefix = f"defect/{context.partition_key}"
    out_dir = data_dir() / DATASETS_AREA / prefix
    try:
        dataset = build_dataset(inspections, experiment, out_dir, image_store=store)
    except DatasetError as exc:
        raise dg.Failure(f"cannot build the defect dataset: {exc}") from exc
    preview = preview_grid(dataset, n=16, split="train")
    info = {
        **dataset.to_metadata(),
        "published": publish_dataset(dataset, prefix),
        "published_prefix": prefix,
        "experiment": config.experiment,
        "image_store": store.uri(""),
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
    }
    split_counts = {
        f"{split}_{cls}": count
        for split, per_class in dataset.counts.items()
        for cls, count in per_class.items()
    }
    return dg.Output(
        info,
        metadata={
            **{f"{split}_images": n for split, n in dataset.images.items()},
            "class_counts": split_counts,
            "box_counts": dataset.box_counts,
            "time_ranges": {k: list(v) if v else None for k, v in dataset.time_ranges.items()},
            "inspections_in_window": inspections.height,
            "dropped": dataset.dropped,
            "images_rendered_and_stored": dataset.stored,
            "images_reused_from_store": dataset.reused,
            "image_store": dg.MetadataValue.path(store.uri("images")),
            "dataset_root": dg.MetadataValue.path(str(dataset.root)),
            "preview": dg.MetadataValue.md(image_markdown({"train samples": str(preview)})),
        },
    )


@dg.asset(
    partitions_def=daily_partitions,
    ins={"defect_dataset": dg.AssetIn()},
    required_resource_keys={MLFLOW_RESOURCE},
    group_name=GROUP,
    kinds={"yolo", "mlflow", "onnx"},
    freshness_policy=MODEL_FRESHNESS,
    # CPU-sized like defect_default; GPU_TRAINING_K8S_TAGS size a pod for defect_gpu
    op_tags={**TRAINING_TAGS, **TRAINING_K8S_TAGS},
    io_manager_key="model_io_manager",
    description="Ultralytics YOLO trained from a model yaml (offline, CPU by default) per an "
    "experiment YAML, exported to ONNX, logged to MLflow (params, per-epoch metrics, weights, "
    "export at export/defect_detector.onnx) and registered as the `challenger` of "
    "`defect_detector`.",
)
def defect_detector(
    context: dg.AssetExecutionContext, config: DefectTrainingConfig, defect_dataset: dict
) -> dg.Output[dict]:
    from mfg_assets.models.defect.workflow import DEFECT

    experiment = _load(config.experiment, config.epochs)
    tracker = getattr(context.resources, MLFLOW_RESOURCE)
    wanted = experiment.logging.experiment_name
    if tracker.experiment_name != wanted:
        raise dg.Failure(
            f"experiment {config.experiment!r} logs to MLflow experiment {wanted!r}, but the "
            f"{MLFLOW_RESOURCE} resource tracks {tracker.experiment_name!r}: set "
            "logging.experiment_name to it (or configure the resource)"
        )
    dataset = _dataset(defect_dataset)
    ranges = [r for r in dataset.time_ranges.values() if r]
    tags = lineage_tags(context, min(r[0] for r in ranges), max(r[1] for r in ranges))

    def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
        context.log.info(
            f"epoch {epoch} box_loss={metrics.get('train/box_loss', float('nan')):.4f} "
            f"val map50={metrics.get('map50', float('nan')):.3f} "
            f"map50_95={metrics.get('map50_95', float('nan')):.3f}"
        )

    out_dir = data_dir() / "runs" / "defect" / context.partition_key
    shutil.rmtree(out_dir, ignore_errors=True)  # a re-run starts clean
    trained = DEFECT.train_and_register(
        dataset, experiment, tags, experiment=config.experiment, out_dir=out_dir, on_epoch=on_epoch
    )
    return dg.Output(
        trained.as_dict(),
        metadata=trained_metadata(
            trained,
            image_size=trained.image_size,
            export_artifact=trained.export_artifact,
            training_images=dataset.images["train"],
            **{
                f"val_{k}": v
                for k, v in trained.validation_metrics.items()
                if k in ("map50", "map50_95", "precision", "recall")
            },
        ),
    )


def _per_class_markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "_no boxes in the test split_"
    keys = ("instances", "precision", "recall", "map50", "map50_95")
    lines = ["| class | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for row in rows:
        cells = [f"{row[k]:.3f}" if row.get(k) is not None else "-" for k in keys]
        lines.append(f"| {row['class']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dg.asset(
    partitions_def=daily_partitions,
    ins={"defect_detector": dg.AssetIn(), "defect_dataset": dg.AssetIn()},
    group_name=GROUP,
    kinds={"yolo", "mlflow"},
    freshness_policy=MODEL_FRESHNESS,
    io_manager_key="model_io_manager",
    check_specs=[promotion_gate_spec("defect_detector_evaluation", "test images")],
    description="mAP50 and mAP50-95 (overall and per class) of the challenger on the "
    "dataset's test split, the current champion re-scored on the same images, confusion "
    "matrices; logged to the challenger's MLflow run.",
)
def defect_detector_evaluation(
    context: dg.AssetExecutionContext, defect_detector: dict, defect_dataset: dict
):
    from mfg_assets.models.defect.dataset import DatasetError
    from mfg_assets.models.defect.workflow import DEFECT
    from mfg_assets.models.lifecycle import TrainedVersion, evaluate_against_champion
    from mfg_assets.models.tracking import log_evaluation
    from mfg_assets.storage.location import publish_folder

    challenger = TrainedVersion.from_dict(defect_detector)
    experiment = _load(challenger.experiment)
    out_dir = data_dir() / "reports" / "defect" / context.partition_key
    shutil.rmtree(out_dir, ignore_errors=True)
    try:
        result = evaluate_against_champion(
            DEFECT, challenger, _dataset(defect_dataset), experiment, out_dir
        )
    except DatasetError as exc:
        raise dg.Failure(str(exc)) from exc
    plots_dir = out_dir / "plots"
    log_evaluation(result.challenger, plots_dir=plots_dir, run_id=challenger.run_id)
    yield from evaluation_outputs(
        result,
        challenger.version,
        experiment.promotion,
        publish_folder(plots_dir, "reports", f"defect/{context.partition_key}/plots"),
        metric_keys=("map50", "map50_95", "precision", "recall"),
        value={"per_class": result.details["per_class"]},
        metadata={
            "per_class": dg.MetadataValue.md(_per_class_markdown(result.details["per_class"]))
        },
    )


defect_champion = champion_asset(
    "defect_champion",
    model="defect",
    model_asset="defect_detector",
    evaluation_asset="defect_detector_evaluation",
    group=GROUP,
    description="Moves the `champion` alias of `defect_detector` to the evaluated challenger "
    "(serving downloads its ONNX export). Runs only when the blocking `promotion_gate` check "
    "passed; roll back with `mfg-models rollback defect`.",
)
