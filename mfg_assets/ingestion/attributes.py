"""The machines' attributes as the plant definition declares them, one row per machine.

An attribute stored as a column of ``machines`` (``machine_type``, ``line``) is read from it;
any other from the long ``machine_attributes(machine_id, attribute, value)`` table; an inline
machine list comes from the definition itself. Numeric attributes are cast to float (a value
that is not a number is an error naming the machine), categorical ones stay text.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from mfg_assets.ingestion.extract import read_snapshot
from mfg_assets.plant.definition import PlantDefinition

TS = pl.Datetime("us", "UTC")


def _typed(frame: pl.DataFrame, plant: PlantDefinition) -> pl.DataFrame:
    for attribute in plant.machines.attributes:
        if attribute.kind != "numeric" or attribute.name not in frame.columns:
            continue
        values = frame[attribute.name].cast(pl.Float64, strict=False)
        bad = frame.filter(values.is_null() & frame[attribute.name].is_not_null())
        if bad.height:
            raise ValueError(
                f"machine attribute {attribute.name}: not a number for machine(s) "
                f"{bad['machine_id'].head(5).to_list()}"
            )
        frame = frame.with_columns(values.alias(attribute.name))
    return frame


def extract_machine_attributes(url: str, plant: PlantDefinition) -> pl.DataFrame:
    """``machine_id`` and one column per declared attribute (null where a machine lacks it)."""
    source = plant.machines
    if source.source == "inline":
        rows = [{k: str(v) for k, v in m.items()} for m in source.inline]
        frame = pl.DataFrame(rows, schema={k: pl.String() for k in rows[0]})
        return _typed(frame, plant)
    wide = [
        f"{a.stored_in.split('.', 1)[1]} AS {a.name}"
        for a in source.attributes
        if a.stored_in.startswith("machines.")
    ]
    long = [a.name for a in source.attributes if a.stored_in == "machine_attributes"]
    sqls = [f"SELECT {', '.join(['machine_id', *wide])} FROM {source.table}"]  # noqa: S608
    if long:
        sqls.append("SELECT machine_id, attribute, value FROM machine_attributes")
    frames = read_snapshot(url, sqls)
    frame = frames[0].with_columns(pl.col("machine_id").cast(pl.String))
    if long:
        rows = frames[1].with_columns(pl.col("machine_id", "value").cast(pl.String))
        rows = rows.filter(pl.col("attribute").is_in(long))
        pivoted = (
            rows.pivot(on="attribute", index="machine_id", values="value")
            if rows.height
            else pl.DataFrame(schema={"machine_id": pl.String()})
        )
        frame = frame.join(pivoted, on="machine_id", how="left")
        for name in long:
            if name not in frame.columns:
                frame = frame.with_columns(pl.lit(None, pl.String).alias(name))
    return _typed(frame.sort("machine_id"), plant)


def history_start(events: pl.DataFrame, fallback: datetime) -> datetime:
    """Where the plant's records begin: its earliest event, or ``fallback`` when earlier."""
    if events.is_empty():
        return fallback
    earliest = events["ts"].cast(TS).min()
    return min(earliest, fallback)  # type: ignore[type-var]
