"""The simulator is deterministic, cut-independent and produces well-formed tables."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mfg_assets.plant import DirtConfig, PlantBatch, PlantConfig, PlantSimulator, scenario_spec
from mfg_assets.plant.catalog import DEFECT_TYPES, SENSOR_TYPES
from mfg_assets.plant.profile import machine_profile
from mfg_assets.plant.wear import simulate_wear
from mfg_assets_tests.plant.plants import DAY, EPOCH, HOUR, small_config

UTC_US = pl.Datetime("us", "UTC")


def assert_batches_equal(left: PlantBatch, right: PlantBatch) -> None:
    for name in ("readings", "inspections", "events"):
        assert_frame_equal(getattr(left, name), getattr(right, name))


def concat(*batches: PlantBatch) -> PlantBatch:
    return PlantBatch(
        *(
            pl.concat([getattr(b, n) for b in batches])
            for n in ("readings", "inspections", "events")
        )
    )


def test_same_seed_same_plant_and_other_seed_other_plant() -> None:
    window = (EPOCH + 20 * HOUR, EPOCH + 26 * HOUR)
    first = PlantSimulator(small_config()).generate(*window)
    again = PlantSimulator(small_config()).generate(*window)
    other = PlantSimulator(small_config(seed=12)).generate(*window)
    assert_batches_equal(first, again)
    assert first.readings.height > 0 and first.inspections.height > 0
    assert not first.readings["value"].equals(other.readings["value"])
    assert not first.inspections["defect_type"].equals(other.inspections["defect_type"])


def test_window_cut_does_not_change_data() -> None:
    config = small_config()
    t0, t1, t2 = EPOCH + 3 * HOUR, EPOCH + 9 * HOUR + timedelta(minutes=17, seconds=3), EPOCH + DAY
    whole = PlantSimulator(config).generate(t0, t2)
    sim = PlantSimulator(config)
    assert_batches_equal(whole, concat(sim.generate(t0, t1), sim.generate(t1, t2)))
    # a fresh simulator per piece: no cache can hide a dependence on the cut
    pieces = concat(
        PlantSimulator(config).generate(t0, t1), PlantSimulator(config).generate(t1, t2)
    )
    assert_batches_equal(whole, pieces)
    by_arrival = PlantSimulator(config).arrivals(t0, t2)
    assert_batches_equal(
        by_arrival,
        concat(PlantSimulator(config).arrivals(t0, t1), PlantSimulator(config).arrivals(t1, t2)),
    )


def test_wear_run_extends_without_changing_its_past() -> None:
    profile = machine_profile(seed=3, index=2, sample_interval_s=10)
    short = simulate_wear(profile, 3, 200, np.ones(200))
    long = simulate_wear(profile, 3, 900, np.ones(900))
    t = np.linspace(0, 200 * 3600 - 1, 5000)
    np.testing.assert_array_equal(short.wear_at(t), long.wear_at(t))
    np.testing.assert_array_equal(short.is_up(t), long.is_up(t))
    assert len(long.down_start_s) > len(short.down_start_s) > 0


def test_tables_are_well_formed() -> None:
    config = small_config(dirt=DirtConfig.clean(), inspections_per_machine_hour=30.0)
    batch = PlantSimulator(config).generate(EPOCH, EPOCH + 2 * DAY)
    readings, inspections, events = batch.readings, batch.inspections, batch.events
    assert readings.schema["ts"] == UTC_US and inspections.schema["inspection_time"] == UTC_US
    assert events.schema["ts"] == UTC_US
    assert readings["ts"].is_sorted()
    assert set(readings["sensor_type"].unique()) == set(SENSOR_TYPES)
    # the 5 sensors of a machine share their timestamps
    per_sample = readings.group_by("ts", "machine_id").agg(pl.col("sensor_type").n_unique())
    assert (per_sample["sensor_type"] == len(SENSOR_TYPES)).all()
    # samples every sample_interval_s (with sub-second jitter)
    gaps = readings.filter(pl.col("machine_id") == "M001")["ts"].unique().sort().diff().drop_nulls()
    assert gaps.dt.total_seconds().median() == pytest.approx(config.sample_interval_s, abs=1)

    assert set(inspections["defect_type"].unique()) <= set(DEFECT_TYPES)
    assert inspections["product_id"].is_unique().all()
    normal = inspections["defect_type"] == "normal"
    assert (inspections.filter(normal)["severity"] == 0.0).all()
    defects = inspections.filter(~normal)["severity"]
    assert defects.len() > 0 and ((defects > 0) & (defects <= 1)).all()
    assert inspections["image_uri"].str.starts_with("synthetic://standard/").all()
    assert set(events["event_type"].unique()) <= {"failure", "maintenance"}


def test_machine_is_silent_while_down() -> None:
    config = small_config(dirt=DirtConfig.clean(), inspections_per_machine_hour=60.0)
    sim = PlantSimulator(config)
    end = EPOCH + 3 * DAY
    events = sim.events(EPOCH, end + DAY)  # repairs of late failures included
    failures = events.filter(pl.col("event_type") == "failure", pl.col("ts") < end)
    assert failures.height > 0
    batch = sim.generate(EPOCH, end)
    for machine, failed_at in failures.select("machine_id", "ts").iter_rows():
        repaired_at = events.filter(
            pl.col("machine_id") == machine,
            pl.col("event_type") == "maintenance",
            pl.col("ts") > failed_at,
        )["ts"].min()
        assert timedelta(hours=2) <= repaired_at - failed_at <= timedelta(hours=6)
        for frame, ts in ((batch.readings, "ts"), (batch.inspections, "inspection_time")):
            during = frame.filter(
                pl.col("machine_id") == machine,
                pl.col(ts).is_between(failed_at, repaired_at, "left"),
            )
            assert during.height == 0


def test_config_round_trips_through_json() -> None:
    offset = scenario_spec("sensor_offset", EPOCH + DAY, {"machines": "M001,M002", "offset": "3"})
    config = small_config(dirt=DirtConfig(spike=0.01), scenarios=[offset])
    assert offset.params == {"offset": 3.0, "sensor": "temperature", "machines": ["M001", "M002"]}
    assert PlantConfig.from_json(config.to_json()) == config
    assert small_config(epoch=EPOCH + timedelta(minutes=42)).epoch == EPOCH
    with pytest.raises(ValueError, match="divide an hour"):
        small_config(sample_interval_s=7)
