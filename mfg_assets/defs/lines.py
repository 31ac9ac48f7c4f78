"""Features of a plant split by production line: one step per line and hour, then the
whole-plant ``machine_hourly_features`` and ``quarantined_readings`` of the hour.

Generated from ``MFG_PLANT_LINES`` (:mod:`mfg_assets.scale.lines`); without it the graph is
the single-step one of :mod:`mfg_assets.defs.features`. Every asset keeps the hourly
partitions, so the UI still shows one row per hour; the line assets are in the group
``features_by_line``. Each line step reads only its machines' rows of the hour's extract (the
``rest`` step takes rows of machines on no listed line, so no row is dropped) and runs the same
:func:`~mfg_assets.features.pipeline.build_features`; the whole-plant step concatenates the
lines' files of the hour. Each file is written atomically by the parquet IO manager.
"""

from collections.abc import Iterator, Sequence

import dagster as dg
import polars as pl

from mfg_assets.defs.common.checks import check_result, specs
from mfg_assets.defs.common.metadata import frame_metadata, split_by_hour
from mfg_assets.defs.common.partitions import hourly_partitions
from mfg_assets.defs.common.policies import HOURLY_FRESHNESS, RANGED_BACKFILL
from mfg_assets.defs.features import FEATURE_CHECKS, REFERENCE_HOURS, FeatureBuildConfig
from mfg_assets.defs.resources import PlantDatabase
from mfg_assets.defs.resources.io_managers import conform
from mfg_assets.features import quality
from mfg_assets.features.pipeline import build_features
from mfg_assets.features.quarantine import empty_quarantine, with_source_columns
from mfg_assets.features.schema import KEY_COLUMNS, feature_schema, fillable_feature_columns
from mfg_assets.ingestion.extract import (
    QUALITY_INSPECTIONS_SCHEMA,
    SENSOR_READINGS_SCHEMA,
    extract_machines,
)
from mfg_assets.scale.lines import (
    combine,
    configured_lines,
    group_filter,
    line_groups,
    machines_by_group,
    read_rows,
)
from mfg_assets.storage.partitions import HOUR, hour_key, hour_key_expr, hour_keys

GROUP = "features_by_line"
LINE_CHECKS = (
    "rows_accounted",
    "quarantine_share",
    "values_modified_share",
    "level_shift",
    "stuck_sensor",
)
PLANT_CHECKS = ("schema", "non_empty", "duplicate_keys", "null_share", "physical_ranges")
QUARANTINE_ORDER = ("source_hour", "ts", "machine_id", "sensor_type")


def features_of(group: str) -> str:
    """Asset name of a line's hourly features (``machine_hourly_features_L1``)."""
    return f"machine_hourly_features_{group}"


def quarantine_of(group: str) -> str:
    """Asset name of a line's quarantined readings (``quarantined_readings_L1``)."""
    return f"quarantined_readings_{group}"


