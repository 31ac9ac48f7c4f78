from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mfg_assets.features.schema import feature_columns
from mfg_assets.models.config import EXPERIMENTS_DIR, apply_overrides
from mfg_assets.models.maintenance.dataset import select_split
from mfg_assets.models.maintenance.evaluation import evaluate
from mfg_assets.models.maintenance.packaging import (
    load_maintenance_predict_proba,
    log_maintenance_model,
    pandas_features,
)
from mfg_assets.models.maintenance.training import train_maintenance_model
from mfg_assets.models.tracking import (
    log_evaluation,
    mlflow_epoch_logger,
    start_run,
    tracking_uri,
)


def test_default_tracking_uri_is_sqlite_under_the_data_dir(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert tracking_uri() == f"sqlite:///{tmp_path / 'data' / 'mlflow' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri() == "http://127.0.0.1:5000"


def test_logged_model_round_trips_through_pyfunc(
    mlflow_store, signal_frame, quick_config, tmp_path
) -> None:
    import mlflow

    config_file = EXPERIMENTS_DIR / "maintenance_default.yaml"
    with start_run(quick_config.logging.experiment_name) as run:
        trained = train_maintenance_model(signal_frame, quick_config, log=mlflow_epoch_logger())
        logged = log_maintenance_model(trained, quick_config, config_file, {"trigger": "test"})
        test = select_split(signal_frame, "test")
        plots = tmp_path / "plots"
        metrics = evaluate(trained.predict_proba, test, trained.threshold, plots_dir=plots)
        log_evaluation(metrics, plots_dir=plots)
    assert logged.run_id == run.info.run_id
    assert logged.model_uri == f"models:/{logged.model_id}"

    loaded = mlflow.pyfunc.load_model(logged.model_uri)
    result = loaded.predict(pandas_features(test, feature_columns()))
    np.testing.assert_allclose(
        result["failure_probability"], trained.predict_proba(test), rtol=1e-7, atol=0
    )
    assert (
        result["failure_predicted"] == (result["failure_probability"] >= trained.threshold)
    ).all()
    raw_columns = loaded.predict(test)  # extra columns (ids, label, split) are ignored
    assert np.array_equal(raw_columns["failure_probability"], result["failure_probability"])
    polars_proba = load_maintenance_predict_proba(logged.model_uri)(pl.from_pandas(test))
    np.testing.assert_allclose(polars_proba, trained.predict_proba(test), rtol=1e-7)

    signature = loaded.metadata.get_input_schema()
    assert signature.input_names() == feature_columns()
    assert loaded.metadata.signature.outputs.input_names() == [
        "failure_probability",
        "failure_predicted",
    ]
    assert loaded.metadata.metadata["threshold"] == trained.threshold

    client = mlflow.MlflowClient()
    data = client.get_run(run.info.run_id).data
    assert data.params["training.optimizer.name"] == "AdamW"
    assert data.tags["trigger"] == "test"
    assert data.metrics["test_roc_auc"] == metrics["roc_auc"]
    assert data.metrics["best_epoch"] == trained.best_epoch
    history = client.get_metric_history(run.info.run_id, "val_loss")
    assert [m.step for m in history] == [1, 2, 3, 4]
    assert [m.value for m in history] == pytest.approx([r.val_loss for r in trained.history])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert artifacts == {f"evaluation/{p.name}" for p in plots.iterdir()}
    logged_config = client.list_artifacts(run.info.run_id, "config")
    assert [a.path for a in logged_config] == ["config/maintenance_default.yaml"]


def test_logging_without_an_active_run_starts_one_with_local_artifacts(
    mlflow_store, trained, tmp_path
) -> None:
    import mlflow

    config = apply_overrides(trained.config, {"logging.experiment_name": "pm_test"})
    logged = log_maintenance_model(trained, config)
    assert mlflow.active_run() is None
    run = mlflow.MlflowClient().get_run(logged.run_id)
    assert run.info.status == "FINISHED"
    assert Path(run.info.artifact_uri.removeprefix("file://")).is_relative_to(tmp_path / "data")
    config_files = mlflow.MlflowClient().list_artifacts(logged.run_id, "config")
    assert [a.path for a in config_files] == ["config/experiment.yaml"]


def test_epoch_logger_refuses_to_start_a_stray_run(mlflow_store, signal_frame, quick_config):
    with pytest.raises(RuntimeError, match="no active MLflow run"):
        train_maintenance_model(signal_frame, quick_config, log=mlflow_epoch_logger())
