"""Assembling the maintenance service from its environment, and reloading its champion.

Kept apart from :mod:`.maintenance` (pure request logic) because it touches the model stores:
the BentoML store for tags, the MLflow registry for "the current champion/challenger".

With several workers, ``POST /reload`` reaches one of them. That worker loads the model, swaps,
and publishes the loaded tag in a :class:`ReloadSignal` file shared by the server's workers;
every worker follows the file (one ``stat`` every :data:`FOLLOW_INTERVAL_S`, loading off the
event loop) and swaps to the same tag, and a worker (re)started later starts on it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mfg_assets.serving.errors import ModelNotFoundError, RequestError
from mfg_assets.serving.lineage import Lineage
from mfg_assets.serving.maintenance import (
    MAINTENANCE_MODEL,
    BatchingConfig,
    MaintenancePredictionService,
    MaintenanceScorer,
    OnlineFeatureSource,
    ShadowLog,
)
from mfg_assets.settings import data_dir, get_settings

log = logging.getLogger(__name__)

FOLLOW_INTERVAL_S = 0.2
SHADOW_ENV = "MFG_SHADOW_CHALLENGER"
SHADOW_LOG_ENV = "MFG_SHADOW_LOG"


def shadow_log_path() -> Path:
    """``MFG_SHADOW_LOG``, else ``<MFG_DATA_DIR>/serving/shadow/maintenance.jsonl``."""
    configured = get_settings().mfg_shadow_log
    return configured or data_dir() / "serving/shadow/maintenance.jsonl"


def load_scorer(tag: str) -> MaintenanceScorer:
    """The scorer of a stored model; :class:`ModelNotFoundError` (404) if no store has it."""
    from bentoml.exceptions import BentoMLException, NotFound

    from mfg_assets.serving.model_store import get_model

    name = tag.partition(":")[0].strip().lower()
    if name != MAINTENANCE_MODEL:
        raise RequestError(f"model tag {tag!r} is not a {MAINTENANCE_MODEL} (this service's model)")
    try:
        model = get_model(tag)
    except NotFound as exc:
        raise ModelNotFoundError(f"no model {tag!r} in the BentoML model store") from exc
    except (BentoMLException, ValueError) as exc:  # malformed tag
        raise RequestError(f"invalid model tag {tag!r}: {exc}") from exc
    try:
        return MaintenanceScorer.from_bento_model(model)
    except (OSError, KeyError, ValueError) as exc:  # not a packaged maintenance predictor
        raise RequestError(
            f"stored model {tag!r} is not a packaged maintenance predictor: {exc}", status_code=409
        ) from exc


class ReloadSignal:
    """The tag a server's workers should serve, in one small JSON file they all watch.

    :meth:`publish` replaces the file atomically (a new inode each time), so :meth:`changed`
    needs one ``stat`` to notice a new reload. The folder is ``MFG_SERVING_RELOAD_DIR``, else a
    temp folder named after the server process (the workers' common parent), so two servers on
    one machine never follow each other."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._seen: tuple[int, int] | None = None

    @classmethod
    def for_server(cls, service: str = "maintenance") -> ReloadSignal:
        folder = get_settings().mfg_serving_reload_dir or (
            Path(tempfile.gettempdir()) / f"mfg-serving-{os.getppid()}"
        )
        return cls(folder / f"{service}.reload.json")

    def _stat(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns)

    def publish(self, tag: str) -> None:
        """Tell every worker to serve ``tag``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"tag": tag, "pid": os.getpid(), "at": time.time()}))
        os.replace(tmp, self.path)
        self._seen = self._stat()

    def current(self) -> str | None:
        """The published tag (None: no reload yet), marking it seen."""
        self._seen = self._stat()
        try:
            return str(json.loads(self.path.read_text())["tag"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def changed(self) -> str | None:
        """The published tag if the file changed since last seen, else None."""
        if self._stat() == self._seen:
            return None
        return self.current()


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
    value = (get_settings().mfg_shadow_challenger or "").strip()
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
    signal: ReloadSignal | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _follower: asyncio.Task | None = None

    @classmethod
    def from_env(cls, champion_model: Any, on_batch: Any = None) -> MaintenanceRuntime:
        """From the service's champion ``bentoml.Model`` and the environment; ``on_batch``
        receives each model call's row count."""
        import torch

        torch.set_num_threads(get_settings().mfg_serving_torch_threads)
        challenger = challenger_from_env()
        core = MaintenancePredictionService(
            MaintenanceScorer.from_bento_model(champion_model),
            features=OnlineFeatureSource.from_env(),
            batching=BatchingConfig.from_env(),
            challenger=challenger,
            shadow_log=ShadowLog(shadow_log_path()) if challenger is not None else None,
            on_batch=on_batch,
        )
        runtime = cls(core, signal=ReloadSignal.for_server())
        published = runtime.signal.current() if runtime.signal else None
        if published and published != core.slot.lineage.model_tag:  # a reload happened before
            try:
                core.swap(load_scorer(published))
            except RequestError as exc:
                log.warning("not following reload to %s: %s", published, exc.message)
        return runtime

    def follow(self) -> None:
        """Start following the server's reload signal (once; needs the running event loop)."""
        if self.signal is None or (self._follower is not None and not self._follower.done()):
            return
        self._follower = asyncio.get_running_loop().create_task(self._follow())

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(FOLLOW_INTERVAL_S)
            try:
                await self.sync()
            except Exception as exc:  # keep following; the current model keeps serving
                log.warning("following a reload failed: %s", exc)

    async def sync(self) -> bool:
        """Swap to the published tag if it changed and differs from the served one."""
        if self.signal is None:
            return False
        tag = self.signal.changed()
        if tag is None or tag == self.core.slot.lineage.model_tag:
            return False
        async with self._lock:
            scorer = await asyncio.to_thread(load_scorer, tag)
            self.core.swap(scorer)
        log.info("followed a reload to %s", tag)
        return True

    async def reload(self, tag: str | None) -> tuple[Lineage, Lineage]:
        """Load ``tag`` (or the registry's champion) off the event loop, swap, and publish the
        loaded tag so every other worker of the server swaps too."""
        async with self._lock:
            if tag is None:
                scorer = await asyncio.to_thread(registry_scorer, "champion")
            else:
                scorer = await asyncio.to_thread(load_scorer, tag)
            previous = self.core.swap(scorer)
            if self.signal is not None:
                await asyncio.to_thread(self.signal.publish, scorer.lineage.model_tag)
        return previous, scorer.lineage
