"""Freshness, backfill and retry policies shared across the asset graph."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

# Hourly plant data is materialized ~10 minutes past each hour: warn when an hour is missed,
# fail when two are.
HOURLY_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=2, minutes=30), warn_window=timedelta(minutes=80)
)

# Backfills run as ranges: each run processes up to a week of hours at once (one extract, one
# transform), so a 30-day backfill is 5 runs, not 720 processes, and a run's memory stays
# bounded by a week of readings however long the backfill.
RANGED_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=168)

# Only what a retry can fix is retried: refused or dropped connections and locked databases
# (``extract.is_transient``). Deterministic failures (a missing table, bad SQL, data the code
# cannot read) raise ``dg.Failure(allow_retries=False)``. A partition is idempotent, so a
# retry is always safe.
PLANT_DB_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)
