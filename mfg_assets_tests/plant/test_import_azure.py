"""``mfg-plant import azure-pdm`` on the shared slice of the Azure predictive-maintenance data,
on SQLite and on PostgreSQL: every CSV row lands, re-importing changes nothing, a corrupted
copy is refused row by row (or whole, for wrong columns) with reasons, and a failed write
leaves the previous import untouched."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select, text

from mfg_assets.plant.cli import main
from mfg_assets.plant.importers import ImportRefused, run_import
from mfg_assets.plant.importers.datasets import dataset
from mfg_assets.plant.importers.landing import current_plant, replace_plant
from mfg_assets.plant.importers.parsing import utc_timestamp
from mfg_assets.plant.schema import machine_events, sensor_readings
from mfg_assets.plant.writer import PlantDB
from mfg_assets_tests.plant.conftest import throwaway_database
from mfg_assets_tests.plant.plants import small_config

SOURCE = dataset("azure_pdm")
needs_data = pytest.mark.skipif(
    SOURCE is None,
    reason="Azure PdM sample data not found (MFG_DATASETS_DIR or ../shared/datasets/azure_pdm); "
    "get it from Kaggle 'Microsoft Azure Predictive Maintenance'",
)
TABLES = ("sensor_readings", "machine_events", "machines", "machine_attributes")


@pytest.fixture(params=["sqlite", "postgresql"])
def plant_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty plant database on each backend (PostgreSQL: a throwaway database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'plant.db'}"
        return
    with throwaway_database("mfg_test_azure") as url:
        yield url


def counts(url: str) -> dict[str, int]:
    db = PlantDB(url)
    try:
        with db.engine.connect() as conn:
            return {t: conn.scalar(text(f"SELECT count(*) FROM {t}")) or 0 for t in TABLES}
    finally:
        db.close()


def csv(name: str, folder: Path | None = None) -> pl.DataFrame:
    return pl.read_csv((folder or SOURCE) / f"{name}.csv", infer_schema=False)  # type: ignore[operator]


def source_counts() -> dict[str, int]:
    telemetry = csv("PdM_telemetry")
    events = sum(csv(n).height for n in ("PdM_failures", "PdM_errors", "PdM_maint"))
    machines = csv("PdM_machines").height
    return {
        "sensor_readings": telemetry.height * 4,
        "machine_events": events,
        "machines": machines,
        "machine_attributes": 2 * machines,
    }


@needs_data
def test_import_lands_every_row_and_reimport_is_idempotent(plant_url: str) -> None:
    report = run_import("azure-pdm", SOURCE, plant_url)  # type: ignore[arg-type]
    expected = source_counts()
    assert counts(plant_url) == expected
    assert report.written_rows == expected
    for name in ("PdM_telemetry", "PdM_failures", "PdM_errors", "PdM_maint", "PdM_machines"):
        file = report.file(f"{name}.csv")
        assert file.read == file.written == csv(name).height
        assert file.refused_rows == 0
    assert report.time_range == ("2015-01-01T06:00:00+00:00", "2015-04-01T05:00:00+00:00")

    db = PlantDB(plant_url)
    try:
        assert current_plant(db) == "azure_pdm"
        assert db.last_timestamp() == datetime(2015, 4, 1, 6, tzinfo=UTC)
        with db.engine.connect() as conn:
            per_type = dict(
                conn.execute(
                    select(machine_events.c.event_type, func.count()).group_by(
                        machine_events.c.event_type
                    )
                ).all()
            )
            first = conn.execute(
                select(sensor_readings.c.ts, sensor_readings.c.value)
                .where(sensor_readings.c.machine_id == "1", sensor_readings.c.sensor_type == "volt")
                .order_by(sensor_readings.c.ts)
                .limit(1)
            ).one()
        assert db.time_range() == (
            datetime(2015, 1, 1, 6, tzinfo=UTC),
            datetime(2015, 4, 1, 5, tzinfo=UTC),
        )
    finally:
        db.close()
    failures = csv("PdM_failures")["failure"].value_counts()
    for comp, n in failures.iter_rows():
        assert per_type[f"failure_{comp}"] == n
    for error, n in csv("PdM_errors")["errorID"].value_counts().iter_rows():
        assert per_type[error] == n
    for comp, n in csv("PdM_maint")["comp"].value_counts().iter_rows():
        assert per_type[f"maint_{comp}"] == n
    row = csv("PdM_telemetry").row(0, named=True)
    ts = first[0] if first[0].tzinfo else first[0].replace(tzinfo=UTC)
    assert ts == datetime.fromisoformat(row["datetime"]).replace(tzinfo=UTC)
    assert first[1] == pytest.approx(float(row["volt"]))

    run_import("azure-pdm", SOURCE, plant_url)  # type: ignore[arg-type]
    assert counts(plant_url) == expected
    db = PlantDB(plant_url)
    try:
        with db.engine.connect() as conn:
            distinct = conn.scalar(
                text(
                    "SELECT count(*) FROM (SELECT DISTINCT ts, machine_id, sensor_type "
                    "FROM sensor_readings) d"
                )
            )
    finally:
        db.close()
    assert distinct == expected["sensor_readings"]


def corrupted_copy(folder: Path) -> Path:
    """The slice with bad rows written into it (and the full-size files copied)."""
    folder.mkdir()
    for path in SOURCE.glob("*.csv"):  # type: ignore[union-attr]
        shutil.copyfile(path, folder / path.name)
    with (folder / "PdM_telemetry.csv").open("a") as f:
        f.write("2015-13-45 06:00:00,1,170.0,400.0,100.0,40.0\n")  # bad timestamp
        f.write("not a time,2,170.0,400.0,100.0,40.0\n")  # bad timestamp
        f.write("2015-04-02 06:00:00,3,high,400.0,100.0,40.0\n")  # non-numeric volt
        f.write("2015-04-02 06:00:00,4,170.0,400.0,,40.0\n")  # empty pressure
        f.write("2015-04-02 06:00:00,999,170.0,400.0,100.0,40.0\n")  # unknown machine
        f.write("2015-01-01 06:00:00,1,170.0,400.0,100.0,40.0\n")  # duplicate machine and hour
        f.write("2015-04-02T08:00:00+02:00,5,170.0,400.0,100.0,40.0\n")  # good: 06:00 UTC
    with (folder / "PdM_errors.csv").open("a") as f:
        f.write("2015-02-01 06:00:00,1,error42\n")  # unknown code
        f.write("2015-02-01 06:00:00,77,error1\n")  # unknown machine
    return folder


@needs_data
def test_corrupted_rows_are_refused_with_reasons(plant_url: str, tmp_path: Path) -> None:
    folder = corrupted_copy(tmp_path / "corrupted")
    report = run_import("azure-pdm", folder, plant_url)
    telemetry = report.file("PdM_telemetry.csv")
    assert telemetry.read == csv("PdM_telemetry").height + 7
    assert dict(telemetry.refused) == {
        "bad timestamp": 2,
        "non-numeric volt": 1,
        "non-numeric pressure": 1,
        "unknown machine": 1,
        "duplicate machine and hour": 1,
    }
    assert telemetry.written == telemetry.read - 6
    last_line = telemetry.read + 1  # header is line 1
    assert telemetry.examples["unknown machine"] == [last_line - 2]
    errors = report.file("PdM_errors.csv")
    assert dict(errors.refused) == {"unknown errorID": 1, "unknown machine": 1}
    expected = source_counts()
    expected["sensor_readings"] += 4  # the one good appended row
    assert counts(plant_url) == expected
    db = PlantDB(plant_url)
    try:
        assert db.time_range()[1] == datetime(2015, 4, 2, 6, tzinfo=UTC)  # type: ignore[index]
    finally:
        db.close()
    assert any("unknown errorID" in line for line in report.lines())


@needs_data
def test_wrong_columns_refuse_the_import_and_keep_the_previous_one(
    plant_url: str, tmp_path: Path
) -> None:
    run_import("azure-pdm", SOURCE, plant_url)  # type: ignore[arg-type]
    before = counts(plant_url)
    folder = corrupted_copy(tmp_path / "renamed")
    failures = (folder / "PdM_failures.csv").read_text()
    (folder / "PdM_failures.csv").write_text(failures.replace("failure", "component", 1))
    (folder / "PdM_machines.csv").unlink()
    with pytest.raises(ImportRefused, match="nothing imported") as caught:
        run_import("azure-pdm", folder, plant_url)
    report = caught.value.report
    assert "missing columns failure (found: datetime, machineID, component)" in (
        report.file("PdM_failures.csv").error or ""
    )
    assert "PdM_machines.csv not in" in (report.file("PdM_machines.csv").error or "")
    assert report.file("PdM_telemetry.csv").error is None
    assert counts(plant_url) == before


@needs_data
def test_a_failed_write_leaves_nothing_half_written(plant_url: str) -> None:
    run_import("azure-pdm", SOURCE, plant_url)  # type: ignore[arg-type]
    before = counts(plant_url)
    good = pl.DataFrame(
        {"ts": [datetime(2016, 1, 1, tzinfo=UTC)], "machine_id": ["1"], "sensor_type": ["volt"]}
    ).with_columns(pl.lit(1.0).alias("value"))
    bad_events = pl.DataFrame(  # event_type NOT NULL: fails after the tables were emptied
        {"ts": [datetime(2016, 1, 1, tzinfo=UTC)], "machine_id": ["1"], "event_type": [None]},
        schema={"ts": pl.Datetime("us", "UTC"), "machine_id": pl.String, "event_type": pl.String},
    )
    db = PlantDB(plant_url)
    try:
        with pytest.raises(Exception, match="(?i)null"):
            replace_plant(
                db,
                "azure_pdm",
                {"sensor_readings": good, "machine_events": bad_events},
                datetime(2016, 1, 1, 1, tzinfo=UTC),
                "{}",
            )
        assert current_plant(db) == "azure_pdm"
        assert db.last_timestamp() == datetime(2015, 4, 1, 6, tzinfo=UTC)
    finally:
        db.close()
    assert counts(plant_url) == before


@needs_data
def test_another_plant_is_only_replaced_when_asked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plant.db'}"
    db = PlantDB(url)
    db.create(small_config())
    db.close()
    with pytest.raises(ValueError, match="holds the simulator plant"):
        run_import("azure-pdm", SOURCE, url)  # type: ignore[arg-type]
    run_import("azure-pdm", SOURCE, url, replace=True)  # type: ignore[arg-type]
    assert counts(url) == source_counts()
    db = PlantDB(url)
    try:
        assert current_plant(db) == "azure_pdm"
    finally:
        db.close()


@needs_data
def test_cli_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'plant.db'}"
    assert main(["import", "azure-pdm", str(SOURCE), "--db", url]) == 0
    out = capsys.readouterr().out
    assert "PdM_telemetry.csv  read    43,200  written    43,200  refused       0" in out
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "PdM_telemetry.csv").write_text("when,machine\n1,2\n")
    assert main(["import", "azure-pdm", str(folder), "--db", url]) == 2
    err = capsys.readouterr().err
    assert "mfg-plant import: nothing imported:" in err
    assert "PdM_telemetry.csv: missing columns datetime, machineID, volt" in err
    assert counts(url) == source_counts()


def test_timestamps_normalize_to_utc() -> None:
    frame = pl.DataFrame(
        {
            "t": [
                "2015-01-01 06:00:00",
                "2015-01-03T07:00:00.000000",
                "2015-01-01T08:00:00+02:00",
                "2015-01-01T06:00:00Z",
                "1/1/2015 6:00:00 AM",
                "2015-02-30 06:00:00",
                "",
            ]
        }
    )
    parsed = frame.select(utc_timestamp("t"))["t"].to_list()
    six = datetime(2015, 1, 1, 6, tzinfo=UTC)
    assert parsed == [six, datetime(2015, 1, 3, 7, tzinfo=UTC), six, six, six, None, None]
