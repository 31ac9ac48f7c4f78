"""The defect detector's part of the shared lifecycle (:mod:`mfg_assets.models.lifecycle`):
dataset → train → export → register as challenger → score a registered version on the same test
images, and the serving side's :func:`download_champion_export`.

The Dagster assets in ``mfg_assets.defs.defect`` are thin wrappers over these. One MLflow run per
trained version holds: params (the flattened experiment config and Ultralytics' arguments),
per-epoch metrics, validation metrics (``val_*``), the experiment file (``config/``), the
dataset summary (``dataset/dataset.json``), the weights (``weights/best.pt``), the ONNX export
(:data:`EXPORT_ARTIFACT`; ONNX because it served fastest on CPU here, see README) and, after
evaluation, test metrics (``test_*``) and the confusion matrices (``evaluation/``). The registered
version of ``defect_detector`` is the ONNX model (MLflow's onnx flavor), tagged per
:class:`~mfg_assets.models.lifecycle.VersionTags` (``export_format``, ``export_artifact``,
``image_size``, ``classes`` and the lineage). mlflow, torch and ultralytics are imported inside
the functions.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from mfg_assets.features.splits import TEST
from mfg_assets.models import lifecycle
from mfg_assets.models.artifacts import required_digest, sha256_file, verify_sha256
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
from mfg_assets.models.lifecycle import (
    FitSummary,
    RegisteredVersion,
    Role,
    Scored,
    Scorer,
    TrainedVersion,
    VersionTags,
)
from mfg_assets.models.registry import CHAMPION, REGISTERED_MODELS, ModelRegistry, RegistryError

if TYPE_CHECKING:
    from mfg_assets.storage.files import FileStore

KIND = "defect"
MODEL_NAME = REGISTERED_MODELS[KIND]
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
    return build_yolo_dataset(
        inspections,
        out_dir,
        validation_fraction=data.validation_fraction,
        test_fraction=data.test_fraction,
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


class DefectLifecycle:
    """The YOLO detector: trained on a :class:`DefectDataset`, scored on its test images."""

    kind = KIND

    def train_and_register(
        self,
        data: DefectDataset,
        config: ExperimentConfig,
        tags: Mapping[str, str],
        experiment: str,
        out_dir: Path | None = None,
        on_epoch: EpochCallback | None = None,
    ) -> TrainedVersion:
        """Train into ``out_dir``, export to ONNX, log everything to the active MLflow run (or
        a new one in ``config.logging.experiment_name``), register a version and alias it
        ``challenger``.

        ``tags`` is the lineage (:data:`lifecycle.LINEAGE_TAGS`), set on the run and the
        version; ``experiment`` is what the config was loaded from (logged, and recorded so the
        evaluation reloads the same config).
        """
        import mlflow

        from mfg_assets.models.defect.training import train_detector
        from mfg_assets.models.tracking import active_or_new_run

        if out_dir is None:
            raise ValueError("the detector needs an out_dir to train in")
        out_dir = Path(out_dir)
        lineage = VersionTags.build(KIND, config.experiment.name, tags)
        with active_or_new_run(config.logging.experiment_name, config.experiment.name) as run:
            run_id = run.info.run_id

            def log_epoch(epoch: int, metrics: dict[str, float]) -> None:
                mlflow.log_metrics(metrics, step=epoch, run_id=run_id)
                if on_epoch is not None:
                    on_epoch(epoch, metrics)

            trained = train_detector(data.data_yaml, config, out_dir, on_epoch=log_epoch)
            settings = trained.settings
            version_tags = dataclasses.replace(
                lineage,
                export_format=EXPORT_FORMAT,
                export_artifact=EXPORT_ARTIFACT,
                image_size=int(settings.imgsz),
                classes=tuple(settings.detector_classes),
            )
            mlflow.set_tags(version_tags.as_tags())
            _log_training(config, experiment, data, trained)
            onnx_path = _log_weights_and_export(trained, out_dir)
            model_uri = _log_onnx_model(onnx_path, version_tags.classes, settings.imgsz, config)
            version_tags = dataclasses.replace(  # checked when serving/evaluation download them
                version_tags,
                artifact_sha256=sha256_file(onnx_path),
                weights_sha256=sha256_file(out_dir / WEIGHTS_ARTIFACT),
            )
        fit = FitSummary(
            best_epoch=trained.best_epoch,
            epochs_run=trained.epochs_run,
            stopped_early=trained.stopped_early,
            seconds=trained.seconds,
            validation_metrics=trained.metrics,
        )
        return lifecycle.register_trained(
            model_uri,
            run_id,
            version_tags,
            fit,
            experiment,
            image_size=version_tags.image_size,
            classes=version_tags.classes,
            export_artifact=EXPORT_ARTIFACT,
        )

    def scorer(self, held_out: DefectDataset, config: ExperimentConfig, out_dir: Path) -> Scorer:
        """Score a version's weights on the dataset's test split at the version's image size;
        confusion matrices under ``out_dir/plots``, per-class metrics in the details."""
        from mfg_assets.models.defect.evaluation import evaluate_detector

        if held_out.images.get(TEST, 0) == 0:
            raise DatasetError(
                "the dataset's test split is empty: widen the window or raise data.test_fraction"
            )
        plots_dir = Path(out_dir) / "plots"
        plots_dir.mkdir(parents=True, exist_ok=True)
        common = {
            "split": TEST,
            "device": config.training.device,
            "threads": config.training.num_threads,
            "batch": config.training.batch_size,
        }

        def score(version: RegisteredVersion, role: Role) -> Scored:
            folder = Path(out_dir) / role
            where = f"{version.model_name} v{version.version}"
            report = evaluate_detector(
                download_weights(version.run_id, folder),
                held_out.data_yaml,
                expected_sha256=required_digest(
                    version.tags.weights_sha256, "weights_sha256", where
                ),
                imgsz=version.tags.image_size or DEFAULT_IMAGE_SIZE,
                out_dir=folder,
                **common,
            )
            plot = "confusion_matrix" if role == "challenger" else "champion_confusion_matrix"
            path = _copy(report["confusion_matrix_png"], plots_dir, f"{plot}.png")
            return Scored(report["metrics"], {plot: path}, {"per_class": report["per_class"]})

        return score


DEFECT = DefectLifecycle()
train_and_register = DEFECT.train_and_register


def _log_training(
    config: ExperimentConfig, experiment: str, dataset: DefectDataset, trained: Any
) -> None:
    """Params, the experiment file, the dataset summary and the training numbers."""
    import mlflow

    mlflow.log_params(flatten_config(config))
    mlflow.log_params({f"ultralytics.{k}": v for k, v in trained.settings.to_params().items()})
    _log_config(config, experiment)
    mlflow.log_artifact(str(dataset.root / META_JSON), artifact_path="dataset")
    mlflow.log_metrics({f"val_{k}": float(v) for k, v in trained.metrics.items()})
    mlflow.log_metrics(
        {"training_seconds": trained.seconds, "epochs_run": float(trained.epochs_run)}
    )


def _log_weights_and_export(trained: Any, out_dir: Path) -> Path:
    """Log ``weights/best.pt`` and the ONNX export to the active run; the export's path."""
    import mlflow

    weights = out_dir / "weights" / Path(WEIGHTS_ARTIFACT).name
    weights.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(trained.best_weights, weights)
    mlflow.log_artifact(str(weights), artifact_path=str(Path(WEIGHTS_ARTIFACT).parent))
    onnx_path = _export_onnx(trained.best_weights, trained.settings, out_dir / "export")
    mlflow.log_artifact(str(onnx_path), artifact_path=str(Path(EXPORT_ARTIFACT).parent))
    return onnx_path


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
    expected = required_digest(
        tags.get("artifact_sha256"), "artifact_sha256", f"{MODEL_NAME} v{version}"
    )
    path = _download(info.run_id, tags.get("export_artifact", EXPORT_ARTIFACT), Path(destination))
    verify_sha256(path, expected)  # a replaced export is refused before anything loads it
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
