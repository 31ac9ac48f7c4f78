"""Partitions shared by the asset graph: hourly for plant time, daily for models."""

from __future__ import annotations

import dagster as dg

from mfg_assets.settings import partitions_start

hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date=partitions_start().strftime("%Y-%m-%d-%H:%M"), timezone="UTC"
)
# Models are daily; end_offset=1 includes the current day, so a drift-triggered retrain can
# materialize "today" before the day is over.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=partitions_start().strftime("%Y-%m-%d"), timezone="UTC", end_offset=1
)


def partition_keys_of(context: dg.AssetExecutionContext) -> list[str]:
    """The partition keys a (possibly ranged, single-run backfill) step materializes."""
    return list(context.partition_keys)
