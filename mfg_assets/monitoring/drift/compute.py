"""Feature drift of a recent window against a reference: inputs checked, tests, report."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from mfg_assets.monitoring.drift.config import DriftConfig, Window, default_drift_columns
from mfg_assets.monitoring.drift.evidently_report import column_verdicts, run_report, to_pandas
from mfg_assets.monitoring.drift.fast_path import (
    check_agreement,
    report_selection,
    stat_test_verdicts,
)
from mfg_assets.monitoring.drift.inputs import column_problem, frame_problem, reference_rows
from mfg_assets.monitoring.drift.result import DriftResult
from mfg_assets.monitoring.drift.sampling import DriftReference, prepare_reference


def compute_feature_drift(
    current: pl.DataFrame | None,
    reference: pl.DataFrame | DriftReference | None,
    columns: Sequence[str] | None = None,
    config: DriftConfig | None = None,
    *,
    window: Window | None = None,
    reference_window: Window | None = None,
    reference_id: str | None = None,
) -> DriftResult:
    """Drift of numerical ``columns`` (default: :func:`default_drift_columns`) of ``current``
    against ``reference`` (a frame, or a :class:`DriftReference` prepared once per reference).

    ``window``/``reference_window``/``reference_id`` are recorded in the result and the report.
    Never raises on bad input: see :class:`DriftResult` ``status``/``reason``.
    """
    return compute_drift(
        current,
        reference,
        numerical_columns=list(columns) if columns is not None else default_drift_columns(),
        config=config,
        window=window,
        reference_window=reference_window,
        reference_id=reference_id,
    )


def compute_drift(
    current: pl.DataFrame | None,
    reference: pl.DataFrame | DriftReference | None,
    *,
    numerical_columns: Sequence[str] = (),
    categorical_columns: Sequence[str] = (),
    config: DriftConfig | None = None,
    window: Window | None = None,
    reference_window: Window | None = None,
    reference_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> DriftResult:
    """The general form of :func:`compute_feature_drift`: numerical and categorical columns."""
    config = config or DriftConfig()
    started = time.perf_counter()
    numerical = list(dict.fromkeys(numerical_columns))
    categorical = [c for c in dict.fromkeys(categorical_columns) if c not in numerical]
    columns = numerical + categorical
    if isinstance(reference, DriftReference):
        reference_window = reference_window or reference.window
        reference_id = reference_id or reference.reference_id
    context: dict[str, Any] = {
        "drift_share_threshold": config.drift_share,
        "current_rows": current.height if current is not None else 0,
        "reference_rows": reference_rows(reference),
        "window": window,
        "reference_window": reference_window,
        "reference_id": reference_id,
        "extra": dict(extra or {}),
    }
    problem = frame_problem(current, reference, columns, config)
    if problem is not None:
        return DriftResult.skipped(problem, **context)
    assert current is not None and reference is not None  # checked above
    prepared = (
        reference
        if isinstance(reference, DriftReference)
        else prepare_reference(reference, columns, config)
    )
    context["reference_rows_used"] = prepared.rows_used
    problem = column_problem(current, prepared.frame, numerical, categorical, config)
    if problem is not None:
        return DriftResult.skipped(problem, **context)
    prepared_s = time.perf_counter() - started

    started = time.perf_counter()
    current_pd = to_pandas(current.select(columns), numerical, categorical)
    reference_pd = to_pandas(prepared.frame.select(columns), numerical, categorical)
    metadata = {
        key: value
        for key, value in {
            "window": _window_text(window),
            "reference_window": _window_text(reference_window),
            "reference_id": reference_id,
        }.items()
        if value
    }
    if config.report == "preset" or config.report_columns == "all":
        shown = columns
        snapshot = run_report(current_pd, reference_pd, numerical, categorical, config, metadata)
        verdicts = column_verdicts(snapshot, columns)
    else:
        verdicts = stat_test_verdicts(current_pd, reference_pd, categorical, config, columns)
        shown = report_selection(verdicts, config.report_nearest)
        if not config.dataset_summary:  # the report needs no other column
            numerical = [c for c in numerical if c in shown]
            categorical = [c for c in categorical if c in shown]
            current_pd, reference_pd = current_pd[shown], reference_pd[shown]
        snapshot = run_report(
            current_pd, reference_pd, numerical, categorical, config, metadata, shown=shown
        )
        check_agreement(verdicts, column_verdicts(snapshot, shown))
    return DriftResult(
        status="ok",
        columns=verdicts,
        snapshot=snapshot,
        report_columns=shown,
        timings={"prepare_s": prepared_s, "report_s": time.perf_counter() - started},
        **context,
    )


def _window_text(window: Window | None) -> str | None:
    return f"{window[0].isoformat()} .. {window[1].isoformat()}" if window else None
