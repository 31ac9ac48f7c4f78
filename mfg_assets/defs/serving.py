"""BentoML services built from the champions: import into the model store → ``bentoml build``.

Each daily asset runs after its model's champion step: it imports whatever the registry's
``champion`` alias points to now (so a rollback rebuilds the previous champion's bento too) into
the BentoML model store under ``BENTOML_HOME`` (default ``<MFG_DATA_DIR>/bentoml``) with its
lineage metadata, then builds the service in ``bentos/<service>/`` pinned to that model. The
domain code is :mod:`mfg_assets.serving.model_store` and :mod:`mfg_assets.serving.build`.
(No ``from __future__ import annotations``: Dagster reads the annotations at definition time.)
"""

import tempfile
from pathlib import Path
from typing import Any

import dagster as dg

from mfg_assets.defs.model_lifecycle import MODEL_FRESHNESS
from mfg_assets.defs.partitions import daily_partitions

GROUP = "serving"


def _bento_metadata(imported: Any, built: Any, service: str) -> dict[str, Any]:
    meta = imported.metadata
    return {
        "bento_tag": built.tag,
        "bento_size_mb": built.size_mb,
        "bento_path": dg.MetadataValue.path(str(built.path)),
        "model_tag": imported.tag,
        "model_version": imported.version,
        "model_imported": imported.created,
        "mlflow_run_id": imported.run_id,
        "training_window_start": str(meta.get("training_window_start")),
        "training_window_end": str(meta.get("training_window_end")),
        "code_version": str(meta.get("code_version")),
        **{f"model_{k}": float(v) for k, v in (meta.get("metrics") or {}).items()},
        "serve": dg.MetadataValue.md(
            f"`BENTOML_HOME={built.path.parents[2]} bentoml serve {built.tag}`"
            f" · container: `bentoml containerize {built.tag}`"
        ),
        "service": service,
    }


def _failure(exc: Exception) -> dg.Failure:
    return dg.Failure(str(exc))


@dg.asset(
    partitions_def=daily_partitions,
    deps=["maintenance_champion"],
    group_name=GROUP,
    kinds={"bentoml"},
    freshness_policy=MODEL_FRESHNESS,
    description="The maintenance service (`bentos/maintenance`) built with the current champion "
    "of `maintenance_model`, imported into the BentoML model store as `maintenance_model:v<N>` "
    "with its version, run id, metrics and training window.",
)
def maintenance_bento(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from mfg_assets.models.registry import RegistryError
    from mfg_assets.serving.build import BentoBuildError, build_bento
    from mfg_assets.serving.model_store import import_maintenance_model

    try:
        imported = import_maintenance_model()
        built = build_bento("maintenance", imported.tag)
    except (RegistryError, BentoBuildError) as exc:
        raise _failure(exc) from exc
    context.log.info(f"built {built.tag} ({built.size_mb} MB) with {imported.tag}")
    return dg.MaterializeResult(metadata=_bento_metadata(imported, built, "maintenance"))


@dg.asset(
    partitions_def=daily_partitions,
    deps=["defect_champion"],
    group_name=GROUP,
    kinds={"bentoml", "onnx"},
    freshness_policy=MODEL_FRESHNESS,
    description="The defect service (`bentos/defect`) built with the ONNX export of the current "
    "champion of `defect_detector`, imported into the BentoML model store as "
    "`defect_detector:v<N>` with its version, run id, test metrics and training window.",
)
def defect_bento(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from mfg_assets.models.defect.workflow import download_champion_export
    from mfg_assets.models.registry import ModelRegistry, RegistryError
    from mfg_assets.serving.build import BentoBuildError, build_bento
    from mfg_assets.serving.model_store import import_detector_file

    try:
        with tempfile.TemporaryDirectory() as tmp:
            export = download_champion_export(Path(tmp))
            tags = ModelRegistry().version_info(export.model_name, export.version)["tags"]
            imported = import_detector_file(
                export.path,
                version=export.version,
                run_id=export.run_id,
                classes=list(export.classes),
                image_size=export.image_size,
                metrics=export.metrics,
                training_window=export.training_window,
                model_name=export.model_name,
                dagster_run_id=tags.get("dagster_run_id"),  # the training run
            )
        built = build_bento("defect", imported.tag)
    except (RegistryError, BentoBuildError) as exc:
        raise _failure(exc) from exc
    context.log.info(f"built {built.tag} ({built.size_mb} MB) with {imported.tag}")
    return dg.MaterializeResult(metadata=_bento_metadata(imported, built, "defect"))


serving_assets = [maintenance_bento, defect_bento]
