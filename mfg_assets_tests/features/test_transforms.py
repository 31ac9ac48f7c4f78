"""The hourly feature transform on small hand-made frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from mfg_assets.features.hourly import (
    aggregate_hourly,
    hourly_features,
    interpolate_gaps,
    pivot_sensors,
)
from mfg_assets.features.pipeline import CleaningConfig, build_features
from mfg_assets.features.quarantine import REASONS, triage_readings
from mfg_assets.features.schema import feature_schema
from mfg_assets.ingestion.extract import QUALITY_INSPECTIONS_SCHEMA, SENSOR_READINGS_SCHEMA
from mfg_assets.plant.catalog import SENSOR_TYPES, SENSORS

H0 = datetime(2026, 11, 2, 10, tzinfo=UTC)


READING_SCHEMA = {
    c: SENSOR_READINGS_SCHEMA[c] for c in ("ts", "machine_id", "sensor_type", "value")
}


def readings(rows: list[tuple[datetime, str, str, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=READING_SCHEMA, orient="row")


def inspections(rows: list[tuple[datetime, str, str, str, float]]) -> pl.DataFrame:
    full = [(t, p, m, d, s, None) for t, p, m, d, s in rows]
    return pl.DataFrame(full, schema=QUALITY_INSPECTIONS_SCHEMA, orient="row")


def nominal_hour(machine: str, start: datetime, step_s: int = 60) -> list[tuple]:
    """One reading per sensor per ``step_s`` at its nominal value."""
    return [
        (start + timedelta(seconds=i), machine, spec.name, spec.nominal)
        for i in range(0, 3600, step_s)
        for spec in SENSORS
    ]


def test_pivot_makes_one_column_per_sensor_even_when_absent():
    wide = pivot_sensors(
        readings([(H0, "M001", "temperature", 60.0), (H0, "M001", "vibration", 3.0)])
    )
    assert wide.columns == ["machine_id", "ts", *SENSOR_TYPES]
    assert wide.height == 1
    assert wide["temperature"][0] == 60.0
    assert wide["pressure"][0] is None


def test_interpolation_is_linear_along_time_and_stays_within_a_machine():
    t = [H0 + timedelta(seconds=10 * i) for i in range(4)]
    wide = pl.DataFrame(
        {
            "machine_id": ["M001"] * 4 + ["M002"] * 2,
            "ts": t + t[:2],
            **{s: [1.0, None, None, 4.0, 100.0, None] for s in SENSOR_TYPES},
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )
    out = interpolate_gaps(wide).filter(pl.col("machine_id") == "M001")["temperature"]
    assert out.to_list() == pytest.approx([1.0, 2.0, 3.0, 4.0])
    # M002's trailing gap has no measured neighbour after it: it stays empty (nothing is
    # carried forward, and M001's values never leak into it).
    m2 = interpolate_gaps(wide).filter(pl.col("machine_id") == "M002")["temperature"]
    assert m2.to_list() == [100.0, None]


def test_hour_statistics_use_only_the_readings_a_sensor_has():
    """A sensor missing at the hour's edges: its mean, last and slope come from its own
    readings (no carried values), while other sensors keep all of theirs."""
    t = [H0 + timedelta(minutes=10 * i) for i in range(4)]
    values = {s: [1.0, 2.0, 3.0, 4.0] for s in SENSOR_TYPES}
    values["temperature"] = [None, 10.0, 20.0, None]
    wide = pl.DataFrame(
        {"machine_id": ["M001"] * 4, "ts": t, "_observed": [1] * 4, **values},
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )
    row = aggregate_hourly(interpolate_gaps(wide)).row(0, named=True)
    assert row["temperature_mean"] == pytest.approx(15.0)
    assert row["temperature_last"] == pytest.approx(20.0)
    assert row["temperature_slope"] == pytest.approx(1.0)  # +10 per 10 minutes
    assert row["vibration_slope"] == pytest.approx(0.1)


def test_interpolation_uses_real_time_spacing():
    t = [H0, H0 + timedelta(seconds=10), H0 + timedelta(seconds=40)]
    wide = pl.DataFrame(
        {"machine_id": ["M001"] * 3, "ts": t, **{s: [0.0, None, 4.0] for s in SENSOR_TYPES}},
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )
    assert interpolate_gaps(wide)["vibration"][1] == pytest.approx(1.0)


def test_hourly_aggregates_of_a_known_ramp():
    # temperature rises 0.5 °C per minute over the hour; others constant.
    rows = []
    for minute in range(60):
        ts = H0 + timedelta(minutes=minute)
        for spec in SENSORS:
            value = 60.0 + 0.5 * minute if spec.name == "temperature" else spec.nominal
            rows.append((ts, "M001", spec.name, value))
    out = hourly_features(readings(rows), inspections([]))
    row = out.row(0, named=True)
    assert row["temperature_slope"] == pytest.approx(0.5)
    assert row["temperature_min"] == 60.0
    assert row["temperature_max"] == pytest.approx(89.5)
    assert row["temperature_last"] == pytest.approx(89.5)
    assert row["temperature_mean"] == pytest.approx(74.75)
    assert row["vibration_std"] == pytest.approx(0.0)
    assert row["n_readings"] == 60 * len(SENSORS)
    assert row["event_timestamp"] == H0 + timedelta(hours=1)
    assert dict(out.schema) == feature_schema()


def test_inspections_join_on_machine_and_hour_only():
    rows = nominal_hour("M001", H0) + nominal_hour("M002", H0)
    insp = inspections(
        [
            (H0 + timedelta(minutes=5), "P1", "M001", "scratch", 0.4),
            (H0 + timedelta(minutes=9), "P2", "M001", "normal", 0.0),
            (H0 + timedelta(minutes=70), "P3", "M002", "dent", 0.9),  # next hour: not joined
        ]
    )
    out = hourly_features(readings(rows), insp).sort("machine_id")
    m1, m2 = out.row(0, named=True), out.row(1, named=True)
    assert (m1["n_inspections"], m1["n_defects"], m1["defect_rate"]) == (2, 1, 0.5)
    assert (m2["n_inspections"], m2["n_defects"], m2["defect_rate"]) == (0, 0, 0.0)


def test_triage_accounts_for_every_row_with_a_reason():
    good = (H0, "M001", "temperature", 65.0)
    rows = [
        good,
        good,  # duplicate
        (H0, "M001", "temperature", 66.0),  # same key, other value: still a duplicate
        (H0, "M999", "temperature", 65.0),  # unknown machine
        (H0, "M001", "humidity", 40.0),  # unknown sensor
        (H0, "M001", "vibration", None),  # missing
        (H0, "M001", "vibration", float("nan")),  # missing (NaN)
        (H0, "M001", "pressure", -3.0),  # outside physical range
        (H0, "M001", "current", 18.0),
    ]
    triage = triage_readings(readings(rows), ["M001"])
    assert triage.clean.height + triage.quarantined.height == len(rows)
    assert triage.clean.height == 2
    assert triage.clean.filter(pl.col("sensor_type") == "temperature")["value"].to_list() == [65.0]
    counts = dict(triage.quarantined.group_by("reason").len().iter_rows())
    assert counts == {
        "duplicate": 2,
        "unknown_machine": 1,
        "unknown_sensor": 1,
        "missing_value": 2,
        "out_of_range": 1,
    }
    assert set(counts) <= set(REASONS)


def test_build_features_accounting_and_window():
    ref = nominal_hour("M001", H0 - timedelta(hours=1))
    current = nominal_hour("M001", H0) + nominal_hour("M002", H0)
    dirt = [
        (H0 + timedelta(minutes=1), "M777", "temperature", 60.0),
        (H0 + timedelta(minutes=2), "M001", "vibration", 900.0),
        current[0],
    ]
    frame = readings(ref + current + dirt)
    build = build_features(
        frame, inspections([]), ["M001", "M002"], H0, H0 + timedelta(hours=1), CleaningConfig()
    )
    assert build.rows_in == len(current) + len(dirt)
    assert build.rows_in == build.rows_clean + build.rows_quarantined
    assert build.quarantine_counts["unknown_machine"] == 1
    assert build.quarantine_counts["out_of_range"] == 1
    assert build.quarantine_counts["duplicate"] == 1
    assert build.features["hour"].unique().to_list() == [H0]  # the reference hour is not output
    assert sorted(build.features["machine_id"]) == ["M001", "M002"]


def test_empty_hour_gives_schema_correct_empty_output():
    empty = readings([])
    build = build_features(empty, inspections([]), ["M001"], H0, H0 + timedelta(hours=1))
    assert build.features.is_empty()
    assert dict(build.features.schema) == feature_schema()
    assert build.rows_in == 0 == build.rows_quarantined


def _events(rows: list[tuple[datetime, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"ts": pl.Datetime("us", "UTC"), "machine_id": pl.String, "event_type": pl.String},
        orient="row",
    )


def test_failure_labels_look_ahead_from_the_end_of_the_hour():
    from mfg_assets.features.labels import failure_labels

    running = pl.DataFrame(
        {"machine_id": ["M001", "M001", "M002"], "hour": [H0, H0 + timedelta(hours=1), H0]},
        schema_overrides={"hour": pl.Datetime("us", "UTC")},
    )
    events = _events(
        [
            (H0 + timedelta(minutes=30), "M001", "failure"),  # inside hour H0: not in its window
            (H0 + timedelta(hours=5), "M001", "failure"),
            (H0 + timedelta(hours=2), "M002", "maintenance"),  # not a failure
        ]
    )
    out = failure_labels(
        running,
        events,
        timedelta(hours=4),
        events_until=H0 + timedelta(days=1),
        failure_types=("failure",),
    )
    got = {(r["machine_id"], r["hour"]): r for r in out.iter_rows(named=True)}
    # H0's window is [H0+1h, H0+5h): the failure at H0+5h is just outside.
    assert got[("M001", H0)]["failure_within_h"] == 0
    assert got[("M001", H0 + timedelta(hours=1))]["failure_within_h"] == 1
    assert got[("M001", H0 + timedelta(hours=1))]["hours_to_failure"] == pytest.approx(3.0)
    assert got[("M002", H0)]["failure_within_h"] == 0


def test_failure_labels_are_not_guessed_past_the_recorded_events():
    from mfg_assets.features.labels import failure_labels

    hours = [H0 + timedelta(hours=i) for i in range(6)]
    running = pl.DataFrame(
        {"machine_id": ["M001"] * 6, "hour": hours},
        schema_overrides={"hour": pl.Datetime("us", "UTC")},
    )
    out = failure_labels(
        running,
        _events([]),
        timedelta(hours=3),
        events_until=H0 + timedelta(hours=6),
        failure_types=("failure",),
    )
    # hour h needs events up to h + 1 h + 3 h <= H0 + 6 h → only h <= H0 + 2 h is labelled.
    assert out["hour"].to_list() == hours[:3]
