"""Champions from the MLflow registry into the BentoML model store, with their lineage.

The store lives under ``BENTOML_HOME`` (default ``<MFG_DATA_DIR>/bentoml``). A registry version
``N`` of ``maintenance_model`` becomes the BentoML model ``maintenance_model:vN`` holding the
predictor files (``predictor/weights.pt``, ``predictor/predictor.json``) and, as metadata, what
every answer's lineage reports: registry version, MLflow run id, training window, Dagster run,
metrics, threshold, feature view, code version. Importing is idempotent: the same version from
the same run is left alone; a store entry from another run (a different MLflow store) is
replaced. Nothing from the artifact store is executed: a maintenance version's files are checked
against the ``artifact_sha256`` recorded at registration and only its data is read (no
``mlflow.pyfunc.load_model``, which runs the logged code file); the detector's ONNX export is
checked the same way on download. bentoml and mlflow are imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mfg_assets.models.registry import CHAMPION, REGISTERED_MODELS, ModelRegistry, RegistryError
from mfg_assets.serving.lineage import code_version
from mfg_assets.settings import data_dir, get_settings

MAINTENANCE_MODEL = REGISTERED_MODELS["maintenance"]
DEFECT_MODEL = REGISTERED_MODELS["defect"]
PREDICTOR_DIR = "predictor"
DETECTOR_FILE = "detector.onnx"


def bentoml_home() -> Path:
    """``BENTOML_HOME`` if set, else ``<MFG_DATA_DIR>/bentoml`` (created)."""
    configured = get_settings().bentoml_home
    path = configured or data_dir() / "bentoml"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def model_store(home: Path | None = None) -> Any:
    """The BentoML ``ModelStore`` under ``home`` (default :func:`bentoml_home`)."""
    from bentoml._internal.models import ModelStore

    folder = (home or bentoml_home()) / "models"
    folder.mkdir(parents=True, exist_ok=True)
    return ModelStore(str(folder))


def store_tag(model_name: str, version: int) -> str:
    return f"{model_name}:v{int(version)}"


@dataclass(frozen=True)
class ImportedModel:
    tag: str
    version: int
    run_id: str
    path: Path
    created: bool  # False when the store already held this version from the same run
    metadata: dict[str, Any] = field(default_factory=dict)


def _existing(store: Any, tag: str, run_id: str) -> Any | None:
    """The stored model for ``tag`` if it came from ``run_id``; deletes a stale one."""
    from bentoml.exceptions import NotFound

    try:
        model = store.get(tag)
    except NotFound:
        return None
    if model.info.metadata.get("mlflow_run_id") == run_id:
        return model
    store.delete(tag)
    return None


def _version_and_info(
    registry: ModelRegistry, name: str, version: int | None, alias: str
) -> tuple[int, dict[str, Any], str]:
    if version is None:
        version = registry.get_alias_version(name, alias)
        if version is None:
            raise RegistryError(f"{name} has no {alias!r} version to import")
    info = registry.version_info(name, version)
    run_id = registry.client.get_model_version(name, str(version)).run_id or ""
    return int(version), info, run_id


def _base_metadata(
    name: str, version: int, run_id: str, info: dict[str, Any], alias: str | None
) -> dict[str, Any]:
    tags = info["tags"]
    return {
        "registered_model": name,
        "registry_version": version,
        "alias": alias,
        "mlflow_run_id": run_id,
        "training_window_start": tags.get("training_window_start"),
        "training_window_end": tags.get("training_window_end"),
        "dagster_run_id": tags.get("dagster_run_id"),
        "metrics": {k: float(v) for k, v in info["metrics"].items()},
        "code_version": code_version(),
    }


def import_maintenance_model(
    version: int | None = None,
    *,
    alias: str = CHAMPION,
    home: Path | None = None,
) -> ImportedModel:
    """Import ``maintenance_model`` version ``version`` (default: the ``alias`` version),
    verified against its registered digest (:class:`ArtifactIntegrityError` if tampered)."""
    import tempfile

    from mfg_assets.feature_store.names import FEATURE_SERVICE_NAME, feature_view_name

    registry = ModelRegistry()
    version, info, run_id = _version_and_info(registry, MAINTENANCE_MODEL, version, alias)
    store = model_store(home)
    tag = store_tag(MAINTENANCE_MODEL, version)
    existing = _existing(store, tag, run_id)
    if existing is not None:
        return ImportedModel(
            tag, version, run_id, Path(existing.path), False, dict(existing.info.metadata)
        )
    with tempfile.TemporaryDirectory(prefix="maintenance_import_") as tmp:
        predictor, mlmodel = _verified_predictor(version, info, Path(tmp))
        metadata = {
            **_base_metadata(MAINTENANCE_MODEL, version, run_id, info, alias),
            "threshold": float(predictor.threshold),
            "feature_names": list(predictor.feature_names),
            "feature_view": feature_view_name(),
            "feature_service": FEATURE_SERVICE_NAME,
            "experiment": (mlmodel.get("metadata") or {}).get("experiment"),
        }
        return _create(store, tag, metadata, lambda folder: predictor.save(folder / PREDICTOR_DIR))


def _verified_predictor(version: int, info: dict[str, Any], tmp: Path) -> tuple[Any, dict]:
    """The registered version's predictor, digest-checked and loaded as data only
    (:func:`~mfg_assets.models.maintenance.packaging.fetch_maintenance_predictor`)."""
    from mfg_assets.models.maintenance.packaging import fetch_maintenance_predictor

    return fetch_maintenance_predictor(f"models:/{MAINTENANCE_MODEL}/{version}", tmp)


def import_detector_file(
    onnx_path: Path,
    *,
    version: int,
    run_id: str,
    classes: list[str],
    image_size: int,
    metrics: dict[str, float] | None = None,
    training_window: dict[str, str] | None = None,
    alias: str | None = CHAMPION,
    model_name: str = DEFECT_MODEL,
    dagster_run_id: str | None = None,
    home: Path | None = None,
) -> ImportedModel:
    """Import an exported ONNX detector (the champion's export) as ``<model_name>:v<version>``."""
    import shutil

    store = model_store(home)
    tag = store_tag(model_name, version)
    existing = _existing(store, tag, run_id)
    if existing is not None:
        return ImportedModel(
            tag, version, run_id, Path(existing.path), False, dict(existing.info.metadata)
        )
    window = training_window or {}
    metadata = {
        "registered_model": model_name,
        "registry_version": int(version),
        "alias": alias,
        "mlflow_run_id": run_id,
        "training_window_start": window.get("start") or window.get("training_window_start"),
        "training_window_end": window.get("end") or window.get("training_window_end"),
        "dagster_run_id": dagster_run_id,
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
        "classes": list(classes),
        "image_size": int(image_size),
        "code_version": code_version(),
    }
    return _create(
        store, tag, metadata, lambda folder: shutil.copyfile(onnx_path, folder / DETECTOR_FILE)
    )


def import_defect_champion(alias: str = CHAMPION, home: Path | None = None) -> ImportedModel:
    """Import the ONNX export of the ``defect_detector`` version ``alias`` points to, with the
    training run's Dagster run id (RegistryError when there is no such version or export)."""
    import tempfile

    from mfg_assets.models.defect.workflow import download_champion_export

    with tempfile.TemporaryDirectory() as tmp:
        export = download_champion_export(Path(tmp), alias=alias)
        tags = ModelRegistry().version_info(export.model_name, export.version)["tags"]
        return import_detector_file(
            export.path,
            version=export.version,
            run_id=export.run_id,
            classes=list(export.classes),
            image_size=export.image_size,
            metrics=export.metrics,
            training_window=export.training_window,
            alias=alias,
            model_name=export.model_name,
            dagster_run_id=tags.get("dagster_run_id"),  # the training run
            home=home,
        )


def _create(store: Any, tag: str, metadata: dict[str, Any], write: Any) -> ImportedModel:
    import bentoml

    metadata = {k: v for k, v in metadata.items() if v is not None}  # BentoML refuses None
    labels = {"registry_version": str(metadata["registry_version"])}
    if metadata.get("alias"):
        labels["alias"] = str(metadata["alias"])
    with bentoml.models.create(tag, metadata=metadata, labels=labels, _model_store=store) as model:
        write(Path(model.path))
    stored = store.get(tag)
    return ImportedModel(
        tag,
        int(metadata["registry_version"]),
        str(metadata["mlflow_run_id"]),
        Path(stored.path),
        True,
        dict(stored.info.metadata),
    )


def get_model(tag: str, home: Path | None = None) -> Any:
    """A stored model by tag: the serving process's current store first (a served bento's own
    models), then the store under ``home``/``BENTOML_HOME``. ``NotFound`` if neither has it."""
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        return bentoml.models.get(tag)
    except NotFound:
        return model_store(home).get(tag)
