"""The whole hourly feature build for a window of hours: triage → clip → pivot → aggregate.

Plain function so the Dagster asset stays thin and the same code runs in tests and benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from mfg_assets.features.hourly import hourly_features
from mfg_assets.features.outliers import clip_to_bounds, previous_hour_iqr_bounds
from mfg_assets.features.quarantine import reason_counts, triage_readings


@dataclass(frozen=True)
class CleaningConfig:
    """How readings are cleaned: the IQR multiplier and the reference needed to clip at all."""

    iqr_k: float = 3.0
    min_reference_samples: int = 30


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
    triage = triage_readings(readings, known_machines)
    current_clean = triage.clean.filter(in_window)
    quarantined = triage.quarantined.filter(in_window)
    bounds = previous_hour_iqr_bounds(
        triage.clean.filter(pl.col("ts") < end - timedelta(hours=1)),
        k=config.iqr_k,
        min_samples=config.min_reference_samples,
    )
    clipped, n_clipped = clip_to_bounds(current_clean, bounds)
    window_inspections = inspections.filter(
        pl.col("inspection_time").is_between(start, end, closed="left")
    )
    return FeatureBuild(
        features=hourly_features(clipped, window_inspections),
        quarantined=quarantined,
        rows_in=readings.filter(in_window).height,
        rows_clean=current_clean.height,
        quarantine_counts=reason_counts(quarantined),
        values_clipped=n_clipped,
    )
