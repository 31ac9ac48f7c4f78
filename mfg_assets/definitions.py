"""The Dagster code location: ``dagster dev`` loads ``defs`` from here.

Keep this import-light: heavy libraries (torch, ultralytics, evidently, feast, mlflow,
bentoml) are imported inside the functions that use them.
"""

from __future__ import annotations

import dagster as dg

from mfg_assets.defs.automation import (
    hourly_plant_job,
    hourly_plant_schedule,
    labels_and_online_store_job,
    maintenance_training_job,
    plant_automation_sensor,
)
from mfg_assets.defs.feature_store import (
    feature_store_resource,
    maintenance_training_set,
    online_features,
)
from mfg_assets.defs.features import machine_hourly_features
from mfg_assets.defs.ingestion import machine_events, quality_inspections, sensor_readings
from mfg_assets.defs.labels import failure_labels_asset
from mfg_assets.defs.maintenance import (
    maintenance_champion,
    maintenance_model,
    maintenance_model_evaluation,
)
from mfg_assets.defs.mlflow import mlflow_tracking
from mfg_assets.defs.resources import model_io_manager, parquet_io_manager, plant_database


def build_definitions() -> dg.Definitions:
    """All assets, checks, jobs, schedules, sensors and resources of the plant."""
    return dg.Definitions(
        assets=[
            sensor_readings,
            quality_inspections,
            machine_events,
            machine_hourly_features,
            failure_labels_asset,
            online_features,
            maintenance_training_set,
            maintenance_model,
            maintenance_model_evaluation,
            maintenance_champion,
        ],
        jobs=[hourly_plant_job, labels_and_online_store_job, maintenance_training_job],
        schedules=[hourly_plant_schedule],
        sensors=[plant_automation_sensor],
        resources={
            "plant_db": plant_database(),
            "parquet_io_manager": parquet_io_manager(),
            "model_io_manager": model_io_manager(),
            "feature_store": feature_store_resource(),
            "mlflow": mlflow_tracking.configured({"experiment_name": "predictive_maintenance"}),
        },
    )


defs = build_definitions()
