"""The measuring variants the benches add on top of the platform: they must compute what the
README says they compute (a smoke run only proves they run)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def drift_loop():
    sys.path.insert(0, str(BENCH))
    try:
        import drift_loop

        yield drift_loop
    finally:
        sys.path.remove(str(BENCH))


@dataclass
class _Served:
    """The one attribute ``recalibrated`` reads of a trained model."""

    predictor: object


def _predictor(columns: list[str], reference: np.ndarray):
    import torch

    from mfg_assets.models.maintenance.network import MaintenanceMLP
    from mfg_assets.models.maintenance.normalization import Standardizer
    from mfg_assets.models.maintenance.predictor import MaintenancePredictor

    torch.manual_seed(0)
    net = MaintenanceMLP(len(columns), (8,), 0.0)
    return MaintenancePredictor(
        state_dict={k: v.detach().clone() for k, v in net.state_dict().items()},
        normalizer=Standardizer.fit(reference, columns),
        hidden_sizes=(8,),
        dropout=0.0,
        threshold=0.5,
    )


def test_recalibration_reads_a_shifted_plant_as_the_reference(drift_loop) -> None:
    rng = np.random.default_rng(3)
    columns = ["temperature_mean", "vibration_std", "pressure_mean"]
    reference = rng.normal([60.0, 0.4, 5.0], [3.0, 0.1, 0.2], size=(500, 3))
    model = _Served(_predictor(columns, reference))
    # the plant after the change: +6 °C on temperature, vibration noise ×1.5 about its mean
    current = reference.copy()
    current[:, 0] += 6.0
    current[:, 1] = (current[:, 1] - current[:, 1].mean()) * 1.5 + current[:, 1].mean() * 1.2
    ref_frame = pl.DataFrame(reference, schema=columns, orient="row")
    now_frame = pl.DataFrame(current, schema=columns, orient="row")

    served = drift_loop.recalibrated(model, ref_frame, now_frame, columns[:2])

    before = model.predictor.predict_proba(ref_frame)
    unadapted = model.predictor.predict_proba(now_frame)
    assert np.abs(unadapted - before).max() > 0.01  # the change matters to the old model
    np.testing.assert_allclose(served.predictor.predict_proba(now_frame), before, atol=1e-5)
    old, new = model.predictor.normalizer, served.predictor.normalizer
    assert new.mean[2] == old.mean[2] and new.scale[2] == old.scale[2]  # not flagged: untouched
    assert new.scale[1] == pytest.approx(old.scale[1] * 1.5)
    assert served.predictor.state_dict is model.predictor.state_dict  # weights unchanged


def test_longest_drifted_streak(drift_loop) -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    hours = [t0 + timedelta(hours=h) for h in (1, 2, 3, 7, 9, 10)]
    assert drift_loop.longest_streak(hours) == 3
    assert drift_loop.longest_streak(hours[3:4]) == 1
    assert drift_loop.longest_streak([]) == 0


def test_neu_bench_overrides_reach_the_detector(tmp_path: Path, monkeypatch) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        from neu_det import experiment_file
    finally:
        sys.path.remove(str(BENCH))
    from mfg_assets.models.config import load_experiment
    from mfg_assets.models.defect.training import DetectorSettings

    monkeypatch.setenv("MFG_EXPERIMENTS_DIR", str(tmp_path))
    sets = ["training.optimizer.name=SGD", "training.optimizer.lr=0.01", "data.image_size=224"]
    path, _ = experiment_file(tmp_path, None, None, None, 20, sets)
    args = DetectorSettings.from_config(load_experiment(str(path))).train_args()
    assert (args["optimizer"], args["lr0"], args["imgsz"]) == ("SGD", 0.01, 224)
    assert args["time"] == pytest.approx(20 / 60)
    with pytest.raises(SystemExit, match="dotted.key=value"):
        experiment_file(tmp_path, None, None, None, None, ["training.epochs"])
