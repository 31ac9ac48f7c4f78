"""Failure labels: for each running machine-hour, does a failure follow within the horizon?

The label of hour ``h`` looks at failures in ``[h + 1 h, h + 1 h + horizon)``: from the moment
the hour's features are known (its end) over the next ``horizon``. A label whose window is not
fully covered by recorded events is not produced — never guessed as "no failure".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import polars as pl

LABEL_COLUMN = "failure_within_h"
LABEL_SCHEMA = {
    "machine_id": pl.String(),
    "hour": pl.Datetime("us", "UTC"),
    "event_timestamp": pl.Datetime("us", "UTC"),
    LABEL_COLUMN: pl.Int8(),
    "hours_to_failure": pl.Float64(),
}


def failure_labels(
    running: pl.DataFrame,
    events: pl.DataFrame,
    horizon: timedelta,
    events_until: datetime,
    failure_types: Sequence[str],
) -> pl.DataFrame:
    """Labels for the ``(machine_id, hour)`` rows in ``running``.

    ``events`` are machine events (``ts, machine_id, event_type``) recorded up to
    ``events_until``; rows whose look-ahead window ends after that are dropped. An event is a
    failure when its type is one of ``failure_types`` (the plant definition's
    ``label_failure_types``: ``failure`` for the simulator, ``failure_comp1`` … for Azure).
    """
    if running.is_empty():
        return pl.DataFrame(schema=LABEL_SCHEMA)
    rows = (
        running.select("machine_id", "hour")
        .unique()
        .with_columns((pl.col("hour") + timedelta(hours=1)).alias("event_timestamp"))
        .filter(pl.col("event_timestamp") + horizon <= events_until)
        .sort("event_timestamp")
    )
    failures = (
        events.filter(pl.col("event_type").is_in(list(failure_types)))
        .select("machine_id", pl.col("ts").alias("failure_ts"))
        .sort("failure_ts")
    )
    joined = rows.join_asof(
        failures,
        left_on="event_timestamp",
        right_on="failure_ts",
        by="machine_id",
        strategy="forward",
        check_sortedness=False,  # both sides are sorted by time above
    )
    hours_to = (pl.col("failure_ts") - pl.col("event_timestamp")).dt.total_seconds() / 3600
    return (
        joined.with_columns(hours_to.alias("hours_to_failure"))
        .with_columns(
            (pl.col("hours_to_failure") < horizon.total_seconds() / 3600)
            .fill_null(False)
            .cast(pl.Int8)
            .alias(LABEL_COLUMN),
            pl.when(pl.col("hours_to_failure") < horizon.total_seconds() / 3600)
            .then(pl.col("hours_to_failure"))
            .alias("hours_to_failure"),
        )
        .select(list(LABEL_SCHEMA))
        .cast(LABEL_SCHEMA)
        .sort("hour", "machine_id")
    )
