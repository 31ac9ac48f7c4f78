"""Extract one time window of plant data, Arrow-natively.

ADBC moves rows from SQLite and PostgreSQL straight into Arrow (no per-row Python objects),
which is what makes an hourly partition cheap; any other SQLAlchemy URL falls back to
``polars.read_database``. SQL is parameterized, windows are half-open ``[start, end)`` in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
    # The hour of the source window the row was read (and counted) in, and what is wrong with
    # the row as stored: ``non_numeric`` (a value that is text or a blob) or ``bad_timestamp``
    # (``ts`` unreadable, or readable but outside the hour it is stored under); null when fine.
    "source_hour": TS,
    "issue": pl.String(),
}
READ_ISSUES: tuple[str, ...] = ("bad_timestamp", "non_numeric")
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


# Driver messages of failures that can succeed on a retry: the server or file was busy or
# unreachable. Anything else (a missing table, bad SQL, data that cannot be read) is
# deterministic and retrying it only delays the failure.
TRANSIENT_MARKERS: tuple[str, ...] = (
    "database is locked",
    "database table is locked",
    "busy",
    "connection refused",
    "could not connect",
    "connection timed out",
    "timeout expired",
    "server closed the connection",
    "connection reset",
    "terminating connection",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "not currently accepting connections",  # ALTER DATABASE ... ALLOW_CONNECTIONS false
    "too many clients",
    "could not translate host name",
    "deadlock detected",
    "could not serialize access",
)


def is_transient(message: str) -> bool:
    """Whether a driver error message is one a retry can fix (connections, locks)."""
    lowered = message.lower()
    return any(marker in lowered for marker in TRANSIENT_MARKERS)


class PlantDatabaseError(RuntimeError):
    """The plant database cannot be read; the message names the (password-masked) URL.

    ``transient`` says whether retrying may help (a refused connection or a locked database
    may; a missing SQLite file or table, or bad SQL, will not).
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
    return _fetch_many(url_str, [(sql_for, params)])[0]


