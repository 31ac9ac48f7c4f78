"""The defect detector's lifecycle steps as plain functions: dataset → train → export → register
as challenger → evaluate against the champion on the same test images → decide → promote, and
the serving side's :func:`download_champion_export`.

The Dagster assets in ``mfg_assets.defs.defect`` are thin wrappers over these. One MLflow run per
trained version holds: params (the flattened experiment config and Ultralytics' arguments),
per-epoch metrics, validation metrics (``val_*``), the experiment file (``config/``), the
dataset summary (``dataset/dataset.json``), the weights (``weights/best.pt``), the ONNX export
(:data:`EXPORT_ARTIFACT`; ONNX because it served fastest on CPU here, see README) and, after
evaluation, test metrics (``test_*``) and the confusion matrices (``evaluation/``). The registered
version of ``defect_detector`` is the ONNX model (MLflow's onnx flavor) with tags
``export_format``, ``export_artifact``, ``image_size``, ``classes``, ``training_window_start``,
``training_window_end``, ``dagster_run_id``. mlflow, torch and ultralytics are imported inside
the functions.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from mfg_assets.models import lifecycle
from mfg_assets.models.config import (
    ExperimentConfig,
    ExperimentConfigError,
    dump_config,
    experiment_path,
    flatten_config,
)
from mfg_assets.models.defect.dataset import (
    DATA_YAML,
    MANIFEST,
    META_JSON,
    DatasetError,
    DefectDataset,
    build_yolo_dataset,
    restore_yolo_dataset,
)
from mfg_assets.models.lifecycle import Evaluation
from mfg_assets.models.registry import CHAMPION, REGISTERED_MODELS, ModelRegistry, RegistryError

if TYPE_CHECKING:
    from mfg_assets.storage.files import FileStore

MODEL_NAME = REGISTERED_MODELS["defect"]
EXPORT_FORMAT = "onnx"
EXPORT_ARTIFACT = "export/defect_detector.onnx"
WEIGHTS_ARTIFACT = "weights/best.pt"
MODEL_ARTIFACT = "model"
DEFAULT_IMAGE_SIZE = 192  # DetectorSettings' default when the experiment has no data.image_size
IMAGES_AREA = "inspection_images"  # <storage>/inspection_images/{images,labels}/<day>/...
DATASETS_AREA = "datasets"  # <storage>/datasets/defect/<partition>/{inspections.parquet,...}

EpochCallback = Callable[[int, dict[str, float]], None]


class NoChampionError(RegistryError):
    """There is no version of the defect detector under the requested alias."""


@dataclass(frozen=True)
class ExportedDetector:
    """A registered detector's ONNX export, downloaded for serving.

    ``classes`` are the detector's box classes in the ONNX output's order (an image without
    detections is a ``normal`` part); ``image_size`` is the square input the export expects
    (letterbox to it); ``metrics`` are the version's held-out test metrics (``map50``,
    ``map50_95``, ``precision``, ``recall``, ``map50/<class>``, ...; empty if never
    evaluated); ``training_window`` has ``start`` and ``end`` (ISO times of the first and last
    inspection trained on).
    """

    path: Path
    version: int
    run_id: str
    model_name: str
    classes: tuple[str, ...]
    image_size: int
    metrics: dict[str, float] = field(default_factory=dict)
    training_window: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainedDetectorVersion:
    """A trained, exported, logged and registered challenger."""

    model_name: str
    version: int
    model_uri: str
    run_id: str
    experiment: str  # the experiment's name, or the YAML path it was loaded from
    image_size: int
    classes: tuple[str, ...]
    epochs_run: int
    best_epoch: int | None
    stopped_early: bool
    seconds: float
    export_artifact: str = EXPORT_ARTIFACT
    validation_metrics: dict[str, float] = field(default_factory=dict)
    training_window: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainedDetectorVersion:
        return cls(**{**values, "classes": tuple(values["classes"])})


def dataset_window(
    inspections: pl.DataFrame, config: ExperimentConfig, window_end: datetime
) -> pl.DataFrame:
    """The inspections of the experiment's ``data.window_days`` ending at ``window_end``."""
    if inspections.is_empty():
        return inspections
    start = window_end - timedelta(days=config.data.window_days)
    return inspections.filter(
        (pl.col("inspection_time") >= start) & (pl.col("inspection_time") < window_end)
    )


