"""IQR clipping of sensor readings with bounds learned from the previous hour.

The bounds for hour ``h`` come from the clean readings of hour ``h - 1`` for the same machine
and sensor, never from the hour being cleaned, so one bad hour cannot widen its own limits.
One hour is enough reference at plant sampling rates (360 samples per machine and sensor at
10 s) and keeps the hourly partition cheap: it reads one extra upstream partition, not a day.
Pairs with too little reference (first hour of the plant, a machine back from downtime) are
left unclipped.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

BOUNDS_SCHEMA = {
    "machine_id": pl.String(),
    "sensor_type": pl.String(),
    "hour": pl.Datetime("us", "UTC"),
    "lower": pl.Float64(),
    "upper": pl.Float64(),
    "reference_n": pl.UInt32(),
}


def previous_hour_iqr_bounds(
    clean: pl.DataFrame, k: float = 3.0, min_samples: int = 30
) -> pl.DataFrame:
    """Per machine, sensor and hour ``h``: ``[Q1 - k·IQR, Q3 + k·IQR]`` of hour ``h - 1``."""
    if clean.is_empty():
        return pl.DataFrame(schema=BOUNDS_SCHEMA)
    q1 = pl.col("value").quantile(0.25, "linear")
    q3 = pl.col("value").quantile(0.75, "linear")
    return (
        clean.group_by("machine_id", "sensor_type", pl.col("ts").dt.truncate("1h").alias("hour"))
        .agg(
            (q1 - k * (q3 - q1)).alias("lower"),
            (q3 + k * (q3 - q1)).alias("upper"),
            pl.len().cast(pl.UInt32).alias("reference_n"),
        )
        .filter(pl.col("reference_n") >= min_samples)
        .with_columns(pl.col("hour") + timedelta(hours=1))
        .select(list(BOUNDS_SCHEMA))
        .cast(BOUNDS_SCHEMA)
    )


def clip_wide(wide: pl.DataFrame, bounds: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Clip each sensor column of a wide ``(machine_id, ts, <sensors>)`` frame into its
    machine-hour bounds; returns the clipped frame and how many values moved."""
    sensors = [c for c in wide.columns if c not in ("machine_id", "ts", "_observed")]
    if bounds.is_empty() or wide.is_empty():
        return wide, 0
    per_hour = bounds.pivot(
        on="sensor_type",
        index=["machine_id", "hour"],
        values=["lower", "upper"],
        aggregate_function="first",
    )
    limits = {s: (f"lower_{s}", f"upper_{s}") for s in sensors if f"lower_{s}" in per_hour.columns}
    joined = wide.with_columns(pl.col("ts").dt.truncate("1h").alias("hour")).join(
        per_hour, on=["machine_id", "hour"], how="left"
    )
    clipped = {s: pl.col(s).clip(pl.col(lo), pl.col(hi)) for s, (lo, hi) in limits.items()}
    moved = joined.select(
        pl.sum_horizontal(
            [(expr != pl.col(s)).fill_null(False).sum() for s, expr in clipped.items()]
        )
    ).item()
    out = joined.with_columns(**clipped).select(wide.columns)
    return out, int(moved or 0)
