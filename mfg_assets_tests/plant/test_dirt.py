"""Each kind of dirt appears at about its configured rate; a clean plant has none."""

from __future__ import annotations

import polars as pl
import pytest

from mfg_assets.features.quarantine import triage_readings
from mfg_assets.plant import DirtConfig, PlantSimulator
from mfg_assets.plant.catalog import SENSORS
from mfg_assets.plant.config import MAX_MACHINES
from mfg_assets.plant.dirt import UNKNOWN_MACHINE_ID
from mfg_assets_tests.plant.plants import DAY, EPOCH, HOUR, small_config

RATE = 0.05
WINDOW = (EPOCH, EPOCH + DAY)
KEY = ["ts", "machine_id", "sensor_type"]


def readings(dirt: DirtConfig) -> pl.DataFrame:
    return PlantSimulator(small_config(dirt=dirt)).readings(*WINDOW)


def only(kind: str) -> DirtConfig:
    return DirtConfig(**{**DirtConfig.clean().__dict__, kind: RATE})


def out_of_range() -> pl.Expr:
    bounds = [
        (pl.col("sensor_type") == s.name)
        & ~pl.col("value").is_between(s.physical_min, s.physical_max)
        for s in SENSORS
    ]
    return pl.any_horizontal(bounds)


@pytest.fixture(scope="module")
def clean() -> pl.DataFrame:
    return readings(DirtConfig.clean())


def test_clean_plant_has_no_dirt(clean: pl.DataFrame) -> None:
    assert clean.height > 50_000
    assert clean["value"].is_not_nan().all() and clean["value"].is_not_null().all()
    assert not clean.select(KEY).is_duplicated().any()
    assert (clean["arrival_ts"] == clean["ts"]).all()
    assert set(clean["machine_id"].unique()) == {"M001", "M002", "M003", "M004"}
    assert clean.filter(out_of_range()).height == 0


def test_missing_readings(clean: pl.DataFrame) -> None:
    dirty = readings(only("missing"))
    assert 1 - dirty.height / clean.height == pytest.approx(RATE, rel=0.15)
    assert dirty.join(clean, on=KEY, how="anti").height == 0


def test_nan_values(clean: pl.DataFrame) -> None:
    dirty = readings(only("nan"))
    assert dirty.height == clean.height
    assert dirty["value"].is_nan().mean() == pytest.approx(RATE, rel=0.15)


def test_spikes_inside_and_outside_physical_range(clean: pl.DataFrame) -> None:
    dirty = readings(only("spike"))
    changed = dirty.join(clean, on=KEY, suffix="_clean").filter(
        pl.col("value") != pl.col("value_clean")
    )
    assert changed.height / clean.height == pytest.approx(RATE, rel=0.15)
    outside = changed.filter(out_of_range()).height
    assert 0.3 * changed.height < outside < 0.9 * changed.height
    assert changed.filter(pl.col("value") < 0).height > 0


def test_exact_duplicates(clean: pl.DataFrame) -> None:
    dirty = readings(only("duplicate"))
    assert (dirty.height - clean.height) / clean.height == pytest.approx(RATE, rel=0.15)
    assert dirty.unique().height == clean.height  # the extra rows are exact copies


def test_late_rows(clean: pl.DataFrame) -> None:
    dirty = readings(only("late"))
    delay = (dirty["arrival_ts"] - dirty["ts"]).dt.total_seconds()
    late = delay.filter(delay > 0)
    assert late.len() / clean.height == pytest.approx(RATE, rel=0.15)
    assert late.min() >= 60 and late.max() <= 1800
    assert dirty.drop("arrival_ts").equals(clean.drop("arrival_ts"))


def test_unknown_machine_ids(clean: pl.DataFrame) -> None:
    sim = PlantSimulator(small_config(dirt=only("unknown_machine")))
    dirty = sim.readings(*WINDOW)
    stray = dirty.filter(~pl.col("machine_id").is_in(sim.machine_ids))
    assert stray.height / clean.height == pytest.approx(RATE, rel=0.15)
    assert set(stray["machine_id"].unique()) == {UNKNOWN_MACHINE_ID}


def test_plant_size_cap_leaves_the_unknown_id_out() -> None:
    assert small_config(machines=1000).machines == 1000
    assert small_config(machines=MAX_MACHINES).machines == MAX_MACHINES
    with pytest.raises(ValueError, match="machines must be between"):
        small_config(machines=MAX_MACHINES + 1)
    ids = PlantSimulator(small_config(machines=MAX_MACHINES)).machine_ids
    assert UNKNOWN_MACHINE_ID not in ids and len(set(ids)) == MAX_MACHINES


def test_thousand_machine_plant_quarantines_its_unknown_machine() -> None:
    """Past M999 the ids are real machines (M1000); the stray rows still carry an id the plant
    does not know, and the ETL's triage quarantines exactly those as ``unknown_machine``."""
    sim = PlantSimulator(
        small_config(machines=1000, sample_interval_s=60, dirt=only("unknown_machine"))
    )
    assert sim.machine_ids[998:] == ["M999", "M1000"]
    dirty = sim.readings(EPOCH, EPOCH + HOUR)
    stray = dirty.filter(pl.col("machine_id") == UNKNOWN_MACHINE_ID)
    assert stray.height / dirty.height == pytest.approx(RATE, rel=0.15)
    assert dirty.filter(~pl.col("machine_id").is_in(sim.machine_ids)).height == stray.height
    triage = triage_readings(
        dirty.select("ts", "machine_id", "sensor_type", "value"), sim.machine_ids
    )
    unknown = triage.quarantined.filter(pl.col("reason") == "unknown_machine")
    assert unknown.height == stray.height == triage.quarantined.height
    assert set(unknown["machine_id"].cast(pl.String)) == {UNKNOWN_MACHINE_ID}
    clean = set(triage.clean["machine_id"].cast(pl.String))
    assert clean == set(sim.machine_ids)  # M999 and M1000 included: known, not quarantined


def test_default_rates_are_low_but_present() -> None:
    dirty = readings(DirtConfig())
    shares = {
        "nan": dirty["value"].is_nan().mean(),
        "late": (dirty["arrival_ts"] > dirty["ts"]).mean(),
        "duplicate": dirty.is_duplicated().mean() / 2,
    }
    defaults = DirtConfig()
    for kind, share in shares.items():
        assert 0.3 * getattr(defaults, kind) < share < 2.5 * getattr(defaults, kind), kind
