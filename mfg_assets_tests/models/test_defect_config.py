"""Defect-detector experiment rules: image size, augmentation, dataset caps, architecture."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from mfg_assets.models.config import (
    EXPERIMENTS_DIR,
    ExperimentConfigError,
    load_experiment,
    parse_config,
)
from mfg_assets.models.defect.training import DEFAULT_AUGMENTATION, DetectorSettings
from mfg_assets_tests.models.test_config import with_value


def raw(name: str = "defect_default") -> dict[str, Any]:
    return yaml.safe_load((EXPERIMENTS_DIR / f"{name}.yaml").read_text())


@pytest.mark.parametrize("name", ["defect_default", "defect_gpu"])
def test_shipped_defect_experiments(name: str) -> None:
    config = load_experiment(name)
    assert config.model.kind == "defect"
    assert config.model.classes == ["scratch", "dent", "crack", "contamination", "normal"]
    assert config.data.image_size and config.data.image_size % 32 == 0
    assert config.promotion.metric == "map50"
    assert config.logging.experiment_name == "defect_detection"


def test_default_augmentation_is_what_the_measured_run_used() -> None:
    """defect_default's data section reproduces the settings the README numbers were taken
    with (imgsz 192, Ultralytics augmentation = DEFAULT_AUGMENTATION + default fliplr)."""
    settings = DetectorSettings.from_config(load_experiment("defect_default"))
    assert settings.imgsz == 192
    assert settings.augmentation == {**DEFAULT_AUGMENTATION, "fliplr": 0.5}
    gpu = DetectorSettings.from_config(load_experiment("defect_gpu"))
    assert gpu.imgsz == 320 and gpu.augmentation["degrees"] == 10.0
    assert gpu.augmentation["hsv_v"] == pytest.approx(0.2)


GOOD_VALUES = [
    ("data.image_size", 320),
    ("data.image_size", None),
    ("data.max_images", None),
    ("data.max_normal_fraction", None),
    ("data.augmentation", None),
    ("data.augmentation", {}),
    ("data.augmentation", {"rotation_range": 15, "brightness_range": [0.7, 1.3]}),
    ("data.augmentation", {"mosaic": 0.0, "mixup": 0.1, "fliplr": 0.0}),
    ("data.augmentation", {"close_mosaic": 0}),
    ("model.architecture", "yolo11n"),
    ("model.architecture", "custom/yolov8-tiny.yaml"),
]


@pytest.mark.parametrize(("path", "value"), GOOD_VALUES, ids=[f"{p}={v}" for p, v in GOOD_VALUES])
def test_valid_defect_values(path: str, value: Any) -> None:
    parse_config(with_value(raw(), path, value))


BAD_VALUES = [
    ("data.image_size", 100, "data.image_size must be a multiple of 32 in [32, 1280]"),
    ("data.image_size", 2048, "data.image_size must be a multiple of 32 in [32, 1280]"),
    ("data.image_size", 0, "data.image_size must be > 0"),
    ("data.max_images", 2, "data.max_images must be >= 3 (got 2)"),
    ("data.max_normal_fraction", 1.0, "data.max_normal_fraction must be in [0, 1)"),
    ("data.augmentation", {"flip": True}, "data.augmentation.flip is not a known augmentation"),
    ("data.augmentation", {"horizontal_flip": 0.5}, "horizontal_flip must be true or false"),
    ("data.augmentation", {"rotation_range": 270}, "rotation_range must be degrees in [0, 180]"),
    ("data.augmentation", {"brightness_range": [1.2, 0.8]}, "must satisfy 0 < low <= 1 <= high"),
    ("data.augmentation", {"brightness_range": 0.2}, "brightness_range must be [low, high]"),
    ("data.augmentation", {"hsv_s": 3}, "data.augmentation.hsv_s must be a number in [0, 1]"),
    ("data.augmentation", {"mosaic": "yes"}, "data.augmentation.mosaic must be a number"),
    ("data.augmentation", {"close_mosaic": -1}, "data.augmentation.close_mosaic must be >= 0"),
    ("data.augmentation", {"close_mosaic": 2.5}, "close_mosaic: input should be a valid integer"),
    ("model.architecture", "resnet50", "model.architecture must be an Ultralytics YOLO name"),
    ("model.architecture", "yolov8n.pt", "is a weights file: put it in model.init_weights"),
    ("model.classes", ["scratch", "dent", "crack", "rust", "normal"], "model.classes must be"),
    ("model.num_classes", 4, "model.classes has 5 names but model.num_classes is 4"),
    ("model.hidden_sizes", [8], "model.hidden_sizes is only used by the maintenance MLP"),
    ("training.early_stopping.min_delta", 0.01, "min_delta is not supported by Ultralytics"),
    ("promotion.metric", "roc_auc", "promotion.metric must be one of ['map50'"),
]


@pytest.mark.parametrize(
    ("path", "value", "message"), BAD_VALUES, ids=[f"{b[0]}={b[1]}" for b in BAD_VALUES]
)
def test_defect_rules_reject_bad_values(path: str, value: Any, message: str) -> None:
    with pytest.raises(ExperimentConfigError) as caught:
        parse_config(with_value(raw(), path, value))
    assert message in str(caught.value)


def test_close_mosaic_reaches_ultralytics_as_an_epoch_count() -> None:
    """Unset: the last min(5, epochs // 4) epochs without mosaic; set: exactly that many."""
    config = raw()
    assert DetectorSettings.from_config(config).train_args()["close_mosaic"] == 5
    config["data"]["augmentation"] = {"close_mosaic": 0}
    args = DetectorSettings.from_config(parse_config(config)).train_args()
    assert args["close_mosaic"] == 0 and isinstance(args["close_mosaic"], int)


@pytest.mark.parametrize(
    ("path", "value"),
    [("data.image_size", 192), ("data.augmentation", {"fliplr": 0.5}), ("data.max_images", 10)],
)
def test_image_settings_are_rejected_for_the_maintenance_model(path: str, value: Any) -> None:
    maintenance = yaml.safe_load((EXPERIMENTS_DIR / "maintenance_default.yaml").read_text())
    with pytest.raises(ExperimentConfigError, match="only used by image"):
        parse_config(with_value(maintenance, path, value))
