"""Training the surface-defect detector: Ultralytics YOLO built from a model yaml, offline.

No weights can be downloaded here, so the network is always built from an architecture yaml
(``pretrained=False``); ``model.init_weights`` warm-starts it from a local ``.pt`` a user has
(Ultralytics transfers every layer whose shape matches, so a checkpoint with another class
count works too). A missing ``init_weights`` file is an error, never a silent cold start.

The experiment config is the plant's YAML shape (see ``models/experiments/defect_*.yaml``);
:class:`DetectorSettings` maps it onto Ultralytics' arguments:

================================  ===========================================================
config                            Ultralytics
================================  ===========================================================
model.architecture                ``<name>.yaml`` from Ultralytics (yolov8n, yolo11n, ...), a
                                  path to a model yaml, or one of ``CUSTOM_ARCHITECTURES``
model.init_weights                ``pretrained=<path>`` (local file, must exist; loaded with
                                  ``weights_only=True``, never unpickled freely)
data.image_size                   ``imgsz`` (when the config has it; else 192 or an override)
data.augmentation                 seed keys (horizontal_flip, vertical_flip, rotation_range,
                                  brightness_range) or Ultralytics names; default
                                  ``DEFAULT_AUGMENTATION``; ``close_mosaic``: the last epochs
                                  trained without mosaic (default min(5, epochs // 4))
training.epochs / batch_size      ``epochs`` / ``batch``; ``nbs=batch`` (no accumulation)
training.optimizer                ``optimizer``, ``lr0``, ``weight_decay``, ``momentum``
training.scheduler                CosineAnnealingLR: ``cos_lr=True``, ``lrf=eta_min/lr``;
                                  ``T_max`` other than ``epochs`` is not expressible (ignored)
training.early_stopping.patience  ``patience`` (``min_delta`` has no Ultralytics equivalent)
training.checkpoint               ``best.pt`` and ``last.pt`` always; ``save_frequency`` →
                                  ``save_period``
training.seed / device            ``seed`` + ``deterministic=True`` / ``device``
training.num_threads              CPU threads (Ultralytics would cap them at cores - 1)
training.time_budget_minutes      ``time`` (hours): stop at the budget; epochs and the LR
                                  schedule re-fitted to it after every epoch
training.precision                ``precision``: ``fp32`` (default) or ``bf16``: bfloat16
                                  autocast, weights kept in float32 (``amp="bf16"``); on a CPU
                                  Ultralytics refuses bf16, so :func:`runtime.cpu_bf16` allows
                                  it and the model runs channels-last. 2.1x faster forward +
                                  backward on an AMX CPU (YOLOv8n, 192 px, batch 16, 2 threads:
                                  0.293 → 0.140 s); without AVX512-BF16/AMX it is slower
training.ema_epochs               ``ema_epochs`` (default 2): EMA of the weights over that many
                                  epochs of updates (Ultralytics' 2000-update ramp is sized for
                                  COCO; on a few hundred images it leaves validation swinging)
================================  ===========================================================

Measured on a shared 2-core CPU (default experiment, 392 train / 84 val images at 192 px, one
thread): ~8.5 s of CPU per epoch, ~260 s for 30 epochs; val mAP50 0.93, test mAP50 0.88.

Fixed for this platform: ``amp=False`` unless ``precision: bf16`` (the fp16 AMP check downloads
a model; bf16 skips it), ``plots=False``,
``workers=0`` (data loading in-process), ``val=True`` every epoch (early stopping needs it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from mfg_assets.models.defect.evaluation import summarize_metrics
from mfg_assets.models.defect.runtime import (
    configure_ultralytics,
    cpu_bf16,
    cpu_threads,
    load_checkpoint_safely,
    resolve_device,
)
from mfg_assets.plant.catalog import DEFECT_TYPES

# name → (Ultralytics base yaml, (depth multiple, width multiple, max channels))
CUSTOM_ARCHITECTURES: dict[str, tuple[str, tuple[float, float, int]]] = {
    # YOLOv8 at half the width of "n": ~1/4 of its FLOPs, trains in minutes on two CPU cores
    "yolov8-pico": ("yolov8.yaml", (0.33, 0.125, 1024)),
}
EPOCH_METRICS: dict[str, str] = {  # Ultralytics key → MLflow-safe key
    "train/box_loss": "train/box_loss",
    "train/cls_loss": "train/cls_loss",
    "train/dfl_loss": "train/dfl_loss",
    "val/box_loss": "val/box_loss",
    "val/cls_loss": "val/cls_loss",
    "val/dfl_loss": "val/dfl_loss",
    "metrics/precision(B)": "precision",
    "metrics/recall(B)": "recall",
    "metrics/mAP50(B)": "map50",
    "metrics/mAP50-95(B)": "map50_95",
    "lr/pg0": "lr",
}

EpochCallback = Callable[[int, dict[str, float]], None]

# Ultralytics augmentation used when the config has no data.augmentation: milder scale jitter
# than its default (0.5; defects are small), no hue shift (rust/oil colour is a class cue),
# vertical flips (a machined surface has no "up"). Mosaic and horizontal flips stay on.
DEFAULT_AUGMENTATION: dict[str, float] = {"scale": 0.25, "hsv_h": 0.0, "hsv_s": 0.3, "flipud": 0.5}


@dataclass(frozen=True)
class DetectorSettings:
    """Everything :func:`train_detector` passes to Ultralytics."""

    architecture: str = "yolov8-pico"
    init_weights: Path | None = None
    classes: tuple[str, ...] = DEFECT_TYPES
    imgsz: int = 192
    epochs: int = 30
    batch: int = 16
    optimizer: str = "AdamW"
    lr0: float = 0.003
    lrf: float = 0.05
    cos_lr: bool = True
    weight_decay: float = 0.0005
    momentum: float = 0.937
    warmup_epochs: float = 2.0
    patience: int = 10
    save_period: int = -1
    seed: int = 42
    device: str = "cpu"
    threads: int | None = None
    log_every: int = 1
    cache: bool = True  # decoded, resized images kept in RAM (a few MB per 100 images)
    ema_epochs: float | None = 2.0  # EMA averaging horizon (None: Ultralytics' 2000 updates)
    precision: str = "fp32"  # or "bf16" (autocast; channels-last on a CPU)
    time_hours: float | None = None  # training time budget (Ultralytics' time mode), hours
    augmentation: dict[str, float | int] = field(default_factory=lambda: dict(DEFAULT_AUGMENTATION))

    @property
    def bf16(self) -> bool:
        """Training in bfloat16 autocast (``precision: bf16``)."""
        return self.precision == "bf16"

    @property
    def detector_classes(self) -> tuple[str, ...]:
        """Classes with boxes (``normal`` images are backgrounds)."""
        return tuple(c for c in self.classes if c != "normal")

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> DetectorSettings:
        """From an ``ExperimentConfig``, a parsed YAML mapping, a YAML path or settings."""
        if isinstance(config, DetectorSettings):
            return replace(config, **overrides) if overrides else config
        raw = _as_mapping(config)
        model, data = raw.get("model") or {}, raw.get("data") or {}
        training, logging = raw.get("training") or {}, raw.get("logging") or {}
        kind = model.get("kind", "defect")
        if kind != "defect":
            raise ValueError(f"model.kind must be 'defect' for the detector (got {kind!r})")
        opt = training.get("optimizer") or {}
        sched = training.get("scheduler") or {}
        stop = training.get("early_stopping") or {}
        ckpt = training.get("checkpoint") or {}
        lr = float(opt.get("lr", cls.lr0))
        cosine = sched.get("name", "CosineAnnealingLR") == "CosineAnnealingLR"
        eta_min = sched.get("eta_min")
        values: dict[str, Any] = {
            "architecture": model.get("architecture", cls.architecture),
            "init_weights": Path(model["init_weights"]) if model.get("init_weights") else None,
            "classes": tuple(model.get("classes") or DEFECT_TYPES),
            "epochs": int(training.get("epochs", cls.epochs)),
            "batch": int(training.get("batch_size", cls.batch)),
            "optimizer": opt.get("name", cls.optimizer),
            "lr0": lr,
            "lrf": (float(eta_min) / lr if eta_min else cls.lrf) if cosine else 1.0,
            "cos_lr": cosine,
            "weight_decay": float(opt.get("weight_decay", cls.weight_decay)),
            "patience": int(stop.get("patience", cls.patience)),
            "save_period": int(ckpt.get("save_frequency") or 0) or -1,
            "seed": int(training.get("seed", cls.seed)),
            "device": str(training.get("device", cls.device)),
            "threads": training.get("num_threads"),
            "log_every": int(logging.get("log_every", cls.log_every)),
        }
        if training.get("precision"):
            values["precision"] = str(training["precision"])
        if training.get("ema_epochs"):
            values["ema_epochs"] = float(training["ema_epochs"])
        if training.get("time_budget_minutes"):
            values["time_hours"] = float(training["time_budget_minutes"]) / 60.0
        if opt.get("momentum"):
            values["momentum"] = float(opt["momentum"])
        size = data.get("image_size")
        if size:
            values["imgsz"] = int(max(size) if isinstance(size, list | tuple) else size)
        spec = data.get("augmentation")
        values["augmentation"] = (
            augmentation_args(spec) if spec is not None else dict(DEFAULT_AUGMENTATION)
        )
        values.update(overrides)
        return cls(**values)

    def model_source(self, work_dir: Path) -> str:
        """The model yaml to build from (custom scales are written into ``work_dir``)."""
        name = self.architecture
        if name in CUSTOM_ARCHITECTURES:
            base, scale = CUSTOM_ARCHITECTURES[name]
            from ultralytics.utils import YAML
            from ultralytics.utils.checks import check_yaml

            spec = YAML.load(check_yaml(base))
            spec["scales"] = {"custom": list(scale)}
            spec.pop("yaml_file", None)
            path = work_dir / f"{name}.yaml"
            path.write_text(yaml.safe_dump(spec, sort_keys=False))
            return str(path)
        if name.endswith((".yaml", ".yml")):
            if Path(name).is_file():
                return str(Path(name).resolve())
            return name  # an Ultralytics yaml name, resolved by Ultralytics
        if name.endswith(".pt"):
            raise ValueError(
                f"model.architecture {name!r} is a weights file: put it in model.init_weights "
                "and name the architecture (e.g. yolov8n)"
            )
        return f"{name}.yaml"

    def train_args(self) -> dict[str, Any]:
        """Keyword arguments for ``YOLO.train`` (without data/project/name)."""
        return {
            "imgsz": self.imgsz,
            "epochs": self.epochs,
            "batch": self.batch,
            "nbs": self.batch,  # one optimizer step per batch: small datasets need the steps
            "optimizer": self.optimizer,
            "lr0": self.lr0,
            "lrf": self.lrf,
            "cos_lr": self.cos_lr,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "warmup_epochs": min(self.warmup_epochs, max(0.0, self.epochs / 4)),
            "warmup_bias_lr": self.lr0,  # Ultralytics' 0.1 is meant for SGD, far too hot for AdamW
            "patience": self.patience,
            "save_period": self.save_period,
            "seed": self.seed,
            "deterministic": True,
            "device": resolve_device(self.device),
            "pretrained": str(self.init_weights) if self.init_weights else False,
            "amp": "bf16" if self.bf16 else False,
            "plots": False,
            "workers": 0,
            "cache": "ram" if self.cache else False,
            "val": True,
            "verbose": False,
            "close_mosaic": min(5, self.epochs // 4),
            # time mode: epochs and the LR schedule re-fitted to the budget after every epoch
            **({"time": self.time_hours} if self.time_hours else {}),
            **self.augmentation,
        }

    def to_params(self) -> dict[str, str]:
        """Flat string params (for MLflow)."""
        flat = {}
        for key, value in asdict(self).items():
            if isinstance(value, dict):
                flat.update({f"{key}.{k}": str(v) for k, v in value.items()})
            else:
                flat[key] = str(value)
        return flat


def augmentation_args(spec: Mapping[str, Any]) -> dict[str, float | int]:
    """The seed's augmentation keys (and Ultralytics' own names) → Ultralytics hyperparameters."""
    out: dict[str, float | int] = {}
    known = {f.name for f in fields(DetectorSettings)}
    for key, value in spec.items():
        if key == "horizontal_flip":
            out["fliplr"] = 0.5 if value else 0.0
        elif key == "vertical_flip":
            out["flipud"] = 0.5 if value else 0.0
        elif key == "rotation_range":
            out["degrees"] = float(value)
        elif key == "brightness_range":
            lo, hi = (float(v) for v in value)
            out["hsv_v"] = max(1.0 - lo, hi - 1.0)
        elif key in known:
            raise ValueError(f"augmentation.{key} is a training setting, not an augmentation")
        elif key == "close_mosaic":
            out[key] = int(value)
        else:
            out[key] = float(value)
    return out


def _as_mapping(config: Any) -> dict[str, Any]:
    if hasattr(config, "model_dump"):
        return config.model_dump(mode="python")
    if isinstance(config, Mapping):
        return {k: dict(v) if isinstance(v, Mapping) else v for k, v in config.items()}
    if isinstance(config, str | Path):
        try:
            from mfg_assets.models.config import load_experiment
        except ImportError:  # pragma: no cover - config module always ships
            return yaml.safe_load(Path(config).read_text())
        return load_experiment(config).model_dump(mode="python")
    raise TypeError(f"cannot read a detector config from {type(config).__name__}")


@dataclass(frozen=True)
class TrainedDetector:
    """Result of one training run."""

    best_weights: Path
    last_weights: Path
    metrics: dict[str, float]  # best.pt on the val split (see evaluation.summarize_metrics)
    epochs_run: int
    seconds: float
    settings: DetectorSettings
    run_dir: Path
    history: list[dict[str, float]] = field(default_factory=list)  # per-epoch metrics
    stopped_early: bool = False

    @property
    def best_epoch(self) -> int | None:
        if not self.history:
            return None
        return int(max(self.history, key=lambda h: h.get("fitness", -1.0))["epoch"])


def _class_names(data_yaml: Path) -> tuple[str, ...]:
    names = yaml.safe_load(data_yaml.read_text()).get("names")
    if isinstance(names, dict):
        return tuple(names[k] for k in sorted(names, key=int))
    return tuple(names or ())


def train_detector(
    data_yaml: str | Path,
    config: Any,
    out_dir: str | Path,
    on_epoch: EpochCallback | None = None,
    **overrides: Any,
) -> TrainedDetector:
    """Train a YOLO detector on a dataset built by ``build_yolo_dataset``.

    ``config``: ``ExperimentConfig``, parsed YAML mapping, YAML path or
    :class:`DetectorSettings`; ``overrides`` replace settings fields (e.g. ``imgsz=128``).
    ``on_epoch(epoch, metrics)`` is called after each validated epoch (every
    ``logging.log_every`` epochs and on the last) with 1-based ``epoch`` and MLflow-safe keys:
    ``train/box_loss, train/cls_loss, train/dfl_loss, val/*_loss, precision, recall, map50,
    map50_95, fitness, lr, epoch_seconds``. Nothing is logged to MLflow here.
    Run files go to ``<out_dir>/train`` (``weights/best.pt``, ``weights/last.pt``).
    """
    settings = DetectorSettings.from_config(config, **overrides)
    data_yaml = Path(data_yaml).expanduser().resolve()
    if not data_yaml.is_file():
        raise FileNotFoundError(f"no dataset yaml {data_yaml}")
    names = _class_names(data_yaml)
    if names != settings.detector_classes:
        raise ValueError(
            f"dataset classes {list(names)} differ from the config's drawn classes "
            f"{list(settings.detector_classes)} (model.classes minus 'normal')"
        )
    if settings.init_weights is not None and not Path(settings.init_weights).is_file():
        raise FileNotFoundError(f"model.init_weights {settings.init_weights} not found")
    if settings.init_weights is not None:
        # a user's file: loaded only with weights_only=True (here, and by Ultralytics' trainer,
        # which runs under the same safe loading); a checkpoint carrying code is a TypeError
        load_checkpoint_safely(settings.init_weights)

    configure_ultralytics()
    from ultralytics import YOLO

    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    model = YOLO(settings.model_source(out), task="detect")
    history: list[dict[str, float]] = []
    state = {"last_stop": False, "tick": time.perf_counter()}

    def epoch_end(trainer: Any) -> None:
        if state["last_stop"]:  # final evaluation of best.pt re-fires this hook: not an epoch
            return
        state["last_stop"] = bool(trainer.stop)
        now = time.perf_counter()
        row = epoch_metrics(trainer)
        row["epoch_seconds"] = now - state["tick"]
        state["tick"] = now
        history.append(row)
        epoch = int(row["epoch"])
        due = epoch % max(1, settings.log_every) == 0 or trainer.stop
        if on_epoch is not None and due:
            on_epoch(epoch, {k: v for k, v in row.items() if k != "epoch"})

    def tune_ema(trainer: Any) -> None:
        # Ultralytics' EMA ramps over 2000 updates and then averages ~10,000: sized for COCO.
        # A few hundred images give ~25 updates per epoch, so the "EMA" would simply be the
        # latest weights and validation would swing from epoch to epoch. Average over
        # ``ema_epochs`` epochs of updates instead, ramping in over the first epoch.
        if settings.ema_epochs and getattr(trainer, "ema", None) is not None:
            steps = max(1, len(trainer.train_loader))
            top = 1.0 - 1.0 / max(2.0, settings.ema_epochs * steps)
            trainer.ema.decay = lambda updates: top * (1.0 - math.exp(-updates / steps))

    if settings.bf16:
        model.add_callback("on_pretrain_routine_end", channels_last_on_cpu)
    model.add_callback("on_train_start", tune_ema)
    model.add_callback("on_fit_epoch_end", epoch_end)
    started = time.perf_counter()
    with cpu_threads(settings.threads), cpu_bf16(settings.bf16):
        model.train(
            data=str(data_yaml),
            project=str(out),
            name="train",
            exist_ok=True,
            **settings.train_args(),
        )
    seconds = time.perf_counter() - started
    trainer = model.trainer
    best, last = Path(trainer.best), Path(trainer.last)
    if not best.is_file():
        best = last
    validator = getattr(trainer, "validator", None)
    det = getattr(validator, "metrics", None)
    metrics = summarize_metrics(det, names) if det is not None else {}
    return TrainedDetector(
        best_weights=best,
        last_weights=last,
        metrics=metrics,
        epochs_run=len(history),
        seconds=seconds,
        settings=settings,
        run_dir=Path(trainer.save_dir),
        history=history,
        stopped_early=len(history) < settings.epochs,
    )


def channels_last_on_cpu(trainer: Any) -> None:
    """Training model and its EMA copy in channels-last layout when training on a CPU: oneDNN's
    convolutions run faster on NHWC (an NCHW batch is converted by the first convolution).
    Saved checkpoints come out in the standard layout."""
    import torch

    if trainer.device.type != "cpu":
        return
    for net in (trainer.model, getattr(getattr(trainer, "ema", None), "ema", None)):
        if net is not None:
            net.to(memory_format=torch.channels_last)


def epoch_metrics(trainer: Any) -> dict[str, float]:
    """One epoch's losses, validation metrics and learning rate under MLflow-safe names."""
    raw: dict[str, Any] = {}
    raw.update(trainer.label_loss_items(trainer.tloss, prefix="train"))
    raw.update(trainer.metrics or {})
    raw.update(trainer.lr or {})
    row = {"epoch": float(trainer.epoch + 1)}
    for key, name in EPOCH_METRICS.items():
        if key in raw:
            value = float(raw[key])
            if math.isfinite(value):
                row[name] = value
    if trainer.fitness is not None:
        row["fitness"] = float(trainer.fitness)
    return row