def line_features_asset(group: str, lines: Sequence[str]) -> dg.AssetsDefinition:
    """The hourly features and quarantine of one line (or of the ``rest``)."""
    name = features_of(group)

    @dg.multi_asset(
        name=f"line_features_{group}",
        outs={
            name: dg.AssetOut(
                description=f"machine_hourly_features of the machines of line {group}.",
                io_manager_key="parquet_io_manager",
                group_name=GROUP,
                kinds={"polars", "parquet"},
                metadata={"key_columns": list(KEY_COLUMNS), "time_column": "hour"},
            ),
            quarantine_of(group): dg.AssetOut(
                description=f"quarantined_readings of the machines of line {group}.",
                io_manager_key="parquet_io_manager",
                group_name=GROUP,
                kinds={"polars", "parquet"},
            ),
        },
        # Read in the step, not loaded as inputs: only the line's rows are decoded and held.
        deps=[
            dg.AssetDep(
                "sensor_readings",
                partition_mapping=dg.TimeWindowPartitionMapping(
                    start_offset=-REFERENCE_HOURS,
                    end_offset=0,
                    allow_nonexistent_upstream_partitions=True,
                ),
            ),
            dg.AssetDep("quality_inspections"),
        ],
        required_resource_keys={"parquet_io_manager", "plant_db"},
        partitions_def=hourly_partitions,
        backfill_policy=RANGED_BACKFILL,
        check_specs=specs(name, {c: FEATURE_CHECKS[c] for c in LINE_CHECKS}),
    )
    def _line(
        context: dg.AssetExecutionContext, config: FeatureBuildConfig
    ) -> Iterator[dg.Output | dg.AssetCheckResult]:
        window = context.partition_time_window
        keys = list(context.partition_keys)
        plant_db: PlantDatabase = context.resources.plant_db
        machines = extract_machines(plant_db.url)
        groups = machines_by_group(machines, lines)
        rows = group_filter(group, groups)
        store = context.resources.parquet_io_manager.partitions()
        reference = hour_keys(window.start - REFERENCE_HOURS * HOUR, window.start)
        raw, missing = read_rows(store, "sensor_readings", [*reference, *keys], rows)
        found, missing_inspections = read_rows(store, "quality_inspections", keys, rows)
        absent = sorted({*(set(missing) - set(reference)), *missing_inspections})
        if absent:
            raise dg.Failure(f"line {group}: upstream partitions not stored: {absent}")
        readings = conform(
            with_source_columns(raw if raw is not None else pl.DataFrame()), SENSOR_READINGS_SCHEMA
        )
        inspections = conform(
            found if found is not None else pl.DataFrame(), QUALITY_INSPECTIONS_SCHEMA
        )
        extracted = dict(readings.group_by(hour_key_expr("source_hour")).len().iter_rows())
        build = build_features(
            readings,
            inspections,
            known_machines=machines["machine_id"].to_list(),
            start=window.start,
            end=window.end,
            config=config.cleaning(),
        )
        features = split_by_hour(build.features, "hour", keys)
        quarantined = build.quarantined if build.quarantined.height else empty_quarantine()
        quarantine = split_by_hour(quarantined, "source_hour", keys)
        by_hour = {
            hour_key(h): (n_in, n_clean) for h, n_in, n_clean, _ in build.rows_by_hour.rows()
        }
        for key in keys:
            meta = frame_metadata(features[key], "hour")
            meta["machines"] = features[key]["machine_id"].n_unique()
            meta["rows_in"], meta["rows_clean"] = by_hour.get(key, (0, 0))
            meta["rows_quarantined"] = quarantine[key].height
            context.add_asset_metadata(meta, asset_key=name, partition_key=key)
        context.log.info(
            f"line {group}: {len(groups[group]) if group in groups else 0} machine(s), "
            f"{build.rows_in} reading(s) in, {build.rows_quarantined} quarantined"
        )
        yield dg.Output(features, output_name=name)
        yield dg.Output(quarantine, output_name=quarantine_of(group))
        yield check_result(
            "rows_accounted",
            name,
            quality.rows_accounted(
                {key: int(extracted.get(key, 0)) for key in keys},
                {k: clean for k, (_, clean) in by_hour.items()},
                {k: quarantine[k].height for k in keys},
            ),
        )
        yield check_result(
            "quarantine_share",
            name,
            quality.quarantine_share(build.rows_in, build.rows_quarantined),
        )
        yield check_result(
            "values_modified_share",
            name,
            quality.values_modified_share(build.usable_by_sensor, build.spikes_by_sensor),
        )
        yield check_result("level_shift", name, quality.no_level_shifts(build.level_shifts))
        yield check_result("stuck_sensor", name, quality.no_stuck_sensors(build.stuck_sensors))

    return _line


