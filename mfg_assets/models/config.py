"""Experiment configuration shared by every model: YAML file → validated, typed, frozen structure.

The shape follows the plant's experiment files (experiment / data / model / training sections),
plus ``promotion`` (the registry gate) and ``logging`` (MLflow). The rules live on the sections:
field types carry ranges and choices, a section's validator carries the rules between its fields,
and ``model.kind`` selects the kind-specific ones (classes, architecture, promotion metric, image
settings). Every problem pydantic finds is reported at once in one :class:`ExperimentConfigError`
whose messages name the field path, e.g. ``training.batch_size must be > 0 (got 0)``.

Experiments come only from the shipped folder (``experiments/``) or the folder configured by
``MFG_EXPERIMENTS_DIR``: a name or a path inside one of them. Anything else (an absolute path
elsewhere, ``..``, a symlink leading out) is refused before it is read, and errors never quote
a file's lines. Relative paths inside a config (``model.init_weights``) are resolved against the
YAML file's folder; ``~`` and ``$VARS`` are expanded first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from mfg_assets.plant.catalog import DEFECT_TYPES
from mfg_assets.settings import get_settings

EXPERIMENTS_DIR = Path(__file__).parent / "experiments"
EXPERIMENT_SUFFIXES = (".yaml", ".yml")
OPTIMIZERS: tuple[str, ...] = ("AdamW", "Adam", "SGD")
SCHEDULERS: tuple[str, ...] = ("CosineAnnealingLR", "none")
EXPECTED_CLASSES: dict[str, tuple[str, ...]] = {
    "maintenance": ("no_failure", "failure"),
    "defect": DEFECT_TYPES,  # the simulator plant's; a defect model follows its plant's
}
ARCHITECTURES: dict[str, tuple[str, ...]] = {"maintenance": ("mlp",)}
PROMOTION_METRICS: dict[str, tuple[str, ...]] = {
    "maintenance": ("roc_auc", "pr_auc", "f1", "precision", "recall"),
    "defect": ("map50", "map50_95", "precision", "recall"),
}
# Defect detector: YOLO input sizes are multiples of the network's largest stride.
YOLO_STRIDE = 32
IMAGE_SIZE_RANGE = (32, 1280)
_DEVICE = re.compile(r"^(cpu|auto|cuda(:\d+)?)$")
_YOLO_ARCHITECTURE = re.compile(r"(yolo[\w.-]*|.+\.ya?ml)")


class ExperimentConfigError(ValueError):
    """A config that cannot be trained from; ``errors`` lists one message per bad field."""

    def __init__(self, errors: list[str], source: str | Path | None = None) -> None:
        self.errors = errors
        where = f" in {source}" if source else ""
        super().__init__(f"invalid experiment config{where}: " + "; ".join(errors))


# --- field types ------------------------------------------------------------------------------


def _rule(ok: Callable[[Any], bool], text: str) -> AfterValidator:
    """A field rule: a value failing ``ok`` is refused as ``<field> <text> (got <value>)``."""

    def check(value: Any) -> Any:
        if not ok(value):
            raise ValueError(f"{text} (got {value!r})")
        return value

    return AfterValidator(check)


def _one_of(options: tuple[str, ...]) -> AfterValidator:
    return _rule(lambda v: v in options, f"must be one of {list(options)}")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_in(lo: float, hi: float, text: str | None = None) -> BeforeValidator:
    """A raw YAML number in ``[lo, hi]`` (checked before coercion: ``"yes"`` or ``true`` fail)."""
    text = text or f"must be a number in [{lo:g}, {hi:g}]"

    def check(value: Any) -> Any:
        if value is not None and (not _number(value) or not lo <= value <= hi):
            raise ValueError(f"{text} (got {value!r})")
        return value

    return BeforeValidator(check)


def _no_duplicates(values: list[str]) -> list[str]:
    dupes = sorted({v for v in values if values.count(v) > 1})
    if dupes:
        raise ValueError(f"has duplicates {dupes}")
    return values


PositiveInt = Annotated[int, _rule(lambda v: v > 0, "must be > 0")]
PositiveFloat = Annotated[float, _rule(lambda v: v > 0, "must be > 0")]
NonNegativeInt = Annotated[int, _rule(lambda v: v >= 0, "must be >= 0")]
NonNegativeFloat = Annotated[float, _rule(lambda v: v >= 0, "must be >= 0")]
OpenFraction = Annotated[float, _rule(lambda v: 0 < v < 1, "must be in (0, 1)")]
Fraction = Annotated[float, _rule(lambda v: 0 <= v < 1, "must be in [0, 1)")]
Probability = Annotated[float, _rule(lambda v: 0 <= v <= 1, "must be in [0, 1]")]
NonBlank = Annotated[str, _rule(lambda v: bool(v.strip()), "must not be empty")]
ImageSize = Annotated[
    int,
    _rule(lambda v: v > 0, "must be > 0"),
    _rule(
        lambda v: v % YOLO_STRIDE == 0 and IMAGE_SIZE_RANGE[0] <= v <= IMAGE_SIZE_RANGE[1],
        f"must be a multiple of {YOLO_STRIDE} in [{IMAGE_SIZE_RANGE[0]}, {IMAGE_SIZE_RANGE[1]}] "
        "for a YOLO detector",
    ),
]
HiddenSizes = Annotated[
    list[int],
    _rule(
        lambda v: bool(v) and all(s > 0 for s in v),
        "must be a non-empty list of positive ints",
    ),
]
FeatureColumns = Annotated[
    list[str],
    _rule(bool, "must not be empty (or null)"),
    AfterValidator(_no_duplicates),
]
Unit = Annotated[float | int | None, _number_in(0.0, 1.0)]


class _Refused(ValueError):
    """A section's cross-field rules that failed, each ``"<field> <text>"`` relative to it."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _refuse(problems: list[str]) -> None:
    """Raise a section's cross-field problems, all together (none: nothing to do)."""
    if problems:
        raise _Refused(problems)


