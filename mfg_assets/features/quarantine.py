"""Row-level triage of raw sensor readings: what can be used, and why the rest cannot.

Nothing is dropped silently: every input row ends up either clean or quarantined with a reason,
so ``rows_in == rows_clean + rows_quarantined`` holds by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from mfg_assets.plant.catalog import SENSORS

READING_KEY = ("ts", "machine_id", "sensor_type")

# Checked in this order; a row gets the first reason that applies.
REASONS: tuple[str, ...] = (
    "unknown_machine",
    "unknown_sensor",
    "missing_value",
    "out_of_range",
    "duplicate",
)


@dataclass(frozen=True)
class Triage:
    """Clean readings and the quarantined rest (same columns plus ``reason``)."""

    clean: pl.DataFrame
    quarantined: pl.DataFrame


def reason_counts(quarantined: pl.DataFrame) -> dict[str, int]:
    """Quarantined rows per reason, every reason present (zero when none)."""
    found = dict(quarantined.group_by("reason").len().iter_rows())
    return {reason: int(found.get(reason, 0)) for reason in REASONS}


def _physical_range_ok() -> pl.Expr:
    ok = pl.lit(False)
    for spec in SENSORS:
        in_range = pl.col("value").is_between(spec.physical_min, spec.physical_max)
        ok = pl.when(pl.col("sensor_type") == spec.name).then(in_range).otherwise(ok)
    return ok


def triage_readings(readings: pl.DataFrame, known_machines: list[str] | pl.Series) -> Triage:
    """Split long-format readings into clean rows and quarantined rows with a reason.

    Duplicates are later rows with the same ``(ts, machine_id, sensor_type)`` as an earlier
    usable row; the first one is kept.
    """
    known = pl.Series(list(known_machines), dtype=pl.String)
    sensors = pl.Series([s.name for s in SENSORS], dtype=pl.String)
    value_missing = pl.col("value").is_null() | pl.col("value").is_nan()
    reason = (
        pl.when(~pl.col("machine_id").is_in(known.implode()))
        .then(pl.lit("unknown_machine"))
        .when(~pl.col("sensor_type").is_in(sensors.implode()))
        .then(pl.lit("unknown_sensor"))
        .when(value_missing)
        .then(pl.lit("missing_value"))
        .when(~_physical_range_ok())
        .then(pl.lit("out_of_range"))
        .otherwise(None)
    )
    labelled = readings.with_columns(reason.alias("reason"))
    usable = pl.col("reason").is_null()
    # A usable row whose key already appeared on an earlier usable row is a duplicate.
    repeat = ~pl.struct(*READING_KEY, usable.alias("usable")).is_first_distinct()
    labelled = labelled.with_columns(
        pl.when(usable & repeat)
        .then(pl.lit("duplicate"))
        .otherwise(pl.col("reason"))
        .alias("reason")
    )
    clean = labelled.filter(pl.col("reason").is_null()).drop("reason")
    quarantined = labelled.filter(pl.col("reason").is_not_null())
    return Triage(clean=clean, quarantined=quarantined)


def empty_quarantine() -> pl.DataFrame:
    """Schema of the quarantine output with no rows."""
    return pl.DataFrame(
        schema={
            "ts": pl.Datetime("us", "UTC"),
            "machine_id": pl.String(),
            "sensor_type": pl.String(),
            "value": pl.Float64(),
            "reason": pl.String(),
        }
    )
