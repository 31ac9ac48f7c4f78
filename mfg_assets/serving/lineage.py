"""The lineage block every serving answer carries, and the code version it reports."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict


class Lineage(BaseModel):
    """Where the answering model came from: registry version, training run, data, code."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_name: str
    model_version: int
    model_tag: str  # BentoML model store tag, e.g. maintenance_model:v3
    mlflow_run_id: str
    feature_view: str | None = None
    training_window_start: str | None = None
    training_window_end: str | None = None
    code_version: str
    dagster_run_id: str | None = None

    @classmethod
    def from_metadata(cls, tag: str, metadata: dict[str, Any]) -> Lineage:
        """From the metadata :mod:`.model_store` writes on import."""
        return cls(
            model_name=str(metadata["registered_model"]),
            model_version=int(metadata["registry_version"]),
            model_tag=tag,
            mlflow_run_id=str(metadata["mlflow_run_id"]),
            feature_view=metadata.get("feature_view"),
            training_window_start=metadata.get("training_window_start"),
            training_window_end=metadata.get("training_window_end"),
            code_version=str(metadata.get("code_version") or "unknown"),
            dagster_run_id=metadata.get("dagster_run_id"),
        )


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=5, check=True
    ).stdout.strip()


@functools.cache
def code_version() -> str:
    """``git`` commit of the source tree (``+dirty`` when modified), else the package version."""
    root = Path(__file__).resolve().parents[2]
    try:
        sha = _git(root, "rev-parse", "--short=12", "HEAD")
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
        if sha:
            return f"{sha}+dirty" if dirty else sha
    except (OSError, subprocess.SubprocessError):
        pass
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"mfg_assets=={version('mfg_assets')}"
    except PackageNotFoundError:
        return "unknown"
