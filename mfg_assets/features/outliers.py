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


def clip_to_bounds(clean: pl.DataFrame, bounds: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Clip each reading into its hour's bounds; returns the clipped frame and how many moved."""
    joined = clean.with_columns(pl.col("ts").dt.truncate("1h").alias("hour")).join(
        bounds.select("machine_id", "sensor_type", "hour", "lower", "upper"),
        on=["machine_id", "sensor_type", "hour"],
        how="left",
    )
    clipped = pl.col("value").clip(pl.col("lower"), pl.col("upper"))
    out = joined.with_columns(
        pl.when(pl.col("lower").is_not_null())
        .then(clipped)
        .otherwise(pl.col("value"))
        .alias("clipped")
    )
    n_clipped = int(out.select((pl.col("clipped") != pl.col("value")).sum()).item() or 0)
    return (
        out.select("ts", "machine_id", "sensor_type", pl.col("clipped").alias("value")),
        n_clipped,
    )
