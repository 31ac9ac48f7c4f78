"""Feature drift: an Evidently 0.7 report of a recent window against a reference window.

:func:`compute_feature_drift` compares the recent hourly machine features with the reference (the
current champion's training window) and returns a :class:`DriftResult`: the dataset drift flag,
the share and names of drifted columns, per column the score, test, threshold and verdict, row
counts and window bounds, and the Evidently snapshot (``save_html``). One module per concern:

- ``config``: the compared columns and :class:`DriftConfig` (tests, thresholds, dataset share);
- ``sampling``: the stratified reference sample, prepared once per champion
  (:class:`DriftReference`);
- ``inputs``: why two frames cannot be compared (the result is then ``skipped``, never "no drift");
- ``fast_path``: every column's verdict from Evidently's stat tests, widgets only where useful;
- ``evidently_report``: the lazily imported Evidently report and its verdicts;
- ``result``: :class:`DriftResult`, its metadata, markdown and HTML;
- ``compute``: the computation that ties them together.

Why the fast path is fast and what it was measured against: README, Benchmarks, drift report.
"""

from mfg_assets.monitoring.drift.compute import compute_drift, compute_feature_drift
from mfg_assets.monitoring.drift.config import (
    DriftConfig,
    ReportColumns,
    ReportStyle,
    Status,
    Window,
    default_drift_columns,
)
from mfg_assets.monitoring.drift.evidently_report import import_evidently
from mfg_assets.monitoring.drift.result import ColumnDrift, DriftInputError, DriftResult
from mfg_assets.monitoring.drift.sampling import (
    REFERENCE_FILE,
    REFERENCE_META_FILE,
    DriftReference,
    prepare_reference,
    sample_rows,
)

__all__ = [
    "REFERENCE_FILE",
    "REFERENCE_META_FILE",
    "ColumnDrift",
    "DriftConfig",
    "DriftInputError",
    "DriftReference",
    "DriftResult",
    "ReportColumns",
    "ReportStyle",
    "Status",
    "Window",
    "compute_drift",
    "compute_feature_drift",
    "default_drift_columns",
    "import_evidently",
    "prepare_reference",
    "sample_rows",
]
