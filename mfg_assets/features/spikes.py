"""Isolated spikes along each machine-sensor series: a Hampel filter (rolling median / MAD).

A reading is a spike when it stands far from the median of its neighbours in time
(``window`` readings centred on it, same machine and sensor), measured in robust standard
deviations of that machine-sensor-hour. A centred median follows a load change or a step in
the process at once (on either side of a step the majority of the window is on the reading's
own side), so only readings that disagree with both their past and their future are flagged.
Nothing is clipped or replaced: a spike is quarantined and the hour's features are computed
from the readings that were measured (gaps are interpolated between measured neighbours).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from mfg_assets.features.quarantine import sensor_enum
from mfg_assets.features.schema import sensor_types

MAD_TO_STD = 1.4826  # MAD of a normal distribution × this = its standard deviation


@dataclass(frozen=True)
class SpikeFilter:
    """Hampel filter parameters: the neighbourhood and how far out a spike must be."""

    window: int = 11  # readings, odd, centred (5 either side)
    threshold: float = 8.0  # robust standard deviations of the residual
    min_samples: int = 5  # fewer readings in the neighbourhood: never a spike

    def __post_init__(self) -> None:
        if self.window < 3 or self.window % 2 == 0:
            raise ValueError("spike window must be an odd number of readings >= 3")
        if self.threshold <= 0:
            raise ValueError("spike threshold must be > 0")


SERIES_KEY = "_series"


def in_series_order(readings: pl.DataFrame, known_machines: list[str]) -> pl.DataFrame:
    """``readings`` (known machines and sensors only) with an integer ``_series`` key per
    machine-sensor, sorted by series then time: sorted once, used by every per-series step.
    ``machine_id`` and ``sensor_type`` come back as Enums rebuilt from the key, so the sort
    moves integers, not millions of strings."""
    machines = sorted(set(known_machines))
    machine_enum = pl.Enum(machines)
    sensors = sensor_types()
    sensor_codes = sensor_enum()
    n_sensors = len(sensors)
    machine = pl.col("machine_id").cast(machine_enum).to_physical().cast(pl.UInt32)
    sensor = pl.col("sensor_type").cast(sensor_codes).to_physical().cast(pl.UInt32)
    keyed = readings.with_columns((machine * n_sensors + sensor).alias(SERIES_KEY)).drop(
        "machine_id", "sensor_type"
    )
    if keyed["ts"].is_sorted():  # plant extracts arrive in time order: a stable sort suffices
        ordered = keyed.sort(SERIES_KEY, maintain_order=True)
    else:
        ordered = keyed.sort(SERIES_KEY, "ts")
    key = pl.col(SERIES_KEY)
    return ordered.with_columns(
        pl.lit(pl.Series(machines, dtype=machine_enum))
        .gather(key // n_sensors)
        .alias("machine_id"),
        pl.lit(pl.Series(sensors, dtype=sensor_codes)).gather(key % n_sensors).alias("sensor_type"),
    )


def residual_scale(ordered: pl.DataFrame, spec: SpikeFilter) -> pl.DataFrame:
    """``ordered`` (from :func:`in_series_order`, no null values) with ``_median`` (centred
    rolling median), ``_residual`` and ``_scale`` (robust std of the residual over the
    machine-sensor-hour)."""
    median = (
        pl.col("value")
        .rolling_median(spec.window, center=True, min_samples=spec.min_samples)
        .over(SERIES_KEY)
    )
    # One integer key per machine-sensor-hour (hashes faster than two columns).
    series_hour = (pl.col(SERIES_KEY).cast(pl.Int64) * (1 << 32)) + pl.col("ts").dt.epoch(
        "s"
    ) // 3600
    with_residual = ordered.with_columns(median.alias("_median")).with_columns(
        (pl.col("value") - pl.col("_median")).alias("_residual")
    )
    scale = MAD_TO_STD * pl.col("_residual").abs().median().over(series_hour)
    # A series that barely moves (a stuck sensor, a quantized one) has a zero MAD: never call
    # a change a spike against a scale below a millionth of the level.
    floor = 1e-6 * pl.col("_median").abs() + 1e-9
    return with_residual.with_columns(pl.max_horizontal(scale, floor).alias("_scale"))


def flag_spikes(ordered: pl.DataFrame, spec: SpikeFilter = SpikeFilter()) -> pl.DataFrame:
    """``ordered`` (from :func:`in_series_order`: usable rows, numeric values) with a boolean
    ``spike`` column."""
    if ordered.is_empty():
        return ordered.with_columns(pl.lit(False).alias("spike"))
    scored = residual_scale(ordered, spec)
    spike = (pl.col("_residual").abs() > spec.threshold * pl.col("_scale")).fill_null(False)
    return scored.with_columns(spike.alias("spike")).drop("_median", "_residual", "_scale")
