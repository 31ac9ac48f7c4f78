"""Assembling the maintenance service from its environment, and reloading its champion.

Kept apart from :mod:`.maintenance` (pure request logic) because it touches the model stores:
the BentoML store for tags, the MLflow registry for "the current champion/challenger".
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mfg_assets.serving.errors import ModelNotFoundError, RequestError
from mfg_assets.serving.lineage import Lineage
from mfg_assets.serving.maintenance import (
    BatchingConfig,
    MaintenancePredictionService,
    MaintenanceScorer,
    OnlineFeatureSource,
    ShadowLog,
)
from mfg_assets.settings import data_dir

log = logging.getLogger(__name__)

SHADOW_ENV = "MFG_SHADOW_CHALLENGER"
SHADOW_LOG_ENV = "MFG_SHADOW_LOG"


def shadow_log_path() -> Path:
    """``MFG_SHADOW_LOG``, else ``<MFG_DATA_DIR>/serving/shadow/maintenance.jsonl``."""
    configured = os.environ.get(SHADOW_LOG_ENV)
    return Path(configured) if configured else data_dir() / "serving/shadow/maintenance.jsonl"


def load_scorer(tag: str) -> MaintenanceScorer:
    """The scorer of a stored model; :class:`ModelNotFoundError` (404) if no store has it."""
    from bentoml.exceptions import BentoMLException, NotFound

    from mfg_assets.serving.model_store import get_model

    try:
        model = get_model(tag)
    except NotFound as exc:
        raise ModelNotFoundError(f"no model {tag!r} in the BentoML model store") from exc
    except (BentoMLException, ValueError) as exc:  # malformed tag
        raise RequestError(f"invalid model tag {tag!r}: {exc}") from exc
    return MaintenanceScorer.from_bento_model(model)


def registry_scorer(alias: str) -> MaintenanceScorer:
    """Import the registry's ``alias`` version into the store (if needed) and load it."""
    from mfg_assets.models.registry import RegistryError
    from mfg_assets.serving.model_store import import_maintenance_model

    try:
        imported = import_maintenance_model(alias=alias)
    except RegistryError as exc:
        raise RequestError(str(exc), status_code=409) from exc
    return load_scorer(imported.tag)


def challenger_from_env() -> MaintenanceScorer | None:
    """``MFG_SHADOW_CHALLENGER``: unset/0 → no shadow; 1 → the registry's challenger; else a
    model tag. A missing challenger turns shadow scoring off with a warning, not a failure."""
    value = os.environ.get(SHADOW_ENV, "").strip()
    if value.lower() in ("", "0", "false", "off"):
        return None
    try:
        if value.lower() in ("1", "true", "on"):
            return registry_scorer("challenger")
        return load_scorer(value)
    except RequestError as exc:
        log.warning("shadow scoring off: %s", exc.message)
        return None


@dataclass
class MaintenanceRuntime:
    core: MaintenancePredictionService
    ready: bool = True

    @classmethod
    def from_env(cls, champion_model: Any, on_batch: Any = None) -> MaintenanceRuntime:
        """From the service's champion ``bentoml.Model`` and the environment; ``on_batch``
        receives each model call's row count."""
        import torch

        torch.set_num_threads(int(os.environ.get("MFG_SERVING_TORCH_THREADS", "1")))
        challenger = challenger_from_env()
        core = MaintenancePredictionService(
            MaintenanceScorer.from_bento_model(champion_model),
            features=OnlineFeatureSource.from_env(),
            batching=BatchingConfig.from_env(),
            challenger=challenger,
            shadow_log=ShadowLog(shadow_log_path()) if challenger is not None else None,
            on_batch=on_batch,
        )
        return cls(core)

    async def reload(self, tag: str | None) -> tuple[Lineage, Lineage]:
        """Load ``tag`` (or the registry's champion) off the event loop, then swap."""
        if tag is None:
            scorer = await asyncio.to_thread(registry_scorer, "champion")
        else:
            scorer = await asyncio.to_thread(load_scorer, tag)
        previous = self.core.swap(scorer)
        return previous, scorer.lineage
