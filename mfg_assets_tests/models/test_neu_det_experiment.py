"""The shipped NEU-DET experiment: its classes are the neu_det plant's, it trains to a time
budget (Ultralytics' time mode), and the defect assets pick it when the NEU plant is active."""

from __future__ import annotations

import pytest
import yaml

from mfg_assets.models.config import (
    ExperimentConfigError,
    experiment_path,
    load_experiment,
    parse_config,
)
from mfg_assets.models.defect.training import DetectorSettings

NEU = ["crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches"]


def test_neu_experiment_has_the_neu_plant_classes_and_a_time_budget() -> None:
    config = load_experiment("defect_neu_det")
    assert config.model.plant == "neu_det" and config.model.classes == NEU
    settings = DetectorSettings.from_config(config)
    assert settings.detector_classes == tuple(NEU)
    assert settings.train_args()["time"] == pytest.approx(28 / 60)
    assert (
        "time" not in DetectorSettings.from_config(load_experiment("defect_default")).train_args()
    )


def test_defect_classes_must_be_their_plants() -> None:
    raw = yaml.safe_load(experiment_path("defect_neu_det").read_text())
    raw["model"]["plant"] = "simulator"
    with pytest.raises(ExperimentConfigError, match="classes must be"):
        parse_config(raw)
    raw["model"]["plant"] = "azure_pdm"
    with pytest.raises(ExperimentConfigError, match="has no inspections"):
        parse_config(raw)


@pytest.mark.parametrize(
    ("key", "value"), [("time_budget_minutes", 5), ("ema_epochs", 5), ("precision", "bf16")]
)
def test_detector_training_keys_are_for_the_detector_only(key: str, value: object) -> None:
    raw = yaml.safe_load(experiment_path("maintenance_default").read_text())
    raw["training"][key] = value
    with pytest.raises(ExperimentConfigError, match=f"{key} is only used"):
        parse_config(raw)


def test_ema_horizon_comes_from_the_experiment_or_defaults_to_two_epochs() -> None:
    raw = yaml.safe_load(experiment_path("defect_neu_det").read_text())
    raw["training"].pop("ema_epochs", None)
    assert DetectorSettings.from_config(parse_config(raw)).ema_epochs == 2.0
    raw["training"]["ema_epochs"] = 6
    assert DetectorSettings.from_config(parse_config(raw)).ema_epochs == 6.0
    assert DetectorSettings.from_config(raw).ema_epochs == 6.0


def test_defect_assets_default_to_the_active_plants_experiment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mfg_assets.defs.defect import default_experiment

    monkeypatch.setenv("MFG_PLANT", "neu_det")
    assert default_experiment() == "defect_neu_det"
    monkeypatch.setenv("MFG_PLANT", "simulator")
    assert default_experiment() == "defect_default"


def test_precision_is_fp32_or_bf16_and_bf16_trains_with_ultralytics_bf16_amp() -> None:
    raw = yaml.safe_load(experiment_path("defect_neu_det").read_text())
    raw["training"]["precision"] = "fp32"
    assert DetectorSettings.from_config(parse_config(raw)).train_args()["amp"] is False
    raw["training"]["precision"] = "bf16"
    assert DetectorSettings.from_config(parse_config(raw)).train_args()["amp"] == "bf16"
    raw["training"]["precision"] = "fp16"  # would run Ultralytics' AMP check: a download
    with pytest.raises(ExperimentConfigError, match="precision must be one of"):
        parse_config(raw)
