"""``machine_window_features``: the plant definition's window features per machine and hour."""

from datetime import UTC, datetime

import dagster as dg
import polars as pl

from mfg_assets.defs.common.metadata import frame_metadata, split_by_hour
from mfg_assets.defs.common.partitions import hourly_partitions
from mfg_assets.defs.common.policies import HOURLY_FRESHNESS, RANGED_BACKFILL
from mfg_assets.defs.resources import PlantDatabase
from mfg_assets.features.windows import window_features, window_plan
from mfg_assets.ingestion.attributes import extract_machine_attributes, history_start
from mfg_assets.plant.definition import active_definition_file, active_plant, check_source
from mfg_assets.settings import partitions_start

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # events are read from the plant's first record on

PLANT = active_plant()
PLAN = window_plan(PLANT)


def machine_attributes(url: str) -> pl.DataFrame:
    """The definition's machine attributes; when the plant database lacks what the definition
    reads, an error naming the definition file and the field instead of the database's."""
    try:
        return extract_machine_attributes(url, PLANT)
    except Exception:
        check_source(PLANT, url, active_definition_file().name)  # raises, naming the field
        raise


@dg.asset(
    name="machine_window_features",
    description=(
        f"Plant `{PLANT.name}`: one row per machine and hour with the definition's window "
        "features (mean/std/min/max/slope/last over rolling hours, counts of event types, "
        "hours since each component's last maintenance or failure, machine attributes), "
        f"{len(PLAN.feature_columns())} columns. A window covers the hours present "
        "(hours_present_<H>h records how many): nothing is extrapolated. See "
        "mfg_assets/features/windows.py."
    ),
    partitions_def=hourly_partitions,
    backfill_policy=RANGED_BACKFILL,
    ins={
        "machine_hourly_features": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-PLAN.lookback_hours,
                end_offset=0,
                allow_nonexistent_upstream_partitions=True,
            ),
            metadata={"allow_missing_partitions": True},
        ),
    },
    io_manager_key="parquet_io_manager",
    group_name="features",
    kinds={"polars", "parquet"},
    freshness_policy=HOURLY_FRESHNESS,
    metadata={
        "plant": PLANT.name,
        "feature_columns": PLAN.feature_columns(),
        "lookback_hours": PLAN.lookback_hours,
    },
)
def machine_window_features(
    context: dg.AssetExecutionContext,
    plant_db: PlantDatabase,
    machine_hourly_features: pl.DataFrame,
) -> dg.Output[dict[str, pl.DataFrame]]:
    """Thin wrapper over :func:`mfg_assets.features.windows.window_features`."""
    window = context.partition_time_window
    events = plant_db.machine_events(EPOCH, window.end)
    frame = window_features(
        PLANT,
        machine_hourly_features,
        events,
        machine_attributes(plant_db.url),
        start=window.start,
        end=window.end,
        history_start=history_start(events, partitions_start()),
    )
    keys = list(context.partition_keys)
    parts = split_by_hour(frame, "hour", keys)
    hours_read = machine_hourly_features["hour"].n_unique() if machine_hourly_features.height else 0
    for key in keys:
        meta = frame_metadata(parts[key], "hour")
        meta["machines"] = parts[key]["machine_id"].n_unique()
        context.add_asset_metadata(meta, partition_key=key)
    return dg.Output(
        parts,
        metadata={
            "rows": frame.height,
            "hourly_partitions_read": hours_read,
        },
    )