def plant_features_asset(lines: Sequence[str]) -> dg.AssetsDefinition:
    """The whole-plant ``machine_hourly_features`` and ``quarantined_readings``: every line's
    rows of the hour (what the training set, the online store and the drift report read)."""
    groups = line_groups(lines)
    ins = {f"features_{g}": dg.AssetIn(key=features_of(g)) for g in groups} | {
        f"quarantine_{g}": dg.AssetIn(key=quarantine_of(g)) for g in groups
    }

    @dg.multi_asset(
        name="machine_hourly_features_by_line",
        outs={
            "machine_hourly_features": dg.AssetOut(
                description="One row per machine and hour, all lines of the plant (each line "
                "built by its own step, see the features_by_line group).",
                io_manager_key="parquet_io_manager",
                group_name="features",
                kinds={"polars", "parquet"},
                freshness_policy=HOURLY_FRESHNESS,
                metadata={"key_columns": list(KEY_COLUMNS), "time_column": "hour"},
            ),
            "quarantined_readings": dg.AssetOut(
                description="Raw readings that could not be used, all lines of the plant.",
                io_manager_key="parquet_io_manager",
                group_name="features",
                kinds={"polars", "parquet"},
                freshness_policy=HOURLY_FRESHNESS,
            ),
        },
        ins=ins,
        partitions_def=hourly_partitions,
        backfill_policy=RANGED_BACKFILL,
        check_specs=specs("machine_hourly_features", {c: FEATURE_CHECKS[c] for c in PLANT_CHECKS}),
    )
    def _plant(
        context: dg.AssetExecutionContext, **parts: pl.DataFrame
    ) -> Iterator[dg.Output | dg.AssetCheckResult]:
        keys = list(context.partition_keys)
        frame = combine([parts[f"features_{g}"] for g in groups], KEY_COLUMNS)
        frame = frame if frame.width else pl.DataFrame(schema=feature_schema())
        quarantined = combine([parts[f"quarantine_{g}"] for g in groups], QUARANTINE_ORDER)
        quarantined = quarantined if quarantined.height else empty_quarantine()
        features = split_by_hour(frame, "hour", keys)
        quarantine = split_by_hour(quarantined, "source_hour", keys)
        for key in keys:
            meta = frame_metadata(features[key], "hour")
            meta["machines"] = features[key]["machine_id"].n_unique()
            meta["rows_quarantined"] = quarantine[key].height
            context.add_asset_metadata(meta, asset_key="machine_hourly_features", partition_key=key)
        yield dg.Output(
            features, output_name="machine_hourly_features", metadata={"lines": list(groups)}
        )
        yield dg.Output(quarantine, output_name="quarantined_readings")
        name = "machine_hourly_features"
        yield check_result("schema", name, quality.schema_matches(frame, feature_schema()))
        yield check_result(
            "non_empty",
            name,
            quality.partitions_non_empty({k: f.height for k, f in features.items()}),
        )
        yield check_result("duplicate_keys", name, quality.unique_keys(frame, KEY_COLUMNS))
        nulls = quality.null_share(frame, fillable_feature_columns())
        yield check_result("null_share", name, nulls)
        yield check_result("physical_ranges", name, quality.features_in_physical_range(frame))

    return _plant


def line_feature_assets(lines: Sequence[str]) -> list[dg.AssetsDefinition]:
    """One features step per line (and the rest), and the whole-plant step after them."""
    return [
        *(line_features_asset(g, lines) for g in line_groups(lines)),
        plant_features_asset(lines),
    ]


def hourly_feature_assets(lines: Sequence[str] | None = None) -> list[dg.AssetsDefinition]:
    """The hourly feature steps of the graph: the single whole-plant step, or with lines
    (default: ``MFG_PLANT_LINES``) one step per line and the whole-plant step after them."""
    from mfg_assets.defs.features import machine_hourly_features

    lines = configured_lines() if lines is None else tuple(lines)
    return line_feature_assets(lines) if lines else [machine_hourly_features]
