"""The maintenance model's gate: the challenger must beat the champion, the prior and the best
single-feature heuristic on the held-out rows, with a paired bootstrap interval over machines
that supports it, on enough test machines; plus what a maintenance planner would see.

An experiment may also name the ``reference``: gradient-boosted trees (scikit-learn, seeded)
fitted on the train rows of the same training frame and features, scored on the same test rows,
the model a plant's data scientist would try first (``promotion.must_beat`` /
``must_not_lose_to`` / ``first_champion_must_not_lose_to``).

Used as ``MaintenanceLifecycle.decide`` (:data:`mfg_assets.models.lifecycle.Decide`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mfg_assets.features.splits import TEST, TRAIN
from mfg_assets.models.config import ExperimentConfig
from mfg_assets.models.lifecycle import Comparison, Scored, confident_gate
from mfg_assets.models.maintenance.confidence import machine_bootstrap, roc_auc
from mfg_assets.models.maintenance.dataset import column_values, feature_matrix, model_features
from mfg_assets.models.maintenance.planner import planner_metrics, planner_table, save_planner_plot
from mfg_assets.models.registry import PromotionDecision
from mfg_assets.settings import gate_settings, label_horizon_hours

SCORES_DETAIL = "scores"  # Scored.details key of a version's per-row probabilities
REFERENCE = "reference"  # the gradient-boosted trees comparator
REFERENCE_TREES = 100


def split_rows(frame: Any, split_column: str, split: str) -> Any:
    """The rows of one split of a pandas or polars frame."""
    if type(frame).__module__.startswith("polars"):
        import polars as pl

        return frame.filter(pl.col(split_column) == split)
    return frame[frame[split_column] == split]


def held_out_test_rows(held_out: Any, split_column: str) -> Any:
    """The test rows of a whole training frame; a frame without train rows is all held out."""
    if split_column not in held_out.columns:
        return held_out
    if not (column_values(held_out, split_column, object) == TRAIN).any():
        return held_out
    return split_rows(held_out, split_column, TEST)


@dataclass(frozen=True)
class Heuristic:
    """One feature used as the failure score, with the sign that ranks failures higher."""

    feature: str
    sign: float
    chosen_on: str  # which rows chose it
    chosen_roc_auc: float

    def score(self, frame: Any) -> np.ndarray:
        values = self.sign * column_values(frame, self.feature)
        return np.nan_to_num(values, nan=float(np.nanmin(values)) if len(values) else 0.0)


def best_single_feature(
    frame: Any, features: list[str], label_column: str, chosen_on: str
) -> Heuristic:
    """The feature (either sign) with the highest ROC AUC on ``frame``."""
    y = column_values(frame, label_column)
    best = Heuristic(features[0], 1.0, chosen_on, float("nan"))
    for feature in features:
        values = column_values(frame, feature)
        if np.isnan(values).all():
            continue
        auc = roc_auc(y, np.nan_to_num(values, nan=float(np.nanmin(values))))
        if np.isnan(auc):
            continue
        sign = 1.0 if auc >= 0.5 else -1.0
        auc = max(auc, 1 - auc)
        if np.isnan(best.chosen_roc_auc) or auc > best.chosen_roc_auc:
            best = Heuristic(feature, sign, chosen_on, float(auc))
    return best


def fit_reference(
    train: Any, test: Any, features: list[str], label_column: str, seed: int = 0
) -> tuple[np.ndarray, dict[str, Any]]:
    """The ``reference`` comparator's scores of ``test``: scikit-learn's
    ``HistGradientBoostingClassifier`` (seeded, no early stopping; NaN allowed) fitted on the
    ``features`` of ``train``, and what it was fitted on. Train rows of one class give their
    rate (nothing to learn)."""
    y_train = column_values(train, label_column)
    info: dict[str, Any] = {
        "model": f"HistGradientBoostingClassifier({REFERENCE_TREES} trees, seed {seed})",
        "fitted_on": "train rows",
        "train_rows": len(y_train),
        "train_positive_rate": float(y_train.mean()) if len(y_train) else float("nan"),
        "features": len(features),
    }
    if len(y_train) == 0 or y_train.min() == y_train.max():
        info["note"] = "the train rows hold one class: scored as their rate"
        rate = float(y_train.mean()) if len(y_train) else 0.0
        return np.full(len(test), rate), info
    from sklearn.ensemble import HistGradientBoostingClassifier

    def matrix(frame: Any) -> np.ndarray:
        x = feature_matrix(frame, features)
        return np.where(np.isfinite(x), x, np.nan)

    model = HistGradientBoostingClassifier(
        max_iter=REFERENCE_TREES, early_stopping=False, random_state=seed
    )
    model.fit(matrix(train), (y_train > 0.5).astype(int))
    return model.predict_proba(matrix(test))[:, 1].astype(np.float64), info


def decide(
    challenger: Scored,
    champion: Scored | None,
    held_out: Any,
    config: ExperimentConfig,
    plots_dir: Path | None = None,
) -> tuple[PromotionDecision, dict[str, Any]]:
    """The gate with intervals, and its evidence (JSON-able; ``plots`` maps names to PNGs)."""
    split_column, label = config.data.split_column, config.data.label_column
    test = held_out_test_rows(held_out, split_column)
    has_train = split_column in held_out.columns and len(test) < len(held_out)
    heuristic = best_single_feature(
        split_rows(held_out, split_column, TRAIN) if has_train else test,
        model_features(config),
        label,
        "train rows" if has_train else "test rows",
    )
    y = column_values(test, label)
    machines = column_values(test, "machine_id", object)
    scores = {"challenger": np.asarray(challenger.details[SCORES_DETAIL], dtype=np.float64)}
    if champion is not None:
        scores["champion"] = np.asarray(champion.details[SCORES_DETAIL], dtype=np.float64)
    scores["prior"] = np.full(len(y), float(y.mean()) if len(y) else 0.0)
    scores["heuristic"] = heuristic.score(test)
    wanted = config.promotion.comparators("maintenance")
    reference: dict[str, Any] | None = None
    if REFERENCE in wanted:
        if has_train:
            scores[REFERENCE], reference = fit_reference(
                split_rows(held_out, split_column, TRAIN),
                test,
                model_features(config),
                label,
                seed=config.training.seed,
            )
        else:  # nothing to fit it on: the comparison is reported missing and fails
            reference = {"skipped": "the frame has no train rows to fit the reference on"}
    min_machines, resamples, confidence = gate_settings()
    boot = machine_bootstrap(
        y, machines, scores, "challenger", resamples=resamples, confidence=confidence, seed=0
    )
    metric = config.promotion.metric
    tie_ok = set(config.promotion.must_not_lose_to)
    if champion is None:
        tie_ok |= set(config.promotion.first_champion_must_not_lose_to)
    comparisons = [
        Comparison(
            name,
            *(
                _interval(boot.differences[name][metric])
                if name in boot.differences
                else (float("nan"),) * 3  # a required reference that could not be fitted
            ),
            must="not_lose" if name in tie_ok else "beat",
        )
        for name in wanted
        if name in boot.differences or name == REFERENCE
    ]
    decision = confident_gate(
        challenger.metrics.get(metric, float("nan")),
        comparisons,
        metric=metric,
        threshold=config.promotion.threshold,
        margin=config.promotion.champion_margin,
        failing_machines=boot.failing_machines,
        min_machines=min_machines,
    )
    times = _times(test)
    planner = {
        name: planner_metrics(
            machines,
            times,
            y,
            s,
            horizon_hours=float(label_horizon_hours()),
        )
        for name, s in scores.items()
        if name != "prior"
    }
    evidence: dict[str, Any] = {
        "metric": metric,
        "comparisons": [c.__dict__ for c in comparisons],
        "bootstrap": boot.as_dict(),
        "heuristic": heuristic.__dict__,
        **({REFERENCE: reference} if reference is not None else {}),
        "test_rows": len(y),
        "test_machines": boot.machines,
        "test_failing_machines": boot.failing_machines,
        "min_test_machines": min_machines,
        "test_window": [str(min(times)), str(max(times))] if len(times) else [],
        "planner": {name: p.as_dict() for name, p in planner.items()},
        "planner_table": planner_table(planner),
    }
    if plots_dir is not None:
        Path(plots_dir).mkdir(parents=True, exist_ok=True)
        path = save_planner_plot(planner, str(Path(plots_dir) / "planner.png"))
        evidence["plots"] = {"planner": path}
    return decision, evidence


def _times(frame: Any) -> np.ndarray:
    """``event_timestamp`` as UTC ``datetime64[us]`` (pandas or polars, zoned or not)."""
    series = frame["event_timestamp"]
    if type(frame).__module__.startswith("polars"):
        return series.dt.replace_time_zone(None).to_numpy().astype("datetime64[us]")
    import pandas as pd

    values = pd.to_datetime(series, utc=True).dt.tz_localize(None)
    return values.to_numpy().astype("datetime64[us]")


def _interval(interval: Any) -> tuple[float, float, float]:
    return interval.point, interval.low, interval.high
