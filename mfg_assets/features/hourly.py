"""From cleaned long-format readings and inspections to one feature row per machine and hour.

The seed's transform: pivot ``sensor_type`` into columns, fill gaps by linear interpolation
along time per machine, floor to the hour, aggregate, and join the inspection outcomes of the
same machine and hour. The sensors are the active plant definition's; a plant without quality
inspections has no inspection columns.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from mfg_assets.features.quarantine import sensor_enum
from mfg_assets.features.schema import (
    TIMESTAMP_COLUMN,
    empty_features,
    feature_schema,
    inspection_columns,
    sensor_types,
)


def pivot_sensors(readings: pl.DataFrame) -> pl.DataFrame:
    """Long ``(ts, machine_id, sensor_type, value)`` → wide, one column per sensor type.

    Every sensor type gets a column even if absent from the input (all null then); a repeated
    key keeps its first value (triage has already quarantined duplicates). Unknown sensor
    types are ignored. Implemented as one sort and a scatter per sensor, which is several
    times faster than ``DataFrame.pivot`` on millions of readings.
    """
    schema = {"machine_id": pl.String(), "ts": pl.Datetime("us", "UTC")}
    sensors = sensor_types()
    code = pl.col("sensor_type").cast(sensor_enum(), strict=False).to_physical()
    long = (
        readings.select("machine_id", "ts", "value", code.alias("_sensor"))
        .drop_nulls("_sensor")
        .sort("machine_id", "ts", "_sensor", maintain_order=True)
    )
    if long.is_empty():
        return pl.DataFrame(schema=schema | {s: pl.Float64() for s in sensors})
    starts = (pl.col("machine_id") != pl.col("machine_id").shift(1)) | (
        pl.col("ts") != pl.col("ts").shift(1)
    )
    long = long.with_columns(starts.fill_null(True).alias("_start"))
    group = (long["_start"].cast(pl.Int64).cum_sum() - 1).to_numpy()
    n_groups = int(group[-1]) + 1
    sensor = long["_sensor"].to_numpy()
    values = long["value"].to_numpy()
    columns = {}
    for index, name in enumerate(sensors):
        rows = np.flatnonzero(sensor == index)[::-1]  # reversed: the first value wins
        column = np.full(n_groups, np.nan)
        column[group[rows]] = values[rows]
        columns[name] = column
    keys = long.filter(pl.col("_start")).select("machine_id", "ts")
    wide = keys.with_columns(
        [pl.Series(name, column).fill_nan(None) for name, column in columns.items()]
    )
    return wide.cast(schema | {s: pl.Float64() for s in sensors})


def interpolate_gaps(wide: pl.DataFrame) -> pl.DataFrame:
    """Linear interpolation along time per machine, between measured neighbours only: a gap
    at the start or end of the window stays empty (nothing is extrapolated or carried)."""
    filled = [pl.col(s).interpolate_by("ts").over("machine_id") for s in sensor_types()]
    return wide.sort("machine_id", "ts").with_columns(filled)


def aggregate_hourly(wide: pl.DataFrame) -> pl.DataFrame:
    """Per machine-hour mean, std, min, max, last and slope of every sensor, and how many
    readings (non-null cells before gap filling, column ``_observed``) it had.

    The slope is the least-squares fit against time in minutes, from running sums
    (``(nΣtx − ΣtΣx) / (nΣt² − (Σt)²)``) so it costs one pass like the other statistics.
    """
    hour = pl.col("ts").dt.truncate("1h")
    t = ((pl.col("ts") - hour).dt.total_microseconds() / 60e6).alias("_t")
    aggs: list[pl.Expr] = [pl.col("_observed").sum().cast(pl.Int64).alias("n_readings")]
    sensors = sensor_types()
    for s in sensors:
        t_s = pl.when(pl.col(s).is_not_null()).then(pl.col("_t"))  # times this sensor has
        aggs += [
            pl.col(s).mean().alias(f"{s}_mean"),
            pl.col(s).std().alias(f"{s}_std"),
            pl.col(s).min().alias(f"{s}_min"),
            pl.col(s).max().alias(f"{s}_max"),
            pl.col(s).last(ignore_nulls=True).alias(f"{s}_last"),
            pl.col(s).count().alias(f"_n_{s}"),
            t_s.sum().alias(f"_st_{s}"),
            (t_s * t_s).sum().alias(f"_stt_{s}"),
            (pl.col("_t") * pl.col(s)).sum().alias(f"_stx_{s}"),
        ]
    hourly = (
        wide.with_columns(hour.alias("hour"), t)
        .group_by("machine_id", "hour", maintain_order=True)
        .agg(aggs)
    )
    slopes = []
    for s in sensors:
        n, st, stt = pl.col(f"_n_{s}"), pl.col(f"_st_{s}"), pl.col(f"_stt_{s}")
        denominator = n * stt - st * st
        slopes.append(
            pl.when(denominator > 1e-9)
            .then((n * pl.col(f"_stx_{s}") - st * pl.col(f"{s}_mean") * n) / denominator)
            .alias(f"{s}_slope")
        )
    helpers = [f"{p}_{s}" for s in sensors for p in ("_n", "_st", "_stt", "_stx")]
    return hourly.with_columns(slopes).drop(helpers)


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
    """The feature table for the hours covered by ``clean`` readings, schema-correct.

    Every value aggregated was measured or is interpolated between measured neighbours: no
    value is clipped or replaced (spikes are quarantined before, see ``spikes.py``).
    """
    if clean.is_empty():
        return empty_features()
    wide = pivot_sensors(clean)
    wide = wide.with_columns(
        pl.sum_horizontal(pl.col(sensor_types()).is_not_null()).alias("_observed")
    )
    hourly = aggregate_hourly(interpolate_gaps(wide))
    if inspection_columns():
        hourly = hourly.join(
            inspection_outcomes(inspections), on=["machine_id", "hour"], how="left"
        ).with_columns(
            pl.col("n_inspections", "n_defects").fill_null(0),
            pl.col("defect_rate").fill_null(0.0),
        )
    schema = feature_schema()
    features = (
        hourly.with_columns((pl.col("hour") + timedelta(hours=1)).alias(TIMESTAMP_COLUMN))
        .select(list(schema))
        .cast(schema)
        .sort("hour", "machine_id")
    )
    return features