# --- sections ---------------------------------------------------------------------------------


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExperimentInfo(_Section):
    name: NonBlank
    description: str = ""
    tags: list[str] = []


def _flag(value: Any) -> Any:
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"must be true or false (got {value!r})")
    return value


def _brightness(value: Any) -> Any:
    if value is None:
        return None
    pair = list(value) if isinstance(value, list | tuple) else []
    if len(pair) != 2 or not all(_number(v) for v in pair):
        raise ValueError(f"must be [low, high] factors, e.g. [0.8, 1.2] (got {value!r})")
    if not 0 < pair[0] <= 1 <= pair[1] <= 2:
        raise ValueError(f"must satisfy 0 < low <= 1 <= high <= 2 (got {value!r})")
    return value


class Augmentation(_Section):
    """``data.augmentation`` (image models): the seed's names and Ultralytics' hyperparameters.

    Only the keys a config sets are kept (and dumped); training maps the seed's names onto
    Ultralytics' (``mfg_assets.models.defect.training.augmentation_args``).
    """

    horizontal_flip: Annotated[bool | None, BeforeValidator(_flag)] = None
    vertical_flip: Annotated[bool | None, BeforeValidator(_flag)] = None
    rotation_range: Annotated[
        float | int | None, _number_in(0.0, 180.0, "must be degrees in [0, 180]")
    ] = None
    brightness_range: Annotated[list[float | int] | None, BeforeValidator(_brightness)] = None
    hsv_h: Unit = None
    hsv_s: Unit = None
    hsv_v: Unit = None
    degrees: Annotated[float | int | None, _number_in(0.0, 180.0)] = None
    translate: Unit = None
    scale: Unit = None
    shear: Annotated[float | int | None, _number_in(0.0, 180.0)] = None
    perspective: Annotated[float | int | None, _number_in(0.0, 0.001)] = None
    flipud: Unit = None
    fliplr: Unit = None
    mosaic: Unit = None
    # epochs at the end trained without mosaic (default: min(5, a quarter of the epochs))
    close_mosaic: NonNegativeInt | None = None
    mixup: Unit = None
    cutmix: Unit = None
    copy_paste: Unit = None
    erasing: Annotated[float | int | None, _number_in(0.0, 0.9)] = None

    @model_serializer(mode="wrap")
    def _set_keys_only(self, handler: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if k in self.model_fields_set}


