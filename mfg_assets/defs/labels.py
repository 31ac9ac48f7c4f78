"""``failure_labels``: does a failure follow each running machine-hour within H hours?"""

from collections.abc import Iterator
from datetime import timedelta

import dagster as dg
import polars as pl

from mfg_assets.defs.common.metadata import frame_metadata, split_by_hour
from mfg_assets.defs.common.partitions import hourly_partitions
from mfg_assets.defs.common.policies import RANGED_BACKFILL
from mfg_assets.defs.resources.io_managers import conform
from mfg_assets.features.labels import LABEL_COLUMN, LABEL_SCHEMA, failure_labels
from mfg_assets.features.schema import feature_schema
from mfg_assets.ingestion.extract import MACHINE_EVENTS_SCHEMA
from mfg_assets.plant.definition import active_plant
from mfg_assets.settings import label_horizon_hours

HORIZON_HOURS = label_horizon_hours()

# Follow upstream like eager(), but for the hours whose look-ahead has just been recorded
# (H+1 … H+4 hours ago) instead of the latest hour, whose future does not exist yet.
LABEL_AUTOMATION = dg.AutomationCondition.eager().replace(
    "in_latest_time_window",
    dg.AutomationCondition.in_latest_time_window(timedelta(hours=HORIZON_HOURS + 4))
    & ~dg.AutomationCondition.in_latest_time_window(timedelta(hours=HORIZON_HOURS + 1)),
)


def _events_recorded_until(context: dg.AssetExecutionContext):
    """End of the last machine_events partition this step reads (they are contiguous)."""
    keys = context.asset_partition_keys_for_input("machine_events")
    if not keys:
        return context.partition_time_window.start
    return hourly_partitions.time_window_for_partition_key(max(keys)).end


@dg.asset(
    name="failure_labels",
    description=(
        f"For each machine-hour with features: 1 if a failure event (the plant definition's "
        f"failure event types) follows within "
        f"{HORIZON_HOURS} h of the hour's end, else 0 (plus hours_to_failure). Partition h "
        f"reads machine_events partitions h+1 … h+{HORIZON_HOURS}, so it becomes "
        f"materializable only once that future window exists (about {HORIZON_HOURS} h "
        "after the hour): labels are never guessed. Horizon: the definition's label.horizon_hours "
        "(MFG_LABEL_HORIZON_HOURS overrides it)."
    ),
    partitions_def=hourly_partitions,
    backfill_policy=RANGED_BACKFILL,
    ins={
        "machine_hourly_features": dg.AssetIn(),
        "machine_events": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=1, end_offset=HORIZON_HOURS
            ),
        ),
    },
    io_manager_key="parquet_io_manager",
    group_name="labels",
    kinds={"polars", "parquet"},
    freshness_policy=dg.FreshnessPolicy.time_window(
        fail_window=timedelta(hours=6), warn_window=timedelta(hours=2)
    ),
    automation_condition=LABEL_AUTOMATION,
    metadata={"horizon_hours": HORIZON_HOURS, "label_column": LABEL_COLUMN},
)
def failure_labels_asset(
    context: dg.AssetExecutionContext,
    machine_hourly_features: pl.DataFrame,
    machine_events: pl.DataFrame,
) -> Iterator[dg.Output]:
    """Thin wrapper over :func:`mfg_assets.features.labels.failure_labels`."""
    window = context.partition_time_window
    horizon = timedelta(hours=HORIZON_HOURS)
    recorded_until = _events_recorded_until(context)
    if recorded_until < window.end + horizon:
        raise dg.Failure(
            f"labels up to {window.end:%Y-%m-%d %H:%M} need machine_events through "
            f"{window.end + horizon:%Y-%m-%d %H:%M}, but the events are only partitioned "
            f"through {recorded_until:%Y-%m-%d %H:%M}: labels are never guessed. The last "
            f"labelable hour is {recorded_until - horizon - timedelta(hours=1):%Y-%m-%d %H:%M}."
        )
    labels = failure_labels(
        conform(machine_hourly_features, feature_schema()),
        conform(machine_events, MACHINE_EVENTS_SCHEMA),
        horizon=horizon,
        events_until=recorded_until,
        failure_types=active_plant().label_failure_types,
    )
    parts = split_by_hour(
        labels if labels.height else pl.DataFrame(schema=LABEL_SCHEMA),
        "hour",
        list(context.partition_keys),
    )
    for key, part in parts.items():
        meta = frame_metadata(part, "hour")
        meta["positives"] = int(part[LABEL_COLUMN].sum()) if part.height else 0
        context.add_asset_metadata(meta, partition_key=key)
    positive_rate = float(labels[LABEL_COLUMN].mean()) if labels.height else 0.0
    yield dg.Output(parts, metadata={"positive_rate": positive_rate, "rows": labels.height})
