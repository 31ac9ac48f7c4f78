"""Scenarios change what they claim from their start on, and nothing before it."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mfg_assets.plant import SCENARIOS, DirtConfig, PlantConfig, PlantSimulator, scenario_spec
from mfg_assets_tests.plant.plants import DAY, EPOCH, HOUR, small_config

START = EPOCH + DAY + 5 * HOUR + timedelta(minutes=30)  # mid-hour on purpose
AFTER = (START, START + DAY)


def plant(config: PlantConfig, name: str | None = None, **params: object) -> PlantSimulator:
    specs = [] if name is None else [scenario_spec(name, START, params)]
    return PlantSimulator(PlantConfig(**{**config.__dict__, "scenarios": specs}))


def paired(frame_a: pl.DataFrame, frame_b: pl.DataFrame, sensor: str) -> tuple[np.ndarray, ...]:
    """Values of one sensor in two clean plants, row by row (same timestamps)."""
    a = frame_a.filter(pl.col("sensor_type") == sensor)
    b = frame_b.filter(pl.col("sensor_type") == sensor)
    assert a.select("ts", "machine_id").equals(b.select("ts", "machine_id"))
    return a["value"].to_numpy(), b["value"].to_numpy(), a["machine_id"].to_numpy()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_nothing_changes_before_start_and_something_after(name: str) -> None:
    config = small_config()  # with dirt: dirt must not shift either
    base, changed = plant(config), plant(config, name)
    before_base, before_changed = base.generate(EPOCH, START), changed.generate(EPOCH, START)
    for table in ("readings", "inspections", "events"):
        assert_frame_equal(getattr(before_base, table), getattr(before_changed, table))
    assert not base.readings(*AFTER).equals(changed.readings(*AFTER))


def test_sensor_offset_shifts_temperature_only() -> None:
    config = small_config(dirt=DirtConfig.clean())
    base = plant(config).readings(*AFTER)
    everyone = plant(config, "sensor_offset").readings(*AFTER)
    some = plant(config, "sensor_offset", offset=-3.5, machines="M002").readings(*AFTER)

    ref, shifted, _ = paired(base, everyone, "temperature")
    np.testing.assert_allclose(shifted - ref, 6.0, atol=1e-9)
    ref, shifted, machine = paired(base, some, "temperature")
    np.testing.assert_allclose((shifted - ref)[machine == "M002"], -3.5, atol=1e-9)
    np.testing.assert_array_equal((shifted - ref)[machine != "M002"], 0.0)
    for sensor in ("vibration", "pressure", "current", "spindle_speed"):
        ref, other, _ = paired(base, everyone, sensor)
        np.testing.assert_array_equal(ref, other)


def test_supplier_change_shifts_vibration_defects_and_appearance() -> None:
    config = small_config(dirt=DirtConfig.clean(), inspections_per_machine_hour=100)
    base_sim, new_sim = plant(config), plant(config, "supplier_change")
    base, new = base_sim.generate(*AFTER), new_sim.generate(*AFTER)

    ref, shifted, _ = paired(base.readings, new.readings, "vibration")
    assert (shifted - ref).mean() == pytest.approx(1.2, abs=0.05)

    def within_hour_std(frame: pl.DataFrame) -> float:
        vib = frame.filter(pl.col("sensor_type") == "vibration")
        by_hour = vib.group_by("machine_id", pl.col("ts").dt.truncate("1h"))
        return by_hour.agg(pl.col("value").std())["value"].mean()

    assert 1.35 < within_hour_std(new.readings) / within_hour_std(base.readings) < 1.65

    def defects(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("defect_type") != "normal")

    base_defects, new_defects = defects(base.inspections), defects(new.inspections)
    assert base.inspections.height == new.inspections.height > 5000
    assert 2.0 < new_defects.height / base_defects.height < 3.0

    def contamination_share(frame: pl.DataFrame) -> float:
        return (frame["defect_type"] == "contamination").mean()

    assert contamination_share(new_defects) > contamination_share(base_defects) + 0.15
    assert new.inspections["image_uri"].str.starts_with("synthetic://supplier_b/").all()
    before = new_sim.inspections(START - HOUR, START)
    assert before["image_uri"].str.starts_with("synthetic://standard/").all()


def test_fast_wear_wears_one_machine_faster() -> None:
    config = small_config(dirt=DirtConfig.clean())
    window = (START, START + 4 * DAY)
    base_sim, fast_sim = plant(config), plant(config, "fast_wear")
    base, fast = base_sim.events(*window), fast_sim.events(*window)

    def failures(frame: pl.DataFrame, machine: str) -> int:
        is_failure = (pl.col("machine_id") == machine) & (pl.col("event_type") == "failure")
        return frame.filter(is_failure).height

    assert failures(fast, "M003") >= max(2 * failures(base, "M003"), failures(base, "M003") + 2)
    others = pl.col("machine_id") != "M003"
    assert_frame_equal(base.filter(others), fast.filter(others))

    hours = [START + HOUR + k * HOUR for k in range(4 * 24)]  # from the first full hour on

    def typical_wear_gain(sim: PlantSimulator) -> float:
        gain = np.diff(sim.wear("M003", hours))
        return float(np.median(gain[gain > 0]))  # running hours (no repair, not down)

    assert 3.0 < typical_wear_gain(fast_sim) / typical_wear_gain(base_sim) < 5.0


def test_bad_scenarios_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'melt_down'"):
        scenario_spec("melt_down", START)
    with pytest.raises(ValueError, match="unknown parameter"):
        scenario_spec("fast_wear", START, {"speed": 2})
    with pytest.raises(ValueError, match="bad parameter value"):
        scenario_spec("sensor_offset", START, {"offset": "lots"})
    with pytest.raises(ValueError, match="not in the plant"):
        small_config(scenarios=[scenario_spec("fast_wear", START, {"machine": "M077"})])
