"""Performance on recent labeled data vs the evaluation metrics."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import polars as pl
import pytest

from mfg_assets.monitoring.performance import METRICS, performance_report

REFERENCE = {"roc_auc": 0.9, "pr_auc": 0.7, "precision": 0.5, "recall": 0.8, "f1": 0.6}


def scorer(frame):
    """A "model" reading its probability from the frame."""
    return np.asarray(frame["score"], dtype=float)


def test_metrics_on_a_hand_made_window() -> None:
    # 8 rows, 3 failures; ranked by score: 0.9(1) 0.8(0) 0.7(1) 0.6(0) 0.4(1) 0.3(0) 0.2(0) 0.1(0)
    frame = pl.DataFrame(
        {
            "score": [0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1],
            "failure_within_h": [1, 0, 1, 0, 1, 0, 0, 0],
        }
    )
    window = (datetime(2026, 11, 8, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC))
    report = performance_report(scorer, frame, 0.5, REFERENCE, window=window, model_version="7")
    assert report["status"] == "ok"
    assert (report["n_rows"], report["n_positive"]) == (8, 3)
    assert report["prevalence"] == pytest.approx(3 / 8)
    # ROC AUC: positive/negative pairs ranked right: 0.9 > all 5, 0.7 > 4 of 5, 0.4 > 3 of 5
    assert report["roc_auc"] == pytest.approx((5 + 4 + 3) / 15)
    # average precision: precision at each positive: 1/1, 2/3, 3/5
    assert report["pr_auc"] == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)
    # alarms at >= 0.5: 0.9, 0.8, 0.7, 0.6 -> 2 of 4 are failures, 2 of 3 failures caught
    assert report["precision"] == pytest.approx(0.5)
    assert report["recall"] == pytest.approx(2 / 3)
    assert report["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert report["positive_rate"] == pytest.approx(0.5)
    assert report["reference_roc_auc"] == 0.9
    assert report["delta_roc_auc"] == pytest.approx(0.8 - 0.9)
    assert report["delta_recall"] == pytest.approx(2 / 3 - 0.8)
    assert report["reference_positive_rate"] is None and report["delta_positive_rate"] is None
    assert report["degraded_metrics"] == ["roc_auc", "recall"]  # both dropped by > 0.05
    assert report["undefined"] == {}
    assert report["window_start"] == "2026-11-08T00:00:00+00:00"
    assert report["model_version"] == "7"


def test_single_class_window_reports_undefined_metrics() -> None:
    frame = pd.DataFrame({"score": [0.1, 0.2, 0.7, 0.3], "failure_within_h": [0, 0, 0, 0]})
    report = performance_report(scorer, frame, 0.5, REFERENCE)
    assert report["status"] == "ok" and report["n_positive"] == 0
    for metric in ("roc_auc", "pr_auc", "recall"):
        assert report[metric] is None and report[f"delta_{metric}"] is None
    assert "single class" in report["undefined"]["roc_auc"]
    assert "0 failures in 4 rows" in report["undefined"]["pr_auc"]
    assert report["undefined"]["recall"] == "no failure in the window"
    assert report["precision"] == 0.0 and report["f1"] == 0.0  # one false alarm
    assert report["positive_rate"] == pytest.approx(0.25)
    assert report["degraded_metrics"] == ["precision", "f1"]

    quiet = performance_report(scorer, frame.assign(score=0.1), 0.5, REFERENCE)
    assert set(quiet["undefined"]) == {"roc_auc", "pr_auc", "precision", "recall", "f1"}
    assert all(quiet[m] is None for m in METRICS if m != "positive_rate")
    assert quiet["degraded_metrics"] == []

    failing = performance_report(scorer, frame.assign(failure_within_h=1), 0.5, None)
    assert failing["roc_auc"] is None and "all failure" in failing["undefined"]["roc_auc"]
    assert failing["recall"] == pytest.approx(0.25) and failing["precision"] == 1.0


def test_unlabeled_rows_and_bad_input() -> None:
    frame = pl.DataFrame(
        {"score": [0.9, 0.1, 0.8, 0.2], "failure_within_h": [1, 0, None, None]},
        schema_overrides={"failure_within_h": pl.Int8},
    )
    report = performance_report(scorer, frame, 0.5, {"roc_auc": float("nan")})
    assert report["n_rows"] == 2 and report["n_unlabeled"] == 2
    assert report["roc_auc"] == 1.0 and report["reference_roc_auc"] is None

    empty = performance_report(scorer, frame.head(0), 0.5, REFERENCE)
    assert empty == {
        "status": "skipped",
        "skip_reason": "no labeled rows in the window",
        "threshold": 0.5,
    }
    missing = performance_report(scorer, frame.drop("failure_within_h"), 0.5, REFERENCE)
    assert missing["status"] == "skipped" and "failure_within_h" in missing["skip_reason"]
    nulls = performance_report(scorer, frame.tail(2), 0.5, REFERENCE)
    assert (
        nulls["status"] == "skipped" and "no row of the window has a label" in nulls["skip_reason"]
    )
    with pytest.raises(ValueError, match="3 probabilities for 4 rows"):
        performance_report(lambda f: np.zeros(3), frame, 0.5, REFERENCE)
    with pytest.raises(ValueError, match="non-finite"):
        performance_report(lambda f: np.full(4, np.nan), frame, 0.5, REFERENCE)
