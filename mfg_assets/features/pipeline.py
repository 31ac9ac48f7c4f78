"""The whole hourly feature build for a window of hours: triage → pivot → clip → aggregate.

Plain function so the Dagster asset stays thin and the same code runs in tests and benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from mfg_assets.features.hourly import hourly_features
from mfg_assets.features.outliers import previous_hour_iqr_bounds
from mfg_assets.features.quarantine import reason_counts, triage_readings, usable_reading

HOUR = timedelta(hours=1)
REFERENCE_STRIDE = 4


@dataclass(frozen=True)
class CleaningConfig:
    """How readings are cleaned: the IQR multiplier and the reference needed to clip at all."""

    iqr_k: float = 3.0
    min_reference_samples: int = 20


@dataclass
class FeatureBuild:
    """Features and quarantine for a window, with the accounting that ties them to the input."""

    features: pl.DataFrame
    quarantined: pl.DataFrame
    rows_in: int
    rows_clean: int
    quarantine_counts: dict[str, int] = field(default_factory=dict)
    values_clipped: int = 0

    @property
    def rows_quarantined(self) -> int:
        return self.quarantined.height


def build_features(
    readings: pl.DataFrame,
    inspections: pl.DataFrame,
    known_machines: list[str],
    start: datetime,
    end: datetime,
    config: CleaningConfig = CleaningConfig(),
) -> FeatureBuild:
    """Features for the hours in ``[start, end)``.

    ``readings`` should also hold the hour before ``start`` (used for the IQR bounds only);
    accounting and outputs cover ``[start, end)`` alone.
    """
    in_window = pl.col("ts").is_between(start, end, closed="left")
    current = readings.filter(in_window)
    triage = triage_readings(current, known_machines)
    # Bounds of hour h come from hour h-1: the hour before the window and the window itself.
    # Quartiles need usable values, not every one: every 4th reading (still ~90 per machine
    # and sensor at 10 s sampling) keeps the reference cheap; duplicates barely move them.
    reference = (
        readings.filter(pl.col("ts").is_between(start - HOUR, end - HOUR, closed="left"))
        .gather_every(REFERENCE_STRIDE)
        .filter(usable_reading(pl.Series(list(known_machines), dtype=pl.String)))
    )
    bounds = previous_hour_iqr_bounds(
        reference, k=config.iqr_k, min_samples=config.min_reference_samples
    )
    window_inspections = inspections.filter(
        pl.col("inspection_time").is_between(start, end, closed="left")
    )
    features, n_clipped = hourly_features(triage.clean, window_inspections, bounds)
    return FeatureBuild(
        features=features,
        quarantined=triage.quarantined,
        rows_in=current.height,
        rows_clean=triage.clean.height,
        quarantine_counts=reason_counts(triage.quarantined),
        values_clipped=n_clipped,
    )
