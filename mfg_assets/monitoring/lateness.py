"""Hourly partitions that are missing past their due time (no Dagster).

A freshness policy judges an asset by its latest update, and Dagster's
``build_time_partition_freshness_checks`` only asks whether the most recent partition exists
by its deadline: an hour that failed in the middle of the day goes unnoticed once later hours
succeed. :func:`overdue_hours` lists every hour in a look-back window whose partition should
exist by now (its hour ended more than ``grace`` ago) and does not.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)
HOUR_KEY_FORMAT = "%Y-%m-%d-%H:%M"
DEFAULT_GRACE = timedelta(minutes=60)  # the schedule runs at :10; allow a slow or retried run
DEFAULT_LOOKBACK = timedelta(hours=48)


def overdue_hours(
    materialized: Collection[str],
    now: datetime,
    first_hour: datetime,
    *,
    grace: timedelta = DEFAULT_GRACE,
    lookback: timedelta = DEFAULT_LOOKBACK,
) -> list[str]:
    """Keys (``YYYY-MM-DD-HH:MM``) of hours in ``[now - lookback, now)`` past ``first_hour``
    whose end + ``grace`` has passed and which are not in ``materialized``, oldest first."""
    now = now.astimezone(UTC)
    at = max(first_hour.astimezone(UTC), now - lookback).replace(minute=0, second=0, microsecond=0)
    if at < first_hour:
        at += HOUR
    late = []
    while at + HOUR + grace <= now:
        key = at.strftime(HOUR_KEY_FORMAT)
        if key not in materialized:
            late.append(key)
        at += HOUR
    return late
