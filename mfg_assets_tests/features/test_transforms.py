"""The hourly feature transform on small hand-made frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from mfg_assets.features.hourly import hourly_features, interpolate_gaps, pivot_sensors
from mfg_assets.features.outliers import clip_wide, previous_hour_iqr_bounds
from mfg_assets.features.pipeline import CleaningConfig, build_features
from mfg_assets.features.quarantine import REASONS, triage_readings
from mfg_assets.features.schema import feature_schema
from mfg_assets.ingestion.extract import QUALITY_INSPECTIONS_SCHEMA, SENSOR_READINGS_SCHEMA
from mfg_assets.plant.catalog import SENSOR_TYPES, SENSORS

H0 = datetime(2026, 11, 2, 10, tzinfo=UTC)


def readings(rows: list[tuple[datetime, str, str, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SENSOR_READINGS_SCHEMA, orient="row")


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
    # M002's trailing gap takes its own last value, not M001's.
    m2 = interpolate_gaps(wide).filter(pl.col("machine_id") == "M002")["temperature"]
    assert m2.to_list() == [100.0, 100.0]


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
    out, _ = hourly_features(readings(rows), inspections([]))
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
    out = hourly_features(readings(rows), insp)[0].sort("machine_id")
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


def test_iqr_bounds_come_from_the_previous_hour_not_the_hour_cleaned():
    reference = [
        (
            H0 - timedelta(hours=1) + timedelta(seconds=10 * i),
            "M001",
            "vibration",
            3.0 + (i % 5) * 0.1,
        )
        for i in range(360)
    ]
    spike_hour = [(H0 + timedelta(minutes=m), "M001", "vibration", 3.2) for m in range(60)]
    spike_hour[30] = (H0 + timedelta(minutes=30), "M001", "vibration", 30.0)
    bounds = previous_hour_iqr_bounds(readings(reference + spike_hour), k=1.5)
    current = bounds.filter(pl.col("hour") == H0)
    assert current.height == 1
    # q1 = 3.1, q3 = 3.3 over the reference hour → upper = 3.3 + 1.5 * 0.2
    assert current["upper"][0] == pytest.approx(3.6)
    assert current["lower"][0] == pytest.approx(2.8)
    # The spike inside the hour being cleaned does not move its own bounds.
    quiet = [(H0 + timedelta(minutes=m), "M001", "vibration", 3.2) for m in range(60)]
    quiet_bounds = previous_hour_iqr_bounds(readings(reference + quiet), k=1.5)
    assert quiet_bounds.filter(pl.col("hour") == H0)["upper"][0] == current["upper"][0]
    clipped, moved = clip_wide(pivot_sensors(readings(spike_hour)), bounds)
    assert moved == 1
    assert clipped["vibration"].max() == pytest.approx(3.6)
    assert clipped["vibration"].min() == pytest.approx(3.2)


def test_no_clipping_without_enough_reference():
    hour = readings([(H0 + timedelta(minutes=m), "M001", "vibration", float(m)) for m in range(60)])
    bounds = previous_hour_iqr_bounds(hour, min_samples=30).filter(pl.col("hour") == H0)
    assert bounds.is_empty()
    wide = pivot_sensors(hour)
    clipped, moved = clip_wide(wide, bounds)
    assert moved == 0 and clipped.equals(wide)


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


def test_build_features_clips_with_the_previous_hour_only():
    ref = nominal_hour("M001", H0 - timedelta(hours=1), step_s=10)
    spike = (H0 + timedelta(minutes=30, seconds=1), "M001", "vibration", 20.0)  # in range
    current = nominal_hour("M001", H0) + [spike]
    build = build_features(
        readings(ref + current), inspections([]), ["M001"], H0, H0 + timedelta(hours=1)
    )
    assert build.values_clipped == 1
    row = build.features.row(0, named=True)
    assert row["vibration_max"] == pytest.approx(3.0)  # nominal: the reference IQR is zero
    # Without the reference hour nothing is clipped.
    alone = build_features(
        readings(current), inspections([]), ["M001"], H0, H0 + timedelta(hours=1)
    )
    assert alone.values_clipped == 0
    assert alone.features.row(0, named=True)["vibration_max"] == pytest.approx(20.0)


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
    out = failure_labels(running, events, timedelta(hours=4), events_until=H0 + timedelta(days=1))
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
        running, _events([]), timedelta(hours=3), events_until=H0 + timedelta(hours=6)
    )
    # hour h needs events up to h + 1 h + 3 h <= H0 + 6 h → only h <= H0 + 2 h is labelled.
    assert out["hour"].to_list() == hours[:3]
