"""Freshness, backfill and retry policies shared across the asset graph."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

# Hourly plant data is materialized ~10 minutes past each hour: warn when an hour is missed,
# fail when two are.
HOURLY_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=2, minutes=30), warn_window=timedelta(minutes=80)
)

# One run per backfill range: the plant assets process a whole window at once.
SINGLE_RUN_BACKFILL = dg.BackfillPolicy.single_run()

# Connection hiccups are transient (a missing table is not, and is not retried); a partition
# is idempotent, so a retry is always safe.
PLANT_DB_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL)
