"""Session-wide test environment: everything the platform writes goes to a temp directory,
nothing phones home, and shared services (PostgreSQL, Redis) are probed once."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
