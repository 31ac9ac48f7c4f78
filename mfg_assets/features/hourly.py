"""From cleaned long-format readings and inspections to one feature row per machine and hour.

The seed's transform: pivot ``sensor_type`` into columns, fill gaps by linear interpolation
along time per machine, floor to the hour, aggregate, and join the inspection outcomes of the
same machine and hour.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from mfg_assets.features.schema import TIMESTAMP_COLUMN, empty_features, feature_schema
from mfg_assets.plant.catalog import SENSOR_TYPES


def pivot_sensors(readings: pl.DataFrame) -> pl.DataFrame:
    """Long ``(ts, machine_id, sensor_type, value)`` → wide, one column per sensor type.

    Every sensor type gets a column even if absent from the input (all null then).
    """
    if readings.is_empty():
        return pl.DataFrame(
            schema={"machine_id": pl.String, "ts": pl.Datetime("us", "UTC")}
            | {s: pl.Float64 for s in SENSOR_TYPES}
        )
    wide = readings.pivot(
        on="sensor_type", index=["machine_id", "ts"], values="value", aggregate_function="first"
    )
    missing = [pl.lit(None, pl.Float64).alias(s) for s in SENSOR_TYPES if s not in wide.columns]
    return (
        wide.with_columns(missing)
        .select("machine_id", "ts", *SENSOR_TYPES)
        .sort("machine_id", "ts")
    )


def interpolate_gaps(wide: pl.DataFrame) -> pl.DataFrame:
    """Linear interpolation along time per machine; edges take the nearest value."""
    filled = [
        pl.col(s).interpolate_by("ts").forward_fill().backward_fill().over("machine_id")
        for s in SENSOR_TYPES
    ]
    return wide.sort("machine_id", "ts").with_columns(filled)


def _slope(sensor: str) -> pl.Expr:
    """Least-squares slope of the sensor against time, in units per minute."""
    t = (pl.col("ts") - pl.col("ts").min()).dt.total_microseconds() / 60e6
    x = pl.col(sensor)
    var_t = ((t - t.mean()) ** 2).sum()
    cov = ((t - t.mean()) * (x - x.mean())).sum()
    return pl.when(var_t > 0).then(cov / var_t).otherwise(None)


def aggregate_hourly(wide: pl.DataFrame, reading_counts: pl.DataFrame) -> pl.DataFrame:
    """Per machine-hour mean, std, min, max, last and slope of every sensor."""
    aggs: list[pl.Expr] = []
    for s in SENSOR_TYPES:
        aggs += [
            pl.col(s).mean().alias(f"{s}_mean"),
            pl.col(s).std().alias(f"{s}_std"),
            pl.col(s).min().alias(f"{s}_min"),
            pl.col(s).max().alias(f"{s}_max"),
            pl.col(s).sort_by("ts").last().alias(f"{s}_last"),
            _slope(s).alias(f"{s}_slope"),
        ]
    hourly = (
        wide.with_columns(pl.col("ts").dt.truncate("1h").alias("hour"))
        .group_by("machine_id", "hour")
        .agg(aggs)
    )
    return hourly.join(reading_counts, on=["machine_id", "hour"], how="left")


def inspection_outcomes(inspections: pl.DataFrame) -> pl.DataFrame:
    """Per machine-hour: products inspected, defective ones and the defect rate."""
    return (
        inspections.with_columns(pl.col("inspection_time").dt.truncate("1h").alias("hour"))
        .group_by("machine_id", "hour")
        .agg(
            pl.len().cast(pl.Int64).alias("n_inspections"),
            (pl.col("defect_type") != "normal").sum().cast(pl.Int64).alias("n_defects"),
        )
        .with_columns((pl.col("n_defects") / pl.col("n_inspections")).alias("defect_rate"))
    )


def hourly_features(clean: pl.DataFrame, inspections: pl.DataFrame) -> pl.DataFrame:
    """The feature table for the hours covered by ``clean`` readings, schema-correct."""
    if clean.is_empty():
        return empty_features()
    counts = (
        clean.with_columns(pl.col("ts").dt.truncate("1h").alias("hour"))
        .group_by("machine_id", "hour")
        .agg(pl.len().cast(pl.Int64).alias("n_readings"))
    )
    hourly = aggregate_hourly(interpolate_gaps(pivot_sensors(clean)), counts)
    joined = hourly.join(inspection_outcomes(inspections), on=["machine_id", "hour"], how="left")
    schema = feature_schema()
    return (
        joined.with_columns(
            (pl.col("hour") + timedelta(hours=1)).alias(TIMESTAMP_COLUMN),
            pl.col("n_inspections", "n_defects").fill_null(0),
            pl.col("defect_rate").fill_null(0.0),
        )
        .select(list(schema))
        .cast(schema)
        .sort("hour", "machine_id")
    )
