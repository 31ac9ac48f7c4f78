"""The environment of a bench's serving processes: everything they write stays under one root."""

from __future__ import annotations

from pathlib import Path


def serving_environment(root: Path) -> dict[str, str]:
    """Data dir, MLflow and BentoML home under ``root``; telemetry and downloads off."""
    return {
        "MFG_DATA_DIR": str(root / "data"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "BENTOML_HOME": str(root / "bentoml"),
        "MFG_FEAST_PROJECT": "mfg_serving",
        "BENTOML_DO_NOT_TRACK": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "YOLO_OFFLINE": "1",
    }
