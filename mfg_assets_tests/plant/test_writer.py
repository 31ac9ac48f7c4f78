"""PlantDB round trips on SQLite and PostgreSQL; seed + live equals one longer seed."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import psycopg
import pytest
from sqlalchemy import Table, select

from mfg_assets.plant import PlantBatch, PlantDB, PlantSimulator, run_live, seed_plant, write_window
from mfg_assets.plant.schema import machine_events, quality_inspections, sensor_readings
from mfg_assets_tests.plant.plants import DAY, EPOCH, HOUR, small_config

END = EPOCH + DAY
TABLES: dict[str, tuple[Table, str, list[str]]] = {
    "readings": (sensor_readings, "ts", ["ts", "machine_id", "sensor_type", "value"]),
    "inspections": (quality_inspections, "inspection_time", ["inspection_time", "product_id"]),
    "events": (machine_events, "ts", ["ts", "machine_id", "event_type"]),
}


def read_table(db: PlantDB, table: Table, ts_column: str) -> pl.DataFrame:
    """A plant table as SQLAlchemy returns it, timestamps made UTC-aware, in insertion order."""
    with db.engine.connect() as conn:
        rows = conn.execute(select(table)).all()
    frame = pl.DataFrame(
        [tuple(row) for row in rows], schema=[c.name for c in table.columns], orient="row"
    )
    stamp = pl.col(ts_column)
    as_utc = (
        stamp.dt.replace_time_zone("UTC")
        if frame.schema[ts_column].time_zone is None  # type: ignore[attr-defined]
        else stamp.dt.convert_time_zone("UTC")
    )
    return frame.with_columns(as_utc.dt.cast_time_unit("us"))


def expected_rows(batch: PlantBatch, name: str) -> pl.DataFrame:
    table, _, _ = TABLES[name]
    frame = getattr(batch, name).select(c.name for c in table.columns)
    return frame.with_columns(pl.col("value").fill_nan(None)) if name == "readings" else frame


def assert_same_rows(db: PlantDB, expected: PlantBatch, ordered: bool) -> None:
    for name, (table, ts_column, order) in TABLES.items():
        stored = read_table(db, table, ts_column)
        want = expected_rows(expected, name)
        if not ordered:
            stored, want = stored.sort(order, nulls_last=True), want.sort(order, nulls_last=True)
        assert stored.schema[ts_column] == pl.Datetime("us", "UTC")
        assert stored.equals(want), name


def test_sqlite_round_trip(tmp_path: Path) -> None:
    config = small_config()
    db = PlantDB(f"sqlite:///{tmp_path / 'plant.db'}")
    summary = seed_plant(db, config, END)
    expected = PlantSimulator(config).arrivals(EPOCH, END)

    assert summary.rows["sensor_readings"] == expected.readings.height > 50_000
    assert summary.rows["machines"] == 4 and summary.failures >= 0
    assert db.last_timestamp() == END
    assert db.config() == config
    assert_same_rows(db, expected, ordered=True)  # rowid order is arrival order

    raw = sqlite3.connect(tmp_path / "plant.db")
    first = raw.execute("SELECT ts FROM sensor_readings LIMIT 1").fetchone()[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", first)
    in_range = raw.execute(
        "SELECT count(*) FROM sensor_readings WHERE ts >= ? AND ts < ?",
        ("2026-11-01 05:00:00.000000", "2026-11-01 07:00:00.000000"),
    ).fetchone()[0]
    window = expected.readings.filter(
        pl.col("ts").is_between(EPOCH + 5 * HOUR, EPOCH + 7 * HOUR, closed="left")
    )
    assert in_range == window.height
    assert raw.execute("SELECT count(*) FROM sensor_readings WHERE value IS NULL").fetchone()[0] > 0
    raw.close()

    seed_plant(db, config, END)  # re-seeding replaces, never appends
    assert db.row_counts() == summary.rows


@pytest.mark.postgres
def test_postgres_round_trip_uses_copy(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    copied: list[str] = []
    original = psycopg.Cursor.copy

    def spy(self: psycopg.Cursor, statement: str, *args: object, **kwargs: object):
        copied.append(str(statement))
        return original(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", spy)
    config = small_config()
    db = PlantDB(pg_url)
    seed_plant(db, config, END)
    expected = PlantSimulator(config).arrivals(EPOCH, END)

    assert {s.split()[1] for s in copied} == {
        "sensor_readings",
        "quality_inspections",
        "machine_events",
    }
    assert db.row_counts()["sensor_readings"] == expected.readings.height
    assert db.last_timestamp() == END
    assert_same_rows(db, expected, ordered=False)
    with db.engine.connect() as conn:
        first = conn.scalar(select(sensor_readings.c.ts).limit(1))
    assert first.utcoffset() is not None and first.astimezone(UTC) >= EPOCH
    db.close()


def test_seed_then_live_equals_one_longer_seed(tmp_path: Path) -> None:
    config = small_config()
    split = EPOCH + 13 * HOUR + 123_456 * (HOUR / 3_600_000)  # odd instant, late rows pending
    live = PlantDB(f"sqlite:///{tmp_path / 'live.db'}")
    seed_plant(live, config, split)
    write_window(live, PlantSimulator(config), split, END, HOUR)
    once = PlantDB(f"sqlite:///{tmp_path / 'once.db'}")
    seed_plant(once, config, END)
    assert live.row_counts() == once.row_counts()
    for table, ts_column, order in TABLES.values():
        assert (
            read_table(live, table, ts_column)
            .sort(order, nulls_last=True)
            .equals(read_table(once, table, ts_column).sort(order, nulls_last=True))
        )


def test_live_run_catches_up_to_wall_time_until(tmp_path: Path) -> None:
    config = small_config()
    db = PlantDB(f"sqlite:///{tmp_path / 'plant.db'}")
    seed_plant(db, config, END)
    until = END + 90 * (HOUR / 60)
    assert until < datetime.now(UTC)  # speed 1: plant time is wall time, far ahead
    ticks = run_live(db, speed=1.0, tick_s=0.01, until=until)
    assert ticks == 1 and db.last_timestamp() == until
    readings = read_table(db, sensor_readings, "ts")
    assert readings["ts"].max() < until
    expected = PlantSimulator(config).arrivals(EPOCH, until).readings
    assert readings.height == expected.height


def test_scenarios_are_appended_but_not_into_history(tmp_path: Path) -> None:
    db = PlantDB(f"sqlite:///{tmp_path / 'plant.db'}")
    seed_plant(db, small_config(), END)
    spec = db.add_scenario("sensor_offset", END + 2 * HOUR, {"offset": "2.5"})
    assert db.config().scenarios == (spec,)
    assert spec.params["offset"] == 2.5
    with pytest.raises(ValueError, match="before the plant's last timestamp"):
        db.add_scenario("fast_wear", END - HOUR)
    with pytest.raises(ValueError, match="unknown scenario"):
        db.add_scenario("meteor", END + HOUR)
    assert len(db.config().scenarios) == 1
