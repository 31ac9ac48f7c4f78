"""A multi-line plant hour for the scale-out tests, and its single-process reference."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg
import polars as pl

from mfg_assets.plant.config import DirtConfig, PlantConfig
from mfg_assets.plant.driver import seed_plant
from mfg_assets.plant.writer import PlantDB
from mfg_assets.storage.partitions import partition_file
from mfg_assets_tests.integration.plant_fixtures import EPOCH, HOUR_KEY, plant_assets, resources

LINES = ("L1", "L2")  # of the 4 lines of a 20-machine plant; L3 and L4 go to the rest step
OUTPUTS = ("machine_hourly_features", "quarantined_readings")


def seed_lines_plant(url: str, machines: int = 20) -> None:
    """A dirty simulator plant (unknown machines, null ids, spikes) up to the test hour."""
    config = PlantConfig(
        machines=machines, seed=11, sample_interval_s=30, epoch=EPOCH, dirt=DirtConfig()
    )
    seed_plant(PlantDB(url), config, EPOCH + timedelta(hours=11))


def single_process_reference(url: str, warehouse: Path) -> None:
    """The hour built by the default, single-step graph in this process."""
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            plant_assets(),
            partition_key=HOUR_KEY,
            instance=instance,
            resources=resources(url, warehouse),
        )
        assert result.success


def read_output(warehouse: Path, asset: str, key: str = HOUR_KEY) -> pl.DataFrame:
    """A stored partition, rows in a canonical order (steps may append lines in any order)."""
    frame = pl.read_parquet(warehouse / partition_file([asset], key))
    return frame.sort(frame.columns, nulls_last=True)


def stray_files(warehouse: Path) -> list[str]:
    """Files under the warehouse that are not a partition file (temporary or partial)."""
    from mfg_assets.storage.partitions import key_of_file

    return [
        str(p.relative_to(warehouse))
        for p in warehouse.rglob("*")
        if p.is_file() and key_of_file(p.name) is None
    ]
