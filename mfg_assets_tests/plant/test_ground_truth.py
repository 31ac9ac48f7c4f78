"""The simulator's ground truth says exactly what it dirtied, and what the signal was."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mfg_assets.plant import DirtConfig, PlantConfig, PlantSimulator, scenario_spec
from mfg_assets.plant.dirt import DIRT_KINDS, UNKNOWN_MACHINE_ID
from mfg_assets_tests.plant.plants import DAY, EPOCH, HOUR, small_config

WINDOW = (EPOCH, EPOCH + DAY)
DIRTY = DirtConfig(
    missing=0.02, nan=0.02, spike=0.02, duplicate=0.02, late=0.02, unknown_machine=0.01
)


@pytest.fixture(scope="module")
def truth() -> pl.DataFrame:
    return PlantSimulator(small_config(dirt=DIRTY)).ground_truth(*WINDOW)


def test_ground_truth_is_the_readings_row_for_row(truth: pl.DataFrame) -> None:
    readings = PlantSimulator(small_config(dirt=DIRTY)).readings(*WINDOW)
    assert truth.select(readings.columns).equals(readings)
    assert set(truth["dirt"].unique()) == set(DIRT_KINDS)


def test_labels_match_what_was_done(truth: pl.DataFrame) -> None:
    by = {kind: truth.filter(pl.col("dirt") == kind) for kind in DIRT_KINDS}
    assert (by["clean"]["value"] == by["clean"]["true_value"]).all()
    assert by["nan"]["value"].is_nan().all()
    assert (by["spike"]["value"] != by["spike"]["true_value"]).all()
    assert (by["unknown_machine"]["machine_id"] == UNKNOWN_MACHINE_ID).all()
    assert (by["late"]["arrival_ts"] > by["late"]["ts"]).all()
    assert (by["late"]["value"] == by["late"]["true_value"]).all()
    # The second copy of a duplicate repeats the row before it.
    key = ["ts", "machine_id", "sensor_type"]
    assert by["duplicate"].join(truth.filter(pl.col("dirt") != "duplicate"), on=key).height == (
        by["duplicate"].height
    )
    for kind in ("nan", "spike", "duplicate", "late"):
        assert by[kind].height / truth.height == pytest.approx(0.02, rel=0.25), kind


def test_true_value_is_the_clean_plants_signal(truth: pl.DataFrame) -> None:
    clean = PlantSimulator(small_config(dirt=DirtConfig.clean())).readings(*WINDOW)
    key = ["ts", "sensor_type"]
    known = truth.filter((pl.col("dirt") != "unknown_machine") & (pl.col("dirt") != "duplicate"))
    joined = known.join(clean, on=[*key, "machine_id"], suffix="_clean")
    assert joined.height == known.height
    assert np.allclose(joined["true_value"], joined["value_clean"])


def test_unit_change_and_stuck_sensor_scenarios() -> None:
    start = EPOCH + 3 * HOUR
    base = small_config(dirt=DirtConfig.clean())
    specs = (scenario_spec("unit_change", start), scenario_spec("stuck_sensor", start))
    plain = PlantSimulator(base).readings(start, start + HOUR)
    changed = PlantSimulator(PlantConfig(**{**base.__dict__, "scenarios": specs})).readings(
        start, start + HOUR
    )
    temp = pl.col("sensor_type") == "temperature"
    before, after = plain.filter(temp)["value"], changed.filter(temp)["value"]
    assert after.mean() == pytest.approx(before.mean() * 1.8 + 32, rel=0.01)
    stuck = changed.filter((pl.col("machine_id") == "M002") & (pl.col("sensor_type") == "pressure"))
    assert stuck.height > 0 and stuck["value"].n_unique() == 1
