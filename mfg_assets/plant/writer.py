"""The plant database behind any SQLAlchemy URL: schema, stored config, bulk writes, summaries.

Bulk writes take the fast path of each backend: PostgreSQL gets ``COPY ... FROM STDIN`` through
psycopg 3; SQLite gets raw DBAPI ``executemany`` with timestamps as UTC text in
``schema.SQLITE_TS_FORMAT`` (so text range filters work and SQLAlchemy reads them back; ADBC's
own SQLite library must not share a file with Python's sqlite3 in one process, so it is not
used); any other URL falls back to SQLAlchemy inserts. A NaN reading is stored as SQL NULL on
every backend (SQLite cannot store NaN). Each write also moves the plant's watermark
(``written_until`` in ``plant_meta``) in the same transaction, so a crash never leaves half a
window behind it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy import Engine, create_engine, delete, event, func, select
from sqlalchemy.engine import make_url

from mfg_assets.plant.config import PlantConfig
from mfg_assets.plant.profile import machine_profile
from mfg_assets.plant.scenarios import ScenarioSpec, scenario_spec
from mfg_assets.plant.schema import (
    SQLITE_TS_FORMAT,
    machine_events,
    machines,
    metadata,
    plant_meta,
    quality_inspections,
    sensor_readings,
)
from mfg_assets.plant.simulator import PlantBatch

if TYPE_CHECKING:
    import psycopg

CONFIG_KEY = "config"
WATERMARK_KEY = "written_until"
PLANT_TABLES = (sensor_readings, quality_inspections, machine_events, machines, plant_meta)
SQLITE_BUSY_TIMEOUT_MS = 30_000
POLARS_TS_FORMAT = SQLITE_TS_FORMAT.replace(".%f", "%.6f")  # chrono spells microseconds %.6f


class NoPlantError(LookupError):
    """The database has no seeded plant."""


def mask_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # unparsable: drop everything up to the last '@' (user, password)
        return url.split("@")[-1]


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _table_frames(batch: PlantBatch) -> list[tuple[str, pl.DataFrame]]:
    """Each batch frame with exactly its table's columns, NaN readings as null."""
    readings = batch.readings.select(c.name for c in sensor_readings.columns)
    return [
        (sensor_readings.name, readings.with_columns(pl.col("value").fill_nan(None))),
        (quality_inspections.name, batch.inspections.select(c.name for c in quality_inspections.c)),
        (machine_events.name, batch.events.select(c.name for c in machine_events.columns)),
    ]


def insert_frame_sqlite(cursor: Any, table: str, frame: pl.DataFrame) -> None:
    """Append a frame to a SQLite table (timestamps as UTC text, the plant's storage format)."""
    as_text = frame.with_columns(
        pl.col(pl.Datetime).dt.convert_time_zone("UTC").dt.strftime(POLARS_TS_FORMAT)
    )
    columns = as_text.columns
    cursor.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        zip(*(as_text[c].to_list() for c in columns), strict=True),
    )


