"""Materialization metadata shown in the Dagster UI: counts, null shares, time range, preview."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from mfg_assets.storage.partitions import hour_key_expr


def markdown_table(frame: pl.DataFrame, max_rows: int = 5, max_cols: int = 10) -> str:
    """A small markdown preview (no extra dependencies)."""
    shown = frame.head(max_rows).select(frame.columns[:max_cols])
    if not shown.columns:
        return "_no columns_"

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown.iter_rows()]
    if frame.width > max_cols:
        lines.append(f"\n_{frame.width - max_cols} more columns_")
    return "\n".join(lines)


def frame_metadata(frame: pl.DataFrame, time_column: str) -> dict[str, Any]:
    """Row count, overall null share, time range and a preview."""
    cells = frame.height * max(frame.width, 1)
    nulls = int(frame.null_count().sum_horizontal().item()) if frame.height else 0
    meta: dict[str, Any] = {
        "dagster/row_count": frame.height,
        "null_share": float(nulls / cells) if cells else 0.0,
        "preview": dg.MetadataValue.md(markdown_table(frame)),
    }
    if frame.height and time_column in frame.columns:
        meta["first_ts"] = str(frame[time_column].min())
        meta["last_ts"] = str(frame[time_column].max())
    return meta


def split_by_hour(
    frame: pl.DataFrame, time_column: str, partition_keys: list[str]
) -> dict[str, pl.DataFrame]:
    """One frame per hourly partition key, empty where no rows fell."""
    if len(partition_keys) == 1:
        return {partition_keys[0]: frame}
    keyed = frame.with_columns(hour_key_expr(time_column).alias("_partition"))
    groups = {
        k[0]: g.drop("_partition")
        for k, g in keyed.partition_by("_partition", as_dict=True, maintain_order=True).items()
    }
    empty = frame.clear()
    return {key: groups.get(key, empty) for key in partition_keys}
