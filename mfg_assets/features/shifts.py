"""Changes of the process that cleaning must keep, and say out loud: level shifts, stuck sensors.

A level shift is many readings of a machine-sensor moving together (a unit change, a
recalibration, a setpoint or load change, maintenance): the hour's median differs from the
previous hour's by more than ``threshold`` times what an ordinary hour-to-hour change looks
like. "Ordinary" is the larger of the series' own sample noise and, when enough machines
report the sensor, the robust spread of that hour's change across the plant's machines, so the
plant's usual load swings (spindle speed, current) stay quiet while a shift of one machine, or
of all of them at once, stands out. A stuck sensor reports one value for a whole hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from mfg_assets.features.spikes import MAD_TO_STD, SERIES_KEY

SERIES = ("machine_id", "sensor_type")


@dataclass(frozen=True)
class ShiftRule:
    """When an hour-to-hour change is a level shift, and when a flat series is stuck."""

    threshold: float = 6.0  # × the ordinary hour-to-hour change
    min_machines: int = 5  # machines needed to measure the plant-wide spread of changes
    min_readings: int = 30  # readings per machine-sensor-hour to judge either


LEVEL_SCHEMA = {
    "machine_id": pl.String(),
    "sensor_type": pl.String(),
    "hour": pl.Datetime("us", "UTC"),
    "level": pl.Float64(),
    "noise": pl.Float64(),
    "n": pl.UInt32(),
    "range": pl.Float64(),
}
SHIFT_SCHEMA = {
    "machine_id": pl.String(),
    "sensor_type": pl.String(),
    "hour": pl.Datetime("us", "UTC"),
    "before": pl.Float64(),
    "after": pl.Float64(),
    "size": pl.Float64(),
    "score": pl.Float64(),
}


def hourly_levels(ordered: pl.DataFrame) -> pl.DataFrame:
    """Per machine, sensor and hour of ``ordered`` (from
    :func:`~mfg_assets.features.spikes.in_series_order`): median ``level``, sample ``noise``
    (robust std of consecutive differences / √2, blind to trends and steps), reading count
    and value ``range`` (max − min)."""
    if ordered.is_empty():
        return pl.DataFrame(schema=LEVEL_SCHEMA)
    hour = pl.col("ts").dt.truncate("1h").alias("hour")
    step = pl.col("value").diff().abs()
    return (
        ordered.group_by(SERIES_KEY, hour)
        .agg(
            pl.col("machine_id").first(),
            pl.col("sensor_type").first(),
            pl.col("value").median().alias("level"),
            (step.median() * MAD_TO_STD / 2**0.5).alias("noise"),
            pl.len().cast(pl.UInt32).alias("n"),
            (pl.col("value").max() - pl.col("value").min()).alias("range"),
        )
        .select(list(LEVEL_SCHEMA))
        .cast(LEVEL_SCHEMA)
    )


def level_shifts(levels: pl.DataFrame, rule: ShiftRule = ShiftRule()) -> pl.DataFrame:
    """Machine-sensor-hours whose level moved from the previous hour by more than the rule
    allows, with the level before and after and the size (after − before)."""
    enough = levels.filter(pl.col("n") >= rule.min_readings)
    previous = enough.select(
        *SERIES,
        (pl.col("hour") + timedelta(hours=1)).alias("hour"),
        pl.col("level").alias("before"),
        pl.col("noise").alias("noise_before"),
    )
    pairs = enough.join(previous, on=[*SERIES, "hour"], how="inner").with_columns(
        (pl.col("level") - pl.col("before")).alias("size")
    )
    if pairs.is_empty():
        return pl.DataFrame(schema=SHIFT_SCHEMA)
    by_hour = ("sensor_type", "hour")
    centre = pl.col("size").median().over(by_hour)
    spread = MAD_TO_STD * (pl.col("size") - centre).abs().median().over(by_hour)
    plant_spread = pl.when(pl.len().over(by_hour) >= rule.min_machines).then(spread).otherwise(0.0)
    ordinary = pl.max_horizontal(
        plant_spread, pl.col("noise"), pl.col("noise_before"), 1e-6 * pl.col("before").abs()
    )
    scored = pairs.with_columns((pl.col("size").abs() / (ordinary + 1e-12)).alias("score"))
    return (
        scored.filter(pl.col("score") > rule.threshold)
        .select(*SERIES, "hour", "before", pl.col("level").alias("after"), "size", "score")
        .cast(SHIFT_SCHEMA)
        .sort("hour", *SERIES)
    )


def stuck_sensors(levels: pl.DataFrame, rule: ShiftRule = ShiftRule()) -> pl.DataFrame:
    """Machine-sensor-hours that reported a single value over at least ``min_readings``."""
    return levels.filter((pl.col("n") >= rule.min_readings) & (pl.col("range") == 0)).select(
        *SERIES, "hour", pl.col("level").alias("value"), "n"
    )
