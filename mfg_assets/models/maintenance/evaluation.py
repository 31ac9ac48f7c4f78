"""Held-out metrics for the maintenance model, trivial baselines to compare with, and plots.

Metrics are floats (NaN where undefined, e.g. ROC AUC on a single-class split), ready for
``mlflow.log_metrics``. sklearn and matplotlib are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mfg_assets.models.maintenance.dataset import column_values

PLANT_BASELINE = "plant"  # the active plant definition's ``label.baseline_feature``


def plant_baseline_feature() -> str | None:
    """The single feature the active plant definition names as the heuristic baseline."""
    from mfg_assets.plant.definition import active_plant

    return active_plant().label.baseline_feature


def ranking_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """ROC AUC and PR AUC (average precision); NaN when ``y`` has a single class."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    if len(np.unique(y)) < 2:
        return {"roc_auc": float("nan"), "pr_auc": float("nan")}
    return {
        "roc_auc": float(roc_auc_score(y, proba)),
        "pr_auc": float(average_precision_score(y, proba)),
    }


def threshold_metrics(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall, F1 and predicted positive rate for ``proba >= threshold``."""
    predicted = proba >= threshold
    actual = y > 0.5
    tp = float(np.sum(predicted & actual))
    precision = tp / predicted.sum() if predicted.any() else 0.0
    recall = tp / actual.sum() if actual.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "positive_rate": float(predicted.mean()) if len(y) else float("nan"),
    }


def best_f1_threshold(y: np.ndarray, proba: np.ndarray, default: float = 0.5) -> float:
    """The probability cut-off maximising F1 on ``(y, proba)``; ``default`` without positives."""
    from sklearn.metrics import precision_recall_curve

    if not (y > 0.5).any():
        return default
    precision, recall, thresholds = precision_recall_curve(y, proba)
    denominator = precision[:-1] + recall[:-1]
    f1 = np.divide(
        2 * precision[:-1] * recall[:-1],
        denominator,
        out=np.zeros_like(denominator),
        where=denominator > 0,
    )
    return float(thresholds[int(np.argmax(f1))])


def evaluate(
    model_predict_proba: Callable[[Any], np.ndarray],
    test_frame: Any,
    threshold: float,
    *,
    label_column: str = "failure_within_h",
    baseline_feature: str | None = PLANT_BASELINE,
    plots_dir: str | Path | None = None,
) -> dict[str, float]:
    """Score ``test_frame`` (pandas/polars) and compare with trivial predictors.

    Keys: ``roc_auc, pr_auc, precision, recall, f1, positive_rate`` (model at ``threshold``),
    ``threshold, n_rows, n_positive, prevalence``; ``baseline_prior_*`` for a constant
    prior-rate predictor (ROC AUC 0.5, PR AUC = prevalence, alarms on every row), and
    ``baseline_heuristic_*`` for ``baseline_feature`` used as the score, alarming on its top
    ``prevalence`` share of rows (an alarm budget calibrated on the test labels, so generous).
    By default that feature is the plant definition's ``label.baseline_feature`` (the
    simulator: ``vibration_mean``); none there, or ``None`` here: no heuristic baseline.
    With ``plots_dir`` the confusion matrix, PR and ROC curves are written there as PNG.
    """
    y = column_values(test_frame, label_column)
    proba = np.asarray(model_predict_proba(test_frame), dtype=np.float64).reshape(-1)
    if len(proba) != len(y):
        raise ValueError(f"model returned {len(proba)} probabilities for {len(y)} rows")
    prevalence = float(y.mean()) if len(y) else float("nan")
    metrics = {
        **ranking_metrics(y, proba),
        **threshold_metrics(y, proba, threshold),
        "threshold": float(threshold),
        "n_rows": float(len(y)),
        "n_positive": float(y.sum()),
        "prevalence": prevalence,
        "baseline_prior_roc_auc": 0.5,
        "baseline_prior_pr_auc": prevalence,
        "baseline_prior_f1": 2 * prevalence / (1 + prevalence) if prevalence > 0 else 0.0,
    }
    if baseline_feature == PLANT_BASELINE:
        baseline_feature = plant_baseline_feature()
    if baseline_feature is not None:
        score = column_values(test_frame, baseline_feature)
        cut = float(np.nanquantile(score, 1 - prevalence)) if prevalence > 0 else np.inf
        heuristic = {**ranking_metrics(y, score), **threshold_metrics(y, score, cut)}
        metrics.update({f"baseline_heuristic_{k}": v for k, v in heuristic.items()})
    if plots_dir is not None:
        save_evaluation_plots(y, proba, threshold, plots_dir)
    return metrics


def save_evaluation_plots(
    y: np.ndarray, proba: np.ndarray, threshold: float, out_dir: str | Path
) -> list[Path]:
    """Confusion matrix always; PR and ROC curves when both classes occur. Returns the files."""
    from matplotlib.figure import Figure
    from sklearn.metrics import precision_recall_curve, roc_curve

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    actual, predicted = y > 0.5, proba >= threshold
    counts = np.array(
        [
            [np.sum(~actual & ~predicted), np.sum(~actual & predicted)],
            [np.sum(actual & ~predicted), np.sum(actual & predicted)],
        ]
    )
    written = []
    fig = Figure(figsize=(4.5, 4))
    ax = fig.add_subplot()
    ax.imshow(counts, cmap="Blues")
    for (i, j), n in np.ndenumerate(counts):
        color = "white" if n > counts.max() / 2 else "black"
        ax.text(j, i, str(n), ha="center", va="center", color=color)
    ax.set_xticks([0, 1], ["no_failure", "failure"])
    ax.set_yticks([0, 1], ["no_failure", "failure"])
    ax.set(xlabel="predicted", ylabel="actual", title=f"Confusion matrix @ {threshold:.3f}")
    written.append(_save(fig, out / "confusion_matrix.png"))

    if len(np.unique(y)) == 2:
        precision, recall, _ = precision_recall_curve(y, proba)
        fig = Figure(figsize=(5, 4))
        ax = fig.add_subplot()
        ax.plot(recall, precision, label="model")
        ax.axhline(y.mean(), linestyle="--", color="grey", label="prior rate")
        at = threshold_metrics(y, proba, threshold)
        ax.scatter([at["recall"]], [at["precision"]], color="red", zorder=3, label="threshold")
        ax.set(xlabel="recall", ylabel="precision", title="Precision-recall", ylim=(0, 1.02))
        ax.legend(loc="lower left")
        written.append(_save(fig, out / "pr_curve.png"))

        fpr, tpr, _ = roc_curve(y, proba)
        fig = Figure(figsize=(5, 4))
        ax = fig.add_subplot()
        ax.plot(fpr, tpr, label="model")
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
        ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
        ax.legend(loc="lower right")
        written.append(_save(fig, out / "roc_curve.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
