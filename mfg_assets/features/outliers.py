"""IQR clipping of sensor readings with bounds learned from a trailing reference window.

The bounds for hour ``h`` come from the clean readings of ``[h - reference, h)`` for the same
machine and sensor, never from the hour being cleaned, so one bad hour cannot widen its own
limits. Pairs with too little reference (the plant's first hours) are left unclipped.
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


def trailing_iqr_bounds(
    clean: pl.DataFrame,
    reference: timedelta = timedelta(hours=24),
    k: float = 3.0,
    min_samples: int = 30,
) -> pl.DataFrame:
    """Per machine, sensor and hour: ``[Q1 - k·IQR, Q3 + k·IQR]`` of the preceding window.

    Returns one row per hour that follows a reference window with data; ``hour`` is the hour
    the bounds apply to.
    """
    if clean.is_empty():
        return pl.DataFrame(schema=BOUNDS_SCHEMA)
    period = f"{int(reference.total_seconds())}s"
    windows = (
        clean.sort("ts")
        .group_by_dynamic(
            "ts",
            every="1h",
            period=period,
            closed="left",
            label="left",
            group_by=["machine_id", "sensor_type"],
            start_by="window",
        )
        .agg(
            q1=pl.col("value").quantile(0.25, "linear"),
            q3=pl.col("value").quantile(0.75, "linear"),
            reference_n=pl.len().cast(pl.UInt32),
        )
    )
    iqr = pl.col("q3") - pl.col("q1")
    return (
        windows.filter(pl.col("reference_n") >= min_samples)
        .select(
            "machine_id",
            "sensor_type",
            (pl.col("ts") + reference).alias("hour"),
            (pl.col("q1") - k * iqr).alias("lower"),
            (pl.col("q3") + k * iqr).alias("upper"),
            "reference_n",
        )
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
