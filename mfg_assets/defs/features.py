"""``machine_hourly_features`` and the quarantine of readings that could not be used."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from mfg_assets.defs.checks import check_result, specs
from mfg_assets.defs.io_managers import conform
from mfg_assets.defs.metadata import frame_metadata, split_by_hour
from mfg_assets.defs.partitions import hourly_partitions
from mfg_assets.defs.policies import HOURLY_FRESHNESS, RANGED_BACKFILL
from mfg_assets.defs.resources import PlantDatabase
from mfg_assets.features import quality
from mfg_assets.features.pipeline import CleaningConfig, build_features
from mfg_assets.features.quarantine import empty_quarantine
from mfg_assets.features.schema import KEY_COLUMNS, feature_columns, feature_schema
from mfg_assets.ingestion.extract import QUALITY_INSPECTIONS_SCHEMA, SENSOR_READINGS_SCHEMA

REFERENCE_HOURS = 1  # IQR bounds of hour h come from hour h-1 (features/outliers.py)

FEATURE_CHECKS = {
    "schema": "Columns and dtypes match the feature contract (features/schema.py).",
    "non_empty": "Every hour in the step produced feature rows.",
    "duplicate_keys": "One row per (machine_id, hour).",
    "null_share": "Share of null feature cells: warns above 1 %, fails above 20 %.",
    "physical_ranges": "Hourly min/max of every sensor inside the instrument's physical range.",
    "quarantine_share": "Share of raw readings quarantined: warns above 2 %, fails above 20 %.",
}


class FeatureBuildConfig(dg.Config):
    """Cleaning knobs, editable from the launchpad."""

    iqr_k: float = 3.0
    min_reference_samples: int = 30


@dg.multi_asset(
    outs={
        "machine_hourly_features": dg.AssetOut(
            description=(
                "One row per machine and hour: mean/std/min/max/last/slope of every sensor, "
                "reading count, inspections, defects and defect rate. Readings are triaged "
                "(unknown machine, missing value, out of physical range, duplicate → "
                "quarantine), pivoted, gap-filled by linear interpolation along time per "
                "machine and IQR-clipped with bounds learned from the previous hour."
            ),
            io_manager_key="parquet_io_manager",
            group_name="features",
            kinds={"polars", "parquet"},
            freshness_policy=HOURLY_FRESHNESS,
            metadata={"key_columns": list(KEY_COLUMNS), "time_column": "hour"},
        ),
        "quarantined_readings": dg.AssetOut(
            description="Raw readings that could not be used, each with its reason. "
            "rows_in = rows_clean + rows_quarantined for every hour.",
            io_manager_key="parquet_io_manager",
            group_name="features",
            kinds={"polars", "parquet"},
            freshness_policy=HOURLY_FRESHNESS,
        ),
    },
    ins={
        "sensor_readings": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-REFERENCE_HOURS,
                end_offset=0,
                allow_nonexistent_upstream_partitions=True,
            ),
            metadata={"allow_missing_partitions": True},
        ),
        "quality_inspections": dg.AssetIn(),
    },
    partitions_def=hourly_partitions,
    backfill_policy=RANGED_BACKFILL,
    check_specs=specs("machine_hourly_features", FEATURE_CHECKS),
)
def machine_hourly_features(
    context: dg.AssetExecutionContext,
    config: FeatureBuildConfig,
    plant_db: PlantDatabase,
    sensor_readings: pl.DataFrame,
    quality_inspections: pl.DataFrame,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Thin wrapper over :func:`mfg_assets.features.pipeline.build_features`."""
    window = context.partition_time_window
    keys = list(context.partition_keys)
    build = build_features(
        conform(sensor_readings, SENSOR_READINGS_SCHEMA),
        conform(quality_inspections, QUALITY_INSPECTIONS_SCHEMA),
        known_machines=plant_db.known_machines(),
        start=window.start,
        end=window.end,
        config=CleaningConfig(
            iqr_k=config.iqr_k, min_reference_samples=config.min_reference_samples
        ),
    )
    features = split_by_hour(build.features, "hour", keys)
    quarantine = split_by_hour(
        build.quarantined if build.quarantined.height else empty_quarantine(), "ts", keys
    )
    for key in keys:
        meta = frame_metadata(features[key], "hour")
        meta["machines"] = features[key]["machine_id"].n_unique()
        meta["rows_quarantined"] = quarantine[key].height
        context.add_asset_metadata(meta, asset_key="machine_hourly_features", partition_key=key)
        context.add_asset_metadata(
            frame_metadata(quarantine[key], "ts"),
            asset_key="quarantined_readings",
            partition_key=key,
        )
    accounting = {
        "rows_in": build.rows_in,
        "rows_clean": build.rows_clean,
        "rows_quarantined": build.rows_quarantined,
        "values_iqr_clipped": build.values_clipped,
        **{f"quarantined_{reason}": n for reason, n in build.quarantine_counts.items()},
    }
    context.log.info(f"features for {len(keys)} hour(s): {accounting}")
    yield dg.Output(features, output_name="machine_hourly_features", metadata=accounting)
    yield dg.Output(
        quarantine,
        output_name="quarantined_readings",
        metadata={"by_reason": build.quarantine_counts},
    )

    name, frame = "machine_hourly_features", build.features
    yield check_result("schema", name, quality.schema_matches(frame, feature_schema()))
    yield check_result(
        "non_empty", name, quality.partitions_non_empty({k: f.height for k, f in features.items()})
    )
    yield check_result("duplicate_keys", name, quality.unique_keys(frame, KEY_COLUMNS))
    yield check_result("null_share", name, quality.null_share(frame, feature_columns()))
    yield check_result("physical_ranges", name, quality.features_in_physical_range(frame))
    yield check_result(
        "quarantine_share", name, quality.quarantine_share(build.rows_in, build.rows_quarantined)
    )