def _fetch_many(
    url_str: str, queries: list[tuple[dict[str, str], tuple[Any, ...]]]
) -> list[pa.Table]:
    """Several queries in one read transaction (one snapshot of the database), as Arrow."""
    url = make_url(url_str)
    backend = url.get_backend_name()
    try:
        if backend == "sqlite":
            import adbc_driver_sqlite.dbapi as adbc

            with adbc.connect(str(_sqlite_path(url))) as conn, conn.cursor() as cur:
                out = []
                for sql_for, params in queries:
                    cur.execute(sql_for["qmark"], params)
                    out.append(cur.fetch_arrow_table())
                conn.rollback()
                return out
        if backend == "postgresql":
            import adbc_driver_postgresql.dbapi as adbc

            with adbc.connect(_libpq_uri(url)) as conn, conn.cursor() as cur:
                out = []
                if len(queries) > 1:
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                for sql_for, params in queries:
                    cur.execute(sql_for["numeric"], params)
                    out.append(cur.fetch_arrow_table())
                conn.rollback()
                return out
        if len(queries) != 1:
            raise PlantDatabaseError(f"{backend}: one query at a time on this backend")
        sql_for, params = queries[0]
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
            return [frame.to_arrow()]
        finally:
            engine.dispose()
    except PlantDatabaseError:
        raise
    except Exception as exc:  # driver errors vary by backend; name the URL, keep the cause
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PlantDatabaseError(
            f"cannot read plant database {masked(url)}: {reason}",
            transient=is_transient(str(exc)),
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
    """Long-format readings ``(ts, machine_id, sensor_type, value, source_hour, issue)``; NaN is
    returned as null. See :func:`extract_sensor_readings_counted`."""
    return extract_sensor_readings_counted(url, start, end)[0]


def extract_sensor_readings_counted(
    url: str, start: datetime, end: datetime
) -> tuple[pl.DataFrame, dict[datetime, int] | None]:
    """Every source row of the window, and the database's own ``COUNT(*)`` per hour, read in
    one transaction so the two describe the same snapshot (``None`` on backends without
    one-snapshot reads).

    On SQLite (no timestamp type) a row belongs to the window when its ``ts`` is in it in any
    encoding the plant has been seen to write: canonical text, ISO text with ``T``, or epoch
    seconds as a number. Unreadable values never become numbers: text and blobs come back
    null with ``issue = 'non_numeric'``; unreadable timestamps come back null with
    ``issue = 'bad_timestamp'``, in the hour their text sorts into.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("window bounds must be timezone-aware (UTC)")
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        reads = [
            ({"qmark": _sqlite_readings_sql(chunk), "numeric": ""},
             tuple(bound for r in chunk for bound in r[1:]))
            for chunk in _chunks(_sqlite_ranges(start, end))
        ]  # fmt: skip
        count_reads = [({"qmark": sql, "numeric": ""}, p) for sql, p in _sqlite_counts(start, end)]
        tables = _fetch_many(url, [*reads, *count_reads])  # one snapshot for all of them
        frame = _sqlite_readings(_stacked(tables[: len(reads)]))
        counts = _stacked(tables[len(reads) :]).to_arrow()
    elif backend == "postgresql":
        params = _window_params(backend, start, end)
        rows, counts = _fetch_many(
            url,
            [({"qmark": "", "numeric": _PG_READINGS}, params),
             ({"qmark": "", "numeric": _PG_COUNTS}, params)],
        )  # fmt: skip
        frame = _normalize(rows, _PLAIN_READINGS_SCHEMA).with_columns(
            pl.col("ts").dt.truncate("1h").alias("source_hour"),
            pl.lit(None, pl.String).alias("issue"),
        )
    else:
        plain = extract_window(url, _PLAIN_READINGS, start, end)
        frame = plain.with_columns(
            pl.col("ts").dt.truncate("1h").alias("source_hour"),
            pl.lit(None, pl.String).alias("issue"),
        )
        return frame.select(list(SENSOR_READINGS_SCHEMA)), None
    counted = pl.from_arrow(counts)
    assert isinstance(counted, pl.DataFrame)
    per_hour = {_hour_from_text(str(hour)): int(n) for hour, n in counted.iter_rows()}
    frame = frame.select(list(SENSOR_READINGS_SCHEMA)).cast(SENSOR_READINGS_SCHEMA)
    return frame.sort("source_hour", "ts", maintain_order=True), per_hour


_PLAIN_READINGS_SCHEMA = {k: v for k, v in SENSOR_READINGS_SCHEMA.items() if k in
                          ("ts", "machine_id", "sensor_type", "value")}  # fmt: skip
_PLAIN_READINGS = WindowQuery("sensor_readings", "ts", _PLAIN_READINGS_SCHEMA)


def _text(column: str) -> str:
    """A column as text whatever SQLite holds in it (blobs as hex, so never invalid UTF-8)."""
    return (
        f"CASE WHEN typeof({column}) = 'blob' THEN 'blob:' || hex({column}) "
        f"ELSE CAST({column} AS TEXT) END"
    )


# Index range scans, one per UTC day and encoding: canonical text, ISO text with 'T', and
# epoch seconds (SQLite orders numbers before text). Within one day the encodings sort apart
# ('YYYY-MM-DD ' < 'YYYY-MM-DD!' < 'YYYY-MM-DDT' < 'YYYY-MM-DDU'), so no row is read twice
# however many days a window spans.
CANONICAL_BRANCH, ISO_BRANCH, NUMERIC_BRANCH = 0, 1, 2


def _sqlite_ranges(start: datetime, end: datetime) -> list[tuple[int, Any, Any]]:
    """``(branch, low, high)`` ranges of ``ts`` covering ``[start, end)`` in every encoding."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    ranges: list[tuple[int, Any, Any]] = []
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        following = day + timedelta(days=1)
        low = max(start, day).strftime(SQLITE_TS_FORMAT)
        date = day.strftime("%Y-%m-%d")
        whole_rest = end >= following
        high = f"{date}!" if whole_rest else end.strftime(SQLITE_TS_FORMAT)
        iso_high = f"{date}U" if whole_rest else high.replace(" ", "T")
        ranges += [(CANONICAL_BRANCH, low, high), (ISO_BRANCH, low.replace(" ", "T"), iso_high)]
        day = following
    return [*ranges, (NUMERIC_BRANCH, start.timestamp(), end.timestamp())]


def _sqlite_readings_sql(ranges: list[tuple[int, Any, Any]]) -> str:
    """One ``SELECT`` per range, ``UNION ALL``. Only what polars cannot derive cheaply
    crosses over: the branch as a small integer, text and blob values as a 0/1 flag."""
    return " UNION ALL ".join(
        f"SELECT {'CAST(ts AS TEXT)' if branch == NUMERIC_BRANCH else 'ts'} AS ts, "
        f"{branch} AS branch, "
        f"{_text('machine_id')} AS machine_id, {_text('sensor_type')} AS sensor_type, "
        "CASE WHEN typeof(value) IN ('integer', 'real') THEN CAST(value AS REAL) END AS value, "
        "typeof(value) IN ('text', 'blob') AS non_numeric "
        "FROM sensor_readings WHERE ts >= ? AND ts < ?"
        for branch, _, _ in ranges
    )


# SQLite refuses a compound SELECT of more than 500 terms (SQLITE_MAX_COMPOUND_SELECT): long
# windows are read as several statements in the same read transaction.
COMPOUND_TERMS = 400


def _stacked(tables: list[pa.Table]) -> pl.DataFrame:
    """Arrow results of one query split in statements, as one frame (a statement that found no
    rows may type a column differently: relaxed to the common supertype)."""
    frames = [pl.from_arrow(t) for t in tables]
    return pl.concat(frames, how="vertical_relaxed")  # type: ignore[arg-type]


def _chunks(items: list[Any], size: int = COMPOUND_TERMS) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


def _sqlite_counts(start: datetime, end: datetime) -> list[tuple[str, tuple[Any, ...]]]:
    """``COUNT(*)`` of every hour of the window in each encoding, as index range counts (one
    scalar subquery per hour and range: far cheaper than grouping by a text prefix), as
    statements of at most :data:`COMPOUND_TERMS` hours."""
    selects: list[str] = []
    params: list[Any] = []
    hour = start.astimezone(UTC)
    while hour < end:
        following = min(hour + timedelta(hours=1), end)
        ranges = _sqlite_ranges(hour, following)
        selects.append(
            "SELECT ? AS source_hour, "
            + " + ".join(
                "(SELECT COUNT(*) FROM sensor_readings WHERE ts >= ? AND ts < ?)" for _ in ranges
            )
            + " AS n"
        )
        params.append((hour.strftime("%Y-%m-%d %H"), *(bound for r in ranges for bound in r[1:])))
        hour = following
    return [
        (" UNION ALL ".join(sql_chunk), tuple(v for hour_params in p_chunk for v in hour_params))
        for sql_chunk, p_chunk in zip(_chunks(selects), _chunks(params), strict=True)
    ]


_PG_READINGS = (
    "SELECT ts, machine_id, sensor_type, value FROM sensor_readings WHERE ts >= $1 AND ts < $2"
)
_PG_COUNTS = (
    "SELECT to_char(date_trunc('hour', ts AT TIME ZONE 'UTC'), 'YYYY-MM-DD HH24') AS source_hour,"
    " COUNT(*) AS n FROM sensor_readings WHERE ts >= $1 AND ts < $2 GROUP BY 1"
)


def _hour_from_text(text: str) -> datetime:
    return datetime.strptime(text[:13], "%Y-%m-%d %H").replace(tzinfo=UTC)


def _sqlite_readings(raw: pl.DataFrame) -> pl.DataFrame:
    """Typed readings from the SQLite branches: timestamps parsed per encoding, the hour each
    row was counted in, and the row's issue. Canonical rows (nearly all) take one parse; the
    few others are read one encoding at a time."""
    if raw.is_empty():
        return pl.DataFrame(schema=SENSOR_READINGS_SCHEMA)
    canonical = pl.col("ts").str.to_datetime(
        SQLITE_TS_FORMAT.replace(".%f", "%.f"), time_zone="UTC", time_unit="us", strict=False
    )
    frame = raw.with_columns(canonical.alias("_parsed"))
    fast = (pl.col("branch") == CANONICAL_BRANCH) & pl.col("_parsed").is_not_null()
    issue = pl.when(pl.col("non_numeric").cast(pl.Boolean)).then(pl.lit("non_numeric"))
    regular = frame.filter(fast).with_columns(
        pl.col("_parsed").alias("ts"),
        pl.col("_parsed").dt.truncate("1h").alias("source_hour"),
        issue.alias("issue"),
    )
    others = frame.filter(~fast)
    if others.height:
        regular = pl.concat([regular, _irregular_readings(others)], how="diagonal_relaxed")
    return regular.with_columns(pl.col("value").fill_nan(None)).select(list(SENSOR_READINGS_SCHEMA))


def _irregular_readings(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows stored in another encoding (ISO with ``T``, epoch seconds) or unreadable: read
    what can be read; a timestamp that cannot be read, or that reads outside the hour its
    text sorts into (a foreign UTC offset), is a ``bad_timestamp``."""
    numeric = pl.col("branch") == NUMERIC_BRANCH
    text = pl.col("ts").str.replace("T", " ").str.strip_suffix("Z")
    epoch = (
        (pl.col("ts").cast(pl.Float64, strict=False) * 1e6)
        .round()
        .cast(pl.Int64, strict=False)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC")
    )
    parsed = (
        pl.when(numeric)
        .then(epoch)
        .otherwise(
            pl.coalesce(
                text.str.to_datetime(
                    "%Y-%m-%d %H:%M:%S%.f", time_zone="UTC", time_unit="us", strict=False
                ),
                text.str.to_datetime(
                    "%Y-%m-%d %H:%M:%S%.f%:z", time_zone="UTC", time_unit="us", strict=False
                ),
            )
        )
    )
    prefix_hour = (text.str.slice(0, 13) + ":00").str.to_datetime(
        "%Y-%m-%d %H:%M", time_zone="UTC", time_unit="us", strict=False
    )
    hour = pl.when(numeric).then(epoch.dt.truncate("1h")).otherwise(prefix_hour)
    frame = rows.with_columns(parsed.alias("_parsed"), hour.alias("source_hour"))
    readable = (pl.col("_parsed").dt.truncate("1h") == pl.col("source_hour")).fill_null(False)
    issue = (
        pl.when(~readable)
        .then(pl.lit("bad_timestamp"))
        .when(pl.col("non_numeric").cast(pl.Boolean))
        .then(pl.lit("non_numeric"))
    )
    return frame.with_columns(
        pl.when(readable).then(pl.col("_parsed")).alias("ts"), issue.alias("issue")
    )


def extract_quality_inspections(url: str, start: datetime, end: datetime) -> pl.DataFrame:
    """Inspections recorded by the MES in the window."""
    return extract_window(url, QUALITY_INSPECTIONS, start, end)


def extract_machine_events(url: str, start: datetime, end: datetime) -> pl.DataFrame:
    """Failure and maintenance events in the window."""
    return extract_window(url, MACHINE_EVENTS, start, end)


def read_snapshot(url: str, sqls: list[str]) -> list[pl.DataFrame]:
    """Parameterless queries in one read snapshot, as polars frames (errors as for the windows:
    :class:`PlantDatabaseError`, ``transient`` when a retry may help)."""
    tables = _fetch_many(url, [({"qmark": sql, "numeric": sql}, ()) for sql in sqls])
    return [pl.from_arrow(table) for table in tables]  # type: ignore[misc]


def extract_machines(url: str) -> pl.DataFrame:
    """The MES machine master: the machine ids the plant knows."""
    sql = "SELECT machine_id, machine_type, line FROM machines"
    table = _fetch(url, {"qmark": sql, "numeric": sql}, ())
    return _normalize(table, MACHINES_SCHEMA)
