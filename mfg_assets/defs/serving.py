"""BentoML services built from the champions: import into the model store → ``bentoml build``.

Each daily asset runs after its model's champion step: it imports whatever the registry's
``champion`` alias points to now (so a rollback rebuilds the previous champion's bento too) into
the BentoML model store under ``BENTOML_HOME`` (default ``<MFG_DATA_DIR>/bentoml``) with its
lineage metadata, then builds the service in ``bentos/<service>/`` pinned to that model. The
domain code is :mod:`mfg_assets.serving.model_store` and :mod:`mfg_assets.serving.build`.
(No ``from __future__ import annotations``: Dagster reads the annotations at definition time.)
"""

from collections.abc import Callable
from typing import Any

import dagster as dg

from mfg_assets.defs.common.model_lifecycle import MODEL_FRESHNESS
from mfg_assets.defs.common.partitions import daily_partitions

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


def _build_service(
    context: dg.AssetExecutionContext, service: str, import_champion: Callable[[], Any]
) -> dg.MaterializeResult:
    """Import the champion into the model store, ``bentoml build`` the service pinned to it."""
    from mfg_assets.models.registry import RegistryError
    from mfg_assets.serving.build import BentoBuildError, build_bento

    try:
        imported = import_champion()
        built = build_bento(service, imported.tag)
    except (RegistryError, BentoBuildError) as exc:
        raise dg.Failure(str(exc)) from exc
    context.log.info(f"built {built.tag} ({built.size_mb} MB) with {imported.tag}")
    return dg.MaterializeResult(metadata=_bento_metadata(imported, built, service))


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
    from mfg_assets.serving.model_store import import_maintenance_model

    return _build_service(context, "maintenance", import_maintenance_model)


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
    from mfg_assets.serving.model_store import import_defect_champion

    return _build_service(context, "defect", import_defect_champion)


serving_assets = [maintenance_bento, defect_bento]
