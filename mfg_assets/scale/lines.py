"""A plant split by production line (no Dagster).

The lines to split by come from ``MFG_PLANT_LINES``; which machine belongs to which line from
the ``line`` column of the plant's ``machines`` table, read when a step runs. Rows of machines
on no listed line (other lines, ids the plant does not know, rows without a machine) go to the
:data:`REST` group, so every row of the hour is built by exactly one step.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence

import polars as pl

from mfg_assets.settings import get_settings
from mfg_assets.storage.partitions import PartitionStore, partition_file

REST = "rest"  # the group of rows whose machine is on no listed line
_NAME = re.compile(r"^[A-Za-z0-9_]{1,32}$")


def parse_lines(raw: str | None) -> tuple[str, ...]:
    """``"L1, L2"`` → ``("L1", "L2")``; empty → ``()`` (no split). Names are letters, digits
    and ``_`` (they become asset names), listed once, and never :data:`REST`."""
    if raw is None or not raw.strip():
        return ()
    names = tuple(part.strip() for part in raw.split(","))
    for name in names:
        if not _NAME.match(name) or name == REST:
            raise ValueError(
                f"MFG_PLANT_LINES: {name!r} is not a line name (letters, digits, _; not {REST!r})"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"MFG_PLANT_LINES lists a line twice: {raw!r}")
    return names


def configured_lines() -> tuple[str, ...]:
    """The lines features are split by (``MFG_PLANT_LINES``); ``()`` = one whole-plant step."""
    return parse_lines(get_settings().mfg_plant_lines)


def line_groups(lines: Sequence[str]) -> tuple[str, ...]:
    """The steps an hour is split into: one per listed line, then :data:`REST`."""
    return (*lines, REST)


def machines_by_group(machines: pl.DataFrame, lines: Sequence[str]) -> dict[str, list[str]]:
    """Machine ids of each listed line, from the ``machines`` table (``machine_id``, ``line``);
    machines of other lines are in :data:`REST`."""
    listed = set(lines)
    groups: dict[str, list[str]] = {group: [] for group in line_groups(lines)}
    for machine_id, line in machines.select("machine_id", "line").iter_rows():
        groups[line if line in listed else REST].append(machine_id)
    return {group: sorted(ids) for group, ids in groups.items()}


def group_filter(group: str, groups: Mapping[str, Sequence[str]]) -> pl.Expr:
    """Rows (with a ``machine_id`` column) the step of ``group`` builds: those of its machines,
    or for :data:`REST` every row whose machine is on no listed line (null ids included)."""
    if group != REST:
        return pl.col("machine_id").is_in(list(groups[group])).fill_null(False)
    on_lines = [m for name, ids in groups.items() if name != REST for m in ids]
    return ~pl.col("machine_id").is_in(on_lines).fill_null(False)


def rows_of_group(
    frame: pl.DataFrame, group: str, groups: Mapping[str, Sequence[str]]
) -> pl.DataFrame:
    """The rows of ``frame`` the step of ``group`` builds (:func:`group_filter`)."""
    return frame.filter(group_filter(group, groups))


def read_rows(
    store: PartitionStore, asset: str, keys: Sequence[str], rows: pl.Expr
) -> tuple[pl.DataFrame | None, list[str]]:
    """The ``rows`` of an asset's stored partitions ``keys``, filtered while the files are
    decoded (a line step holds its line's rows, not the plant's); and the keys not stored."""
    frames, missing = [], []
    for key in keys:
        path = partition_file(asset, key)
        if not store.files.exists(path):
            missing.append(key)
            continue
        data = io.BytesIO(store.files.read_bytes(path))
        frames.append(pl.scan_parquet(data).filter(rows).collect())
    return (pl.concat(frames, how="vertical") if frames else None), missing


def combine(parts: Sequence[pl.DataFrame], order: Sequence[str]) -> pl.DataFrame:
    """The lines' frames of one hour as one whole-plant frame, sorted by ``order``."""
    frames = [p for p in parts if p.width]
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="vertical").sort(list(order), maintain_order=True)
