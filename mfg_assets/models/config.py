"""Experiment configuration shared by every model: YAML file → validated, typed, frozen structure.

The shape follows the plant's experiment files (experiment / data / model / training sections),
plus ``promotion`` (the registry gate) and ``logging`` (MLflow). Sections that do not depend on
the model are generic; ``model.kind`` selects the kind-specific rules (classes, architecture,
promotion metric). Every problem found is reported at once in one :class:`ExperimentConfigError`
whose message names the field path, e.g. ``training.batch_size must be > 0 (got 0)``.

Relative paths (``model.init_weights``) are resolved against the YAML file's folder; ``~`` and
``$VARS`` are expanded first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from mfg_assets.plant.catalog import DEFECT_TYPES

EXPERIMENTS_DIR = Path(__file__).parent / "experiments"
OPTIMIZERS: tuple[str, ...] = ("AdamW", "Adam", "SGD")
SCHEDULERS: tuple[str, ...] = ("CosineAnnealingLR", "none")
EXPECTED_CLASSES: dict[str, tuple[str, ...]] = {
    "maintenance": ("no_failure", "failure"),
    "defect": DEFECT_TYPES,
}
ARCHITECTURES: dict[str, tuple[str, ...]] = {"maintenance": ("mlp",)}
PROMOTION_METRICS: dict[str, tuple[str, ...]] = {
    "maintenance": ("roc_auc", "pr_auc", "f1", "precision", "recall"),
    "defect": ("map50", "map50_95", "precision", "recall"),
}
# Defect detector: YOLO input sizes are multiples of the network's largest stride.
YOLO_STRIDE = 32
IMAGE_SIZE_RANGE = (32, 1280)
# data.augmentation keys: the seed's names (validated by shape) and Ultralytics' own
# hyperparameter names (value in the given closed range).
SEED_AUGMENTATIONS: tuple[str, ...] = (
    "horizontal_flip",
    "vertical_flip",
    "rotation_range",
    "brightness_range",
)
ULTRALYTICS_AUGMENTATIONS: dict[str, tuple[float, float]] = {
    "hsv_h": (0.0, 1.0),
    "hsv_s": (0.0, 1.0),
    "hsv_v": (0.0, 1.0),
    "degrees": (0.0, 180.0),
    "translate": (0.0, 1.0),
    "scale": (0.0, 1.0),
    "shear": (0.0, 180.0),
    "perspective": (0.0, 0.001),
    "flipud": (0.0, 1.0),
    "fliplr": (0.0, 1.0),
    "mosaic": (0.0, 1.0),
    "mixup": (0.0, 1.0),
    "cutmix": (0.0, 1.0),
    "copy_paste": (0.0, 1.0),
    "erasing": (0.0, 0.9),
}
_DEVICE = re.compile(r"^(cpu|auto|cuda(:\d+)?)$")


class ExperimentConfigError(ValueError):
    """A config that cannot be trained from; ``errors`` lists one message per bad field."""

    def __init__(self, errors: list[str], source: str | Path | None = None) -> None:
        self.errors = errors
        where = f" in {source}" if source else ""
        super().__init__(f"invalid experiment config{where}: " + "; ".join(errors))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExperimentInfo(_Section):
    name: str
    description: str = ""
    tags: list[str] = []


class DataConfig(_Section):
    """Columns of the training frame and how the training-set builder windows and splits it."""

    label_column: str = "failure_within_h"
    split_column: str = "split"
    feature_columns: list[str] | None = None  # None: mfg_assets.features.schema.feature_columns()
    horizon_hours: int = 24  # label: failure within this many hours after the feature row
    window_days: int = 14  # training window ending at the model's partition day
    validation_fraction: float = 0.15  # time-ordered: train, then validation, then test
    test_fraction: float = 0.15
    # image models (defect detector) only:
    image_size: int | None = None  # square network input in pixels (default 192)
    augmentation: dict[str, Any] | None = None  # see ULTRALYTICS/SEED_AUGMENTATIONS
    max_images: int | None = None  # cap on the dataset size (each split keeps its share)
    max_normal_fraction: float | None = 0.2  # cap on background (normal) images per split


class ModelConfig(_Section):
    kind: Literal["maintenance", "defect"]
    architecture: str
    num_classes: int
    classes: list[str]
    init_weights: Path | None = None  # warm start from a local weights/checkpoint file
    hidden_sizes: list[int] | None = None  # maintenance MLP
    dropout: float = 0.0


class OptimizerConfig(_Section):
    name: str = "AdamW"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.0  # SGD only


class SchedulerConfig(_Section):
    name: str = "CosineAnnealingLR"
    T_max: int | None = None  # None: training.epochs
    eta_min: float = 0.0


class EarlyStoppingConfig(_Section):
    patience: int = 10  # epochs without improvement tolerated before stopping
    min_delta: float = 0.0  # validation loss must drop by more than this to count


class CheckpointConfig(_Section):
    save_best: bool = True
    save_frequency: int = 0  # also save every N epochs; 0 = never


class TrainingConfig(_Section):
    epochs: int
    batch_size: int
    optimizer: OptimizerConfig = OptimizerConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    early_stopping: EarlyStoppingConfig = EarlyStoppingConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    seed: int = 42
    device: str = "cpu"  # cpu | auto | cuda | cuda:N
    num_threads: int = 1  # fixed for reproducible CPU arithmetic; 1 is fastest for small MLPs

    @property
    def t_max(self) -> int:
        """Cosine period in epochs."""
        return self.scheduler.T_max or self.epochs


class PromotionConfig(_Section):
    """Registry gate: ``metric`` (higher is better) ≥ ``threshold`` and ≥ champion + margin."""

    metric: str
    threshold: float
    champion_margin: float = 0.0


class LoggingConfig(_Section):
    experiment_name: str
    log_every: int = 1  # call the epoch callback every N epochs (and on the last one)


class ExperimentConfig(_Section):
    experiment: ExperimentInfo
    data: DataConfig = DataConfig()
    model: ModelConfig
    training: TrainingConfig
    promotion: PromotionConfig
    logging: LoggingConfig


def experiment_path(name_or_path: str | Path) -> Path:
    """A path as given if it exists, else ``experiments/<name>.yaml`` shipped with the package."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path.resolve()
    shipped = EXPERIMENTS_DIR / f"{Path(name_or_path).stem}.yaml"
    if shipped.is_file() and path.suffix in ("", ".yaml"):
        return shipped
    known = ", ".join(available_experiments())
    raise ExperimentConfigError([f"no experiment file {name_or_path!r} (shipped: {known})"])


