"""Partitions shared by the asset graph: hourly for plant time, daily for models."""

from __future__ import annotations

import dagster as dg

from mfg_assets.settings import partitions_start

hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date=partitions_start().strftime("%Y-%m-%d-%H:%M"), timezone="UTC"
)
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=partitions_start().strftime("%Y-%m-%d"), timezone="UTC"
)


def partition_keys_of(context: dg.AssetExecutionContext) -> list[str]:
    """The partition keys a (possibly ranged, single-run backfill) step materializes."""
    return list(context.partition_keys)
