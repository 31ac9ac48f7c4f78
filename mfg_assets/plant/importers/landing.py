"""Replace a plant database's landing tables with an imported plant, in one transaction.

The import owns the whole database: every landing table is emptied and refilled, and
``plant_meta`` records the plant's name, the import summary and the watermark
(``written_until``: the end of the readings). Either all of it is written or nothing is
(PostgreSQL: ``COPY`` inside one transaction; SQLite: one DBAPI transaction). A database that
holds another plant (the simulator's, or another import) is only replaced when asked.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
from sqlalchemy import inspect, select

from mfg_assets.plant.schema import (
    machine_attributes,
    machine_events,
    machines,
    metadata,
    plant_meta,
    quality_inspections,
    sensor_readings,
)
from mfg_assets.plant.writer import (
    CONFIG_KEY,
    WATERMARK_KEY,
    PlantDB,
    copy_frame,
    insert_frame_sqlite,
)

PLANT_KEY = "plant"
IMPORT_KEY = "import"
LANDING_TABLES = (
    sensor_readings,
    quality_inspections,
    machine_events,
    machines,
    machine_attributes,
    plant_meta,
)
EMPTIED = tuple(t.name for t in LANDING_TABLES)


def current_plant(db: PlantDB) -> str | None:
    """Which plant the database holds: ``simulator`` (a seeded config), an imported plant's
    name, or None when it holds none."""
    with db.engine.connect() as conn:
        if not inspect(conn).has_table(plant_meta.name):
            return None
        rows = dict(conn.execute(select(plant_meta.c.key, plant_meta.c.value)).all())
    if CONFIG_KEY in rows:
        return "simulator"
    return rows.get(PLANT_KEY)


def replace_plant(
    db: PlantDB,
    plant: str,
    frames: dict[str, pl.DataFrame],
    written_until: datetime,
    summary: str,
    *,
    replace_other: bool = False,
) -> dict[str, int]:
    """Empty the landing tables and write ``frames`` (table → rows) in one transaction.

    Raises ValueError when the database holds another plant and ``replace_other`` is false.
    Returns rows written per table.
    """
    holder = current_plant(db)
    if holder is not None and holder != plant and not replace_other:
        raise ValueError(
            f"{db.display_url} holds the {holder} plant; import into another database or "
            "pass --replace to overwrite it"
        )
    metadata.create_all(db.engine, tables=list(LANDING_TABLES), checkfirst=True)
    meta = pl.DataFrame(
        {
            "key": [PLANT_KEY, IMPORT_KEY, WATERMARK_KEY],
            "value": [plant, summary, written_until.isoformat()],
        }
    )
    ordered = [(name, frame) for name, frame in frames.items() if frame.height]
    ordered.append((plant_meta.name, meta))
    if db.backend == "postgresql":
        _write_postgres(db, ordered)
    elif db.backend == "sqlite":
        _write_sqlite(db, ordered)
    else:
        raise ValueError(f"importing into {db.backend} is not supported (PostgreSQL or SQLite)")
    return {name: frame.height for name, frame in frames.items()}


def _write_postgres(db: PlantDB, frames: list[tuple[str, pl.DataFrame]]) -> None:
    raw = db.engine.raw_connection()
    try:
        conn = raw.driver_connection
        try:
            with conn.cursor() as cursor:
                for table in EMPTIED:
                    cursor.execute(f"DELETE FROM {table}")
                for table, frame in frames:
                    copy_frame(cursor, table, frame)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    finally:
        raw.close()


def _write_sqlite(db: PlantDB, frames: list[tuple[str, pl.DataFrame]]) -> None:
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            for table in EMPTIED:
                cursor.execute(f"DELETE FROM {table}")
            for table, frame in frames:
                insert_frame_sqlite(cursor, table, frame)
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
    finally:
        raw.close()
