from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mfg_assets.models.config import (
    EXPERIMENTS_DIR,
    ExperimentConfigError,
    apply_overrides,
    available_experiments,
    flatten_config,
    load_experiment,
    parse_config,
)

DEFAULT_FILE = EXPERIMENTS_DIR / "maintenance_default.yaml"


def raw_default() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_FILE.read_text())


def with_value(raw: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    *parents, leaf = dotted.split(".")
    node = raw
    for key in parents:
        node = node[key]
    node[leaf] = value
    return raw


def test_ships_default_and_wide_experiments() -> None:
    assert {"maintenance_default", "maintenance_wide"} <= set(available_experiments())


@pytest.mark.parametrize("name", available_experiments())
def test_every_shipped_experiment_validates(name: str) -> None:
    assert load_experiment(name).experiment.name == name


@pytest.mark.parametrize("name", ["maintenance_default", "maintenance_wide"])
def test_maintenance_experiments(name: str) -> None:
    config = load_experiment(name)
    assert config.model.kind == "maintenance"
    assert config.model.classes == ["no_failure", "failure"]
    assert config.training.optimizer.name == "AdamW"
    assert config.training.scheduler.name == "CosineAnnealingLR"


def test_wide_is_a_larger_mlp() -> None:
    default, wide = load_experiment("maintenance_default"), load_experiment("maintenance_wide")
    assert sum(wide.model.hidden_sizes) > sum(default.model.hidden_sizes)


def test_load_by_name_with_suffix_or_by_path() -> None:
    by_path = load_experiment(DEFAULT_FILE)
    assert load_experiment("maintenance_default.yaml") == by_path
    assert load_experiment(str(DEFAULT_FILE)) == by_path


BAD_VALUES = [
    ("training.batch_size", 0, "training.batch_size must be > 0 (got 0)"),
    ("training.batch_size", -8, "training.batch_size must be > 0 (got -8)"),
    ("training.epochs", 0, "training.epochs must be > 0 (got 0)"),
    ("training.optimizer.name", "RMSprop", "training.optimizer.name must be one of"),
    ("training.optimizer.lr", 0, "training.optimizer.lr must be > 0"),
    ("training.optimizer.weight_decay", -0.1, "training.optimizer.weight_decay must be >= 0"),
    ("training.optimizer.momentum", 0.9, "training.optimizer.momentum is only used by SGD"),
    ("training.scheduler.name", "StepLR", "training.scheduler.name must be one of"),
    ("training.scheduler.T_max", 0, "training.scheduler.T_max must be > 0 (got 0)"),
    ("training.scheduler.eta_min", 0.5, "training.scheduler.eta_min must be in"),
    ("training.early_stopping.patience", -1, "training.early_stopping.patience must be >= 0"),
    ("training.early_stopping.min_delta", -0.1, "training.early_stopping.min_delta must be >= 0"),
    ("training.checkpoint.save_frequency", -1, "training.checkpoint.save_frequency must be >= 0"),
    ("training.device", "tpu", "training.device must be cpu, auto, cuda or cuda:N"),
    ("training.num_threads", 0, "training.num_threads must be > 0"),
    ("model.num_classes", 3, "model.classes has 2 names but model.num_classes is 3"),
    ("model.classes", ["no_failure", "failure", "x"], "model.classes has 3 names"),
    ("model.classes", ["ok", "broken"], "model.classes must be ['no_failure', 'failure']"),
    ("model.architecture", "cnn", "model.architecture must be one of ['mlp']"),
    ("model.hidden_sizes", [], "model.hidden_sizes must be a non-empty list"),
    ("model.hidden_sizes", [64, 0], "model.hidden_sizes must be a non-empty list"),
    ("model.dropout", 1.0, "model.dropout must be in [0, 1)"),
    ("model.init_weights", "/nonexistent/weights.pt", "model.init_weights /nonexistent"),
    ("model.kind", "robot", "model.kind: input should be"),
    ("data.horizon_hours", 0, "data.horizon_hours must be > 0"),
    ("data.window_days", 0, "data.window_days must be > 0"),
    ("data.validation_fraction", 0.0, "data.validation_fraction must be in (0, 1)"),
    ("data.test_fraction", 0.9, "data.validation_fraction + data.test_fraction must be < 1"),
    ("data.image_size", 0, "data.image_size must be > 0 (got 0)"),
    ("data.feature_columns", [], "data.feature_columns must not be empty"),
    ("data.feature_columns", ["a", "b", "a"], "data.feature_columns has duplicates ['a']"),
    ("experiment.name", " ", "experiment.name must not be empty"),
    ("promotion.metric", "accuracy", "promotion.metric must be one of"),
    ("promotion.threshold", 1.5, "promotion.threshold must be in [0, 1]"),
    ("promotion.champion_margin", -0.1, "promotion.champion_margin must be in [0, 1)"),
    ("logging.log_every", 0, "logging.log_every must be > 0"),
    ("logging.experiment_name", "", "logging.experiment_name must not be empty"),
    ("training.batch_size", "many", "training.batch_size: input should be a valid integer"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_every_rule_rejects_a_bad_value(path: str, value: Any, message: str) -> None:
    with pytest.raises(ExperimentConfigError) as caught:
        parse_config(with_value(raw_default(), path, value))
    assert message in str(caught.value)
    assert any(error.startswith(path.split(".")[0]) for error in caught.value.errors)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("training.optimizer.lrr", 0.1),
        ("training.batchsize", 32),
        ("model.hidden_size", [8]),
        ("trainig", {}),
        ("experiment.owner", "me"),
    ],
)
def test_unknown_keys_are_errors(path: str, value: Any) -> None:
    with pytest.raises(ExperimentConfigError, match=rf"{path} is not a known key"):
        parse_config(with_value(raw_default(), path, value))


def test_missing_required_field_is_named() -> None:
    raw = raw_default()
    del raw["training"]["epochs"]
    with pytest.raises(ExperimentConfigError, match=r"training\.epochs is required"):
        parse_config(raw)


def test_all_problems_are_reported_together() -> None:
    raw = with_value(with_value(raw_default(), "training.batch_size", 0), "training.epochs", 0)
    with pytest.raises(ExperimentConfigError) as caught:
        parse_config(raw)
    assert len(caught.value.errors) == 2


def test_relative_init_weights_resolve_against_the_yaml_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MFG_EXPERIMENTS_DIR", str(tmp_path))
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "warm.pt").write_bytes(b"")
    config_file = tmp_path / "exp.yaml"
    config_file.write_text(
        yaml.safe_dump(with_value(raw_default(), "model.init_weights", "weights/warm.pt"))
    )
    config = load_experiment(config_file)
    assert config.model.init_weights == tmp_path / "weights" / "warm.pt"
    missing = config_file.with_name("other.yaml")
    missing.write_text(yaml.safe_dump(with_value(raw_default(), "model.init_weights", "nope.pt")))
    with pytest.raises(ExperimentConfigError, match="model.init_weights .*nope.pt not found"):
        load_experiment(missing)


