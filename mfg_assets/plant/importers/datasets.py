"""Where the public datasets are (``MFG_DATASETS_DIR``, default ``../shared/datasets`` beside
the repository). They are read in place, never copied into the repository."""

from __future__ import annotations

from pathlib import Path

from mfg_assets.settings import get_settings

REPO_ROOT = Path(__file__).resolve().parents[3]


def datasets_dir() -> Path:
    """The datasets folder (it may not exist on a user's machine)."""
    configured = get_settings().mfg_datasets_dir
    return (configured or REPO_ROOT.parent / "shared" / "datasets").expanduser().resolve()


def dataset(name: str) -> Path | None:
    """``datasets_dir() / name`` when it is a folder, else None."""
    path = datasets_dir() / name
    return path if path.is_dir() else None
