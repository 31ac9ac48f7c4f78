"""Launching materializations from Python (demo, benchmarks, tests) without the UI.

A range of hourly partitions runs as one in-process run over the whole range, recorded in the
instance like a ranged backfill launched from the UI. The assets' own backfill policy
(``RANGED_BACKFILL`` in ``defs/common/policies.py``: ``BackfillPolicy.multi_run(168)``) only splits
backfills the daemon launches; a caller that wants at most a week per run, as the daemon would,
splits its range itself (``bench/backfill.py`` does).

Dagster has no public API for either thing done here: running one job over a partition range
in-process, and finding the implicit asset job of an asset. Both live in this module only, each
in one function, so a Dagster upgrade that changes them breaks one place
(``mfg_assets_tests/orchestration/test_runs.py`` runs both).
"""

from __future__ import annotations

import dagster as dg


def partition_range_tags(first_key: str, last_key: str) -> dict[str, str]:
    """The run tags that make a run cover partitions ``first_key … last_key``.

    Private Dagster API, wrapped here: the tag names live in ``dagster._core.storage.tags``
    (what UI-launched ranged backfills set); ``execute_in_process`` takes only one
    ``partition_key``.
    """
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    return {ASSET_PARTITION_RANGE_START_TAG: first_key, ASSET_PARTITION_RANGE_END_TAG: last_key}


def implicit_asset_job(defs: dg.Definitions, asset: str) -> dg.JobDefinition:
    """The job Dagster builds for materializing ``asset`` on its own (the UI's "Materialize").

    Undocumented Dagster API, wrapped here: ``Definitions.resolve_implicit_job_def_def_for_assets``
    (there is one implicit job per partitioning scheme, and no public way to pick it).
    """
    job = defs.resolve_implicit_job_def_def_for_assets([dg.AssetKey(asset)])
    if job is None:
        raise KeyError(f"no implicit asset job materializes {asset!r}")
    return job


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
    return job.execute_in_process(
        instance=instance,
        run_config={**quiet, **(run_config or {})},
        tags={**(tags or {}), **partition_range_tags(first_key, last_key)},
        raise_on_error=raise_on_error,
        asset_selection=asset_selection,
    )
