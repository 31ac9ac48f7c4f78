"""Hostile rows in the plant database: the hour still materializes, every source row is
accounted for against the database's own COUNT(*), and each hostile row is quarantined with
its reason. SQLite (no types enforced) and PostgreSQL (typed columns) each get what they can
hold."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from sqlalchemy import create_engine, insert, text

from mfg_assets.ingestion.extract import (
    PlantDatabaseError,
    extract_sensor_readings_counted,
    is_transient,
)
from mfg_assets.plant.schema import SQLITE_TS_FORMAT
from mfg_assets.plant.schema import sensor_readings as readings_table
from mfg_assets.storage.partitions import partition_file
from mfg_assets_tests.integration.plant_fixtures import (
    HOUR,
    HOUR_KEY,
    plant_assets,
    resources,
    seed_small_plant,
)

END = HOUR + timedelta(hours=1)


def at(minutes: float) -> str:
    return (HOUR + timedelta(minutes=minutes)).strftime(SQLITE_TS_FORMAT)


# (ts, machine_id, sensor_type, value, expected reason or None when read as a good reading)
SQLITE_HOSTILE: list[tuple[object, str, str, object, str | None]] = [
    (at(1.01), "M001", "temperature", "abc", "non_numeric"),
    (at(1.02), "M001", "temperature", "NaN", "non_numeric"),
    (at(1.03), "M001", "temperature", b"\x00\xffblob", "non_numeric"),
    (at(1.04), "M001", "temperature", float("inf"), "out_of_range"),
    (at(1.05), "M001", "temperature", 1e12, "out_of_range"),
    (at(1.06), "M001", "temperature", None, "missing_value"),
    ("2026-11-02 10:99:00.000000", "M001", "temperature", 61.0, "bad_timestamp"),
    ("2026-11-02 10:30:00+02:00", "M001", "temperature", 61.0, "bad_timestamp"),  # 08:30 UTC
    (at(1.07), "M" * 10_000, "temperature", 61.0, "unknown_machine"),
    (at(1.08), "M001", "humidity", 40.0, "unknown_sensor"),
    ("2026-11-02T10:20:00.5", "M003", "pressure", 6.123, None),  # ISO with T: read correctly
    ((HOUR + timedelta(minutes=21)).timestamp(), "M003", "pressure", 6.321, None),  # epoch s
    ("2999-01-01 00:00:00.000000", "M001", "temperature", 61.0, "other window"),
]

PG_HOSTILE: list[tuple[object, str, str, object, str | None]] = [
    (HOUR + timedelta(minutes=1, seconds=1), "M001", "temperature", float("nan"), "missing_value"),
    (HOUR + timedelta(minutes=1, seconds=2), "M001", "temperature", float("inf"), "out_of_range"),
    (HOUR + timedelta(minutes=1, seconds=3), "M001", "temperature", 1e12, "out_of_range"),
    (HOUR + timedelta(minutes=1, seconds=4), "M001", "temperature", None, "missing_value"),
    (HOUR + timedelta(minutes=1, seconds=5), "M" * 16, "temperature", 61.0, "unknown_machine"),
    (HOUR + timedelta(minutes=1, seconds=6), "M001", "humidity", 40.0, "unknown_sensor"),
    (HOUR.replace(year=2999), "M001", "temperature", 61.0, "other window"),
]
DUPLICATE_REASON = "duplicate"


def sqlite_count(path: Path) -> int:
    """The source window's rows as SQLite counts them, in each timestamp encoding."""
    a, b = HOUR.strftime(SQLITE_TS_FORMAT), END.strftime(SQLITE_TS_FORMAT)
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT COUNT(*) FROM sensor_readings WHERE (ts >= ? AND ts < ?) "
            "OR (ts >= ? AND ts < ?) OR (ts >= ? AND ts < ?)",
            (a, b, a.replace(" ", "T"), b.replace(" ", "T"), HOUR.timestamp(), END.timestamp()),
        ).fetchone()[0]


