"""The Dagster code location: ``dagster dev`` loads ``defs`` from here.

Keep this import-light: heavy libraries (torch, ultralytics, evidently, feast, mlflow,
bentoml) are imported inside the functions that use them.
"""

from __future__ import annotations

import dagster as dg

from mfg_assets.defs import defect, monitoring, serving
from mfg_assets.defs.automation import (
    defect_training_job,
    hourly_plant_job,
    hourly_plant_schedule,
    labels_and_online_store_job,
    maintenance_training_job,
    plant_automation_sensor,
)
from mfg_assets.defs.automation.drift_sensor import drift_retraining_sensor
from mfg_assets.defs.common.plant import plant_metadata, with_plant
from mfg_assets.defs.feature_store import (
    feature_store_resource,
    maintenance_training_set,
    online_features,
)
from mfg_assets.defs.ingestion import machine_events, quality_inspections, sensor_readings
from mfg_assets.defs.labels import failure_labels_asset
from mfg_assets.defs.lines import hourly_feature_assets
from mfg_assets.defs.maintenance import (
    MLFLOW_RESOURCE,
    maintenance_champion,
    maintenance_mlflow_experiment,
    maintenance_model,
    maintenance_model_evaluation,
)
from mfg_assets.defs.resources import model_io_manager, parquet_io_manager, plant_database
from mfg_assets.defs.resources.mlflow import mlflow_tracking
from mfg_assets.defs.windows import machine_window_features
from mfg_assets.plant.definition import PlantDefinition, active_plant
from mfg_assets.scale.executor import scale_executor


def inspection_assets(plant: PlantDefinition) -> list[dg.AssetsDefinition]:
    """The defect model's assets, its bento and inspection drift: none for a plant without
    quality inspections (its definition's ``inspections.enabled: false``), so the defect
    group is absent from the UI rather than failing."""
    if not plant.inspections.enabled:
        return []
    return [
        defect.defect_dataset,
        defect.defect_detector,
        defect.defect_detector_evaluation,
        defect.defect_champion,
        serving.defect_bento,
        monitoring.inspection_drift_report,
    ]


def build_definitions() -> dg.Definitions:
    """All assets, checks, jobs, schedules, sensors and resources of the plant; every asset
    and the code location carry the active plant definition's name (``MFG_PLANT``)."""
    plant = active_plant()
    inspection_only = [serving.defect_bento, monitoring.inspection_drift_report]
    defect_resources = (
        {
            defect.MLFLOW_RESOURCE: mlflow_tracking.configured(
                {"experiment_name": defect.defect_mlflow_experiment()}
            )
        }
        if plant.inspections.enabled
        else {}
    )
    return dg.Definitions(
        metadata=plant_metadata(plant),
        assets=with_plant(
            [
                sensor_readings,
                quality_inspections,
                machine_events,
                *hourly_feature_assets(),
                machine_window_features,
                failure_labels_asset,
                online_features,
                maintenance_training_set,
                maintenance_model,
                maintenance_model_evaluation,
                maintenance_champion,
                *(a for a in monitoring.monitoring_assets if a not in inspection_only),
                *(a for a in serving.serving_assets if a not in inspection_only),
                *inspection_assets(plant),
            ],
            plant,
        ),
        jobs=[
            hourly_plant_job,
            labels_and_online_store_job,
            maintenance_training_job,
            *([defect_training_job] if plant.inspections.enabled else []),
        ],
        asset_checks=[monitoring.hourly_partitions_on_time],
        schedules=[hourly_plant_schedule, monitoring.plant_lateness_schedule],
        sensors=[plant_automation_sensor, drift_retraining_sensor],
        executor=scale_executor(),
        resources={
            "plant_db": plant_database(),
            "parquet_io_manager": parquet_io_manager(),
            "model_io_manager": model_io_manager(),
            "feature_store": feature_store_resource(),
            # each model's runs go to the MLflow experiment its default experiment YAML names
            MLFLOW_RESOURCE: mlflow_tracking.configured(
                {"experiment_name": maintenance_mlflow_experiment()}
            ),
            **defect_resources,
        },
    )


defs = build_definitions()
