"""Config-driven, seeded training of the maintenance MLP.

Order of work: check the frame (fail before any training), fit the normalizer on the train
split (with no explicit feature list it also screens out machine-fingerprint features, see
``normalization``), train with weighted BCE (``pos_weight`` = negatives/positives in train), the
configured optimizer and LR schedule, early stopping on validation loss, best weights kept in
memory (and as checkpoints when a directory is given), then pick the F1-maximising threshold on
validation.

Reproducible: same config + same data → identical weights and metrics. The torch RNG is seeded
inside a forked RNG state, deterministic algorithms and the thread count are set for the run and
restored afterwards, batches come from a seeded ``torch.Generator`` (no DataLoader workers, no
numpy randomness). torch is imported when training starts, so importing this module is cheap.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mfg_assets.features.splits import TRAIN, VALIDATION
from mfg_assets.models.config import ExperimentConfig, ExperimentConfigError, dump_config
from mfg_assets.models.maintenance.dataset import SplitArrays, prepare_training_data
from mfg_assets.models.maintenance.evaluation import (
    best_f1_threshold,
    ranking_metrics,
    threshold_metrics,
)
from mfg_assets.models.maintenance.normalization import Standardizer
from mfg_assets.models.maintenance.predictor import MaintenancePredictor
from mfg_assets.settings import export_env

BEST_CHECKPOINT = "best.pt"
EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class EpochReport:
    """What one epoch did; passed to the ``log`` callback and kept in the history."""

    epoch: int  # 1-based
    epochs: int  # configured maximum
    train_loss: float
    val_loss: float
    val_metrics: dict[str, float]  # roc_auc, pr_auc
    lr: float  # learning rate used during this epoch
    improved: bool  # new best validation loss (by more than min_delta)
    seconds: float

    def as_metrics(self) -> dict[str, float]:
        """Flat metric dict, e.g. for ``mlflow.log_metrics(..., step=epoch)``."""
        return {
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "lr": self.lr,
            **{f"val_{k}": v for k, v in self.val_metrics.items()},
        }


EpochCallback = Callable[[EpochReport], None]


@dataclass
class TrainedMaintenanceModel:
    """The best-epoch model, how it got there, and a few raw rows for MLflow signatures."""

    predictor: MaintenancePredictor
    config: ExperimentConfig
    history: list[EpochReport]
    best_epoch: int
    stopped_early: bool
    validation_metrics: dict[str, float]  # best model on validation, at the threshold
    example_rows: np.ndarray  # raw train feature rows, feature_names order

    @property
    def state_dict(self) -> dict[str, Any]:
        return self.predictor.state_dict

    @property
    def normalizer(self) -> Standardizer:
        return self.predictor.normalizer

    @property
    def threshold(self) -> float:
        return self.predictor.threshold

    @property
    def feature_names(self) -> list[str]:
        return self.predictor.feature_names

    def predict_proba(self, frame: Any) -> np.ndarray:
        """P(failure within the horizon) per row of a pandas/polars frame of raw features."""
        return self.predictor.predict_proba(frame)

    def summary_metrics(self) -> dict[str, float]:
        """Run-level numbers: best epoch, epochs run, threshold, validation metrics."""
        best = self.history[self.best_epoch - 1]
        return {
            "best_epoch": float(self.best_epoch),
            "epochs_run": float(len(self.history)),
            "stopped_early": float(self.stopped_early),
            "best_val_loss": best.val_loss,
            "seconds_per_epoch": float(np.mean([r.seconds for r in self.history])),
            "features_used": float(len(self.normalizer.used_features)),
            **{f"best_val_{k}": v for k, v in self.validation_metrics.items()},
        }


def train_maintenance_model(
    frame: Any,
    config: ExperimentConfig,
    log: EpochCallback | None = None,
    checkpoint_dir: str | Path | None = None,
) -> TrainedMaintenanceModel:
    """Train on the ``train`` split, early-stop and pick the threshold on ``validation``.

    ``frame`` is pandas or polars with the feature, label and split columns; the ``test`` split
    is only checked here (evaluate it with ``evaluation.evaluate``). Raises
    ``TrainingDataError`` before training for missing features, NaN, empty splits or a
    single-class train label. ``log`` is called every ``logging.log_every`` epochs and on the
    last one. With ``checkpoint_dir``, ``best.pt`` (when ``save_best``) and ``epoch_NNNN.pt``
    (every ``save_frequency`` epochs) are written there.
    """
    data = prepare_training_data(frame, config)
    train, val = data.splits[TRAIN], data.splits[VALIDATION]
    device = _device(config.training.device)
    normalizer = _fit_normalizer(train, data.feature_names, config)
    checkpoints = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if checkpoints is not None:
        checkpoints.mkdir(parents=True, exist_ok=True)
    with _reproducible(config.training.seed, config.training.num_threads):
        fit = _fit(
            _Tensors.of(train, val, normalizer, device), config, normalizer, log, checkpoints
        )
        predictor = MaintenancePredictor(
            state_dict=fit.best_state,
            normalizer=normalizer,
            hidden_sizes=tuple(config.model.hidden_sizes or ()),
            dropout=config.model.dropout,
            threshold=0.5,
        )
        val_proba = predictor.predict_proba_array(val.x)
    predictor.threshold = best_f1_threshold(val.y, val_proba)
    return TrainedMaintenanceModel(
        predictor=predictor,
        config=config,
        history=fit.history,
        best_epoch=fit.best_epoch,
        stopped_early=len(fit.history) < config.training.epochs,
        validation_metrics={
            **ranking_metrics(val.y, val_proba),
            **threshold_metrics(val.y, val_proba, predictor.threshold),
            "threshold": predictor.threshold,
        },
        example_rows=train.x[:EXAMPLE_ROWS].copy(),
    )


def _fit_normalizer(train: SplitArrays, feature_names: list[str], config: ExperimentConfig):
    """The train split's normalizer. With no explicit feature list, features that mostly
    identify the machine are screened out (see normalization); an explicit
    ``data.feature_columns`` is used as given."""
    screen = config.data.feature_columns is None
    return Standardizer.fit(train.x, feature_names, groups=train.groups if screen else None)


@dataclass(frozen=True)
class _Tensors:
    """Normalized train and validation splits on the training device."""

    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    val_labels: np.ndarray  # validation labels as numpy, for the ranking metrics

    @classmethod
    def of(
        cls, train: SplitArrays, val: SplitArrays, normalizer: Standardizer, device: Any
    ) -> _Tensors:
        import torch

        def tensor(array: np.ndarray) -> Any:
            return torch.from_numpy(array).to(device)

        return cls(
            tensor(normalizer.transform(train.x)),
            tensor(train.y),
            tensor(normalizer.transform(val.x)),
            tensor(val.y),
            val.y,
        )


@dataclass
class _Fit:
    """The epoch loop's result: reports, and the best epoch's weights (on the CPU)."""

    history: list[EpochReport] = field(default_factory=list)
    best_epoch: int = 0
    best_loss: float = math.inf
    best_state: dict[str, Any] = field(default_factory=dict)


def _fit(
    tensors: _Tensors,
    config: ExperimentConfig,
    normalizer: Standardizer,
    log: EpochCallback | None,
    checkpoints: Path | None,
) -> _Fit:
    """Train epoch by epoch until ``training.epochs`` or early stopping on validation loss."""
    import torch
    from torch import nn

    cfg = config.training
    model = _network(len(normalizer.feature_names), config, tensors.x_train.device)
    positives = float(tensors.y_train.sum())
    pos_weight = (len(tensors.y_train) - positives) / positives
    loss_fn = nn.BCEWithLogitsLoss(
        pos_weight=torch.tensor(pos_weight, device=tensors.x_train.device)
    )
    optimizer = _optimizer(model, config)
    scheduler = _scheduler(optimizer, config)
    generator = torch.Generator().manual_seed(cfg.seed)
    fit, waited = _Fit(), 0
    for epoch in range(1, cfg.epochs + 1):
        started = time.perf_counter()
        lr = float(optimizer.param_groups[0]["lr"])
        train_loss = _train_epoch(model, tensors, loss_fn, optimizer, cfg.batch_size, generator)
        if scheduler is not None:
            scheduler.step()
        val_loss, val_proba = _validate(model, tensors, loss_fn, epoch)
        improved = val_loss < fit.best_loss - cfg.early_stopping.min_delta
        if improved:
            fit.best_loss, fit.best_epoch, waited = val_loss, epoch, 0
            fit.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
        stop = not improved and waited >= cfg.early_stopping.patience
        report = EpochReport(
            epoch=epoch,
            epochs=cfg.epochs,
            train_loss=train_loss,
            val_loss=val_loss,
            val_metrics=ranking_metrics(tensors.val_labels, val_proba),
            lr=lr,
            improved=improved,
            seconds=time.perf_counter() - started,
        )
        fit.history.append(report)
        if checkpoints is not None:
            _write_checkpoints(checkpoints, config, model, optimizer, report, normalizer)
        if log is not None and (
            epoch % config.logging.log_every == 0 or stop or epoch == cfg.epochs
        ):
            log(report)
        if stop:
            break
    return fit


def _network(n_features: int, config: ExperimentConfig, device: Any) -> Any:
    """The configured MLP (from ``model.init_weights`` when given) on ``device``."""
    from mfg_assets.models.maintenance.network import MaintenanceMLP

    model = MaintenanceMLP(n_features, config.model.hidden_sizes or [], config.model.dropout)
    if config.model.init_weights is not None:
        _load_init_weights(model, config.model.init_weights)
    return model.to(device)


def _train_epoch(
    model: Any, tensors: _Tensors, loss_fn: Any, optimizer: Any, batch_size: int, generator: Any
) -> float:
    """One pass over the train split in seeded random batches; the mean loss per row."""
    import torch

    model.train()
    order = torch.randperm(len(tensors.x_train), generator=generator).to(tensors.x_train.device)
    total = 0.0
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(tensors.x_train[batch]), tensors.y_train[batch])
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(batch)
    return total / len(order)


def _validate(model: Any, tensors: _Tensors, loss_fn: Any, epoch: int) -> tuple[float, np.ndarray]:
    """Validation loss and probabilities; RuntimeError when the loss is not finite."""
    import torch

    model.eval()
    with torch.inference_mode():
        logits = model(tensors.x_val)
        val_loss = float(loss_fn(logits, tensors.y_val))
    if not math.isfinite(val_loss):
        raise RuntimeError(
            f"training diverged: validation loss is {val_loss} at epoch {epoch}; "
            "lower training.optimizer.lr"
        )
    return val_loss, torch.sigmoid(logits).cpu().numpy().astype(np.float64)


@contextmanager
def _reproducible(seed: int, num_threads: int) -> Iterator[None]:
    """Seeded torch RNG, deterministic kernels and fixed threads for the block, then restored."""
    import torch

    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(num_threads)
        torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(deterministic)


def _device(name: str) -> Any:
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ExperimentConfigError([f"training.device is {name!r} but CUDA is not available"])
        export_env({"CUBLAS_WORKSPACE_CONFIG": ":4096:8"})  # deterministic cuBLAS
    return torch.device(name)


def _load_init_weights(model: Any, path: Path) -> None:
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model_state" in state:
        state = state["model_state"]
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError) as exc:
        raise ExperimentConfigError(
            [f"model.init_weights {path} does not fit the network: {exc}"]
        ) from exc


def _optimizer(model: Any, config: ExperimentConfig) -> Any:
    import torch

    opt = config.training.optimizer
    params = model.parameters()
    if opt.name == "SGD":
        return torch.optim.SGD(
            params, lr=opt.lr, momentum=opt.momentum, weight_decay=opt.weight_decay
        )
    optimizer_cls = {"AdamW": torch.optim.AdamW, "Adam": torch.optim.Adam}[opt.name]
    return optimizer_cls(params, lr=opt.lr, weight_decay=opt.weight_decay)


def _scheduler(optimizer: Any, config: ExperimentConfig) -> Any:
    import torch

    sched = config.training.scheduler
    if sched.name == "none":
        return None
    return torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config.training.t_max, eta_min=sched.eta_min
    )


def _write_checkpoints(
    directory: Path,
    config: ExperimentConfig,
    model: Any,
    optimizer: Any,
    report: EpochReport,
    normalizer: Standardizer,
) -> None:
    import torch

    checkpoint = config.training.checkpoint
    periodic = checkpoint.save_frequency and report.epoch % checkpoint.save_frequency == 0
    if not ((checkpoint.save_best and report.improved) or periodic):
        return
    payload = {
        "epoch": report.epoch,
        "val_loss": report.val_loss,
        "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer_state": optimizer.state_dict(),
        "normalizer": normalizer.to_dict(),
        "config_yaml": dump_config(config),
    }
    if checkpoint.save_best and report.improved:
        torch.save(payload, directory / BEST_CHECKPOINT)
    if periodic:
        torch.save(payload, directory / f"epoch_{report.epoch:04d}.pt")
