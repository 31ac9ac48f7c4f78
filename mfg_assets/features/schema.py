"""Column contract of ``machine_hourly_features``: one row per machine and hour.

``hour`` is the start of the hour the row summarises; ``event_timestamp`` is its end, the moment
the features become known. Point-in-time joins (Feast, labels) use ``event_timestamp``.

The columns follow the active plant definition (``MFG_PLANT``, see
:func:`mfg_assets.plant.definition.active_plant`): six statistics per sensor it declares, the
reading count, and the inspection outcomes only when the plant has quality inspections. Every
function takes the definition explicitly too (``plant=None`` = the active one).
"""

from __future__ import annotations

import polars as pl

from mfg_assets.plant.definition import PlantDefinition, SensorDef, active_plant

SENSOR_STATS: tuple[str, ...] = ("mean", "std", "min", "max", "last", "slope")
INSPECTION_COLUMNS: tuple[str, ...] = ("n_inspections", "n_defects", "defect_rate")
KEY_COLUMNS: tuple[str, ...] = ("machine_id", "hour")
TIMESTAMP_COLUMN = "event_timestamp"
TS_DTYPE = pl.Datetime("us", "UTC")


def plant_sensors(plant: PlantDefinition | None = None) -> tuple[SensorDef, ...]:
    """The sensors of ``plant`` (default: the active plant), in definition order."""
    return (plant or active_plant()).sensors


def sensor_types(plant: PlantDefinition | None = None) -> tuple[str, ...]:
    """Sensor names, in definition order (the simulator: ``temperature`` … ``spindle_speed``)."""
    return tuple(s.name for s in plant_sensors(plant))


def inspection_columns(plant: PlantDefinition | None = None) -> tuple[str, ...]:
    """The inspection outcome columns; none for a plant without quality inspections."""
    return INSPECTION_COLUMNS if (plant or active_plant()).inspections.enabled else ()


def sensor_feature_columns(plant: PlantDefinition | None = None) -> list[str]:
    """``<sensor>_<stat>`` for every sensor and statistic (slope in units per minute): for the
    simulator ``temperature_mean`` … ``spindle_speed_slope``."""
    return [f"{sensor}_{stat}" for sensor in sensor_types(plant) for stat in SENSOR_STATS]


def feature_columns(plant: PlantDefinition | None = None) -> list[str]:
    """Every model-facing feature, in a stable order."""
    plant = plant or active_plant()
    return [*sensor_feature_columns(plant), "n_readings", *inspection_columns(plant)]


def feature_schema(plant: PlantDefinition | None = None) -> dict[str, pl.DataType]:
    """The full polars schema of a features partition, keys and timestamps included."""
    plant = plant or active_plant()
    schema: dict[str, pl.DataType] = {
        "machine_id": pl.String(),
        "hour": TS_DTYPE,
        TIMESTAMP_COLUMN: TS_DTYPE,
    }
    schema.update({c: pl.Float64() for c in sensor_feature_columns(plant)})
    schema["n_readings"] = pl.Int64()
    inspections: dict[str, pl.DataType] = {
        "n_inspections": pl.Int64(),
        "n_defects": pl.Int64(),
        "defect_rate": pl.Float64(),
    }
    schema.update({c: inspections[c] for c in inspection_columns(plant)})
    return schema


def empty_features(plant: PlantDefinition | None = None) -> pl.DataFrame:
    """A schema-correct frame with no rows."""
    return pl.DataFrame(schema=feature_schema(plant))


# --------------------------------------------------------------------------- model features
# What the maintenance model, the Feast view, the serving request schema and drift read. A
# plant whose definition declares a rolling window longer than an hour (an hourly plant must:
# one reading per hour leaves the hour's std and slope empty) is modelled on its window
# features (``machine_window_features``, mfg_assets/features/windows.py); any other (the
# simulator) on the hourly summary above, unchanged.

HOURLY_FEATURES_ASSET = "machine_hourly_features"
WINDOW_FEATURES_ASSET = "machine_window_features"


def uses_window_features(plant: PlantDefinition | None = None) -> bool:
    """True when ``plant`` declares a rolling window longer than one hour."""
    return any(w.hours > 1 for w in (plant or active_plant()).features.rolling)


def model_features_asset(plant: PlantDefinition | None = None) -> str:
    """The asset whose hourly partitions feed Feast and the model."""
    return WINDOW_FEATURES_ASSET if uses_window_features(plant) else HOURLY_FEATURES_ASSET


def model_feature_columns(plant: PlantDefinition | None = None) -> list[str]:
    """The model's inputs, in a stable order: the window plan's columns or ``feature_columns``."""
    plant = plant or active_plant()
    if uses_window_features(plant):
        from mfg_assets.features.windows import window_plan

        return window_plan(plant).feature_columns()
    return feature_columns(plant)


def model_feature_schema(plant: PlantDefinition | None = None) -> dict[str, pl.DataType]:
    """The polars schema of a partition of :func:`model_features_asset` (keys included)."""
    plant = plant or active_plant()
    if uses_window_features(plant):
        from mfg_assets.features.windows import window_plan

        return window_plan(plant).schema()
    return feature_schema(plant)


def drift_feature_columns(plant: PlantDefinition | None = None) -> list[str]:
    """The hourly-summary columns drift compares by default: the sensor statistics but the
    spiky ``*_slope``; for a plant on window features (one reading per hour) only
    ``<sensor>_mean``, the reading itself (its std/slope are empty, min/max/last repeat it)."""
    plant = plant or active_plant()
    if uses_window_features(plant):
        return [f"{sensor}_mean" for sensor in sensor_types(plant)]
    return [c for c in sensor_feature_columns(plant) if not c.endswith("_slope")]


def fillable_feature_columns(plant: PlantDefinition | None = None) -> list[str]:
    """The hourly-summary columns the plant's cadence can fill: ``feature_columns`` but the
    std and slope of a sensor read fewer than twice an hour (always empty there, so a null
    share over them would only measure the cadence)."""
    plant = plant or active_plant()
    empty = {
        f"{s.name}_{stat}"
        for s in plant.sensors
        if 3600 // s.cadence_s < 2
        for stat in ("std", "slope")
    }
    return [c for c in feature_columns(plant) if c not in empty]