def build_dataset(
    inspections: pl.DataFrame,
    config: ExperimentConfig,
    out_dir: Path,
    image_store: FileStore | None = None,
    seed: int = 0,
) -> DefectDataset:
    """The YOLO dataset of ``inspections`` per the experiment's ``data`` section (time split,
    caps), images kept in ``image_store`` when given."""
    data = config.data
    train = 1.0 - data.validation_fraction - data.test_fraction
    return build_yolo_dataset(
        inspections,
        out_dir,
        (train, data.validation_fraction, data.test_fraction),
        seed=seed,
        max_normal_fraction=data.max_normal_fraction,
        max_images=data.max_images,
        image_store=image_store,
    )


def publish_dataset(dataset: DefectDataset, relprefix: str) -> str:
    """Keep the dataset's manifest and summary at ``<storage>/datasets/<relprefix>/`` (the images
    are in the image store already), so :func:`open_dataset` can rebuild it elsewhere. In the
    embedded profile the dataset is built in that folder and nothing is copied. Returns the URI.
    """
    from mfg_assets.storage.files import LocalFileStore
    from mfg_assets.storage.location import artifact_store

    store = artifact_store(DATASETS_AREA)
    if isinstance(store, LocalFileStore) and (store.root / relprefix).resolve() == dataset.root:
        return str(dataset.root)
    for name in (MANIFEST, META_JSON):
        store.write_bytes(f"{relprefix}/{name}", (dataset.root / name).read_bytes())
    return store.uri(relprefix)


def open_dataset(root: Path, relprefix: str) -> DefectDataset:
    """The dataset at ``root``, or, when this machine does not have it (another pod ran
    ``defect_dataset``), restored into ``root`` from what :func:`publish_dataset` kept and the
    image store."""
    import io
    import json

    from mfg_assets.storage.location import artifact_store

    root = Path(root)
    if (root / META_JSON).is_file() and (root / DATA_YAML).is_file():
        return DefectDataset.load(root)
    store = artifact_store(DATASETS_AREA)
    if not store.exists(f"{relprefix}/{MANIFEST}"):
        raise DatasetError(
            f"no defect dataset at {root} nor at {store.uri(relprefix)}: re-materialize "
            "defect_dataset"
        )
    manifest = pl.read_parquet(io.BytesIO(store.read_bytes(f"{relprefix}/{MANIFEST}")))
    summary = json.loads(store.read_bytes(f"{relprefix}/{META_JSON}"))
    return restore_yolo_dataset(manifest, summary, artifact_store(IMAGES_AREA), root)


