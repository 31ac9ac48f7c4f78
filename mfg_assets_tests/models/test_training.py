from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mfg_assets.features.schema import feature_columns
from mfg_assets.models.config import apply_overrides
from mfg_assets.models.maintenance.dataset import FeatureFrameError, TrainingDataError, select_split
from mfg_assets.models.maintenance.evaluation import evaluate
from mfg_assets.models.maintenance.synthetic import training_frame
from mfg_assets.models.maintenance.training import EpochReport, train_maintenance_model


def test_learns_a_clear_signal_and_beats_the_baselines(trained, signal_frame, tmp_path) -> None:
    test = select_split(signal_frame, "test")
    metrics = evaluate(trained.predict_proba, test, trained.threshold, plots_dir=tmp_path)
    assert metrics["roc_auc"] > 0.9
    assert metrics["roc_auc"] > metrics["baseline_heuristic_roc_auc"] > 0.5
    assert metrics["pr_auc"] > metrics["baseline_heuristic_pr_auc"] > metrics["prevalence"]
    assert metrics["f1"] > max(metrics["baseline_prior_f1"], metrics["baseline_heuristic_f1"])
    assert metrics["n_rows"] == len(test)
    assert 0 < trained.threshold < 1
    for name in ("confusion_matrix.png", "pr_curve.png", "roc_curve.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_trained_model_carries_what_serving_needs(trained, signal_frame) -> None:
    assert trained.feature_names == feature_columns()
    assert trained.normalizer.feature_names == tuple(feature_columns())
    assert trained.history[trained.best_epoch - 1].val_loss == min(
        r.val_loss for r in trained.history
    )
    assert set(trained.state_dict) == set(trained.predictor.network().state_dict())
    summary = trained.summary_metrics()
    assert summary["best_epoch"] == trained.best_epoch
    assert summary["best_val_threshold"] == trained.threshold
    proba = trained.predict_proba(pl.from_pandas(select_split(signal_frame, "test")))
    assert proba.shape == (len(select_split(signal_frame, "test")),)
    assert ((proba >= 0) & (proba <= 1)).all()


def test_early_stopping_ends_a_plateau_before_max_epochs(default_config) -> None:
    config = apply_overrides(
        default_config,
        {"training.epochs": 200, "training.early_stopping.patience": 3},
    )
    model = train_maintenance_model(training_frame(signal=0.0, seed=1), config)
    assert model.stopped_early
    assert len(model.history) < 200
    assert len(model.history) == model.best_epoch + 3
    assert not any(r.improved for r in model.history[model.best_epoch :])


def test_callback_honours_log_every_and_reports_the_schedule(signal_frame, default_config):
    config = apply_overrides(
        default_config,
        {"training.epochs": 5, "logging.log_every": 2, "training.scheduler.T_max": 5},
    )
    reports: list[EpochReport] = []
    train_maintenance_model(signal_frame, config, log=reports.append)
    assert [r.epoch for r in reports] == [2, 4, 5]
    assert reports[0].lr > reports[1].lr > reports[2].lr > config.training.scheduler.eta_min
    assert set(reports[0].as_metrics()) == {
        "train_loss",
        "val_loss",
        "lr",
        "val_roc_auc",
        "val_pr_auc",
    }
    constant = apply_overrides(config, {"training.scheduler.name": "none"})
    lrs = [r.lr for r in train_maintenance_model(signal_frame, constant).history]
    assert lrs == [config.training.optimizer.lr] * 5


@pytest.mark.parametrize("optimizer", ["Adam", "SGD"])
def test_other_optimizers_train(signal_frame, quick_config, optimizer: str) -> None:
    config = apply_overrides(quick_config, {"training.optimizer.name": optimizer})
    assert len(train_maintenance_model(signal_frame, config).history) == 4


def test_normalizer_is_fitted_on_the_train_split_only(signal_frame, quick_config) -> None:
    config = apply_overrides(quick_config, {"training.epochs": 1})
    shifted = signal_frame.copy()
    held_out = shifted["split"] != "train"
    shifted.loc[held_out, feature_columns()] = shifted.loc[held_out, feature_columns()] * 100 + 7
    a = train_maintenance_model(signal_frame, config).normalizer
    b = train_maintenance_model(shifted, config).normalizer
    assert a == b
    train = select_split(signal_frame, "train")
    np.testing.assert_allclose(a.mean, train[feature_columns()].mean().to_numpy(), rtol=1e-12)


def test_same_config_and_data_give_identical_results(signal_frame, quick_config) -> None:
    config = apply_overrides(quick_config, {"training.epochs": 6})
    first = train_maintenance_model(signal_frame, config)
    second = train_maintenance_model(pl.from_pandas(signal_frame), config)  # polars input too
    assert [r.as_metrics() for r in first.history] == [r.as_metrics() for r in second.history]
    assert first.threshold == second.threshold
    assert first.validation_metrics == second.validation_metrics
    for key, tensor in first.state_dict.items():
        assert tensor.equal(second.state_dict[key]), key
    other_seed = train_maintenance_model(
        signal_frame, apply_overrides(config, {"training.seed": 7})
    )
    assert other_seed.history[-1].val_loss != first.history[-1].val_loss


def test_checkpoints_and_warm_start(signal_frame, quick_config, tmp_path: Path) -> None:
    import torch

    config = apply_overrides(quick_config, {"training.checkpoint.save_frequency": 2})
    model = train_maintenance_model(signal_frame, config, checkpoint_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best.pt",
        "epoch_0002.pt",
        "epoch_0004.pt",
    ]
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert best["epoch"] == model.best_epoch
    for key, tensor in model.state_dict.items():
        assert tensor.equal(best["model_state"][key])

    warm = apply_overrides(config, {"model.init_weights": str(tmp_path / "best.pt")})
    warm_model = train_maintenance_model(signal_frame, warm)
    assert warm_model.history[0].val_loss < model.history[0].val_loss

    wrong = apply_overrides(config, {"model.hidden_sizes": [8]})
    wrong = apply_overrides(wrong, {"model.init_weights": str(tmp_path / "best.pt")})
    with pytest.raises(ValueError, match="does not fit the network"):
        train_maintenance_model(signal_frame, wrong)


def _drop_feature(frame):
    return frame.drop(columns=["vibration_mean", "pressure_max"])


def _nan_in_validation(frame):
    frame = frame.copy()
    rows = frame.index[frame["split"] == "validation"][:3]
    frame.loc[rows, "temperature_mean"] = np.nan
    return frame


def _no_test_rows(frame):
    return frame[frame["split"] != "test"]


def _single_class(frame):
    frame = frame.copy()
    frame.loc[frame["split"] == "train", "failure_within_h"] = 0
    return frame


@pytest.mark.parametrize(
    ("corrupt", "messages"),
    [
        (_drop_feature, ["missing feature columns", "vibration_mean", "pressure_max"]),
        (_nan_in_validation, ["3 NaN", "validation: temperature_mean (3)"]),
        (_no_test_rows, ["empty split", "test"]),
        (_single_class, ["single class in the train split", "all 0"]),
    ],
)
@pytest.mark.parametrize("kind", ["pandas", "polars"])
def test_bad_frames_fail_before_training(signal_frame, quick_config, corrupt, messages, kind):
    frame = corrupt(signal_frame)
    if kind == "polars":
        frame = pl.from_pandas(frame)

    def must_not_train(report: EpochReport) -> None:
        raise AssertionError("training started")

    with pytest.raises(TrainingDataError) as caught:
        train_maintenance_model(frame, quick_config, log=must_not_train)
    for message in messages:
        assert message in str(caught.value)


def test_predict_proba_rejects_unusable_rows(trained, signal_frame) -> None:
    test = select_split(signal_frame, "test").copy()
    with pytest.raises(FeatureFrameError, match="missing feature columns: current_std"):
        trained.predict_proba(test.drop(columns=["current_std"]))
    test.loc[test.index[:2], "defect_rate"] = np.nan
    with pytest.raises(FeatureFrameError, match=r"defect_rate \(2\)"):
        trained.predict_proba(test)
