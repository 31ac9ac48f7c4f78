"""Monitoring reports as the assets materialize them: compute, store the HTML, flat metadata.

Plain functions over plain inputs (frames, a partition reader, file stores, the registry); the
Dagster assets in ``mfg_assets.defs.monitoring`` only gather their inputs and attach the result.

* :func:`feature_drift_report` - the recent window of hourly machine features against the
  maintenance champion's training window (:mod:`mfg_assets.monitoring.reference`).
* :func:`inspection_drift_report` - image statistics and defect class mix of a day of
  inspections against the defect detector champion's training window, or, while there is no
  such champion, the week before.
* :func:`maintenance_performance_report` - the champion's metrics on labelled recent hours
  against the test metrics it was promoted on.

A report that cannot be computed is a ``status: skipped`` report with ``skip_reason``; it never
carries ``dataset_drift``, so nothing downstream can read it as "no drift".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from mfg_assets.monitoring.drift import DriftConfig, DriftResult, Window, compute_feature_drift
from mfg_assets.monitoring.reference import (
    ChampionReference,
    PartitionReader,
    ReferenceUnavailable,
    champion_reference,
    hour_keys,
    load_reference,
    read_hours,
)
from mfg_assets.storage.files import FileStore

MAINTENANCE_MODEL = "maintenance_model"
DEFECT_MODEL = "defect_detector"
FEATURE_WINDOW_HOURS = 24
MIN_CURRENT_HOURS = 6  # a quarter of the window: fewer hours say more about gaps than drift
INSPECTION_FALLBACK_DAYS = 7
_SHARED_KEYS = {"window_start", "window_end", "reference_start", "reference_end", "reference_id"}


@dataclass
class MonitoringReport:
    """A computed (or skipped) report: the flat metadata, a markdown summary, stored HTML."""

    status: str
    metadata: dict[str, Any]
    summary: str
    report_uris: dict[str, str] = field(default_factory=dict)
    results: dict[str, DriftResult] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _store_html(reports: FileStore, path: str, result: DriftResult) -> str:
    return reports.write_bytes(path, result.html().encode("utf-8"))


def current_hours(frame: pl.DataFrame | None, column: str = "hour") -> int:
    """Distinct hours present in a window's frame."""
    if frame is None or frame.height == 0 or column not in frame.columns:
        return 0
    return int(frame[column].dt.truncate("1h").n_unique())


def feature_drift_report(
    current: pl.DataFrame | None,
    window: Window,
    *,
    read: PartitionReader,
    cache: FileStore,
    reports: FileStore,
    report_path: str,
    model_name: str = MAINTENANCE_MODEL,
    columns: Sequence[str] | None = None,
    config: DriftConfig | None = None,
    registry: Any = None,
    min_current_hours: int = MIN_CURRENT_HOURS,
) -> MonitoringReport:
    """Drift of ``current`` (the window's hourly features) against the champion's training
    window; the HTML goes to ``reports`` at ``report_path`` (skipped reports too)."""
    hours = current_hours(current)
    expected = len(hour_keys(*window))
    context = {"window": window, "current_rows": current.height if current is not None else 0}
    meta: dict[str, Any] = {"current_hours": hours, "current_hours_expected": expected}
    champion: ChampionReference | None = None
    try:
        champion = champion_reference(model_name, registry)
        meta.update(
            {
                "champion_model": model_name,
                "champion_version": champion.version,
                "reference_window_start": champion.start.isoformat(),
                "reference_window_end": champion.end.isoformat(),
            }
        )
        loaded = load_reference(champion, read, cache, columns, config)
        meta.update(loaded.as_metadata())
    except ReferenceUnavailable as exc:
        result = DriftResult.skipped(str(exc), **context)
    else:
        if 0 < hours < min_current_hours:
            result = DriftResult.skipped(
                f"current window holds {hours} of {expected} hours (at least "
                f"{min_current_hours} needed): materialize machine_hourly_features first",
                **context,
                reference_rows=loaded.reference.rows_total,
                reference_id=champion.reference_id,
            )
        else:
            result = compute_feature_drift(
                current,
                loaded.reference,
                columns,
                config,
                window=window,
                reference_window=champion.window,
                reference_id=champion.reference_id,
            )
    uri = _store_html(reports, report_path, result)
    metadata = {**result.as_metadata(), **meta, "report_uri": uri}
    return MonitoringReport(
        result.status, metadata, result.summary_markdown(), {"report": uri}, {"features": result}
    )


# --- inspections -------------------------------------------------------------------------------


def inspection_reference_window(
    window: Window, registry: Any = None, model_name: str = DEFECT_MODEL
) -> tuple[Window, str]:
    """The defect detector champion's training window, or the week before ``window`` while
    there is no champion with window tags (``reference_id`` says which)."""
    try:
        champion = champion_reference(model_name, registry, label_times=False)
    except ReferenceUnavailable:
        start = window[0] - timedelta(days=INSPECTION_FALLBACK_DAYS)
        return (start, window[0]), f"previous {INSPECTION_FALLBACK_DAYS} days (no {model_name})"
    return champion.window, champion.reference_id