def train_and_register(
    dataset: DefectDataset,
    config: ExperimentConfig,
    tags: Mapping[str, str],
    experiment: str,
    out_dir: Path,
    on_epoch: EpochCallback | None = None,
) -> TrainedDetectorVersion:
    """Train, export to ONNX, log everything to the active MLflow run (or a new one in
    ``config.logging.experiment_name``), register a version and alias it ``challenger``.

    ``tags`` (e.g. ``dagster_run_id``, ``training_window_start/end``) go on the run and the
    version; ``experiment`` is what the config was loaded from (logged, and recorded so the
    evaluation reloads the same config).
    """
    import mlflow

    from mfg_assets.models.defect.training import train_detector
    from mfg_assets.models.tracking import active_or_new_run

    run_context = active_or_new_run(config.logging.experiment_name, config.experiment.name)
    out_dir = Path(out_dir)
    with run_context as run:
        run_id = run.info.run_id

        def log_epoch(epoch: int, metrics: dict[str, float]) -> None:
            mlflow.log_metrics(metrics, step=epoch, run_id=run_id)
            if on_epoch is not None:
                on_epoch(epoch, metrics)

        trained = train_detector(dataset.data_yaml, config, out_dir, on_epoch=log_epoch)
        settings = trained.settings
        classes = tuple(settings.detector_classes)
        window = {k: str(v) for k, v in tags.items() if k.startswith("training_window")}
        version_tags = {
            **{k: str(v) for k, v in tags.items()},
            "experiment": config.experiment.name,
            "export_format": EXPORT_FORMAT,
            "export_artifact": EXPORT_ARTIFACT,
            "image_size": str(settings.imgsz),
            "classes": ",".join(classes),
        }
        mlflow.set_tags({"model_kind": "defect", **version_tags})
        mlflow.log_params(flatten_config(config))
        mlflow.log_params({f"ultralytics.{k}": v for k, v in settings.to_params().items()})
        _log_config(config, experiment)
        mlflow.log_artifact(str(dataset.root / "dataset.json"), artifact_path="dataset")
        mlflow.log_metrics({f"val_{k}": float(v) for k, v in trained.metrics.items()})
        mlflow.log_metrics(
            {"training_seconds": trained.seconds, "epochs_run": float(trained.epochs_run)}
        )
        weights = out_dir / "weights" / Path(WEIGHTS_ARTIFACT).name
        weights.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(trained.best_weights, weights)
        mlflow.log_artifact(str(weights), artifact_path=str(Path(WEIGHTS_ARTIFACT).parent))
        onnx_path = _export_onnx(trained.best_weights, settings, out_dir / "export")
        mlflow.log_artifact(str(onnx_path), artifact_path=str(Path(EXPORT_ARTIFACT).parent))
        model_uri = _log_onnx_model(onnx_path, classes, settings.imgsz, config)
        version = lifecycle.register_challenger(model_uri, MODEL_NAME, version_tags)
    return TrainedDetectorVersion(
        model_name=MODEL_NAME,
        version=version,
        model_uri=f"models:/{MODEL_NAME}/{version}",
        run_id=run_id,
        experiment=experiment,
        image_size=int(settings.imgsz),
        classes=classes,
        epochs_run=trained.epochs_run,
        best_epoch=trained.best_epoch,
        stopped_early=trained.stopped_early,
        seconds=trained.seconds,
        validation_metrics={k: float(v) for k, v in trained.metrics.items()},
        training_window=window,
    )


def _log_config(config: ExperimentConfig, experiment: str) -> None:
    import mlflow

    try:
        path = experiment_path(experiment)
    except ExperimentConfigError:  # a config built in code: log what was trained from
        mlflow.log_text(dump_config(config), "config/experiment.yaml")
    else:
        mlflow.log_artifact(str(path), artifact_path="config")


def _export_onnx(weights: Path, settings: Any, out_dir: Path) -> Path:
    from mfg_assets.models.defect.export import export_detector

    exported = export_detector(
        weights, ("onnx",), imgsz=settings.imgsz, out_dir=out_dir / "raw", threads=settings.threads
    )["onnx"]
    target = out_dir / Path(EXPORT_ARTIFACT).name
    shutil.move(str(exported), target)
    return target


def _log_onnx_model(
    onnx_path: Path, classes: tuple[str, ...], image_size: int, config: ExperimentConfig
) -> str:
    """Log the export as an MLflow model (onnx flavor) of the active run; its URI."""
    from importlib.metadata import version

    import mlflow
    import onnx

    info = mlflow.onnx.log_model(
        onnx.load(str(onnx_path)),
        name=MODEL_ARTIFACT,
        save_as_external_data=False,
        pip_requirements=[f"onnxruntime=={version('onnxruntime')}", "numpy"],
        metadata={
            "classes": list(classes),
            "image_size": image_size,
            "experiment": config.experiment.name,
            "input": "float32 NCHW RGB /255, letterboxed (grey 114) to image_size",
            "output": "(batch, 4 + classes, anchors): cx, cy, w, h, class scores; NMS not applied",
        },
    )
    return info.model_uri


def download_weights(run_id: str, destination: Path) -> Path:
    """The ``weights/best.pt`` a version's run logged, downloaded under ``destination``."""
    return _download(run_id, WEIGHTS_ARTIFACT, Path(destination))


