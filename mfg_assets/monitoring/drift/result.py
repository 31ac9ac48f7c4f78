"""A drift report's outcome: verdicts per column and for the dataset, or why it was skipped.

Bad input never reads as "no drift": a skipped result has ``status="skipped"`` and the reason,
``as_metadata()`` then has no ``dataset_drift`` key, and ``raise_if_skipped()`` turns it into
:class:`DriftInputError`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mfg_assets.monitoring.drift.config import Status, Window


class DriftInputError(ValueError):
    """The inputs cannot give a trustworthy drift verdict; the message says why."""


@dataclass(frozen=True)
class ColumnDrift:
    """Evidently's verdict on one column: score, test, threshold, drifted or not."""

    column: str
    score: float
    method: str
    threshold: float
    drifted: bool


@dataclass
class DriftResult:
    """A drift report: verdicts per column and for the dataset, or the reason it was skipped."""

    status: Status
    reason: str | None = None
    columns: list[ColumnDrift] = field(default_factory=list)
    drift_share_threshold: float = 0.1
    current_rows: int = 0
    reference_rows: int = 0
    reference_rows_used: int = 0
    window: Window | None = None
    reference_window: Window | None = None
    reference_id: str | None = None
    snapshot: Any = field(default=None, repr=False)
    report_columns: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def skipped(cls, reason: str, **context: Any) -> DriftResult:
        """A report that could not be computed, with why (also for callers: no champion, ...)."""
        return cls(status="skipped", reason=reason, **context)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def n_drifted(self) -> int:
        return sum(c.drifted for c in self.columns)

    @property
    def drift_share(self) -> float | None:
        """Share of compared columns that drifted; None when skipped."""
        if not self.ok or not self.columns:
            return None
        return self.n_drifted / len(self.columns)

    @property
    def dataset_drift(self) -> bool | None:
        """``drift_share >= drift_share_threshold``; None (never False) when skipped."""
        share = self.drift_share
        return None if share is None else share >= self.drift_share_threshold

    @property
    def scores(self) -> dict[str, float]:
        return {c.column: c.score for c in self.columns}

    def raise_if_skipped(self) -> DriftResult:
        """This result when ok; :class:`DriftInputError` with the reason when skipped."""
        if not self.ok:
            raise DriftInputError(self.reason or "drift report skipped")
        return self

    def save_html(self, path: str | Path) -> Path:
        """Evidently's HTML report; for a skipped report a short page with the reason."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.html(), encoding="utf-8")
        return path

    def html(self) -> str:
        """The standalone HTML page :meth:`save_html` writes (to store it anywhere)."""
        if self.snapshot is not None:
            return self.snapshot.get_html_str(as_iframe=False)
        return self._skipped_html()

    def summary_markdown(self, limit: int = 30) -> str:
        """Markdown for Dagster metadata: the verdict line and a table of drifted columns."""
        if not self.ok:
            return f"**Drift report skipped**: {self.reason}"
        share = self.drift_share or 0.0
        verdict = "yes" if self.dataset_drift else "no"
        lines = [
            f"**Dataset drift: {verdict}** - {self.n_drifted} of {len(self.columns)} columns "
            f"drifted ({share:.1%}; flag at >= {self.drift_share_threshold:.0%}). "
            f"Current {self.current_rows:,} rows, reference {self.reference_rows:,} rows"
            + (
                f" (sample of {self.reference_rows_used:,})."
                if self.reference_rows_used != self.reference_rows
                else "."
            )
        ]
        drifted = sorted((c for c in self.columns if c.drifted), key=lambda c: -c.score)
        if drifted:
            lines += ["", "| column | score | method | threshold |", "| --- | ---: | --- | ---: |"]
            lines += [
                f"| {c.column} | {c.score:.3f} | {c.method} | {c.threshold:g} |"
                for c in drifted[:limit]
            ]
            if len(drifted) > limit:
                lines.append(f"| ... {len(drifted) - limit} more | | | |")
        else:
            closest = sorted(self.columns, key=distance_to_threshold)[:3]
            lines += [
                "",
                "No column drifted. Closest to their thresholds: "
                + ", ".join(f"{c.column} {c.score:.3f} / {c.threshold:g}" for c in closest)
                + ".",
            ]
        return "\n".join(lines)

    def as_metadata(self) -> dict[str, Any]:
        """Flat, JSON-friendly values for Dagster metadata (``dataset_drift`` only when ok)."""
        meta: dict[str, Any] = {"status": self.status}
        if not self.ok:
            meta["skip_reason"] = self.reason
        else:
            methods = {c.column: c.method for c in self.columns}
            thresholds = {c.column: c.threshold for c in self.columns}
            meta.update(
                {
                    "dataset_drift": bool(self.dataset_drift),
                    "drift_share": round(float(self.drift_share or 0.0), 4),
                    "drift_share_threshold": float(self.drift_share_threshold),
                    "n_drifted": int(self.n_drifted),
                    "n_columns": len(self.columns),
                    "drifted_columns": self.drifted_columns,
                    "column_scores": {c.column: _round(c.score) for c in self.columns},
                    "drift_method": _uniform(methods),
                    "drift_threshold": _uniform(thresholds),
                }
            )
            if self.report_columns and len(self.report_columns) < len(self.columns):
                meta["report_columns"] = list(self.report_columns)
        meta.update(
            {
                "current_rows": int(self.current_rows),
                "reference_rows": int(self.reference_rows),
                "reference_rows_used": int(self.reference_rows_used),
            }
        )
        for prefix, window in (("window", self.window), ("reference", self.reference_window)):
            if window is not None:
                meta[f"{prefix}_start"] = window[0].isoformat()
                meta[f"{prefix}_end"] = window[1].isoformat()
        if self.reference_id is not None:
            meta["reference_id"] = self.reference_id
        if self.timings:
            meta["compute_seconds"] = round(sum(self.timings.values()), 3)
        meta.update(self.extra)
        return meta

    def _skipped_html(self) -> str:
        rows = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in self.as_metadata().items()
        )
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>Drift report skipped</title>"
            "</head><body><h1>Drift report skipped</h1>"
            f"<p>{html.escape(self.reason or '')}</p><table>{rows}</table></body></html>"
        )


def distance_to_threshold(column: ColumnDrift) -> float:
    """How far a score is from its threshold, whichever way the test points (distances drift
    above the threshold, p-values below it): ``|log(score / threshold)|``."""
    if column.score <= 0 or column.threshold <= 0 or not math.isfinite(column.score):
        return math.inf
    return abs(math.log(column.score / column.threshold))


def _round(value: float) -> float | None:
    return round(float(value), 4) if math.isfinite(value) else None


def _uniform(values: Mapping[str, Any]) -> Any:
    distinct = set(values.values())
    return next(iter(distinct)) if len(distinct) == 1 else dict(values)
