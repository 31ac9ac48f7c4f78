"""Column contract of ``machine_hourly_features``: one row per machine and hour.

``hour`` is the start of the hour the row summarises; ``event_timestamp`` is its end, the moment
the features become known. Point-in-time joins (Feast, labels) use ``event_timestamp``.
"""

from __future__ import annotations

import polars as pl

from mfg_assets.plant.catalog import SENSOR_TYPES

SENSOR_STATS: tuple[str, ...] = ("mean", "std", "min", "max", "last", "slope")
INSPECTION_COLUMNS: tuple[str, ...] = ("n_inspections", "n_defects", "defect_rate")
KEY_COLUMNS: tuple[str, ...] = ("machine_id", "hour")
TIMESTAMP_COLUMN = "event_timestamp"
TS_DTYPE = pl.Datetime("us", "UTC")


def sensor_feature_columns() -> list[str]:
    """``temperature_mean`` … ``spindle_speed_slope`` (slope in units per minute)."""
    return [f"{sensor}_{stat}" for sensor in SENSOR_TYPES for stat in SENSOR_STATS]


def feature_columns() -> list[str]:
    """Every model-facing feature, in a stable order."""
    return [*sensor_feature_columns(), "n_readings", *INSPECTION_COLUMNS]


def feature_schema() -> dict[str, pl.DataType]:
    """The full polars schema of a features partition, keys and timestamps included."""
    schema: dict[str, pl.DataType] = {
        "machine_id": pl.String(),
        "hour": TS_DTYPE,
        TIMESTAMP_COLUMN: TS_DTYPE,
    }
    schema.update({c: pl.Float64() for c in sensor_feature_columns()})
    schema.update(
        {
            "n_readings": pl.Int64(),
            "n_inspections": pl.Int64(),
            "n_defects": pl.Int64(),
            "defect_rate": pl.Float64(),
        }
    )
    return schema


def empty_features() -> pl.DataFrame:
    """A schema-correct frame with no rows."""
    return pl.DataFrame(schema=feature_schema())