def test_unreadable_or_unknown_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MFG_EXPERIMENTS_DIR", str(tmp_path))
    with pytest.raises(ExperimentConfigError, match="no experiment file"):
        load_experiment("does_not_exist")
    broken = tmp_path / "broken.yaml"
    broken.write_text("training: [unclosed")
    with pytest.raises(ExperimentConfigError, match="not valid YAML"):
        load_experiment(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ExperimentConfigError, match="mapping of sections"):
        load_experiment(listing)


def test_overrides_are_validated(default_config) -> None:
    assert apply_overrides(default_config, {"training.epochs": 3}).training.epochs == 3
    with pytest.raises(ExperimentConfigError, match="training.batch_size must be > 0"):
        apply_overrides(default_config, {"training.batch_size": 0})
    with pytest.raises(ExperimentConfigError, match="training.optimiser.lr: unknown section"):
        apply_overrides(default_config, {"training.optimiser.lr": 0.1})


def test_flattened_config_for_mlflow_params(default_config) -> None:
    flat = flatten_config(default_config)
    assert flat["training.optimizer.lr"] == "0.001"
    assert flat["model.hidden_sizes"] == "[64, 32]"
    assert flat["model.init_weights"] == "null"


def test_importing_model_modules_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, mfg_assets.models.config, mfg_assets.models.registry, "
        "mfg_assets.models.cli, mfg_assets.models.tracking, "
        "mfg_assets.models.maintenance.training, mfg_assets.models.maintenance.evaluation, "
        "mfg_assets.models.maintenance.packaging\n"
        "heavy = [m for m in ('torch', 'mlflow', 'sklearn', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
