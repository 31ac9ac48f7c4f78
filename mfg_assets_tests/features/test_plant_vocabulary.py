"""The feature code reads its sensors, ranges and inspection columns from the active plant
definition: a twelve-sensor plant written as YAML is triaged, pivoted and summarised exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
import yaml

from mfg_assets.features.hourly import hourly_features
from mfg_assets.features.quarantine import triage_readings
from mfg_assets.features.schema import feature_columns, sensor_types

SENSORS = [f"ch{i:02d}" for i in range(12)]  # more sensors than the simulator's five
T0 = datetime(2026, 11, 2, 10, tzinfo=UTC)


@pytest.fixture
def twelve_channels(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    plant = {
        "name": "twelve",
        "sensors": {
            s: {"unit": "V", "range": [0, 10 + i], "cadence": "10s"} for i, s in enumerate(SENSORS)
        },
        "events": [{"name": "trip", "kind": "failure"}],
    }
    (tmp_path / "twelve.yaml").write_text(yaml.safe_dump(plant))
    monkeypatch.setenv("MFG_PLANT_DEFINITIONS_DIR", str(tmp_path))
    monkeypatch.setenv("MFG_PLANT", "twelve")


def readings(rows: list[tuple[int, str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(T0 + timedelta(seconds=s), m, sensor, v) for s, m, sensor, v in rows],
        schema={
            "ts": pl.Datetime("us", "UTC"),
            "machine_id": pl.String,
            "sensor_type": pl.String,
            "value": pl.Float64,
        },
        orient="row",
    )


def test_schema_has_every_sensor_and_no_inspection_columns(twelve_channels) -> None:
    assert sensor_types() == tuple(SENSORS)
    columns = feature_columns()
    assert columns[:6] == [f"ch00_{s}" for s in ("mean", "std", "min", "max", "last", "slope")]
    assert len(columns) == 12 * 6 + 1 and columns[-1] == "n_readings"


def test_triage_uses_the_definitions_sensors_and_ranges(twelve_channels) -> None:
    machines = [f"M{i}" for i in range(3)]
    rows = [(s, m, c, 5.0) for s in range(0, 60, 10) for m in machines for c in SENSORS]
    rows += [
        (0, "M1", "ch11", 7.0),  # the same key again: a duplicate (sensor code 11 > 8)
        (10, "M2", "ch11", 21.5),  # ch11's range is [0, 21]: out of range (checked first)
        (20, "M0", "ch03", 13.5),  # ch03's range is [0, 13]
        (30, "M0", "temperature", 60.0),  # the simulator's sensor is unknown here
    ]
    triage = triage_readings(readings(rows), machines)
    reasons = sorted(
        zip(
            triage.quarantined["machine_id"],
            triage.quarantined["sensor_type"],
            triage.quarantined["reason"],
            strict=True,
        )
    )
    assert reasons == [
        ("M0", "ch03", "out_of_range"),
        ("M0", "temperature", "unknown_sensor"),
        ("M1", "ch11", "duplicate"),
        ("M2", "ch11", "out_of_range"),
    ]
    assert triage.clean.height == len(rows) - 4
    features = hourly_features(triage.clean, pl.DataFrame())
    assert features.height == 3
    assert features["n_readings"].to_list() == [6 * 12] * 3
    assert features["ch11_mean"].to_list() == [5.0] * 3
