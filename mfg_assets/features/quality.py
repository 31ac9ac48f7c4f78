"""Data-quality rules for plant frames, as plain functions with plant-sized thresholds.

Each rule returns a :class:`QualityResult`; severity says whether a failure is a dirty hour
(``WARN``: the data is usable, someone should look) or a broken one (``ERROR``: do not use).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from mfg_assets.features.schema import plant_sensors

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
    """Hourly min/max of every sensor lie inside what the instrument can report (the active
    plant definition's ``range`` per sensor)."""
    bad: dict[str, int] = {}
    for spec in plant_sensors():
        lo, hi = f"{spec.name}_min", f"{spec.name}_max"
        if lo not in features.columns:
            continue
        low, high = spec.range
        outside = features.filter((pl.col(lo) < low) | (pl.col(hi) > high)).height
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


def values_modified_share(
    usable_by_sensor: Mapping[str, int],
    modified_by_sensor: Mapping[str, int],
    warn_above: float = 0.01,
    error_above: float = 0.05,
) -> QualityResult:
    """Share of usable readings cleaning did not use as measured (spikes removed), per sensor:
    the worst sensor decides, so mass modification of one sensor can never be silent."""
    shares = {
        s: (modified_by_sensor.get(s, 0) / n if n else 0.0) for s, n in usable_by_sensor.items()
    }
    worst_sensor, worst = max(shares.items(), key=lambda kv: kv[1], default=("", 0.0))
    total = sum(usable_by_sensor.values())
    overall = sum(modified_by_sensor.values()) / total if total else 0.0
    severity: Severity = "ERROR" if worst > error_above else "WARN"
    return QualityResult(
        worst <= warn_above,
        severity,
        f"{sum(modified_by_sensor.values())} of {total} readings modified ({overall:.3%}); "
        f"worst {worst_sensor or '-'} {worst:.3%} (warn > {warn_above:.0%}, "
        f"fail > {error_above:.0%})",
        {
            "values_modified_share": float(overall),
            **{f"modified_share_{s}": float(v) for s, v in shares.items()},
            **{f"modified_{s}": int(modified_by_sensor.get(s, 0)) for s in usable_by_sensor},
        },
    )


def _listing(frame: pl.DataFrame, row: Callable[[dict[str, object]], str], limit: int) -> str:
    shown = [row(r) for r in frame.head(limit).iter_rows(named=True)]
    more = f" (+{frame.height - limit} more)" if frame.height > limit else ""
    return "; ".join(shown) + more


def no_level_shifts(shifts: pl.DataFrame, limit: int = 10) -> QualityResult:
    """Level shifts kept in the data (unit changes, recalibrations, setpoint changes): a
    warning naming machines, sensors and sizes, never a correction."""
    if shifts.is_empty():
        return QualityResult(True, "WARN", "no level shifts", {"level_shifts": 0})
    text = _listing(
        shifts,
        lambda r: (
            f"{r['machine_id']} {r['sensor_type']} {r['before']:.4g} → {r['after']:.4g} "
            f"({r['size']:+.4g}) at {r['hour']:%Y-%m-%d %H:%M}"
        ),
        limit,
    )
    return QualityResult(
        False,
        "WARN",
        f"{shifts.height} level shift(s), kept as measured: {text}",
        {
            "level_shifts": shifts.height,
            "machines": sorted(shifts["machine_id"].unique().to_list()),
            "sensors": sorted(shifts["sensor_type"].unique().to_list()),
            "largest_by_sensor": {
                s: float(v)
                for s, v in shifts.group_by("sensor_type")
                .agg(pl.col("size").abs().max())
                .iter_rows()
            },
        },
    )


def no_stuck_sensors(stuck: pl.DataFrame, limit: int = 10) -> QualityResult:
    """Sensors that reported one value for a whole hour: a warning naming them."""
    if stuck.is_empty():
        return QualityResult(True, "WARN", "no stuck sensors", {"stuck_sensor_hours": 0})
    text = _listing(
        stuck,
        lambda r: (
            f"{r['machine_id']} {r['sensor_type']} = {r['value']:.4g} × {r['n']} "
            f"at {r['hour']:%Y-%m-%d %H:%M}"
        ),
        limit,
    )
    return QualityResult(
        False,
        "WARN",
        f"{stuck.height} stuck sensor-hour(s): {text}",
        {
            "stuck_sensor_hours": stuck.height,
            "machines": sorted(stuck["machine_id"].unique().to_list()),
            "sensors": sorted(stuck["sensor_type"].unique().to_list()),
        },
    )


def rows_accounted(
    source_rows: Mapping[str, int], clean_rows: Mapping[str, int], quarantined: Mapping[str, int]
) -> QualityResult:
    """Per hour: rows in the source = rows clean + rows quarantined. Any gap is a lost (or
    invented) reading."""
    hours = sorted(set(source_rows) | set(clean_rows) | set(quarantined))
    gaps = {h: source_rows.get(h, 0) - clean_rows.get(h, 0) - quarantined.get(h, 0) for h in hours}
    bad = {h: g for h, g in gaps.items() if g}
    ok = not bad
    return QualityResult(
        ok,
        "ERROR",
        "every source row accounted for"
        if ok
        else f"{len(bad)} hour(s) where source rows != clean + quarantined: "
        f"{dict(list(bad.items())[:10])}",
        {
            "rows_source": int(sum(source_rows.values())),
            "rows_clean": int(sum(clean_rows.values())),
            "rows_quarantined": int(sum(quarantined.values())),
            "hours_unaccounted": len(bad),
        },
    )


def source_rows_match(extracted: Mapping[str, int], counted: Mapping[str, int]) -> QualityResult:
    """Per hour: rows extracted = the database's own ``COUNT(*)`` of the source window."""
    hours = sorted(set(extracted) | set(counted))
    bad = {h: (extracted.get(h, 0), counted.get(h, 0)) for h in hours}
    bad = {h: v for h, v in bad.items() if v[0] != v[1]}
    ok = not bad
    return QualityResult(
        ok,
        "ERROR",
        "extracted rows = COUNT(*) of the source window, every hour"
        if ok
        else f"{len(bad)} hour(s) with extracted != counted: {dict(list(bad.items())[:10])}",
        {
            "rows_extracted": int(sum(extracted.values())),
            "rows_counted": int(sum(counted.values())),
        },
    )