class DataConfig(_Section):
    """Columns of the training frame and how the training-set builder windows and splits it."""

    label_column: str = "failure_within_h"
    split_column: str = "split"
    # None: mfg_assets.features.schema.feature_columns()
    feature_columns: FeatureColumns | None = None
    horizon_hours: PositiveInt = 24  # label: failure within this many hours after the feature row
    window_days: PositiveInt = 14  # training window ending at the model's partition day
    validation_fraction: OpenFraction = 0.15  # time-ordered: train, then validation, then test
    test_fraction: OpenFraction = 0.15
    # image models (defect detector) only:
    image_size: ImageSize | None = None  # square network input in pixels (default 192)
    augmentation: Augmentation | None = None
    max_images: Annotated[int, _rule(lambda v: v >= 3, "must be >= 3")] | None = None  # cap
    max_normal_fraction: Fraction | None = 0.2  # cap on background (normal) images per split

    @model_validator(mode="after")
    def _leaves_training_rows(self) -> DataConfig:
        held_out = self.validation_fraction + self.test_fraction
        if held_out >= 1:
            _refuse([f"validation_fraction + data.test_fraction must be < 1 (got {held_out:g})"])
        return self


def _expected_classes(kind: str, plant: str | None) -> tuple[str, ...]:
    """A maintenance model's fixed classes; a defect model's are its plant's inspection
    classes (``model.plant``, or the active plant when unset)."""
    if kind != "defect":
        return EXPECTED_CLASSES[kind]
    from mfg_assets.plant.definition import DefinitionError
    from mfg_assets.plant.inspection_classes import plant_classes

    try:
        return plant_classes(plant).vocabulary
    except DefinitionError as exc:
        _refuse([f"model.plant: {exc}"])
        raise


