"""Typed parsing of text columns for importers: values that do not parse become null, so each
importer can refuse those rows with a reason instead of guessing."""

from __future__ import annotations

import polars as pl

NAIVE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%m/%d/%Y %I:%M:%S %p",  # the guide's original blob export: 1/1/2015 6:00:00 AM
)
AWARE_FORMATS = (
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
)


def utc_timestamp(column: str) -> pl.Expr:
    """Text → ``Datetime(us, UTC)``: naive times are UTC, times with an offset are converted;
    anything else is null."""
    text = pl.col(column).str.strip_chars().str.replace(r"Z$", "+00:00")
    naive = [text.str.to_datetime(f, time_unit="us", strict=False) for f in NAIVE_FORMATS]
    aware = [
        text.str.to_datetime(f, time_unit="us", strict=False)
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
        for f in AWARE_FORMATS
    ]
    return pl.coalesce(*naive, *aware).dt.replace_time_zone("UTC")


def number(column: str) -> pl.Expr:
    """Text → finite ``Float64``; empty, non-numeric, NaN and infinite become null."""
    value = pl.col(column).str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(value.is_finite()).then(value)


def integer_id(column: str) -> pl.Expr:
    """Text → the id as text of an integer (``"7"``, ``"7.0"`` → ``"7"``); else null."""
    value = pl.col(column).str.strip_chars().cast(pl.Float64, strict=False)
    whole = value.is_finite() & (value == value.floor()) & (value >= 0)
    return pl.when(whole).then(value.cast(pl.Int64).cast(pl.String))
