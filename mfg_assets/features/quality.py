"""Data-quality rules for plant frames, as plain functions with plant-sized thresholds.

Each rule returns a :class:`QualityResult`; severity says whether a failure is a dirty hour
(``WARN``: the data is usable, someone should look) or a broken one (``ERROR``: do not use).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from mfg_assets.plant.catalog import SENSORS

Severity = Literal["WARN", "ERROR"]


@dataclass(frozen=True)
class QualityResult:
    """Outcome of one rule over one or more partitions."""

    passed: bool
    severity: Severity
    description: str
    metadata: dict[str, object] = field(default_factory=dict)


def schema_matches(frame: pl.DataFrame, expected: Mapping[str, pl.DataType]) -> QualityResult:
    """Columns and dtypes exactly as the contract says."""
    actual = dict(frame.schema)
    missing = [c for c in expected if c not in actual]
    extra = [c for c in actual if c not in expected]
    wrong = [
        f"{c}: {actual[c]} != {t}" for c, t in expected.items() if c in actual and actual[c] != t
    ]
    ok = not (missing or extra or wrong)
    desc = "schema matches" if ok else f"missing={missing} extra={extra} wrong={wrong}"
    return QualityResult(ok, "ERROR", desc, {"columns": len(actual)})


def partitions_non_empty(rows_by_partition: Mapping[str, int]) -> QualityResult:
    """Every partition in the step holds at least one row."""
    empty = sorted(k for k, n in rows_by_partition.items() if n == 0)
    ok = not empty
    desc = "every partition has rows" if ok else f"{len(empty)} empty partition(s): {empty[:10]}"
    return QualityResult(ok, "ERROR", desc, {"empty_partitions": len(empty)})


def null_share(
    frame: pl.DataFrame, columns: Sequence[str], warn_above: float = 0.01, error_above: float = 0.2
) -> QualityResult:
    """Share of null cells in ``columns``; a little is a dirty hour, a lot is a broken one."""
    if frame.is_empty() or not columns:
        return QualityResult(True, "WARN", "no rows to check", {"null_share": 0.0})
    nulls = frame.select(pl.sum_horizontal(pl.col(columns).null_count())).item()
    share = nulls / (frame.height * len(columns))
    worst = frame.select(pl.col(columns).null_count()).transpose(include_header=True)
    worst = worst.sort("column_0", descending=True).head(3)
    severity: Severity = "ERROR" if share > error_above else "WARN"
    ok = share <= warn_above
    return QualityResult(
        ok,
        severity,
        f"null share {share:.2%} (warn > {warn_above:.0%}, fail > {error_above:.0%})",
        {"null_share": float(share), "most_null": dict(worst.iter_rows())},
    )


def unique_keys(frame: pl.DataFrame, keys: Sequence[str]) -> QualityResult:
    """No two rows share the same key."""
    dupes = frame.height - frame.select(keys).unique().height if frame.height else 0
    ok = dupes == 0
    return QualityResult(
        ok, "ERROR", f"{dupes} duplicate key row(s) on {list(keys)}", {"duplicate_rows": dupes}
    )


def features_in_physical_range(features: pl.DataFrame) -> QualityResult:
    """Hourly min/max of every sensor lie inside what the instrument can report."""
    bad: dict[str, int] = {}
    for spec in SENSORS:
        lo, hi = f"{spec.name}_min", f"{spec.name}_max"
        if lo not in features.columns:
            continue
        outside = features.filter(
            (pl.col(lo) < spec.physical_min) | (pl.col(hi) > spec.physical_max)
        ).height
        if outside:
            bad[spec.name] = outside
    ok = not bad
    desc = "all sensors inside physical ranges" if ok else f"rows outside range: {bad}"
    return QualityResult(ok, "ERROR", desc, {"rows_outside": sum(bad.values())})


def quarantine_share(
    rows_in: int, rows_quarantined: int, warn_above: float = 0.02, error_above: float = 0.2
) -> QualityResult:
    """Share of raw readings quarantined: some dirt warns, a flood fails."""
    share = rows_quarantined / rows_in if rows_in else 0.0
    severity: Severity = "ERROR" if share > error_above else "WARN"
    return QualityResult(
        share <= warn_above,
        severity,
        f"{rows_quarantined} of {rows_in} readings quarantined ({share:.2%})",
        {"quarantine_share": float(share)},
    )


def values_in_set(frame: pl.DataFrame, column: str, allowed: Sequence[str]) -> QualityResult:
    """Every value of ``column`` is one of ``allowed``."""
    unknown = frame.filter(~pl.col(column).is_in(list(allowed)))[column].unique().to_list()
    ok = not unknown
    return QualityResult(
        ok,
        "ERROR",
        f"unknown {column} values: {unknown[:10]}" if unknown else f"all {column} values known",
        {"unknown_values": len(unknown)},
    )
