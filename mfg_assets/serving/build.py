"""``bentoml build`` for a service folder under ``bentos/``, pinned to one stored model.

The build runs the BentoML CLI in a subprocess with ``BENTOML_HOME`` set (so the build never
depends on which store a long-lived process resolved first) and the service's model-tag
variable set to the model to pin: the service resolves ``BentoModel(tag)`` at import, and the
bento records exactly that model. The build context is the repository root (the bento carries
``mfg_assets`` and the service folder).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mfg_assets.serving.model_store import bentoml_home
from mfg_assets.settings import subprocess_env

REPO_ROOT = Path(__file__).resolve().parents[2]
BENTOS_DIR = REPO_ROOT / "bentos"
SERVICES: dict[str, str] = {  # service folder → the env var its service reads its model tag from
    "maintenance": "MFG_MAINTENANCE_MODEL_TAG",
    "defect": "MFG_DEFECT_MODEL_TAG",
}


class BentoBuildError(RuntimeError):
    """``bentoml build`` failed; the message carries the end of its output."""


@dataclass(frozen=True)
class BuiltBento:
    tag: str
    path: Path
    size_bytes: int
    model_tags: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def size_mb(self) -> float:
        return round(self.size_bytes / 1e6, 3)


def _bentoml_cli() -> str:
    candidate = Path(sys.executable).with_name("bentoml")
    return str(candidate) if candidate.exists() else "bentoml"


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build_bento(service: str, model_tag: str, home: Path | None = None) -> BuiltBento:
    """Build ``bentos/<service>`` with ``model_tag`` pinned; returns its tag, size and models."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; choose one of {sorted(SERVICES)}")
    home = home or bentoml_home()
    bentofile = BENTOS_DIR / service / "bentofile.yaml"
    env = subprocess_env(
        BENTOML_HOME=str(home),
        BENTOML_DO_NOT_TRACK="true",
        **{SERVICES[service]: model_tag},
    )
    result = subprocess.run(
        [_bentoml_cli(), "build", "-f", str(bentofile), "--output", "tag", str(REPO_ROOT)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    tags = [
        line.split("__tag__:", 1)[1].strip()
        for line in result.stdout.splitlines()
        if "__tag__:" in line
    ]
    if result.returncode != 0 or not tags:
        output = (result.stdout + result.stderr)[-3000:]
        raise BentoBuildError(f"bentoml build of {service} failed ({result.returncode}):\n{output}")
    tag = tags[-1]
    name, version = tag.split(":", 1)
    path = home / "bentos" / name / version
    info = yaml.safe_load((path / "bento.yaml").read_text())
    model_tags = [
        str(m["tag"]) for svc in info.get("services", []) for m in svc.get("models", [])
    ] + [str(m["tag"]) for m in info.get("models") or []]
    return BuiltBento(tag, path, _dir_size(path), model_tags, info)