def inspection_drift_report(
    current: pl.DataFrame | None,
    window: Window,
    *,
    read: PartitionReader,
    reports: FileStore,
    report_prefix: str,
    registry: Any = None,
    max_images: int = 300,
) -> MonitoringReport:
    """Image-statistics drift and defect-mix drift of a window's inspections."""
    from mfg_assets.monitoring.images import defect_mix_drift, image_drift, inspection_image_stats

    reference_window, reference_id = inspection_reference_window(window, registry)
    keys = hour_keys(*reference_window)
    reference, missing = read_hours(read, keys)
    common = {"window": window, "reference_window": reference_window, "reference_id": reference_id}
    mix = defect_mix_drift(current, reference, **common)
    if current is None or reference is None or current.height == 0 or reference.height == 0:
        side = "current window" if current is None or current.height == 0 else "reference"
        images = DriftResult.skipped(f"no inspections in the {side}", **common)
    else:
        images = image_drift(
            inspection_image_stats(current, max_images=max_images, seed=0),
            inspection_image_stats(reference, max_images=max_images, seed=1),
            **common,
        )
    results = {"image_stats": images, "defect_mix": mix}
    uris = {
        name: _store_html(reports, f"{report_prefix}/{name}.html", result)
        for name, result in results.items()
    }
    metadata: dict[str, Any] = {
        "reference_hours": len(keys),
        "reference_hours_missing": len(missing),
        "reference_id": reference_id,
        "window_start": window[0].isoformat(),
        "window_end": window[1].isoformat(),
        "reference_start": reference_window[0].isoformat(),
        "reference_end": reference_window[1].isoformat(),
    }
    for name, result in results.items():
        for key, value in result.as_metadata().items():
            if key not in _SHARED_KEYS:
                metadata[f"{name}_{key}"] = value
        metadata[f"{name}_report_uri"] = uris[name]
    status = "ok" if all(r.ok for r in results.values()) else "skipped"
    metadata["status"] = status
    if status == "ok":
        metadata["dataset_drift"] = any(bool(r.dataset_drift) for r in results.values())
    else:
        metadata["skip_reason"] = "; ".join(
            f"{name}: {r.reason}" for name, r in results.items() if not r.ok
        )
    summary = "\n\n".join(
        f"### {name.replace('_', ' ')}\n\n{r.summary_markdown()}" for name, r in results.items()
    )
    return MonitoringReport(status, metadata, summary, uris, results)


# --- performance -------------------------------------------------------------------------------


def champion_test_metrics(run_metrics: dict[str, float], prefix: str = "test_") -> dict[str, float]:
    """The held-out metrics a champion was evaluated on (``test_<metric>`` run metrics)."""
    return {k.removeprefix(prefix): v for k, v in run_metrics.items() if k.startswith(prefix)}


def maintenance_performance_report(
    labelled: pl.DataFrame | None,
    window: tuple[datetime, datetime],
    *,
    model_name: str = MAINTENANCE_MODEL,
    registry: Any = None,
) -> MonitoringReport:
    """The maintenance champion on labelled rows (features + label) of ``window``."""
    from mfg_assets.monitoring.performance import performance_report

    base: dict[str, Any] = {
        "window_start": window[0].isoformat(),
        "window_end": window[1].isoformat(),
    }
    try:
        from mfg_assets.models.registry import CHAMPION, ModelRegistry

        registry = registry or ModelRegistry()
        version = registry.get_alias_version(model_name, CHAMPION)
        if version is None:
            raise ReferenceUnavailable(f"{model_name} has no champion yet: nothing to score")
    except ReferenceUnavailable as exc:
        meta = {"status": "skipped", "skip_reason": str(exc), **base}
        return MonitoringReport("skipped", meta, f"**Performance report skipped**: {exc}")
    if labelled is None or labelled.height == 0:
        reason = "no labelled rows in the window yet (labels lag the label horizon)"
        meta = {"status": "skipped", "skip_reason": reason, "champion_version": version, **base}
        return MonitoringReport("skipped", meta, f"**Performance report skipped**: {reason}")

    from mfg_assets.models.maintenance.packaging import load_maintenance_model

    champion = load_maintenance_model(f"models:/{model_name}/{version}")  # digest-checked
    reference = champion_test_metrics(registry.version_info(model_name, version)["metrics"])
    report = performance_report(
        champion.predict_proba,
        labelled,
        champion.threshold,
        reference,
        window=window,
        model_version=str(version),
    )
    report["champion_version"] = version
    return MonitoringReport(report["status"], report, _performance_markdown(report))


def _performance_markdown(report: dict[str, Any]) -> str:
    if report["status"] != "ok":
        return f"**Performance report skipped**: {report.get('skip_reason')}"
    lines = [
        f"**Champion v{report['champion_version']}** on {report['n_rows']:,} labelled rows "
        f"({report['n_positive']} failures). Degraded: "
        + (", ".join(report["degraded_metrics"]) or "none"),
        "",
        "| metric | window | at promotion | delta |",
        "| --- | ---: | ---: | ---: |",
    ]

    def cell(value: Any) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    for metric in ("roc_auc", "pr_auc", "precision", "recall", "f1", "positive_rate"):
        lines.append(
            f"| {metric} | {cell(report.get(metric))} | {cell(report.get('reference_' + metric))}"
            f" | {cell(report.get('delta_' + metric))} |"
        )
    return "\n".join(lines)
