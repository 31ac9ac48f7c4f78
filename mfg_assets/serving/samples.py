"""Plausible maintenance request rows: load for benches and smoke runs, inputs for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mfg_assets.serving.maintenance import feature_limits


def healthy_row(rng: np.random.Generator, risk: float = 0.0) -> dict[str, float | int]:
    """A physically plausible feature row of the active plant; ``risk`` raises vibration and
    temperature where the plant has them (the simulator's failure signal)."""
    row: dict[str, float | int] = {}
    for name, (low, high, kind) in feature_limits().items():
        if kind is int:
            row[name] = int(rng.integers(0, 50)) if name != "n_readings" else 18_000
        elif name.endswith("_slope"):
            row[name] = float(rng.normal(0, 0.01))
        elif name.endswith("_std"):
            row[name] = float(abs(rng.normal(0.5, 0.1)))
        elif name == "defect_rate":
            row[name] = float(rng.uniform(0, 0.1))
        else:
            row[name] = float(np.clip(low + (high - low) * rng.uniform(0.2, 0.4), low, high))
    if "n_defects" in row:
        row["n_defects"] = min(int(row["n_defects"]), int(row["n_inspections"]))
    for sensor, scale in (("vibration", 10.0), ("temperature", 30.0)):
        if f"{sensor}_mean" not in row:
            continue
        for stat in ("mean", "min", "max", "last"):
            row[f"{sensor}_{stat}"] = float(row[f"{sensor}_{stat}"]) + risk * scale
    return row


def serving_environment(root: Path) -> dict[str, str]:
    """Everything a serving process of a test or bench writes, under ``root``: data dir,
    MLflow, BentoML home; telemetry and downloads off."""
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
