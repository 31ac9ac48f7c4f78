"""``mfg-plant`` seed → info → scenario → run, argument parsing, and clean error exits."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select

from mfg_assets.plant import PlantDB, PlantSimulator
from mfg_assets.plant.cli import main, parse_scenario, parse_time
from mfg_assets.plant.schema import sensor_readings
from mfg_assets_tests.plant.plants import EPOCH, HOUR

KEY = ["ts", "machine_id", "sensor_type"]
BAD_URL = "postgresql+psycopg://bob:s3cret@127.0.0.1:1/plant"


def stored_readings(db: PlantDB) -> pl.DataFrame:
    with db.engine.connect() as conn:
        rows = conn.execute(select(sensor_readings)).all()
    frame = pl.DataFrame([tuple(r) for r in rows], schema=KEY + ["value"], orient="row")
    return frame.with_columns(pl.col("ts").dt.replace_time_zone("UTC"))


def test_seed_info_scenario_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'plant.db'}"
    seed = ["seed", "--db", url, "--days", "1", "--machines", "3", "--interval", "60"]
    seed += [
        "--end",
        "2026-11-02T00:00Z",
        "--scenario",
        "sensor_offset@+20h:offset=4,machines=M001,M002",
    ]
    assert main(seed) == 0
    out = capsys.readouterr().out
    assert "sensor_readings" in out and "failures" in out and "took" in out

    assert main(["info", "--db", url]) == 0
    out = capsys.readouterr().out
    assert '"sensor_offset"' in out and "2026-11-01T00:00:00+00:00" in out

    assert (
        main(["scenario", "supplier_change", "--db", url, "--at", "+30m", "defect_factor=3"]) == 0
    )
    db = PlantDB(url)
    config = db.config()
    assert [s.name for s in config.scenarios] == ["sensor_offset", "supplier_change"]
    assert config.scenarios[0].params["machines"] == ["M001", "M002"]
    assert config.scenarios[1].start == datetime(2026, 11, 2, 0, 30, tzinfo=UTC)

    before = db.row_counts()["sensor_readings"]
    run = ["run", "--db", url, "--max-ticks", "2", "--speed", "600", "--tick", "0.3"]
    assert main(run) == 0
    assert "stopped after 2 tick(s)" in capsys.readouterr().out
    written_until = db.last_timestamp()
    assert written_until > datetime(2026, 11, 2, tzinfo=UTC) + timedelta(minutes=2)

    stored = stored_readings(db)
    assert stored.height > before
    expected = PlantSimulator(config).arrivals(config.epoch, written_until).readings
    expected = expected.select(*KEY, pl.col("value").fill_nan(None))
    order = [*KEY, "value"]
    assert stored.sort(order, nulls_last=True).equals(expected.sort(order, nulls_last=True))
    duplicated_keys = stored.select(KEY).is_duplicated().sum()
    assert duplicated_keys == expected.select(KEY).is_duplicated().sum()  # dirt only


def test_run_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plant.db'}"
    seed = ["seed", "--db", url, "--days", "0.2", "--machines", "2", "--end", "2026-11-02T00:00Z"]
    assert main(seed) == 0
    command = [sys.executable, "-m", "mfg_assets.plant.cli", "run", "--db", url]
    process = subprocess.Popen(
        [*command, "--speed", "600", "--tick", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("running")
        assert process.stdout.readline().startswith("written to")  # first tick done
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "stopped after" in out and "Traceback" not in err


def test_unreachable_database_is_one_masked_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mfg_assets.plant.cli", "info", "--db", BAD_URL],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "bob:***@127.0.0.1:1/plant" in result.stderr
    assert "s3cret" not in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["scenario", "meteor", "--at", "+1h"], "unknown scenario 'meteor'"),
        (["scenario", "fast_wear", "--at", "tomorrow"], "bad time 'tomorrow'"),
        (["info"], "no plant in"),
        (["seed", "--days", "1", "--machines", "2", "--scenario", "fast_wear"], "NAME@TIME"),
    ],
)
def test_user_errors_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_url = f"sqlite:///{tmp_path / 'empty.db'}"
    if argv[0] == "scenario":  # needs a plant to be relative to
        main(["seed", "--db", db_url, "--days", "0.1", "--machines", "2", "--interval", "600"])
        capsys.readouterr()
    assert main([*argv, "--db", db_url]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_scenario_argument_parsing() -> None:
    spec = parse_scenario(
        "supplier_change@2026-11-20T06:00:00+00:00:defect_factor=3,image_appearance=supplier_b",
        EPOCH,
    )
    assert spec.start == datetime(2026, 11, 20, 6, tzinfo=UTC)
    assert spec.params["defect_factor"] == 3.0 and spec.params["image_appearance"] == "supplier_b"
    assert parse_scenario("fast_wear@+36h", EPOCH).start == EPOCH + 36 * HOUR
    offset = parse_scenario("sensor_offset@2026-11-03T00:00Z:machines=M001,M004,offset=-2", EPOCH)
    assert offset.params["machines"] == ["M001", "M004"] and offset.params["offset"] == -2.0
    assert parse_time("2026-11-03T04:05:06") == datetime(2026, 11, 3, 4, 5, 6, tzinfo=UTC)
    assert parse_time("+30m", EPOCH) == EPOCH + timedelta(minutes=30)
