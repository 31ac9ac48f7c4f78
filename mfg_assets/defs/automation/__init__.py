"""Jobs and schedules that keep the plant data current."""

from __future__ import annotations

import dagster as dg

from mfg_assets.defs.common.k8s import TRAINING_K8S_TAGS
from mfg_assets.defs.resources.mlflow import mark_mlflow_run_failed

# The lateness check (defs/monitoring.py) judges the hours already due, on its own schedule:
# not inside the run that is producing the current hour.
PLANT_INGESTION_SELECTION = dg.AssetSelection.groups(
    "plant_ingestion",
    "features",
    "features_by_line",  # the last: MFG_PLANT_LINES (defs/lines.py)
) - dg.AssetSelection.checks(
    dg.AssetCheckKey(dg.AssetKey("machine_hourly_features"), "hourly_partitions_on_time")
)

hourly_plant_job = dg.define_asset_job(
    "hourly_plant_job",
    selection=PLANT_INGESTION_SELECTION,
    description="Extract the last complete hour from the plant and rebuild its features.",
    tags={"mfg/kind": "ingestion"},
)

# Ten minutes past the hour, so rows that arrive late (the simulator delays some by up to
# half an hour; most arrive within minutes) are in the database before the extract.
hourly_plant_schedule = dg.build_schedule_from_partitioned_job(
    hourly_plant_job,
    minute_of_hour=10,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    name="hourly_plant_schedule",
)

# Declarative automation (labels follow events, the online store follows features) needs the
# automation sensor running; Dagster's default one starts stopped.
plant_automation_sensor = dg.AutomationConditionSensorDefinition(
    "plant_automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
)

# Training set → model → evaluation (+ blocking promotion gate) → champion, as one run. Its
# `mfg/kind: training` tag is limited to one run at a time by the instance's run coordinator
# (dagster.yaml), so ingestion is never starved.
maintenance_training_job = dg.define_asset_job(
    "maintenance_training_job",
    # + the bento, so a drift-triggered retrain also rebuilds the service (defs/serving.py)
    selection=dg.AssetSelection.groups("maintenance_model")
    | dg.AssetSelection.assets("maintenance_bento"),
    description="Build the training set, train, evaluate against the champion, promote, "
    "rebuild the maintenance bento.",
    # on Kubernetes the run pod (where the steps run) gets the training size (defs/common/k8s.py)
    tags={"mfg/kind": "training", **TRAINING_K8S_TAGS},
    hooks={mark_mlflow_run_failed},
)

# Inspections → YOLO dataset → detector (+ ONNX export) → evaluation (+ blocking promotion
# gate) → champion, as one run, under the same one-training-run-at-a-time tag limit.
defect_training_job = dg.define_asset_job(
    "defect_training_job",
    # + the bento, so every new champion is packaged for serving (defs/serving.py)
    selection=dg.AssetSelection.groups("defect_model") | dg.AssetSelection.assets("defect_bento"),
    description="Build the defect dataset, train and export the detector, evaluate against "
    "the champion, promote, rebuild the defect bento.",
    tags={"mfg/kind": "training", **TRAINING_K8S_TAGS},
    hooks={mark_mlflow_run_failed},
)

# Labels and the online store normally follow upstream through declarative automation; this
# job lets a backfill (or the demo) run them over a range explicitly.
labels_and_online_store_job = dg.define_asset_job(
    "labels_and_online_store_job",
    selection=dg.AssetSelection.assets("failure_labels", "online_features"),
    description="Failure labels and the Feast online store for a range of hours.",
    tags={"mfg/kind": "ingestion"},
)