def copy_frame(cursor: psycopg.Cursor, table: str, frame: pl.DataFrame) -> None:
    """Append a frame to a PostgreSQL table with ``COPY ... FROM STDIN`` (CSV)."""
    data = frame.write_csv(
        include_header=False, datetime_format="%Y-%m-%d %H:%M:%S%.6f+00", null_value=""
    )
    with cursor.copy(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(data)


class PlantDB:
    """One plant database. Create it with :meth:`create`, then :meth:`write` batches to it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url)
        self.backend = self.engine.dialect.name
        if self.backend == "sqlite":
            event.listen(self.engine, "connect", _sqlite_busy_timeout)

    @property
    def display_url(self) -> str:
        """URL for messages, password masked."""
        return mask_url(self.url)

    def close(self) -> None:
        self.engine.dispose()

    # -- plant setup and config ----------------------------------------------------------------

    def create(self, config: PlantConfig) -> None:
        """Drop and recreate the plant tables; register the machines and store the config."""
        with self.engine.begin() as conn:
            metadata.drop_all(conn, tables=list(PLANT_TABLES))
            metadata.create_all(conn, tables=list(PLANT_TABLES))
            profiles = [
                machine_profile(config.seed, i, config.sample_interval_s)
                for i in range(config.machines)
            ]
            conn.execute(
                machines.insert(),
                [
                    {"machine_id": p.machine_id, "machine_type": p.machine_type, "line": p.line}
                    for p in profiles
                ],
            )
            conn.execute(
                plant_meta.insert(),
                [
                    {"key": CONFIG_KEY, "value": config.to_json()},
                    {"key": WATERMARK_KEY, "value": config.epoch.isoformat()},
                ],
            )
        if self.backend == "sqlite":  # readers (the ETL) keep reading while the plant writes
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")

    def config(self) -> PlantConfig:
        """The stored plant config; :class:`NoPlantError` when nothing was seeded."""
        value = self._meta(CONFIG_KEY)
        if value is None:
            raise NoPlantError(f"no plant in {self.display_url}: run `mfg-plant seed` first")
        return PlantConfig.from_json(value)

    def save_config(self, config: PlantConfig) -> None:
        """Replace the stored config (a running live plant picks it up on its next tick)."""
        with self.engine.begin() as conn:
            conn.execute(delete(plant_meta).where(plant_meta.c.key == CONFIG_KEY))
            conn.execute(plant_meta.insert().values(key=CONFIG_KEY, value=config.to_json()))

    def add_scenario(
        self, name: str, start: datetime, params: dict[str, object] | None = None
    ) -> ScenarioSpec:
        """Append a scenario switch to the stored plant; it may not start in written history."""
        spec = scenario_spec(name, start, params)
        last = self.last_timestamp()
        if last is not None and spec.start < last:
            raise ValueError(
                f"scenario {name} would start at {spec.start.isoformat()}, before the plant's "
                f"last timestamp {last.isoformat()} (that history is already written)"
            )
        self.save_config(self.config().with_scenario(spec))
        return spec

    def last_timestamp(self) -> datetime | None:
        """Plant time up to which data has been written (exclusive), None before seeding."""
        value = self._meta(WATERMARK_KEY)
        return None if value is None else datetime.fromisoformat(value)

    def _meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            if not self.engine.dialect.has_table(conn, plant_meta.name):
                return None
            return conn.scalar(select(plant_meta.c.value).where(plant_meta.c.key == key))

    # -- writes --------------------------------------------------------------------------------

    def write(self, batch: PlantBatch, written_until: datetime) -> None:
        """Append a batch and move the watermark to ``written_until``, in one transaction."""
        frames = [(table, frame) for table, frame in _table_frames(batch) if frame.height]
        watermark = _utc(written_until).isoformat()
        if self.backend == "postgresql":
            self._write_postgres(frames, watermark)
        elif self.backend == "sqlite":
            self._write_sqlite(frames, watermark)
        else:
            self._write_generic(frames, watermark)

    def _write_postgres(self, frames: list[tuple[str, pl.DataFrame]], watermark: str) -> None:
        raw = self.engine.raw_connection()
        try:
            conn = raw.driver_connection
            with conn.cursor() as cursor:
                for table, frame in frames:
                    copy_frame(cursor, table, frame)
                cursor.execute("DELETE FROM plant_meta WHERE key = %s", (WATERMARK_KEY,))
                cursor.execute("INSERT INTO plant_meta VALUES (%s, %s)", (WATERMARK_KEY, watermark))
            conn.commit()
        finally:
            raw.close()

    def _write_sqlite(self, frames: list[tuple[str, pl.DataFrame]], watermark: str) -> None:
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            for table, frame in frames:
                insert_frame_sqlite(cursor, table, frame)
            cursor.execute("DELETE FROM plant_meta WHERE key = ?", (WATERMARK_KEY,))
            cursor.execute("INSERT INTO plant_meta VALUES (?, ?)", (WATERMARK_KEY, watermark))
            raw.commit()
        finally:
            raw.close()

    def _write_generic(self, frames: list[tuple[str, pl.DataFrame]], watermark: str) -> None:
        tables = {t.name: t for t in PLANT_TABLES}
        with self.engine.begin() as conn:
            for table, frame in frames:
                conn.execute(tables[table].insert(), frame.to_dicts())
            conn.execute(delete(plant_meta).where(plant_meta.c.key == WATERMARK_KEY))
            conn.execute(plant_meta.insert().values(key=WATERMARK_KEY, value=watermark))

    # -- summaries -----------------------------------------------------------------------------

    def row_counts(self) -> dict[str, int]:
        """Rows per plant table."""
        with self.engine.connect() as conn:
            return {
                t.name: conn.scalar(select(func.count()).select_from(t)) or 0 for t in PLANT_TABLES
            }

    def failure_count(self) -> int:
        """Failure events written so far."""
        query = select(func.count()).where(machine_events.c.event_type == "failure")
        with self.engine.connect() as conn:
            return conn.scalar(query) or 0

    def time_range(self) -> tuple[datetime, datetime] | None:
        """First and last sensor reading timestamp (UTC), None when there are none."""
        ts = sensor_readings.c.ts
        with self.engine.connect() as conn:
            first, last = conn.execute(select(func.min(ts), func.max(ts))).one()
        if first is None:
            return None
        return _utc(first), _utc(last)


def _sqlite_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
