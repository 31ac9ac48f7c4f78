"""Launching ranged materializations from Python (demo, benchmarks, tests).

A range of hourly partitions runs as ONE run (the assets have ``BackfillPolicy.single_run()``),
recorded in the instance like a backfill launched from the UI.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)


def materialize_range(
    defs: dg.Definitions,
    job_name: str,
    first_key: str,
    last_key: str,
    instance: dg.DagsterInstance,
    run_config: dict | None = None,
    tags: dict[str, str] | None = None,
    raise_on_error: bool = True,
    asset_selection: list[dg.AssetKey] | None = None,
) -> dg.ExecuteInProcessResult:
    """Run ``job_name`` once over partitions ``first_key … last_key`` (inclusive)."""
    job = defs.resolve_job_def(job_name)
    quiet = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    range_tags = {
        ASSET_PARTITION_RANGE_START_TAG: first_key,
        ASSET_PARTITION_RANGE_END_TAG: last_key,
    }
    return job.execute_in_process(
        instance=instance,
        run_config={**quiet, **(run_config or {})},
        tags={**(tags or {}), **range_tags},
        raise_on_error=raise_on_error,
        asset_selection=asset_selection,
    )
