"""Feast objects of the plant: entity ``machine``, view ``machine_hourly_features``, service
``maintenance_model_v1``. Built by a function so that ``feast`` is imported only when needed.
The view's fields are the active plant definition's model features (``model_feature_columns()``:
the hourly summary, or the window features of a plant with rolling windows longer than an hour).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from mfg_assets.feature_store.names import (
    ENTITY_NAME,
    FEATURE_SERVICE_NAME,
    FEATURE_TTL,
    JOIN_KEY,
    TIMESTAMP_FIELD,
    feature_view_name,
    offline_source_dir,
    source_name,
)
from mfg_assets.features.schema import (
    model_feature_columns,
    model_feature_schema,
    model_features_asset,
    sensor_types,
    uses_window_features,
)
from mfg_assets.plant.definition import active_plant

if TYPE_CHECKING:
    from feast import Entity, FeatureService, FeatureView, FileSource

OWNER = "plant-data@mfg.local"
TAGS = {"team": "plant-data", "asset": "machine_hourly_features"}


@dataclass(frozen=True)
class FeastDefinitions:
    """The plant's Feast objects, in apply order."""

    entity: Entity
    source: FileSource
    feature_view: FeatureView
    feature_service: FeatureService

    def objects(self) -> list[Any]:
        return [self.entity, self.source, self.feature_view, self.feature_service]


def _feast_dtype(dtype: pl.DataType) -> Any:
    from feast.types import Float64, Int64

    if dtype == pl.Float64:
        return Float64
    if dtype == pl.Int64:
        return Int64
    raise TypeError(f"no Feast type for feature dtype {dtype}")  # schema.py grew a new dtype


def build_definitions(source_path: str | Path | None = None) -> FeastDefinitions:
    """Entity, file source (the daily offline mirror), feature view and feature service."""
    from feast import Entity, FeatureService, FeatureView, Field, FileSource
    from feast.types import String
    from feast.value_type import ValueType

    path = Path(source_path) if source_path is not None else offline_source_dir()
    plant = active_plant()
    schema = model_feature_schema(plant)
    asset = model_features_asset(plant)
    entity = Entity(
        name=ENTITY_NAME,
        join_keys=[JOIN_KEY],
        value_type=ValueType.STRING,
        description=f"A production machine of the {plant.name} plant.",
        tags=TAGS,
        owner=OWNER,
    )
    source = FileSource(
        name=source_name(),
        path=str(path),
        timestamp_field=TIMESTAMP_FIELD,
        description=(
            f"Daily parquet mirror of the hourly {asset} partitions; "
            "event_timestamp is the end of the hour the row summarises."
        ),
        tags=TAGS,
        owner=OWNER,
    )
    fields = [Field(name=JOIN_KEY, dtype=String)] + [
        Field(name=name, dtype=_feast_dtype(schema[name])) for name in model_feature_columns(plant)
    ]
    feature_view = FeatureView(
        name=feature_view_name(),
        entities=[entity],
        schema=fields,
        source=source,
        ttl=FEATURE_TTL,
        online=True,
        description=(
            f"Window features per machine-hour from {asset} (rolling statistics of "
            f"{', '.join(sensor_types(plant))}, event counts, hours since maintenance, machine "
            f"attributes; plant {plant.name})."
            if uses_window_features(plant)
            else f"Hourly sensor statistics (mean/std/min/max/last/slope of "
            f"{', '.join(sensor_types(plant))}) and reading counts per machine"
            + (", with inspection defect counts" if plant.inspections.enabled else "")
            + f" (plant {plant.name})."
        ),
        tags=TAGS,
        owner=OWNER,
    )
    feature_service = FeatureService(
        name=FEATURE_SERVICE_NAME,
        features=[feature_view],
        description="Every feature the predictive-maintenance model v1 reads (training, serving).",
        tags=TAGS,
        owner=OWNER,
    )
    return FeastDefinitions(entity, source, feature_view, feature_service)
