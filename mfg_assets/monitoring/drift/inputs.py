"""Why a current window and a reference cannot be compared (checked before any test runs)."""

from __future__ import annotations

import polars as pl

from mfg_assets.monitoring.drift.config import DriftConfig
from mfg_assets.monitoring.drift.sampling import DriftReference


def reference_rows(reference: pl.DataFrame | DriftReference | None) -> int:
    if reference is None:
        return 0
    if isinstance(reference, DriftReference):
        return reference.rows_total
    return reference.height


def frame_problem(
    current: pl.DataFrame | None,
    reference: pl.DataFrame | DriftReference | None,
    columns: list[str],
    config: DriftConfig,
) -> str | None:
    """Why the frames cannot be compared at all (before any sampling); None when they can."""
    if current is None or current.height == 0:
        return "current window is empty (0 rows)"
    if reference is None:
        return "no reference data (the reference window is missing)"
    ref_rows = reference_rows(reference)
    if ref_rows == 0:
        return "reference is empty (0 rows)"
    if not columns:
        return "no columns to compare"
    ref_frame = reference.frame if isinstance(reference, DriftReference) else reference
    ref_columns = set(ref_frame.columns)
    missing_current = [c for c in columns if c not in current.columns]
    missing_reference = [c for c in columns if c not in ref_columns]
    if missing_current or missing_reference:
        parts = []
        if missing_current:
            parts.append(f"missing from the current window: {', '.join(missing_current)}")
        if missing_reference:
            parts.append(f"missing from the reference: {', '.join(missing_reference)}")
        return "columns " + "; ".join(parts)
    if current.height < config.min_current_rows:
        return (
            f"current window has {current.height} rows; at least {config.min_current_rows} "
            "are needed for a drift test"
        )
    if ref_rows < config.min_reference_rows:
        return (
            f"reference has {ref_rows} rows; at least {config.min_reference_rows} are needed "
            "for a drift test"
        )
    return None


def column_problem(
    current: pl.DataFrame,
    reference: pl.DataFrame,
    numerical: list[str],
    categorical: list[str],
    config: DriftConfig,
) -> str | None:
    """Non-numeric numerical columns, and columns without enough usable values on a side."""
    for side, frame in (("current window", current), ("reference", reference)):
        wrong = [c for c in numerical if not frame.schema[c].is_numeric()]
        if wrong:
            kinds = ", ".join(f"{c} ({frame.schema[c]})" for c in wrong)
            return f"columns not numeric in the {side}: {kinds}"
    parts = []
    for side, frame, need in (
        ("current window", current, config.min_current_rows),
        ("reference", reference, config.min_reference_rows),
    ):
        usable = frame.select(
            *(pl.col(c).cast(pl.Float64).is_finite().sum().alias(c) for c in numerical),
            *(pl.col(c).is_not_null().sum().alias(c) for c in categorical),
        ).row(0, named=True)
        empty = [c for c, n in usable.items() if n == 0]
        scarce = [f"{c} ({n})" for c, n in usable.items() if 0 < n < need]
        if empty:
            parts.append(f"all-null in the {side}: {', '.join(empty)}")
        if scarce:
            parts.append(f"fewer than {need} non-null values in the {side}: {', '.join(scarce)}")
    return "columns without usable values - " + "; ".join(parts) if parts else None
