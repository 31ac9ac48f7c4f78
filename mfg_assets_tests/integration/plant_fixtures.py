"""Small seeded plants for integration tests (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from mfg_assets.defs.resources import PlantDatabase
from mfg_assets.defs.resources.io_managers import PartitionedParquetIOManager
from mfg_assets.plant.config import DirtConfig, PlantConfig
from mfg_assets.plant.driver import seed_plant
from mfg_assets.plant.writer import PlantDB

EPOCH = datetime(2026, 11, 2, tzinfo=UTC)
HOUR_KEY = "2026-11-02-10:00"
HOUR = datetime(2026, 11, 2, 10, tzinfo=UTC)


def seed_small_plant(
    url: str, days: int = 1, machines: int = 4, dirt: bool = False, epoch: datetime = EPOCH
) -> PlantDB:
    config = PlantConfig(
        machines=machines,
        seed=11,
        sample_interval_s=30,
        epoch=epoch,
        dirt=DirtConfig() if dirt else DirtConfig.clean(),
    )
    db = PlantDB(url)
    seed_plant(db, config, epoch + timedelta(days=days))
    return db


def resources(url: str, warehouse: Path) -> dict[str, object]:
    return {
        "plant_db": PlantDatabase(url=url),
        "parquet_io_manager": PartitionedParquetIOManager(base_dir=str(warehouse)),
    }


def plant_assets() -> list[dg.AssetsDefinition]:
    from mfg_assets.defs.features import machine_hourly_features
    from mfg_assets.defs.ingestion import machine_events, quality_inspections, sensor_readings

    return [sensor_readings, quality_inspections, machine_events, machine_hourly_features]
