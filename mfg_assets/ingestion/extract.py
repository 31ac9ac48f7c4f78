"""Extract one time window of plant data, Arrow-natively.

ADBC moves rows from SQLite and PostgreSQL straight into Arrow (no per-row Python objects),
which is what makes an hourly partition cheap; any other SQLAlchemy URL falls back to
``polars.read_database``. SQL is parameterized, windows are half-open ``[start, end)`` in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from sqlalchemy.engine import URL, make_url

from mfg_assets.plant.schema import SQLITE_TS_FORMAT

TS = pl.Datetime("us", "UTC")

SENSOR_READINGS_SCHEMA = {
    "ts": TS,
    "machine_id": pl.String(),
    "sensor_type": pl.String(),
    "value": pl.Float64(),
}
QUALITY_INSPECTIONS_SCHEMA = {
    "inspection_time": TS,
    "product_id": pl.String(),
    "machine_id": pl.String(),
    "defect_type": pl.String(),
    "severity": pl.Float64(),
    "image_uri": pl.String(),
}
MACHINE_EVENTS_SCHEMA = {"ts": TS, "machine_id": pl.String(), "event_type": pl.String()}
MACHINES_SCHEMA = {"machine_id": pl.String(), "machine_type": pl.String(), "line": pl.String()}


class PlantDatabaseError(RuntimeError):
    """The plant database cannot be read; the message names the (password-masked) URL.

    ``transient`` says whether retrying may help (a connection refused may; a missing SQLite
    file or table will not).
    """

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class WindowQuery:
    """A table read over a time window: its columns, time column and output schema."""

    table: str
    time_column: str
    schema: dict[str, pl.DataType]

    def sql(self, placeholder: str) -> str:
        cols = ", ".join(
            f"CAST({c} AS REAL) AS {c}" if dtype == pl.Float64() and placeholder == "?" else c
            for c, dtype in self.schema.items()
        )
        a, b = ("?", "?") if placeholder == "?" else ("$1", "$2")
        return (
            f"SELECT {cols} FROM {self.table} "
            f"WHERE {self.time_column} >= {a} AND {self.time_column} < {b}"
        )


SENSOR_READINGS = WindowQuery("sensor_readings", "ts", SENSOR_READINGS_SCHEMA)
QUALITY_INSPECTIONS = WindowQuery(
    "quality_inspections", "inspection_time", QUALITY_INSPECTIONS_SCHEMA
)
MACHINE_EVENTS = WindowQuery("machine_events", "ts", MACHINE_EVENTS_SCHEMA)


def masked(url: str | URL) -> str:
    """The URL with its password hidden, for messages and metadata."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise PlantDatabaseError(f"plant database {masked(url)} names no file")
    path = Path(url.database)
    if not path.exists():
        raise PlantDatabaseError(
            f"plant database {masked(url)} not found: no file at {path} "
            "(seed it with `mfg-plant seed` or set PLANT_DB_URL)"
        )
    return path


def _libpq_uri(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _fetch(url_str: str, sql_for: dict[str, str], params: tuple[Any, ...]) -> pa.Table:
    """Run a query and return Arrow; ``sql_for`` maps 'qmark'/'numeric' to SQL text."""
    url = make_url(url_str)
    backend = url.get_backend_name()
    try:
        if backend == "sqlite":
            import adbc_driver_sqlite.dbapi as adbc

            with adbc.connect(str(_sqlite_path(url))) as conn, conn.cursor() as cur:
                cur.execute(sql_for["qmark"], params)
                return cur.fetch_arrow_table()
        if backend == "postgresql":
            import adbc_driver_postgresql.dbapi as adbc

            with adbc.connect(_libpq_uri(url)) as conn, conn.cursor() as cur:
                cur.execute(sql_for["numeric"], params)
                return cur.fetch_arrow_table()
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        try:
            named = sql_for["qmark"]
            for i in range(named.count("?")):
                named = named.replace("?", f":p{i}", 1)
            with engine.connect() as conn:
                frame = pl.read_database(
                    text(named),
                    conn,
                    execute_options={"parameters": {f"p{i}": v for i, v in enumerate(params)}},
                )
            return frame.to_arrow()
        finally:
            engine.dispose()
    except PlantDatabaseError:
        raise
    except Exception as exc:  # driver errors vary by backend; name the URL, keep the cause
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        missing_table = "no such table" in reason or "does not exist" in reason
        raise PlantDatabaseError(
            f"cannot read plant database {masked(url)}: {reason}", transient=not missing_table
        ) from exc


def _normalize(table: pa.Table, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    exprs = []
    for name, dtype in schema.items():
        col = pl.col(name)
        source = frame.schema[name]
        if dtype == TS and source == pl.String():
            col = col.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_zone="UTC", time_unit="us")
        elif dtype == TS and isinstance(source, pl.Datetime):
            tz_fixed = (
                col.dt.convert_time_zone("UTC")
                if source.time_zone
                else (col.dt.replace_time_zone("UTC"))
            )
            col = tz_fixed.dt.cast_time_unit("us")
        exprs.append(col.cast(dtype).alias(name))
    out = frame.select(exprs) if frame.height else pl.DataFrame(schema=schema)
    return out.with_columns(pl.col(pl.Float64).fill_nan(None))


def _window_params(backend: str, start: datetime, end: datetime) -> tuple[Any, Any]:
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if backend == "sqlite":
        return start.strftime(SQLITE_TS_FORMAT), end.strftime(SQLITE_TS_FORMAT)
    return start, end


def extract_window(url: str, query: WindowQuery, start: datetime, end: datetime) -> pl.DataFrame:
    """Rows of ``query.table`` with ``start <= time < end``, schema-correct even when empty."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("window bounds must be timezone-aware (UTC)")
    backend = make_url(url).get_backend_name()
    params = _window_params(backend, start, end)
    table = _fetch(url, {"qmark": query.sql("?"), "numeric": query.sql("$")}, params)
    return _normalize(table, query.schema).sort(query.time_column, maintain_order=True)


def extract_sensor_readings(url: str, start: datetime, end: datetime) -> pl.DataFrame:
    """Long-format readings ``(ts, machine_id, sensor_type, value)``; NaN is returned as null."""
    return extract_window(url, SENSOR_READINGS, start, end)


def extract_quality_inspections(url: str, start: datetime, end: datetime) -> pl.DataFrame:
    """Inspections recorded by the MES in the window."""
    return extract_window(url, QUALITY_INSPECTIONS, start, end)


def extract_machine_events(url: str, start: datetime, end: datetime) -> pl.DataFrame:
    """Failure and maintenance events in the window."""
    return extract_window(url, MACHINE_EVENTS, start, end)


def extract_machines(url: str) -> pl.DataFrame:
    """The MES machine master: the machine ids the plant knows."""
    sql = "SELECT machine_id, machine_type, line FROM machines"
    table = _fetch(url, {"qmark": sql, "numeric": sql}, ())
    return _normalize(table, MACHINES_SCHEMA)
