"""Every test gets its own data dir and MLflow SQLite store (copied from one migrated template,
so the ~2 s schema migration runs once per session)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from mfg_assets.models.config import ExperimentConfig, apply_overrides, load_experiment
from mfg_assets.models.maintenance.synthetic import training_frame


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MFG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    yield tmp_path
    if "mlflow" in sys.modules:
        import mlflow

        while mlflow.active_run() is not None:
            mlflow.end_run()


@pytest.fixture(scope="session")
def migrated_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import mlflow

    path = tmp_path_factory.mktemp("mlflow_template") / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_store(migrated_store: Path, isolated_env: Path) -> str:
    """A fresh, already-migrated SQLite tracking store for this test; returns its URI."""
    shutil.copy(migrated_store, isolated_env / "mlflow.db")
    return f"sqlite:///{isolated_env / 'mlflow.db'}"


@pytest.fixture(scope="session")
def default_config() -> ExperimentConfig:
    return load_experiment("maintenance_default")


@pytest.fixture(scope="session")
def quick_config(default_config: ExperimentConfig) -> ExperimentConfig:
    """A few epochs: for tests about plumbing, not accuracy."""
    return apply_overrides(default_config, {"training.epochs": 4})


@pytest.fixture(scope="session")
def signal_frame():
    return training_frame(signal=3.0, seed=0)


@pytest.fixture(scope="session")
def trained(signal_frame, default_config):
    from mfg_assets.models.maintenance.training import train_maintenance_model

    return train_maintenance_model(signal_frame, default_config)
