"""Session-wide test environment: everything the platform writes goes to a temp directory,
nothing phones home, and shared services (PostgreSQL, Redis) are probed once."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="mfg_tests_"))
os.environ["MFG_DATA_DIR"] = str(_SESSION_DIR / "data")
os.environ.setdefault("MFG_PARTITIONS_START", "2026-11-01-00:00")
os.environ.pop("PLANT_DB_URL", None)
os.environ.pop("DAGSTER_HOME", None)
os.environ["DAGSTER_DISABLE_TELEMETRY"] = "1"
os.environ["DO_NOT_TRACK"] = "1"
os.environ["BENTOML_DO_NOT_TRACK"] = "true"
os.environ["YOLO_OFFLINE"] = "1"
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{_SESSION_DIR / 'mlflow.db'}"

pytest_plugins = ["mfg_assets_tests.fixtures.services", "mfg_assets_tests.fixtures.s3"]


@pytest.fixture(autouse=True)
def _no_leaked_dagster_state_storage() -> Iterator[None]:
    """Each test starts with no Dagster defs-state storage in context.

    Dagster enters an ephemeral instance for contexts built without one and does not always
    exit it, which leaves that instance's storage in a ContextVar; once the instance is garbage
    collected, loading any ``Definitions`` in a later test fails with "Attempted to resolve
    undefined DagsterInstance weakref" (seen in the full suite, depending on GC timing).
    """
    from dagster._core.storage.defs_state.base import _current_storage

    _current_storage.set(None)
    yield
