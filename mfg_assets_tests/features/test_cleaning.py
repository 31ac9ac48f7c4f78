"""Cleaning tells the truth: spikes are caught, changes of the process pass through and are
reported, nothing is invented, and the checks say how much cleaning changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from mfg_assets.features import quality
from mfg_assets.features.pipeline import build_features
from mfg_assets.features.spikes import SpikeFilter, flag_spikes, in_series_order
from mfg_assets.plant import DirtConfig, PlantConfig, PlantSimulator, scenario_spec
from mfg_assets.plant.catalog import SENSORS

H0 = datetime(2026, 11, 2, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)
STEP_S = 10
NOISE = {s.name: s.noise for s in SENSORS}


def series(
    machine: str,
    sensor: str,
    start: datetime,
    level: float | np.ndarray,
    seed: int,
    noise: float | None = None,
) -> pl.DataFrame:
    """One hour of one machine-sensor every 10 s: ``level`` (scalar or per sample) + noise."""
    n = 3600 // STEP_S
    rng = np.random.default_rng(seed)
    values = np.broadcast_to(level, n) + rng.normal(
        0.0, NOISE[sensor] if noise is None else noise, n
    )
    return pl.DataFrame(
        {
            "ts": [start + timedelta(seconds=STEP_S * i) for i in range(n)],
            "machine_id": machine,
            "sensor_type": sensor,
            "value": values,
        },
        schema={
            "ts": pl.Datetime("us", "UTC"),
            "machine_id": pl.String,
            "sensor_type": pl.String,
            "value": pl.Float64,
        },
    )


def no_inspections() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "inspection_time": pl.Datetime("us", "UTC"),
            "product_id": pl.String,
            "machine_id": pl.String,
            "defect_type": pl.String,
            "severity": pl.Float64,
            "image_uri": pl.String,
        }
    )


def build(frames: list[pl.DataFrame], machines: tuple[str, ...] = ("M001",)):
    return build_features(pl.concat(frames), no_inspections(), list(machines), H0, H0 + HOUR)


def test_an_isolated_spike_is_quarantined_never_written():
    hour = series("M001", "vibration", H0, 3.0, seed=1)
    spike_ts = H0 + timedelta(minutes=30)
    hour = hour.with_columns(
        pl.when(pl.col("ts") == spike_ts).then(6.5).otherwise(pl.col("value")).alias("value")
    )  # ×2, well inside the physical range
    result = build([series("M001", "vibration", H0 - HOUR, 3.0, seed=0), hour])
    assert result.quarantine_counts["spike"] == 1
    assert result.quarantined.filter(pl.col("reason") == "spike")["ts"].to_list() == [spike_ts]
    row = result.features.row(0, named=True)
    assert row["vibration_max"] < 4.5  # the spike is gone ...
    measured = hour.filter(pl.col("ts") != spike_ts)["value"]
    assert row["vibration_max"] <= measured.max()  # ... and nothing above a measured value
    assert result.spikes_by_sensor["vibration"] == 1
    assert result.rows_in == result.rows_clean + result.rows_quarantined


@pytest.mark.parametrize(
    ("sensor", "before", "after"),
    [
        ("spindle_speed", 2400.0, 2600.0),  # a load step
        ("temperature", 65.0, 75.0),  # a setpoint change
        ("temperature", 68.0, 68.0 * 1.8 + 32.0),  # a unit change °C → °F
    ],
)
def test_a_change_of_the_process_passes_through_and_raises_level_shift(
    sensor: str, before: float, after: float
):
    noise = NOISE[sensor] * (1.8 if after > 100 and sensor == "temperature" else 1.0)
    previous = series("M001", sensor, H0 - HOUR, before, seed=0)
    hour = series("M001", sensor, H0, after, seed=1, noise=noise)
    result = build([previous, hour])
    assert result.rows_quarantined == 0 and result.values_modified == 0
    row = result.features.row(0, named=True)
    assert row[f"{sensor}_mean"] == pytest.approx(hour["value"].mean())
    assert row[f"{sensor}_min"] == hour["value"].min()
    shift = result.level_shifts.row(0, named=True)
    assert (shift["machine_id"], shift["sensor_type"], shift["hour"]) == ("M001", sensor, H0)
    assert shift["size"] == pytest.approx(after - before, rel=0.05)
    check = quality.no_level_shifts(result.level_shifts)
    assert not check.passed and check.severity == "WARN"
    assert "M001" in check.description and sensor in check.description


def test_a_step_inside_the_hour_is_not_a_spike():
    levels = np.where(np.arange(360) < 180, 2400.0, 2650.0)
    hour = series("M001", "spindle_speed", H0, levels, seed=2)
    result = build([hour])
    assert result.rows_quarantined == 0
    assert result.features.row(0, named=True)["spindle_speed_max"] == hour["value"].max()


def test_ordinary_plant_load_swings_are_not_level_shifts():
    """Twelve machines whose spindle speed swings ±60 rpm hour to hour (load), one shifted."""
    rng = np.random.default_rng(5)
    frames, machines = [], []
    for i in range(12):
        machine = f"M{i + 1:03d}"
        machines.append(machine)
        swing = rng.normal(0.0, 60.0)
        extra = 900.0 if machine == "M007" else 0.0
        frames.append(series(machine, "spindle_speed", H0 - HOUR, 2400.0, seed=10 + i))
        frames.append(series(machine, "spindle_speed", H0, 2400.0 + swing + extra, seed=40 + i))
    result = build(frames, tuple(machines))
    assert result.level_shifts["machine_id"].to_list() == ["M007"]


def test_a_stuck_sensor_is_flagged_and_kept():
    frozen = series("M001", "pressure", H0, 6.0, seed=0, noise=0.0)
    result = build([frozen])
    assert result.rows_quarantined == 0
    assert result.stuck_sensors.select("machine_id", "sensor_type").row(0) == ("M001", "pressure")
    check = quality.no_stuck_sensors(result.stuck_sensors)
    assert not check.passed and "M001 pressure" in check.description


def test_spike_filter_leaves_a_quiet_noisy_series_alone():
    quiet = pl.concat(
        [series("M001", s.name, H0, s.nominal, seed=i) for i, s in enumerate(SENSORS)]
    )
    flagged = flag_spikes(in_series_order(quiet, ["M001"]), SpikeFilter())
    assert flagged["spike"].sum() == 0
    with pytest.raises(ValueError):
        SpikeFilter(window=4)


def test_values_modified_share_warns_then_fails_per_sensor():
    usable = {"temperature": 1000, "vibration": 1000}
    fine = quality.values_modified_share(usable, {"temperature": 2, "vibration": 1})
    assert fine.passed and fine.metadata["modified_share_temperature"] == 0.002
    warn = quality.values_modified_share(usable, {"temperature": 0, "vibration": 30})
    assert not warn.passed and warn.severity == "WARN" and "vibration" in warn.description
    fail = quality.values_modified_share(usable, {"temperature": 300, "vibration": 0})
    assert not fail.passed and fail.severity == "ERROR"


def test_rows_accounted_fails_on_any_gap():
    ok = quality.rows_accounted({"h1": 10, "h2": 5}, {"h1": 8, "h2": 5}, {"h1": 2, "h2": 0})
    assert ok.passed
    lost = quality.rows_accounted({"h1": 10}, {"h1": 8}, {"h1": 1})
    assert not lost.passed and lost.severity == "ERROR" and "h1" in lost.description


def test_simulated_day_scored_against_ground_truth():
    """A small dirty plant, scored with the simulator's ground truth: spikes caught, clean
    readings left alone, and the first °F hour of a unit change kept as measured."""
    epoch = datetime(2026, 11, 1, tzinfo=UTC)
    switch = epoch + timedelta(hours=12)
    config = PlantConfig(
        machines=6,
        seed=3,
        sample_interval_s=10,
        epoch=epoch,
        dirt=DirtConfig(spike=0.01),
        scenarios=(scenario_spec("unit_change", switch),),
    )
    sim = PlantSimulator(config)
    start, end = epoch + HOUR, epoch + timedelta(hours=18)
    result = build_features(
        sim.readings(start - HOUR, end), sim.inspections(start, end), sim.machine_ids, start, end
    )
    truth = sim.ground_truth(start, end)
    quarantined = result.quarantined.filter(pl.col("reason") != "duplicate").select(
        "ts", "machine_id", "sensor_type", "reason"
    )
    scored = truth.filter(pl.col("dirt") != "duplicate").join(
        quarantined.unique(["ts", "machine_id", "sensor_type"]),
        on=["ts", "machine_id", "sensor_type"],
        how="left",
    )
    spikes = scored.filter(pl.col("dirt") == "spike")
    clean = scored.filter(pl.col("dirt").is_in(["clean", "late"]))
    assert spikes["reason"].is_not_null().mean() >= 0.95
    assert clean["reason"].is_not_null().mean() <= 0.001
    first_f = result.features.filter(pl.col("hour") == switch)
    true_f = (
        truth.filter(
            (pl.col("sensor_type") == "temperature")
            & (pl.col("ts").dt.truncate("1h") == switch)
            & (pl.col("dirt") == "clean")
        )
        .group_by("machine_id")
        .agg(pl.col("true_value").mean().alias("true_mean"))
    )
    joined = first_f.join(true_f, on="machine_id")
    assert joined.height == 6
    assert ((joined["temperature_mean"] - joined["true_mean"]).abs() < 0.5).all()
    named = result.level_shifts.filter(
        (pl.col("hour") == switch) & (pl.col("sensor_type") == "temperature")
    )
    assert named.height == 6
