"""Time-ordered train/validation/test split for every model: whole time steps go to one split,
never shuffled.

The split names are :data:`SPLITS` everywhere (training frames, YOLO datasets, metadata);
YOLO's own ``val`` key appears only in a YOLO dataset's ``data.yaml``
(:mod:`mfg_assets.models.defect.dataset`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import polars as pl

TRAIN, VALIDATION, TEST = "train", "validation", "test"
SPLITS: tuple[str, ...] = (TRAIN, VALIDATION, TEST)
_FLOAT_NOISE = 1e-9  # 10 * (1 - 0.3 - 0.2) is 4.999...: count it as the 5 it means


def check_fractions(validation_fraction: float, test_fraction: float) -> None:
    """ValueError unless both fractions are in (0, 1) and leave rows to train on."""
    if not 0 < validation_fraction < 1 or not 0 < test_fraction < 1:
        raise ValueError("split fractions must be in (0, 1)")
    if validation_fraction + test_fraction >= 1:
        raise ValueError("validation_fraction + test_fraction must leave rows to train on")


def split_labels(
    times: Sequence[Any], validation_fraction: float = 0.15, test_fraction: float = 0.15
) -> list[str]:
    """The split of each row of ``times`` (sorted ascending): the earliest
    ``1 - validation_fraction - test_fraction`` of the rows train, then validation, the latest
    test. A cut never separates rows of one timestamp: it moves forward past them, so
    ``max(train) < min(validation) <= max(validation) < min(test)`` holds strictly."""
    check_fractions(validation_fraction, test_fraction)
    n = len(times)
    cuts: list[int] = []
    for share in (1 - validation_fraction - test_fraction, 1 - test_fraction):
        cut = max(int(n * share + _FLOAT_NOISE), cuts[-1] if cuts else 0)
        while 0 < cut < n and times[cut] == times[cut - 1]:
            cut += 1
        cuts.append(min(cut, n))
    bounds = [0, *cuts, n]
    labels: list[str] = []
    for index, split in enumerate(SPLITS):
        labels.extend([split] * (bounds[index + 1] - bounds[index]))
    return labels


MIN_TRAIN_DAYS = 2.0  # a test window is used only when at least this much history precedes it


def window_test_fraction(times: Sequence[Any], test_days: float, test_fraction: float) -> float:
    """The share of ``times`` (sorted) in their last ``test_days`` days, when at least
    :data:`MIN_TRAIN_DAYS` more precede them to train and validate on; else ``test_fraction``."""
    if len(times) < 2:
        return test_fraction
    span_days = (times[-1] - times[0]).total_seconds() / 86400
    if span_days < test_days + MIN_TRAIN_DAYS:
        return test_fraction
    cut = times[-1] - timedelta(days=test_days)
    return sum(1 for t in times if t > cut) / len(times)


def time_ordered_split(
    frame: pl.DataFrame,
    time_column: str = "event_timestamp",
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    test_days: float | None = None,
) -> pl.DataFrame:
    """Add a ``split`` column by :func:`split_labels` over the distinct timestamps.

    Fractions are of distinct timestamps, so every machine's row for one hour lands in the
    same split and nothing from a later hour trains a model evaluated on an earlier one.
    With ``test_days`` the test split is the last ``test_days`` days instead, where enough
    history precedes them (:func:`window_test_fraction`).
    """
    times = frame[time_column].unique().sort()
    if test_days is not None:
        test_fraction = window_test_fraction(times.to_list(), test_days, test_fraction)
        validation_fraction = min(validation_fraction, (1 - test_fraction) / 2)
    splits = pl.DataFrame(
        {
            time_column: times,
            "split": split_labels(times.to_list(), validation_fraction, test_fraction),
        },
        schema={time_column: times.dtype, "split": pl.String},
    )
    return frame.join(splits, on=time_column, how="left").sort(time_column, "machine_id")
