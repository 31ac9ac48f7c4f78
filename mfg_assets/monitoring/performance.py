"""Model performance on recent labeled data against the model's evaluation metrics.

Once the failure labels of a window exist (they look ``H`` hours ahead, so they lag), the
champion is scored on that window and compared with the metrics it was promoted on. Metric
definitions match :mod:`mfg_assets.models.maintenance.evaluation` (ROC AUC, PR AUC as average
precision, precision/recall/F1 at the model's threshold), so the deltas compare like with like.

A recent window is small and often has no failure at all. Metrics that the window cannot define
are reported as ``None`` with the reason in ``undefined`` - never as 0 or 0.5, which would read
as a collapse or as chance level: ROC/PR AUC need both classes, recall needs a failure, precision
needs an alarm, F1 needs a failure or an alarm.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import numpy as np

from mfg_assets.features.labels import LABEL_COLUMN

METRICS: tuple[str, ...] = ("roc_auc", "pr_auc", "precision", "recall", "f1", "positive_rate")
DEFAULT_TOLERANCE = 0.05


def _column(frame: Any, column: str) -> np.ndarray:
    """One column of a pandas or polars frame as float64 (nulls as NaN)."""
    series = frame[column]
    if type(frame).__module__.startswith("polars"):
        import polars as pl

        return series.cast(pl.Float64, strict=False).to_numpy().astype(np.float64)
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def window_metrics(
    y: np.ndarray, proba: np.ndarray, threshold: float
) -> tuple[dict[str, float | None], dict[str, str]]:
    """The :data:`METRICS` of ``proba`` against 0/1 labels ``y``, and why any is undefined."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    actual = y > 0.5
    predicted = proba >= threshold
    n, positives, alarms = len(y), int(actual.sum()), int(predicted.sum())
    tp = int(np.sum(actual & predicted))
    fp, fn = alarms - tp, positives - tp
    metrics: dict[str, float | None] = dict.fromkeys(METRICS)
    undefined: dict[str, str] = {}
    if 0 < positives < n:
        metrics["roc_auc"] = float(roc_auc_score(actual, proba))
        metrics["pr_auc"] = float(average_precision_score(actual, proba))
    else:
        kind = "failure" if positives else "no failure"
        reason = f"single class in the window: {positives} failures in {n} rows (all {kind})"
        undefined["roc_auc"] = undefined["pr_auc"] = reason
    if alarms:
        metrics["precision"] = tp / alarms
    else:
        undefined["precision"] = f"no alarm raised at threshold {threshold:g}"
    if positives:
        metrics["recall"] = tp / positives
    else:
        undefined["recall"] = "no failure in the window"
    if 2 * tp + fp + fn:
        metrics["f1"] = 2 * tp / (2 * tp + fp + fn)
    else:
        undefined["f1"] = "no failure and no alarm in the window"
    metrics["positive_rate"] = alarms / n
    return metrics, undefined


def performance_report(
    predict_proba: Callable[[Any], np.ndarray],
    labeled_frame: Any,
    threshold: float,
    reference_metrics: Mapping[str, Any] | None,
    *,
    label_column: str = LABEL_COLUMN,
    tolerance: float = DEFAULT_TOLERANCE,
    window: tuple[datetime, datetime] | None = None,
    model_version: str | None = None,
) -> dict[str, Any]:
    """Score ``labeled_frame`` (pandas/polars: model features + ``label_column``) and compare.

    Returns a flat dict for Dagster metadata: ``status`` (``ok``/``skipped`` with
    ``skip_reason``), ``n_rows``, ``n_positive``, ``prevalence``, ``threshold``, every metric of
    :data:`METRICS` (None when undefined, reason in ``undefined``), ``reference_<metric>`` and
    ``delta_<metric>`` (window minus reference, None when either side is undefined), and
    ``degraded_metrics``: metrics that dropped by more than ``tolerance`` (``positive_rate``
    excluded: it has no better direction). Rows with a null label are left out
    (``n_unlabeled``). A model returning the wrong number of probabilities, or non-finite ones,
    raises ``ValueError``.
    """
    report: dict[str, Any] = {"threshold": float(threshold)}
    if window is not None:
        report["window_start"], report["window_end"] = (t.isoformat() for t in window)
    if model_version is not None:
        report["model_version"] = model_version
    reference = {m: _finite((reference_metrics or {}).get(m)) for m in METRICS}

    rows = 0 if labeled_frame is None else len(labeled_frame)
    if rows == 0:
        return {"status": "skipped", "skip_reason": "no labeled rows in the window", **report}
    if label_column not in labeled_frame.columns:
        reason = f"label column {label_column!r} is missing from the labeled frame"
        return {"status": "skipped", "skip_reason": reason, **report}

    labels = _column(labeled_frame, label_column)
    proba = np.asarray(predict_proba(labeled_frame), dtype=np.float64).reshape(-1)
    if len(proba) != rows:
        raise ValueError(f"model returned {len(proba)} probabilities for {rows} rows")
    labeled = np.isfinite(labels)
    if not np.all(np.isfinite(proba[labeled])):
        raise ValueError("model returned non-finite probabilities")
    y, proba = labels[labeled], proba[labeled]
    report["n_unlabeled"] = int(rows - labeled.sum())
    if len(y) == 0:
        reason = f"no row of the window has a label ({rows} rows, all {label_column} null)"
        return {"status": "skipped", "skip_reason": reason, **report}

    metrics, undefined = window_metrics(y, proba, threshold)
    n_positive = int(np.sum(y > 0.5))
    report.update(
        {
            "status": "ok",
            "n_rows": len(y),
            "n_positive": n_positive,
            "prevalence": n_positive / len(y),
            **metrics,
            **{f"reference_{m}": reference[m] for m in METRICS},
        }
    )
    deltas = {
        m: None if metrics[m] is None or reference[m] is None else metrics[m] - reference[m]
        for m in METRICS
    }
    report.update({f"delta_{m}": d for m, d in deltas.items()})
    report["degraded_metrics"] = [
        m for m, d in deltas.items() if m != "positive_rate" and d is not None and d < -tolerance
    ]
    report["undefined"] = undefined
    return {"status": report.pop("status"), **report}