class ModelConfig(_Section):
    kind: Literal["maintenance", "defect"]
    architecture: str
    num_classes: PositiveInt
    classes: list[str]
    init_weights: Path | None = None  # warm start from a local weights/checkpoint file
    plant: str | None = None  # defect: the shipped plant whose classes these are (unset: active)
    hidden_sizes: HiddenSizes | None = None  # maintenance MLP
    dropout: Fraction = 0.0

    @field_validator("init_weights")
    @classmethod
    def _weights_exist(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError(f"{path} not found")
        return path

    @model_validator(mode="after")
    def _fits_the_kind(self) -> ModelConfig:
        kind, arch, classes = self.kind, self.architecture, self.classes
        expected = list(_expected_classes(kind, self.plant))
        problems = []
        if len(classes) != self.num_classes:
            problems.append(
                f"classes has {len(classes)} names but model.num_classes is {self.num_classes}"
            )
        if classes != expected:
            problems.append(f"classes must be {expected} for a {kind} model (got {classes})")
        if kind == "maintenance":
            allowed = list(ARCHITECTURES[kind])
            if arch not in allowed:
                problems.append(
                    f"architecture must be one of {allowed} for a {kind} model (got {arch!r})"
                )
            if self.hidden_sizes is None:
                problems.append("hidden_sizes must be a non-empty list of positive ints (got None)")
        else:
            if arch.endswith(".pt"):
                problems.append(
                    f"architecture {arch!r} is a weights file: put it in "
                    "model.init_weights and name the architecture (e.g. yolov8n)"
                )
            elif not _YOLO_ARCHITECTURE.fullmatch(arch):
                problems.append(
                    "architecture must be an Ultralytics YOLO name (yolov8n, yolo11n, "
                    f"yolov8-pico, ...) or a model yaml path (got {arch!r})"
                )
            if self.init_weights is not None and self.init_weights.suffix != ".pt":
                problems.append(f"init_weights must be a .pt file (got {self.init_weights})")
            if self.hidden_sizes is not None:
                problems.append("hidden_sizes is only used by the maintenance MLP: remove it")
        _refuse(problems)
        return self


class OptimizerConfig(_Section):
    name: Annotated[str, _one_of(OPTIMIZERS)] = "AdamW"
    lr: PositiveFloat = 1e-3
    weight_decay: NonNegativeFloat = 0.0
    momentum: Fraction = 0.0  # SGD only

    @model_validator(mode="after")
    def _momentum_is_sgd_only(self) -> OptimizerConfig:
        if self.momentum != 0 and self.name != "SGD":
            _refuse([f"momentum is only used by SGD (got {self.momentum} for {self.name})"])
        return self


class SchedulerConfig(_Section):
    name: Annotated[str, _one_of(SCHEDULERS)] = "CosineAnnealingLR"
    T_max: PositiveInt | None = None  # None: training.epochs
    eta_min: NonNegativeFloat = 0.0


class EarlyStoppingConfig(_Section):
    patience: NonNegativeInt = 10  # epochs without improvement tolerated before stopping
    min_delta: NonNegativeFloat = 0.0  # validation loss must drop by more than this to count


class CheckpointConfig(_Section):
    save_best: bool = True
    save_frequency: NonNegativeInt = 0  # also save every N epochs; 0 = never


class TrainingConfig(_Section):
    epochs: PositiveInt
    batch_size: PositiveInt
    optimizer: OptimizerConfig = OptimizerConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    early_stopping: EarlyStoppingConfig = EarlyStoppingConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    seed: int = 42
    device: Annotated[
        str, _rule(lambda v: _DEVICE.match(v) is not None, "must be cpu, auto, cuda or cuda:N")
    ] = "cpu"
    num_threads: PositiveInt = 1  # fixed for reproducible CPU arithmetic; 1 is fastest for MLPs
    # defect detector only: stop after this many minutes of training, the epoch count and the
    # learning-rate schedule re-fitted to the budget after every epoch (Ultralytics' time mode)
    time_budget_minutes: PositiveFloat | None = None
    # defect detector only: average the weights over this many epochs of updates (default 2)
    ema_epochs: PositiveFloat | None = None
    # defect detector only: bf16 trains in bfloat16 autocast (weights stay float32); on a CPU
    # also in channels-last layout. Fast on CPUs with AMX / AVX512-BF16, slow without them.
    precision: Annotated[str, _one_of(("fp32", "bf16"))] | None = None

    @model_validator(mode="after")
    def _cosine_floor_below_lr(self) -> TrainingConfig:
        sched = self.scheduler
        if sched.name == "CosineAnnealingLR" and sched.eta_min > self.optimizer.lr:
            _refuse([f"scheduler.eta_min must be in [0, optimizer.lr] (got {sched.eta_min})"])
        return self

    @property
    def t_max(self) -> int:
        """Cosine period in epochs."""
        return self.scheduler.T_max or self.epochs


GATE_COMPARATORS = ("champion", "prior", "heuristic")  # the maintenance model's default
Comparator = Literal["champion", "prior", "heuristic", "reference"]
Baseline = Literal["prior", "heuristic", "reference"]


class PromotionConfig(_Section):
    """Registry gate: ``metric`` (higher is better) ≥ ``threshold`` and ≥ each comparator of
    ``must_beat`` + ``champion_margin``. For the maintenance model every comparison must also
    hold with confidence (a paired bootstrap interval over test machines excluding zero, on
    enough test machines: ``MFG_GATE_*`` settings). ``must_beat`` unset: champion, prior and
    the best single-feature heuristic for the maintenance model, the champion for the detector
    (which has no interval gate). ``reference`` (maintenance only, opt-in): gradient-boosted
    trees fitted on the same training frame's train rows and features, scored on the same test
    rows (:func:`mfg_assets.models.maintenance.gate.fit_reference`).

    ``first_champion_must_not_lose_to``: while there is no champion, the first model must still
    beat the other comparators, but these only need an interval that does not say it loses
    (upper end at or above zero): with nothing served, a model that ties the heuristic is
    better than no model; every later challenger must beat them all.

    ``must_not_lose_to``: baselines every challenger, first or later, is compared with but need
    only not lose to (interval's upper end at or above zero), also when ``must_beat`` does not
    name them: for a strong baseline (a reference that is already perfect on the test rows)
    that no model can beat with confidence."""

    metric: str
    threshold: Probability
    champion_margin: Fraction = 0.0
    must_beat: tuple[Comparator, ...] | None = None
    first_champion_must_not_lose_to: tuple[Baseline, ...] = ()
    must_not_lose_to: tuple[Baseline, ...] = ()

    def comparators(self, kind: str) -> tuple[str, ...]:
        """What the challenger is compared with: ``must_beat`` (or the model kind's default),
        then ``must_not_lose_to``."""
        beat = self.must_beat
        if beat is None:
            beat = GATE_COMPARATORS if kind == "maintenance" else ("champion",)
        return (*beat, *(b for b in self.must_not_lose_to if b not in beat))


class LoggingConfig(_Section):
    experiment_name: NonBlank
    log_every: PositiveInt = 1  # call the epoch callback every N epochs (and on the last one)


class ExperimentConfig(_Section):
    experiment: ExperimentInfo
    data: DataConfig = DataConfig()
    model: ModelConfig
    training: TrainingConfig
    promotion: PromotionConfig
    logging: LoggingConfig

    @model_validator(mode="after")
    def _sections_fit_the_kind(self) -> ExperimentConfig:
        kind, metric = self.model.kind, self.promotion.metric
        problems = []
        if metric not in PROMOTION_METRICS[kind]:
            allowed = list(PROMOTION_METRICS[kind])
            problems.append(
                f"promotion.metric must be one of {allowed} for a {kind} model (got {metric!r})"
            )
        beats = set(self.promotion.comparators(kind)) - {"champion"}
        if beats and (kind != "maintenance" or metric not in ("roc_auc", "pr_auc")):
            problems.append(
                f"promotion.must_beat {sorted(beats)} needs interval metrics: only the "
                "maintenance model with promotion.metric roc_auc or pr_auc compares with "
                "baselines"
            )
        min_delta = self.training.early_stopping.min_delta
        if kind == "defect" and min_delta != 0:
            problems.append(
                "training.early_stopping.min_delta is not supported by Ultralytics: "
                f"set 0 (got {min_delta})"
            )
        for field in ("time_budget_minutes", "ema_epochs", "precision"):
            if kind != "defect" and getattr(self.training, field) is not None:
                problems.append(f"training.{field} is only used by the defect detector: remove it")
        for field in ("image_size", "augmentation", "max_images"):
            if kind != "defect" and getattr(self.data, field) is not None:
                problems.append(f"data.{field} is only used by image (defect) models: remove it")
        _refuse(problems)
        return self


# --- where experiments come from ---------------------------------------------------------------


def experiment_dirs() -> list[Path]:
    """The folders experiments may come from: ``MFG_EXPERIMENTS_DIR`` (if set), then shipped."""
    configured = get_settings().mfg_experiments_dir
    dirs = [configured.expanduser()] if configured is not None else []
    return [d.resolve() for d in [*dirs, EXPERIMENTS_DIR]]


def experiment_path(name_or_path: str | Path) -> Path:
    """The experiment file for a name (``maintenance_default``, ``maintenance_default.yaml``) or
    a path inside an experiments folder (:func:`experiment_dirs`).

    Anything else is refused before it is opened: ``..`` anywhere, a path outside the folders,
    a symlink leading out of them, a file that is not ``.yaml``/``.yml``.
    """
    text = str(name_or_path)
    dirs = experiment_dirs()
    given = Path(os.path.expanduser(text))
    refused = ExperimentConfigError(
        [
            f"no experiment file {text!r}: experiment must name one of "
            f"{', '.join(available_experiments())} or a .yaml file inside "
            f"{' or '.join(str(d) for d in dirs)}"
        ]
    )
    if not text.strip() or ".." in given.parts or given.suffix not in ("", *EXPERIMENT_SUFFIXES):
        raise refused
    if given.is_absolute() or len(given.parts) > 1:
        candidates = [given if given.is_absolute() else Path.cwd() / given]
    else:  # a bare name: look in each folder, the configured one first
        names = [given.name] if given.suffix else [f"{given.name}{s}" for s in EXPERIMENT_SUFFIXES]
        candidates = [folder / name for folder in dirs for name in names]
    for candidate in candidates:
        resolved = candidate.resolve()  # follows symlinks: the target must stay inside
        inside = any(resolved.is_relative_to(folder) for folder in dirs)
        if inside and resolved.suffix in EXPERIMENT_SUFFIXES and resolved.is_file():
            return resolved
    raise refused


def available_experiments() -> list[str]:
    """Names of the experiment files in the configured and shipped folders."""
    return sorted(
        {
            p.stem
            for folder in experiment_dirs()
            for s in EXPERIMENT_SUFFIXES
            for p in folder.glob(f"*{s}")
        }
    )


def load_experiment(name_or_path: str | Path) -> ExperimentConfig:
    """Load and validate an experiment by name or by path inside an experiments folder."""
    path = experiment_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:  # the problem and its position, never the file's lines
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ExperimentConfigError([f"not valid YAML{where}: {problem}"], path) from None
    return parse_config(raw, base_dir=path.parent, source=path)


# --- parsing ----------------------------------------------------------------------------------


def parse_config(
    raw: Any, base_dir: Path | None = None, source: str | Path | None = None
) -> ExperimentConfig:
    """Build and validate a config from a plain mapping (e.g. parsed YAML)."""
    if not isinstance(raw, Mapping):
        raise ExperimentConfigError(["the file must hold a mapping of sections"], source)
    raw = _resolve_paths(raw, base_dir or Path.cwd())
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        errors = [message for error in exc.errors() for message in _describe(error)]
        raise ExperimentConfigError(errors, source) from None


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


def _resolve_paths(raw: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
    raw = dict(raw)
    model = raw.get("model")
    if isinstance(model, Mapping) and isinstance(model.get("init_weights"), str):
        path = Path(os.path.expandvars(model["init_weights"])).expanduser()
        raw["model"] = {**model, "init_weights": path if path.is_absolute() else base_dir / path}
    return raw


def _describe(error: Mapping[str, Any]) -> list[str]:
    """Pydantic's error → messages that start with the field path."""
    path = ".".join(str(part) for part in error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, _Refused):
        return [f"{path}.{problem}" if path else problem for problem in cause.problems]
    if error["type"] == "value_error":
        return [f"{path} {cause}"]
    if error["type"] == "extra_forbidden" and error["loc"][-2:-1] == ("augmentation",):
        known = ", ".join(Augmentation.model_fields)
        return [f"{path} is not a known augmentation (known: {known})"]
    if error["type"] == "extra_forbidden":
        return [f"{path} is not a known key (typo?)"]
    if error["type"] == "missing":
        return [f"{path} is required"]
    return [f"{path}: {error['msg'].lower()} (got {error['input']!r})"]