def _download(run_id: str, artifact: str, destination: Path) -> Path:
    """One run artifact into ``destination/<file name>`` (replaced atomically)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from mfg_assets.models.tracking import configure_mlflow

    uri = configure_mlflow()
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination, prefix=".download_") as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=artifact, dst_path=tmp, tracking_uri=uri
            )
        except (MlflowException, OSError) as exc:
            raise RegistryError(f"run {run_id} has no artifact {artifact!r}: {exc}") from exc
        target = destination / Path(artifact).name
        Path(local).replace(target)
    return target


def evaluate_against_champion(
    dataset: DefectDataset,
    challenger: TrainedDetectorVersion,
    config: ExperimentConfig,
    out_dir: Path,
) -> tuple[Evaluation, list[dict[str, Any]]]:
    """Score the challenger and the current champion on the dataset's test split; decide.

    Returns the evaluation (metrics, decision, confusion-matrix PNGs) and the challenger's
    per-class table.
    """
    from mfg_assets.models.defect.evaluation import evaluate_detector

    if dataset.images.get("test", 0) == 0:
        raise DatasetError(
            "the dataset's test split is empty: widen the window or raise data.test_fraction"
        )
    out_dir = Path(out_dir)
    plots_dir = out_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    common = {
        "split": "test",
        "device": config.training.device,
        "threads": config.training.num_threads,
        "batch": config.training.batch_size,
    }
    weights = download_weights(challenger.run_id, out_dir / "challenger")
    report = evaluate_detector(
        weights,
        dataset.data_yaml,
        imgsz=challenger.image_size,
        out_dir=out_dir / "challenger",
        **common,
    )
    plots = {"confusion_matrix": _copy(report["confusion_matrix_png"], plots_dir)}
    registry = ModelRegistry()
    champion_version = registry.get_alias_version(MODEL_NAME, CHAMPION)
    champion_metrics = None
    if champion_version is not None and champion_version != challenger.version:
        champion = registry.client.get_model_version(MODEL_NAME, str(champion_version))
        champion_weights = download_weights(champion.run_id, out_dir / "champion")
        size = int(champion.tags.get("image_size") or DEFAULT_IMAGE_SIZE)
        champion_report = evaluate_detector(
            champion_weights,
            dataset.data_yaml,
            imgsz=size,
            out_dir=out_dir / "champion",
            **common,
        )
        champion_metrics = champion_report["metrics"]
        plots["champion_confusion_matrix"] = _copy(
            champion_report["confusion_matrix_png"], plots_dir, "champion_confusion_matrix.png"
        )
    decision = lifecycle.gate(report["metrics"], champion_metrics, config.promotion)
    evaluation = Evaluation(report["metrics"], champion_metrics, champion_version, decision, plots)
    return evaluation, report["per_class"]


def _copy(path: str | Path, folder: Path, name: str | None = None) -> str:
    target = folder / (name or Path(path).name)
    shutil.copyfile(path, target)
    return str(target)


def promote(version: int) -> int | None:
    """Move ``champion`` of the defect detector to ``version``; returns the previous one."""
    return lifecycle.promote(MODEL_NAME, version)


def download_champion_export(destination: Path, alias: str = CHAMPION) -> ExportedDetector:
    """Download the ONNX export of the version ``alias`` points to into ``destination``.

    The file lands at ``destination/defect_detector.onnx`` (replaced atomically, so a server
    reloading it never reads half a file). Raises :class:`NoChampionError` when the alias is not
    set (nothing trained and promoted yet) and :class:`RegistryError` when the version has no
    export.
    """
    registry = ModelRegistry()
    version = registry.get_alias_version(MODEL_NAME, alias)
    if version is None:
        raise NoChampionError(
            f"{MODEL_NAME} has no {alias!r} version in {registry.uri}: train one with "
            "defect_training_job (a challenger becomes champion when it passes the promotion "
            "gate)"
        )
    info = registry.client.get_model_version(MODEL_NAME, str(version))
    tags = dict(info.tags)
    if tags.get("export_format", EXPORT_FORMAT) != EXPORT_FORMAT or not info.run_id:
        raise RegistryError(f"{MODEL_NAME} v{version} has no {EXPORT_FORMAT} export")
    path = _download(info.run_id, tags.get("export_artifact", EXPORT_ARTIFACT), Path(destination))
    run_metrics = registry.version_info(MODEL_NAME, version)["metrics"]
    classes = tuple(c for c in tags.get("classes", "").split(",") if c)
    return ExportedDetector(
        path=path,
        version=version,
        run_id=info.run_id,
        model_name=MODEL_NAME,
        classes=classes,
        image_size=int(tags.get("image_size") or DEFAULT_IMAGE_SIZE),
        metrics={
            k.removeprefix("test_"): float(v)
            for k, v in run_metrics.items()
            if k.startswith("test_")
        },
        training_window={
            key: tags[f"training_window_{key}"]
            for key in ("start", "end")
            if f"training_window_{key}" in tags
        },
    )
