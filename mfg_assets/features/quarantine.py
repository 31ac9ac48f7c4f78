"""Row-level triage of raw sensor readings: what can be used, and why the rest cannot.

Nothing is dropped silently: every input row ends up either clean or quarantined with a reason,
so ``rows_in == rows_clean + rows_quarantined`` holds by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from mfg_assets.features.schema import plant_sensors

READING_KEY = ("ts", "machine_id", "sensor_type")

# Checked in this order; a row gets the first reason that applies. ``bad_timestamp`` and
# ``non_numeric`` come from the extract (``issue``); ``spike`` from the Hampel filter
# (features/spikes.py) over the rows that passed every other rule.
REASONS: tuple[str, ...] = (
    "bad_timestamp",
    "non_numeric",
    "unknown_machine",
    "unknown_sensor",
    "missing_value",
    "out_of_range",
    "duplicate",
    "spike",
)
SPIKE_REASON = REASONS.index("spike") + 1


@dataclass(frozen=True)
class Triage:
    """Clean readings and the quarantined rest (same columns plus ``reason``)."""

    clean: pl.DataFrame
    quarantined: pl.DataFrame


def reason_counts(quarantined: pl.DataFrame) -> dict[str, int]:
    """Quarantined rows per reason, every reason present (zero when none)."""
    found = dict(quarantined.group_by("reason").len().iter_rows())
    return {reason: int(found.get(reason, 0)) for reason in REASONS}


def sensor_enum() -> pl.Enum:
    """The active plant's sensor names as a polars Enum (category code = definition order)."""
    return pl.Enum([s.name for s in plant_sensors()])


def physical_bounds() -> tuple[pl.Series, pl.Series]:
    """Lower and upper physical bound per sensor, indexed by :func:`sensor_enum` code."""
    sensors = plant_sensors()
    return (
        pl.Series([s.range[0] for s in sensors], dtype=pl.Float64),
        pl.Series([s.range[1] for s in sensors], dtype=pl.Float64),
    )


def usable_reading(known_machines: pl.Series) -> pl.Expr:
    """True for a reading from a known machine and sensor with a value in physical range."""
    sensor = pl.col("sensor_type").cast(sensor_enum(), strict=False)
    code = sensor.to_physical()
    low, high = physical_bounds()
    return (
        pl.col("machine_id").is_in(known_machines.implode())
        & sensor.is_not_null()
        & pl.col("value").is_not_nan()
        & pl.col("value").is_between(pl.lit(low).gather(code), pl.lit(high).gather(code))
    ).fill_null(False)


def triage_readings(readings: pl.DataFrame, known_machines: list[str] | pl.Series) -> Triage:
    """Split long-format readings into clean rows and quarantined rows with a reason.

    Duplicates are later rows with the same ``(ts, machine_id, sensor_type)`` as an earlier
    usable row; the first one is kept. Reasons are small integer codes until the (few)
    quarantined rows get their names, so the millions of clean rows never carry strings.
    """
    known = pl.Series(list(known_machines), dtype=pl.String).unique().sort()
    machine = pl.col("machine_id").cast(pl.Enum(known), strict=False)
    sensor = pl.col("sensor_type").cast(sensor_enum(), strict=False)
    code = pl.col("_sensor").to_physical()
    low, high = physical_bounds()
    in_range = pl.col("value").is_between(pl.lit(low).gather(code), pl.lit(high).gather(code))
    readings = with_source_columns(readings)
    code_of = {name: i + 1 for i, name in enumerate(REASONS)}
    reason = (
        pl.when(pl.col("issue") == "bad_timestamp")
        .then(code_of["bad_timestamp"])
        .when(pl.col("issue") == "non_numeric")
        .then(code_of["non_numeric"])
        .when(pl.col("_machine").is_null())
        .then(code_of["unknown_machine"])
        .when(pl.col("_sensor").is_null())
        .then(code_of["unknown_sensor"])
        .when(pl.col("value").is_null() | pl.col("value").is_nan())
        .then(code_of["missing_value"])
        .when(~in_range)
        .then(code_of["out_of_range"])
        .otherwise(0)
        .cast(pl.UInt8)
    )
    labelled = readings.with_columns(machine.alias("_machine"), sensor.alias("_sensor"))
    labelled = labelled.with_columns(reason.alias("_reason")).with_row_index("_row")
    # Duplicates: an integer key (ms, machine, sensor) sorted once finds the few repeated keys
    # (cheaper than hashing millions of distinct keys); the exact key (µs timestamps) then
    # decides among those candidates. The key is exact per millisecond for any number of
    # machines and sensors (stride = machines × sensors of the plant).
    n_sensors = len(plant_sensors())
    stride = max(known.len(), 1) * n_sensors
    coarse = (
        pl.col("ts").dt.epoch("ms") * stride
        + pl.col("_machine").to_physical().cast(pl.Int64) * n_sensors
        + code.cast(pl.Int64)
    )
    keys = labelled.select(pl.when(pl.col("_reason") == 0).then(coarse).alias("k"))["k"]
    keys = keys.drop_nulls().sort()
    repeated_keys = keys.filter(keys.diff() == 0).unique()
    if repeated_keys.len():
        candidates = labelled.filter(
            (pl.col("_reason") == 0) & coarse.is_in(repeated_keys.implode())
        )
        repeated = candidates.filter(~pl.struct("ts", "_machine", "_sensor").is_first_distinct())[
            "_row"
        ]
        duplicate = pl.col("_row").is_in(repeated.implode())
        labelled = labelled.with_columns(
            pl.when(duplicate)
            .then(code_of["duplicate"])
            .otherwise(pl.col("_reason"))
            .cast(pl.UInt8)
            .alias("_reason")
        )
    columns = [c for c in readings.columns]
    clean = labelled.filter(pl.col("_reason") == 0).select(columns)
    quarantined = labelled.filter(pl.col("_reason") > 0).select(*columns, "_reason")
    return Triage(clean=clean, quarantined=name_reasons(quarantined))


def name_reasons(coded: pl.DataFrame) -> pl.DataFrame:
    """Quarantine rows with their integer ``_reason`` replaced by its name, in the quarantine
    schema (see :func:`empty_quarantine`)."""
    names = pl.lit(pl.Series(["", *REASONS]))
    return coded.select(
        *QUARANTINE_SCHEMA.keys() - {"reason"}, names.gather(pl.col("_reason")).alias("reason")
    ).select(list(QUARANTINE_SCHEMA))


def with_source_columns(readings: pl.DataFrame) -> pl.DataFrame:
    """Readings with ``source_hour`` and ``issue`` (as the extract provides them); frames made
    without them (tests, benchmarks) get each row's own hour and no issue."""
    if readings.width == 0:  # no partitions loaded: the caller conforms it to the schema
        return readings
    missing = []
    if "source_hour" not in readings.columns:
        missing.append(pl.col("ts").dt.truncate("1h").alias("source_hour"))
    if "issue" not in readings.columns:
        missing.append(pl.lit(None, pl.String).alias("issue"))
    return readings.with_columns(missing) if missing else readings


QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),  # null when the stored timestamp could not be read
    "machine_id": pl.String(),
    "sensor_type": pl.String(),
    "value": pl.Float64(),
    "source_hour": pl.Datetime("us", "UTC"),  # the hour whose source window held the row
    "reason": pl.String(),
}


def empty_quarantine() -> pl.DataFrame:
    """Schema of the quarantine output with no rows."""
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)
