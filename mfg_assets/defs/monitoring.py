"""Monitoring assets: feature drift (hourly), inspection drift and model performance (daily),
and the check that flags hourly partitions missing past their due time.

Each asset gathers its inputs and calls :mod:`mfg_assets.monitoring.reports`; reports that
cannot be computed materialize with ``status: skipped`` and the reason (never as "no drift").
HTML reports and the per-champion reference samples go through :mod:`mfg_assets.storage`
(local data dir, or S3 with ``MFG_STORAGE_URI``).
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import polars as pl

from mfg_assets.defs.common.partitions import daily_partitions, hourly_partitions
from mfg_assets.features.schema import model_features_asset
from mfg_assets.monitoring.reports import FEATURE_WINDOW_HOURS
from mfg_assets.settings import partitions_start
from mfg_assets.storage.partitions import file_stem

# One report per hour, each over the trailing day: warn when two hours are missed, fail at four.
DRIFT_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=4), warn_window=timedelta(hours=2)
)
# Day reports: a day's labels are complete ~25 h after it ends, inspections right after it.
DAILY_REPORT_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=3), warn_window=timedelta(days=2)
)
LATENESS_CHECK = "hourly_partitions_on_time"


def _metadata(report: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {k: v for k, v in report.metadata.items() if v is not None}
    for name, uri in report.report_uris.items():
        meta[f"{name}_uri" if name != "report" else "report_uri"] = dg.MetadataValue.path(uri)
    meta["summary"] = dg.MetadataValue.md(report.summary)
    return meta


@dg.asset(
    partitions_def=hourly_partitions,
    ins={
        "machine_hourly_features": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-(FEATURE_WINDOW_HOURS - 1),
                end_offset=0,
                allow_nonexistent_upstream_partitions=True,
            ),
            metadata={"allow_missing_partitions": True},
        )
    },
    required_resource_keys={"parquet_io_manager"},
    group_name="monitoring",
    kinds={"evidently"},
    freshness_policy=DRIFT_FRESHNESS,
    automation_condition=dg.AutomationCondition.eager(),
    description=f"Evidently drift of the last {FEATURE_WINDOW_HOURS} h of machine_hourly_features "
    "(up to the end of the partition's hour) against the training window of the current "
    "maintenance_model champion (its MLflow training_window_* tags; sample cached per champion). "
    "Metadata: dataset_drift, drift_share, drifted columns with scores, per-column scores, "
    "window bounds, champion version, the HTML report's path. status=skipped with skip_reason "
    "when there is no champion, its window's partitions are gone, the window is empty or "
    "columns are missing. drift_retraining_sensor reads these materializations.",
)
def feature_drift_report(
    context: dg.AssetExecutionContext, machine_hourly_features: pl.DataFrame
) -> dg.MaterializeResult:
    from mfg_assets.monitoring.reports import feature_drift_report as run_report
    from mfg_assets.storage.location import artifact_store

    window = context.partition_time_window
    start, end = window.start.astimezone(UTC), window.end.astimezone(UTC)
    report = run_report(
        machine_hourly_features if machine_hourly_features.width else None,
        (end - timedelta(hours=FEATURE_WINDOW_HOURS), end),
        read=context.resources.parquet_io_manager.partitions().reader("machine_hourly_features"),
        cache=artifact_store("monitoring"),
        reports=artifact_store("reports"),
        report_path=f"drift/feature_drift_report/{file_stem(context.partition_key)}.html",
    )
    if not report.ok:
        context.log.warning(f"drift report for {start:%Y-%m-%d %H:%M} skipped: {report.summary}")
    return dg.MaterializeResult(metadata=_metadata(report))


@dg.asset(
    partitions_def=daily_partitions,
    ins={
        "quality_inspections": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(
                allow_nonexistent_upstream_partitions=True
            ),
            metadata={"allow_missing_partitions": True},
        )
    },
    required_resource_keys={"parquet_io_manager"},
    group_name="monitoring",
    kinds={"evidently"},
    freshness_policy=DAILY_REPORT_FRESHNESS,
    description="Drift of the defect detector's input for the day: simple image statistics of "
    "a sample of the inspection images (brightness, contrast, tint, edges, texture) and the "
    "defect class mix of the day's inspections, against the defect_detector champion's "
    "training window (the previous 7 days while there is none). Two HTML reports; "
    "status=skipped with the reason when a side has no inspections.",
)
def inspection_drift_report(
    context: dg.AssetExecutionContext, quality_inspections: pl.DataFrame
) -> dg.MaterializeResult:
    from mfg_assets.monitoring.reports import inspection_drift_report as run_report
    from mfg_assets.storage.location import artifact_store

    window = context.partition_time_window
    report = run_report(
        quality_inspections if quality_inspections.width else None,
        (window.start.astimezone(UTC), window.end.astimezone(UTC)),
        read=context.resources.parquet_io_manager.partitions().reader("quality_inspections"),
        reports=artifact_store("reports"),
        report_prefix=f"drift/inspection_drift_report/{context.partition_key}",
    )
    return dg.MaterializeResult(metadata=_metadata(report))


_DAY_TO_HOURS = dg.TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True)


@dg.asset(
    partitions_def=daily_partitions,
    ins={
        "failure_labels": dg.AssetIn(
            partition_mapping=_DAY_TO_HOURS, metadata={"allow_missing_partitions": True}
        ),
        # the model's inputs: machine_window_features for a plant modelled on them (Azure)
        "machine_hourly_features": dg.AssetIn(
            key=model_features_asset(),
            partition_mapping=_DAY_TO_HOURS,
            metadata={"allow_missing_partitions": True},
        ),
    },
    group_name="monitoring",
    kinds={"mlflow"},
    freshness_policy=DAILY_REPORT_FRESHNESS,
    description="The maintenance_model champion scored on the day's labelled machine-hours "
    "(labels exist ~25 h after their hour) against the test metrics it was promoted on: ROC/PR "
    "AUC, precision, recall, F1, deltas and degraded metrics. Metrics the window cannot define "
    "(no failure, no alarm) are reported as undefined, never as 0.",
)
def maintenance_model_performance(
    context: dg.AssetExecutionContext,
    failure_labels: pl.DataFrame,
    machine_hourly_features: pl.DataFrame,
) -> dg.MaterializeResult:
    from mfg_assets.features.labels import LABEL_COLUMN
    from mfg_assets.monitoring.reports import maintenance_performance_report

    window = context.partition_time_window
    labelled = None
    if failure_labels.height and machine_hourly_features.height:
        labelled = failure_labels.select("machine_id", "hour", LABEL_COLUMN).join(
            machine_hourly_features, on=["machine_id", "hour"], how="inner"
        )
    report = maintenance_performance_report(
        labelled, (window.start.astimezone(UTC), window.end.astimezone(UTC))
    )
    meta = {k: v for k, v in report.metadata.items() if v is not None}
    meta["summary"] = dg.MetadataValue.md(report.summary)
    return dg.MaterializeResult(metadata=meta)


@dg.asset_check(
    asset="machine_hourly_features",
    name=LATENESS_CHECK,
    description="Every hour of the last 48 whose end is more than 60 minutes ago has a "
    "machine_hourly_features partition (the hourly schedule runs at :10). Lists the missing "
    "hours; unlike a freshness policy it also catches a gap behind newer hours.",
)
def hourly_partitions_on_time(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    from mfg_assets.monitoring.lateness import DEFAULT_GRACE, DEFAULT_LOOKBACK, overdue_hours

    now = datetime.now(UTC)
    materialized = context.instance.get_materialized_partitions(
        dg.AssetKey("machine_hourly_features")
    )
    late = overdue_hours(materialized, now, partitions_start())
    return dg.AssetCheckResult(
        passed=not late,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(late)} hour(s) missing past their due time"
        if late
        else "every hour up to the due time is materialized",
        metadata={
            "late_partitions": late[:48],
            "late_count": len(late),
            "checked_at": now.isoformat(timespec="seconds"),
            "grace_minutes": int(DEFAULT_GRACE.total_seconds() // 60),
            "lookback_hours": int(DEFAULT_LOOKBACK.total_seconds() // 3600),
        },
    )


plant_lateness_job = dg.define_asset_job(
    "plant_lateness_job",
    selection=dg.AssetSelection.checks(hourly_partitions_on_time),
    description="Flag hourly feature partitions missing past their due time.",
    tags={"mfg/kind": "monitoring"},
)
plant_lateness_schedule = dg.ScheduleDefinition(
    name="plant_lateness_schedule",
    job=plant_lateness_job,
    cron_schedule="40 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

monitoring_assets = [feature_drift_report, inspection_drift_report, maintenance_model_performance]
