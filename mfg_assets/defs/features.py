"""``machine_hourly_features`` and the quarantine of readings that could not be used."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from mfg_assets.defs.common.checks import check_result, specs
from mfg_assets.defs.common.metadata import frame_metadata, split_by_hour
from mfg_assets.defs.common.partitions import hourly_partitions
from mfg_assets.defs.common.policies import HOURLY_FRESHNESS, RANGED_BACKFILL
from mfg_assets.defs.resources import PlantDatabase
from mfg_assets.defs.resources.io_managers import conform
from mfg_assets.features import quality
from mfg_assets.features.pipeline import CleaningConfig, build_features
from mfg_assets.features.quarantine import empty_quarantine, with_source_columns
from mfg_assets.features.schema import KEY_COLUMNS, feature_schema, fillable_feature_columns
from mfg_assets.features.shifts import ShiftRule
from mfg_assets.features.spikes import SpikeFilter
from mfg_assets.ingestion.extract import QUALITY_INSPECTIONS_SCHEMA, SENSOR_READINGS_SCHEMA
from mfg_assets.storage.partitions import hour_key, hour_key_expr

REFERENCE_HOURS = 1  # a level shift in hour h is measured against hour h-1 (features/shifts.py)

FEATURE_CHECKS = {
    "schema": "Columns and dtypes match the feature contract (features/schema.py).",
    "non_empty": "Every hour in the step produced feature rows.",
    "duplicate_keys": "One row per (machine_id, hour).",
    "null_share": "Share of null feature cells: warns above 1 %, fails above 20 %.",
    "physical_ranges": "Hourly min/max of every sensor inside the instrument's physical range.",
    "quarantine_share": "Share of raw readings quarantined: warns above 2 %, fails above 20 %.",
    "rows_accounted": "Every hour: source rows = rows clean + rows quarantined (nothing lost).",
    "values_modified_share": (
        "Share of usable readings cleaning did not use as measured (spikes), worst sensor: "
        "warns above 1 %, fails above 5 %; per-sensor shares in the metadata."
    ),
    "level_shift": (
        "Warns when a machine-sensor's level moved from the previous hour far beyond the "
        "plant's ordinary hour-to-hour change (unit change, recalibration, setpoint change, "
        "maintenance); the values are kept as measured."
    ),
    "stuck_sensor": "Warns when a sensor reported a single value for a whole hour.",
}


class FeatureBuildConfig(dg.Config):
    """Cleaning knobs, editable from the launchpad."""

    spike_window: int = SpikeFilter.window
    spike_threshold: float = SpikeFilter.threshold
    level_shift_threshold: float = ShiftRule.threshold

    def cleaning(self) -> CleaningConfig:
        """The pipeline's cleaning settings these knobs set."""
        return CleaningConfig(
            spikes=SpikeFilter(window=self.spike_window, threshold=self.spike_threshold),
            shifts=ShiftRule(threshold=self.level_shift_threshold),
        )


@dg.multi_asset(
    outs={
        "machine_hourly_features": dg.AssetOut(
            description=(
                "One row per machine and hour: mean/std/min/max/last/slope of every sensor, "
                "reading count, inspections, defects and defect rate. Readings are triaged "
                "(unreadable timestamp, non-numeric value, unknown machine, missing value, "
                "out of physical range, duplicate, isolated spike → quarantine), pivoted and "
                "gap-filled by linear interpolation along time per machine. No value is "
                "clipped or replaced; level shifts and stuck sensors are kept and warned on."
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
    readings = conform(with_source_columns(sensor_readings), SENSOR_READINGS_SCHEMA)
    # Rows of each hour as extracted (the extract's source_rows check holds them equal to the
    # database's COUNT(*) of the hour's source window).
    extracted = dict(readings.group_by(hour_key_expr("source_hour")).len().iter_rows())
    source_rows = {key: int(extracted.get(key, 0)) for key in keys}
    build = build_features(
        readings,
        conform(quality_inspections, QUALITY_INSPECTIONS_SCHEMA),
        known_machines=plant_db.known_machines(),
        start=window.start,
        end=window.end,
        config=config.cleaning(),
    )
    features = split_by_hour(build.features, "hour", keys)
    quarantine = split_by_hour(
        build.quarantined if build.quarantined.height else empty_quarantine(), "source_hour", keys
    )
    by_hour = {hour_key(h): (n_in, n_clean) for h, n_in, n_clean, _ in build.rows_by_hour.rows()}
    for key in keys:
        meta = frame_metadata(features[key], "hour")
        meta["machines"] = features[key]["machine_id"].n_unique()
        meta["rows_quarantined"] = quarantine[key].height
        meta["rows_in"], meta["rows_clean"] = by_hour.get(key, (0, 0))
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
        "values_modified": build.values_modified,
        "level_shifts": build.level_shifts.height,
        "stuck_sensor_hours": build.stuck_sensors.height,
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
    yield check_result("null_share", name, quality.null_share(frame, fillable_feature_columns()))
    yield check_result("physical_ranges", name, quality.features_in_physical_range(frame))
    yield check_result(
        "quarantine_share", name, quality.quarantine_share(build.rows_in, build.rows_quarantined)
    )
    yield check_result(
        "rows_accounted",
        name,
        quality.rows_accounted(
            source_rows,
            {k: clean for k, (_, clean) in by_hour.items()},
            {k: quarantine[k].height for k in keys},
        ),
    )
    yield check_result(
        "values_modified_share",
        name,
        quality.values_modified_share(build.usable_by_sensor, build.spikes_by_sensor),
    )
    yield check_result("level_shift", name, quality.no_level_shifts(build.level_shifts))
    yield check_result("stuck_sensor", name, quality.no_stuck_sensors(build.stuck_sensors))
