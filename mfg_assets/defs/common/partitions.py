"""Partitions shared by the asset graph: hourly for plant time, daily for models."""

from __future__ import annotations

import dagster as dg

from mfg_assets.settings import partitions_start
from mfg_assets.storage.partitions import day_key, first_hour, hour_key

hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date=hour_key(first_hour(partitions_start())), timezone="UTC"
)
# Models are daily; end_offset=1 includes the current day, so a drift-triggered retrain can
# materialize "today" before the day is over.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=day_key(partitions_start()), timezone="UTC", end_offset=1
)


def partition_keys_of(context: dg.AssetExecutionContext) -> list[str]:
    """The partition keys a (possibly ranged, single-run backfill) step materializes."""
    return list(context.partition_keys)


def trailing_window_input(periods: int) -> dg.AssetIn:
    """An input holding the upstream partitions of the last ``periods`` partitions of the
    downstream asset, its own included (e.g. the 14 days ending with D of an hourly asset);
    partitions not materialized (yet) are left out instead of failing the load."""
    return dg.AssetIn(
        partition_mapping=dg.TimeWindowPartitionMapping(
            start_offset=-(periods - 1), end_offset=0, allow_nonexistent_upstream_partitions=True
        ),
        metadata={"allow_missing_partitions": True},
    )