def pg_count(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(
            text("SELECT COUNT(*) FROM sensor_readings WHERE ts >= :a AND ts < :b"),
            {"a": HOUR, "b": END},
        ).scalar_one()
    engine.dispose()
    return int(n)


def insert_hostile(url: str, tmp_path: Path) -> tuple[list, int]:
    """Write the backend's hostile rows plus one exact duplicate of a good reading."""
    engine = create_engine(url)
    with engine.connect() as conn:
        good = conn.execute(
            text(
                "SELECT ts, machine_id, sensor_type, value FROM sensor_readings "
                "WHERE machine_id = 'M002' AND ts >= :a ORDER BY ts LIMIT 1 OFFSET 20"
            ),
            {"a": HOUR.strftime(SQLITE_TS_FORMAT) if url.startswith("sqlite") else HOUR},
        ).one()
    if url.startswith("sqlite"):
        hostile = SQLITE_HOSTILE
        with sqlite3.connect(tmp_path / "plant.db") as conn:
            conn.executemany(
                "INSERT INTO sensor_readings VALUES (?, ?, ?, ?)",
                [row[:4] for row in hostile] + [tuple(good)],
            )
    else:
        hostile = PG_HOSTILE
        with engine.begin() as conn:
            conn.execute(
                insert(readings_table),
                [
                    dict(zip(("ts", "machine_id", "sensor_type", "value"), r[:4], strict=False))
                    for r in hostile
                ]
                + [dict(good._mapping)],
            )
    engine.dispose()
    return hostile, (
        sqlite_count(tmp_path / "plant.db") if url.startswith("sqlite") else pg_count(url)
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def plant_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'plant.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    seed_small_plant(url)
    return url


def test_hostile_rows_are_accounted_for_and_quarantined(plant_url: str, tmp_path: Path):
    hostile, source_count = insert_hostile(plant_url, tmp_path)
    warehouse = tmp_path / "warehouse"
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            plant_assets(),
            partition_key=HOUR_KEY,
            instance=instance,
            resources=resources(plant_url, warehouse),
            raise_on_error=False,
        )
    assert result.success
    checks = {
        f"{e.asset_key.to_user_string()}:{e.check_name}": e.passed
        for e in result.get_asset_check_evaluations()
    }
    assert checks["sensor_readings:source_rows"]
    assert checks["machine_hourly_features:rows_accounted"]

    raw = pl.read_parquet(warehouse / partition_file(["sensor_readings"], HOUR_KEY))
    quarantined = pl.read_parquet(warehouse / partition_file(["quarantined_readings"], HOUR_KEY))
    features = pl.read_parquet(warehouse / partition_file(["machine_hourly_features"], HOUR_KEY))
    assert features.height == 4  # the hour materialized for every machine
    mat = next(
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("machine_hourly_features")
    )
    meta = mat.step_materialization_data.materialization.metadata
    # The identity, against the database's own COUNT(*) of the source window.
    assert raw.height == source_count
    assert source_count == meta["rows_clean"].value + quarantined.height

    expected: dict[str, int] = {}
    for *_, reason in hostile:
        if reason not in (None, "other window"):
            expected[reason] = expected.get(reason, 0) + 1
    expected[DUPLICATE_REASON] = 1
    assert dict(quarantined.group_by("reason").len().iter_rows()) == expected
    assert quarantined["source_hour"].unique().to_list() == [HOUR]
    # Readable encodings are read as what they say, not quarantined.
    for value in (6.123, 6.321):
        found = raw.filter(pl.col("value") == value)
        assert found.height == (1 if plant_url.startswith("sqlite") else 0)
        if found.height:
            assert found["issue"][0] is None and HOUR <= found["ts"][0] < END
    # Garbage never becomes a number.
    assert raw.filter(pl.col("issue") == "non_numeric")["value"].null_count() == (
        expected.get("non_numeric", 0)
    )


def test_only_connection_and_lock_errors_are_retried(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'plant.db'}"
    seed_small_plant(url, days=1, machines=1).close()
    # Another process holds an exclusive lock (locks are per process, so it must be another).
    hold = (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)\n"
        "c.execute('PRAGMA journal_mode=DELETE')\n"  # in WAL mode writers never block readers
        "c.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(tmp_path / "plant.db")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(PlantDatabaseError) as locked:
            extract_sensor_readings_counted(url, HOUR, END)
        assert locked.value.transient, str(locked.value)
    finally:
        holder.kill()
        holder.wait()
    with sqlite3.connect(tmp_path / "plant.db") as conn:
        conn.execute("DROP TABLE sensor_readings")
    with pytest.raises(PlantDatabaseError) as missing:
        extract_sensor_readings_counted(url, HOUR, END)
    assert not missing.value.transient
    assert is_transient("connection to server at 127.0.0.1 failed: Connection refused")
    assert not is_transient('syntax error at or near "FROM"')


def test_a_deterministic_failure_is_not_retried(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'plant.db'}"
    seed_small_plant(url, days=1, machines=1).close()
    with sqlite3.connect(tmp_path / "plant.db") as conn:
        conn.execute("DROP TABLE sensor_readings")
    from mfg_assets.defs.ingestion import sensor_readings

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [sensor_readings],
            partition_key=HOUR_KEY,
            instance=instance,
            resources=resources(url, tmp_path / "warehouse"),
            raise_on_error=False,
        )
    assert not result.success
    kinds = [e.event_type_value for e in result.all_events]
    assert "STEP_FAILURE" in kinds and "STEP_UP_FOR_RETRY" not in kinds


