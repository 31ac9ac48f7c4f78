"""The whole hourly feature build for a window of hours: triage → spikes → pivot → aggregate.

Plain function so the Dagster asset stays thin and the same code runs in tests and benchmarks.
Every source row of the window ends up clean or quarantined with a reason; no value is clipped
or replaced; level shifts and stuck sensors are kept and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from mfg_assets.features.hourly import hourly_features
from mfg_assets.features.quarantine import (
    SPIKE_REASON,
    name_reasons,
    reason_counts,
    triage_readings,
    usable_reading,
    with_source_columns,
)
from mfg_assets.features.schema import sensor_types
from mfg_assets.features.shifts import (
    ShiftRule,
    hourly_levels,
    level_shifts,
    stuck_sensors,
)
from mfg_assets.features.spikes import SpikeFilter, flag_spikes, in_series_order

HOUR = timedelta(hours=1)
REFERENCE_STRIDE = 4  # the previous hour's level needs a median, not every reading
CONTEXT = timedelta(minutes=5)  # readings before the window the spike filter looks back on


@dataclass(frozen=True)
class CleaningConfig:
    """How readings are cleaned: the spike filter and the level-shift / stuck-sensor rule."""

    spikes: SpikeFilter = SpikeFilter()
    shifts: ShiftRule = ShiftRule()


@dataclass
class FeatureBuild:
    """Features and quarantine for a window, with the accounting that ties them to the input
    and what cleaning saw: values it removed per sensor, level shifts, stuck sensors."""

    features: pl.DataFrame
    quarantined: pl.DataFrame
    rows_in: int
    rows_clean: int
    quarantine_counts: dict[str, int] = field(default_factory=dict)
    rows_by_hour: pl.DataFrame = field(default_factory=pl.DataFrame)
    usable_by_sensor: dict[str, int] = field(default_factory=dict)
    spikes_by_sensor: dict[str, int] = field(default_factory=dict)
    level_shifts: pl.DataFrame = field(default_factory=pl.DataFrame)
    stuck_sensors: pl.DataFrame = field(default_factory=pl.DataFrame)

    @property
    def rows_quarantined(self) -> int:
        return self.quarantined.height

    @property
    def values_modified(self) -> int:
        """Readings that passed triage but were not used as measured (spikes removed)."""
        return sum(self.spikes_by_sensor.values())


def _per_sensor(frame: pl.DataFrame) -> dict[str, int]:
    found = dict(frame.group_by("sensor_type").len().iter_rows()) if frame.height else {}
    return {s: int(found.get(s, 0)) for s in sensor_types()}


def build_features(
    readings: pl.DataFrame,
    inspections: pl.DataFrame,
    known_machines: list[str],
    start: datetime,
    end: datetime,
    config: CleaningConfig = CleaningConfig(),
) -> FeatureBuild:
    """Features for the hours in ``[start, end)``.

    ``readings`` should also hold the hour before ``start`` (its level is what a level shift
    in the first hour is measured against; its last minutes give the spike filter context);
    accounting and outputs cover ``[start, end)`` alone. A row belongs to the hour of its
    ``source_hour`` (the source window it was read in; its own hour when absent).
    """
    readings = with_source_columns(readings)
    current = readings.filter(pl.col("source_hour").is_between(start, end, closed="left"))
    triage = triage_readings(current, known_machines)
    known = pl.Series(list(known_machines), dtype=pl.String)
    columns = ["ts", "machine_id", "sensor_type", "value", "source_hour"]
    previous = readings.filter(pl.col("source_hour").is_between(start - HOUR, start, closed="left"))

    # Spikes: the Hampel filter runs over the window's clean rows with a few minutes of the
    # previous hour as context; only the window's rows can be flagged.
    context = previous.filter((pl.col("ts") >= start - CONTEXT) & usable_reading(known))
    series = in_series_order(
        pl.concat(
            [
                context.select(columns).with_columns(pl.lit(False).alias("_current")),
                triage.clean.select(columns).with_columns(pl.lit(True).alias("_current")),
            ]
        ),
        list(known_machines),
    )
    flagged = flag_spikes(series, config.spikes).filter(pl.col("_current"))
    spikes = flagged.filter(pl.col("spike"))
    kept = flagged.filter(~pl.col("spike"))
    quarantined = pl.concat(
        [
            triage.quarantined,
            name_reasons(
                spikes.with_columns(
                    pl.col("machine_id", "sensor_type").cast(pl.String),
                    pl.lit(SPIKE_REASON, pl.UInt8).alias("_reason"),
                )
            ),
        ]
    )

    window_inspections = inspections.filter(
        pl.col("inspection_time").is_between(start, end, closed="left")
    )
    features = hourly_features(kept, window_inspections)

    reference = in_series_order(
        previous.gather_every(REFERENCE_STRIDE).filter(usable_reading(known)).select(columns),
        list(known_machines),
    )
    levels = pl.concat([hourly_levels(reference), hourly_levels(kept)])
    shifts = level_shifts(levels, config.shifts).filter(pl.col("hour") >= start)
    stuck = stuck_sensors(levels, config.shifts).filter(pl.col("hour") >= start)

    rows_by_hour = _rows_by_hour(current, kept, quarantined, start, end)
    return FeatureBuild(
        features=features,
        quarantined=quarantined,
        rows_in=current.height,
        rows_clean=kept.height,
        quarantine_counts=reason_counts(quarantined),
        rows_by_hour=rows_by_hour,
        usable_by_sensor=_per_sensor(triage.clean),
        spikes_by_sensor=_per_sensor(spikes),
        level_shifts=shifts,
        stuck_sensors=stuck,
    )


def _rows_by_hour(
    current: pl.DataFrame,
    kept: pl.DataFrame,
    quarantined: pl.DataFrame,
    start: datetime,
    end: datetime,
) -> pl.DataFrame:
    """Per source hour: rows in, rows clean and rows quarantined, each counted on its own."""
    if end - start == HOUR:  # one hour (every scheduled run): no grouping needed
        return pl.DataFrame(
            {
                "source_hour": [start],
                "rows_in": [current.height],
                "rows_clean": [kept.height],
                "rows_quarantined": [quarantined.height],
            },
            schema={
                "source_hour": pl.Datetime("us", "UTC"),
                "rows_in": pl.UInt32,
                "rows_clean": pl.UInt32,
                "rows_quarantined": pl.UInt32,
            },
        )
    return (
        current.group_by("source_hour")
        .len("rows_in")
        .join(kept.group_by("source_hour").len("rows_clean"), on="source_hour", how="left")
        .join(
            quarantined.group_by("source_hour").len("rows_quarantined"),
            on="source_hour",
            how="left",
        )
        .with_columns(pl.col("rows_clean", "rows_quarantined").fill_null(0))
        .sort("source_hour")
    )