def available_experiments() -> list[str]:
    """Names of the experiment files shipped in ``experiments/``."""
    return sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml"))


def load_experiment(name_or_path: str | Path) -> ExperimentConfig:
    """Load and validate an experiment by shipped name or by path."""
    path = experiment_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ExperimentConfigError([f"not valid YAML: {exc}"], path) from exc
    return parse_config(raw, base_dir=path.parent, source=path)


def parse_config(
    raw: Any, base_dir: Path | None = None, source: str | Path | None = None
) -> ExperimentConfig:
    """Build and validate a config from a plain mapping (e.g. parsed YAML)."""
    if not isinstance(raw, Mapping):
        raise ExperimentConfigError(["the file must hold a mapping of sections"], source)
    raw = _resolve_paths(raw, base_dir or Path.cwd())
    try:
        config = ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ExperimentConfigError([_describe(e) for e in exc.errors()], source) from None
    errors = config_errors(config)
    if errors:
        raise ExperimentConfigError(errors, source)
    return config


def apply_overrides(config: ExperimentConfig, overrides: Mapping[str, Any]) -> ExperimentConfig:
    """A re-validated copy with dotted-path overrides, e.g. ``{"training.epochs": 5}``."""
    raw = config.model_dump(mode="json")
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = raw
        for key in parents:
            if not isinstance(node.get(key), dict):
                raise ExperimentConfigError([f"{dotted}: unknown section {key!r}"])
            node = node[key]
        node[leaf] = value
    return parse_config(raw)


def flatten_config(config: ExperimentConfig) -> dict[str, str]:
    """Dotted keys → string values, e.g. for MLflow params."""
    flat: dict[str, str] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else key, value)
        else:
            flat[prefix] = "null" if node is None else str(node)

    walk("", config.model_dump(mode="json"))
    return flat