def test_a_window_over_several_days_reads_each_row_once(tmp_path: Path) -> None:
    """A ranged backfill extracts many hours at once: canonical and ISO-``T`` rows of the days
    inside the window sort into each other's text ranges, so each must still be read (and
    counted) exactly once, in its own hour."""
    from datetime import UTC, datetime

    path = tmp_path / "plant.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE sensor_readings (ts, machine_id, sensor_type, value)")
        conn.execute("CREATE INDEX ix_ts ON sensor_readings (ts)")
        start = datetime(2026, 11, 30, 22, tzinfo=UTC)
        rows = []
        for hour in range(50):  # 22:00 on day 1 … 23:00 on day 3
            ts = start + timedelta(hours=hour, minutes=5)
            rows.append((ts.strftime(SQLITE_TS_FORMAT), "M001", "temperature", 60.0 + hour))
            if hour % 7 == 0:
                iso = (ts + timedelta(minutes=1)).strftime(SQLITE_TS_FORMAT).replace(" ", "T")
                rows.append((iso, "M002", "temperature", 61.0))
        conn.executemany("INSERT INTO sensor_readings VALUES (?, ?, ?, ?)", rows)
    frame, counts = extract_sensor_readings_counted(
        f"sqlite:///{path}", start, start + timedelta(hours=50)
    )
    assert frame.height == len(rows)
    assert frame["issue"].null_count() == frame.height  # every row read as what it is
    assert sum(counts.values()) == len(rows)
    per_hour = frame.group_by("source_hour").len()
    assert dict(per_hour.iter_rows()) == {h: n for h, n in counts.items() if n}
    assert frame.filter(pl.col("machine_id") == "M002").height == 8


def test_a_window_longer_than_sqlites_compound_limit_is_read_whole(tmp_path: Path) -> None:
    """SQLite refuses a compound SELECT of more than 500 terms: a 90-day ranged backfill (2,160
    hourly counts, 181 day ranges) is read in several statements of one snapshot, every row
    once and every hour counted, hours without readings included."""
    from datetime import UTC, datetime

    path = tmp_path / "plant.db"
    start = datetime(2015, 1, 1, 6, tzinfo=UTC)
    hours = 24 * 90
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE sensor_readings (ts, machine_id, sensor_type, value)")
        conn.execute("CREATE INDEX ix_ts ON sensor_readings (ts)")
        rows = [
            ((start + timedelta(hours=h)).strftime(SQLITE_TS_FORMAT), "1", "volt", float(h))
            for h in range(hours)
            if h % 5  # every fifth hour empty
        ]
        conn.executemany("INSERT INTO sensor_readings VALUES (?, ?, ?, ?)", rows)
    frame, counts = extract_sensor_readings_counted(
        f"sqlite:///{path}", start, start + timedelta(hours=hours)
    )
    assert frame.height == len(rows)
    assert frame["value"].sort().to_list() == sorted(r[3] for r in rows)
    assert counts is not None and len(counts) == hours
    assert sum(counts.values()) == len(rows)
    assert sum(1 for n in counts.values() if n == 0) == hours // 5
