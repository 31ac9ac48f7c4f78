"""Hourly partitions that are missing past their due time (no Dagster).

A freshness policy judges an asset by its latest update, and Dagster's
``build_time_partition_freshness_checks`` only asks whether the most recent partition exists
by its deadline: an hour that failed in the middle of the day goes unnoticed once later hours
succeed. :func:`overdue_hours` lists every hour in a look-back window whose partition should
exist by now (its hour ended more than ``grace`` ago) and does not.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from mfg_assets.storage.partitions import HOUR, as_utc, first_hour, floor_hour, hour_key

DEFAULT_GRACE = timedelta(minutes=60)  # the schedule runs at :10; allow a slow or retried run
DEFAULT_LOOKBACK = timedelta(hours=48)


def overdue_hours(
    materialized: Collection[str],
    now: datetime,
    start: datetime,
    *,
    grace: timedelta = DEFAULT_GRACE,
    lookback: timedelta = DEFAULT_LOOKBACK,
) -> list[str]:
    """Keys of the hours in ``[now - lookback, now)``, from the first partition at or after
    ``start`` on, whose end + ``grace`` has passed and which are not in ``materialized``;
    oldest first."""
    now = as_utc(now)
    at = max(first_hour(start), floor_hour(now - lookback))
    late = []
    while at + HOUR + grace <= now:
        key = hour_key(at)
        if key not in materialized:
            late.append(key)
        at += HOUR
    return late