def dump_config(config: ExperimentConfig) -> str:
    """The config as YAML text (paths resolved)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def config_errors(config: ExperimentConfig) -> list[str]:
    """Every semantic rule the typed structure cannot express; empty when trainable."""
    errors: list[str] = []

    def check(ok: bool, message: str) -> None:
        if not ok:
            errors.append(message)

    data, model, training, promotion = config.data, config.model, config.training, config.promotion
    opt, sched, stop = training.optimizer, training.scheduler, training.early_stopping

    check(bool(config.experiment.name.strip()), "experiment.name must not be empty")
    check(data.horizon_hours > 0, f"data.horizon_hours must be > 0 (got {data.horizon_hours})")
    check(data.window_days > 0, f"data.window_days must be > 0 (got {data.window_days})")
    for field in ("validation_fraction", "test_fraction"):
        value = getattr(data, field)
        check(0 < value < 1, f"data.{field} must be in (0, 1) (got {value})")
    check(
        data.validation_fraction + data.test_fraction < 1,
        "data.validation_fraction + data.test_fraction must be < 1 "
        f"(got {data.validation_fraction + data.test_fraction:g})",
    )
    if data.image_size is not None:
        check(data.image_size > 0, f"data.image_size must be > 0 (got {data.image_size})")
    if data.feature_columns is not None:
        check(bool(data.feature_columns), "data.feature_columns must not be empty (or null)")
        dupes = sorted({c for c in data.feature_columns if data.feature_columns.count(c) > 1})
        check(not dupes, f"data.feature_columns has duplicates {dupes}")

    check(model.num_classes > 0, f"model.num_classes must be > 0 (got {model.num_classes})")
    check(
        len(model.classes) == model.num_classes,
        f"model.classes has {len(model.classes)} names but model.num_classes is "
        f"{model.num_classes}",
    )
    expected = EXPECTED_CLASSES.get(model.kind)
    if expected is not None:
        check(
            tuple(model.classes) == expected,
            f"model.classes must be {list(expected)} for a {model.kind} model "
            f"(got {model.classes})",
        )
    architectures = ARCHITECTURES.get(model.kind)
    if architectures is not None:
        check(
            model.architecture in architectures,
            f"model.architecture must be one of {list(architectures)} for a {model.kind} "
            f"model (got {model.architecture!r})",
        )
    if model.init_weights is not None:
        check(model.init_weights.is_file(), f"model.init_weights {model.init_weights} not found")
    if model.kind == "maintenance":
        sizes = model.hidden_sizes
        check(
            bool(sizes) and all(s > 0 for s in sizes or []),
            f"model.hidden_sizes must be a non-empty list of positive ints (got {sizes})",
        )
    check(0 <= model.dropout < 1, f"model.dropout must be in [0, 1) (got {model.dropout})")

    check(training.epochs > 0, f"training.epochs must be > 0 (got {training.epochs})")
    check(training.batch_size > 0, f"training.batch_size must be > 0 (got {training.batch_size})")
    check(
        _DEVICE.match(training.device) is not None,
        f"training.device must be cpu, auto, cuda or cuda:N (got {training.device!r})",
    )
    check(
        training.num_threads > 0, f"training.num_threads must be > 0 (got {training.num_threads})"
    )
    check(
        opt.name in OPTIMIZERS,
        f"training.optimizer.name must be one of {list(OPTIMIZERS)} (got {opt.name!r})",
    )
    check(opt.lr > 0, f"training.optimizer.lr must be > 0 (got {opt.lr})")
    check(
        opt.weight_decay >= 0,
        f"training.optimizer.weight_decay must be >= 0 (got {opt.weight_decay})",
    )
    check(
        0 <= opt.momentum < 1, f"training.optimizer.momentum must be in [0, 1) (got {opt.momentum})"
    )
    check(
        opt.momentum == 0 or opt.name == "SGD",
        f"training.optimizer.momentum is only used by SGD (got {opt.momentum} for {opt.name})",
    )
    check(
        sched.name in SCHEDULERS,
        f"training.scheduler.name must be one of {list(SCHEDULERS)} (got {sched.name!r})",
    )
    if sched.name == "CosineAnnealingLR":
        check(
            sched.T_max is None or sched.T_max > 0,
            f"training.scheduler.T_max must be > 0 (got {sched.T_max})",
        )
        check(
            0 <= sched.eta_min <= opt.lr,
            f"training.scheduler.eta_min must be in [0, optimizer.lr] (got {sched.eta_min})",
        )
    check(
        stop.patience >= 0, f"training.early_stopping.patience must be >= 0 (got {stop.patience})"
    )
    check(
        stop.min_delta >= 0,
        f"training.early_stopping.min_delta must be >= 0 (got {stop.min_delta})",
    )
    freq = training.checkpoint.save_frequency
    check(freq >= 0, f"training.checkpoint.save_frequency must be >= 0 (got {freq})")

    metrics = PROMOTION_METRICS.get(model.kind)
    if metrics is not None:
        check(
            promotion.metric in metrics,
            f"promotion.metric must be one of {list(metrics)} for a {model.kind} model "
            f"(got {promotion.metric!r})",
        )
    check(
        0 <= promotion.threshold <= 1,
        f"promotion.threshold must be in [0, 1] (got {promotion.threshold})",
    )
    check(
        0 <= promotion.champion_margin < 1,
        f"promotion.champion_margin must be in [0, 1) (got {promotion.champion_margin})",
    )
    if model.kind == "defect":
        errors.extend(_defect_errors(config))
    else:
        for field in ("image_size", "augmentation", "max_images"):
            check(
                getattr(data, field) is None,
                f"data.{field} is only used by image (defect) models: remove it",
            )
    check(bool(config.logging.experiment_name.strip()), "logging.experiment_name must not be empty")
    check(
        config.logging.log_every > 0,
        f"logging.log_every must be > 0 (got {config.logging.log_every})",
    )
    return errors


def _defect_errors(config: ExperimentConfig) -> list[str]:
    """Rules of the defect detector (Ultralytics YOLO)."""
    errors: list[str] = []
    data, model, training = config.data, config.model, config.training
    size = data.image_size
    lo, hi = IMAGE_SIZE_RANGE
    if size is not None and size > 0 and (size % YOLO_STRIDE or not lo <= size <= hi):
        errors.append(
            f"data.image_size must be a multiple of {YOLO_STRIDE} in [{lo}, {hi}] for a YOLO "
            f"detector (got {size})"
        )
    if data.max_images is not None and data.max_images < 3:
        errors.append(f"data.max_images must be >= 3 (got {data.max_images})")
    fraction = data.max_normal_fraction
    if fraction is not None and not 0 <= fraction < 1:
        errors.append(f"data.max_normal_fraction must be in [0, 1) or null (got {fraction})")
    errors.extend(augmentation_errors(data.augmentation or {}))
    arch = model.architecture
    if arch.endswith(".pt"):
        errors.append(
            f"model.architecture {arch!r} is a weights file: put it in model.init_weights and "
            "name the architecture (e.g. yolov8n)"
        )
    elif not re.fullmatch(r"(yolo[\w.-]*|.+\.ya?ml)", arch):
        errors.append(
            "model.architecture must be an Ultralytics YOLO name (yolov8n, yolo11n, "
            f"yolov8-pico, ...) or a model yaml path (got {arch!r})"
        )
    if model.init_weights is not None and model.init_weights.suffix != ".pt":
        errors.append(f"model.init_weights must be a .pt file (got {model.init_weights})")
    if training.early_stopping.min_delta != 0:
        errors.append(
            "training.early_stopping.min_delta is not supported by Ultralytics: set 0 "
            f"(got {training.early_stopping.min_delta})"
        )
    if model.hidden_sizes is not None:
        errors.append("model.hidden_sizes is only used by the maintenance MLP: remove it")
    return errors


def augmentation_errors(spec: Mapping[str, Any]) -> list[str]:
    """Problems with a ``data.augmentation`` mapping (empty when valid)."""
    errors: list[str] = []
    for key, value in spec.items():
        where = f"data.augmentation.{key}"
        if key in ("horizontal_flip", "vertical_flip"):
            if not isinstance(value, bool):
                errors.append(f"{where} must be true or false (got {value!r})")
        elif key == "rotation_range":
            if not _number(value) or not 0 <= value <= 180:
                errors.append(f"{where} must be degrees in [0, 180] (got {value!r})")
        elif key == "brightness_range":
            pair = list(value) if isinstance(value, list | tuple) else []
            if len(pair) != 2 or not all(_number(v) for v in pair):
                errors.append(
                    f"{where} must be [low, high] factors, e.g. [0.8, 1.2] (got {value!r})"
                )
            elif not 0 < pair[0] <= 1 <= pair[1] <= 2:
                errors.append(f"{where} must satisfy 0 < low <= 1 <= high <= 2 (got {value!r})")
        elif key in ULTRALYTICS_AUGMENTATIONS:
            lo, hi = ULTRALYTICS_AUGMENTATIONS[key]
            if not _number(value) or not lo <= value <= hi:
                errors.append(f"{where} must be a number in [{lo:g}, {hi:g}] (got {value!r})")
        else:
            known = [*SEED_AUGMENTATIONS, *ULTRALYTICS_AUGMENTATIONS]
            errors.append(f"{where} is not a known augmentation (known: {', '.join(known)})")
    return errors


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _resolve_paths(raw: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
    raw = dict(raw)
    model = raw.get("model")
    if isinstance(model, Mapping) and isinstance(model.get("init_weights"), str):
        path = Path(os.path.expandvars(model["init_weights"])).expanduser()
        raw["model"] = {**model, "init_weights": path if path.is_absolute() else base_dir / path}
    return raw


def _describe(error: Mapping[str, Any]) -> str:
    path = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{path} is not a known key (typo?)"
    if error["type"] == "missing":
        return f"{path} is required"
    return f"{path}: {error['msg'].lower()} (got {error['input']!r})"
