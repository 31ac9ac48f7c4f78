"""Time-ordered train/validation/test split: whole hours go to one split, never shuffled."""

from __future__ import annotations

import polars as pl

SPLITS = ("train", "validation", "test")


def time_ordered_split(
    frame: pl.DataFrame,
    time_column: str = "event_timestamp",
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> pl.DataFrame:
    """Add a ``split`` column: the earliest hours train, then validation, the latest test.

    Fractions are of distinct timestamps, so every machine's row for one hour lands in the
    same split and nothing from a later hour trains a model evaluated on an earlier one.
    """
    if not 0 < validation_fraction < 1 or not 0 < test_fraction < 1:
        raise ValueError("split fractions must be in (0, 1)")
    if validation_fraction + test_fraction >= 1:
        raise ValueError("validation_fraction + test_fraction must leave rows to train on")
    times = frame[time_column].unique().sort()
    n = times.len()
    first_validation = times[int(n * (1 - validation_fraction - test_fraction))] if n else None
    first_test = times[int(n * (1 - test_fraction))] if n else None
    return frame.with_columns(
        pl.when(pl.col(time_column) >= first_test)
        .then(pl.lit("test"))
        .when(pl.col(time_column) >= first_validation)
        .then(pl.lit("validation"))
        .otherwise(pl.lit("train"))
        .alias("split")
    ).sort(time_column, "machine_id")
