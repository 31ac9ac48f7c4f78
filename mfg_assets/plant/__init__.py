"""The plant simulator and its database: the platform's data source (plain Python, no Dagster).

``PlantSimulator`` generates sensor readings, inspections and machine events for any window;
``PlantDB`` writes them to SQLite or PostgreSQL; ``seed_plant`` and ``run_live`` are the seed and
live modes behind the ``mfg-plant`` command.
"""

from mfg_assets.plant.config import DirtConfig, PlantConfig
from mfg_assets.plant.driver import SeedSummary, TickReport, run_live, seed_plant, write_window
from mfg_assets.plant.scenarios import SCENARIOS, Scenario, ScenarioSpec, register, scenario_spec
from mfg_assets.plant.simulator import PlantBatch, PlantSimulator
from mfg_assets.plant.writer import NoPlantError, PlantDB, mask_url

__all__ = [
    "SCENARIOS",
    "DirtConfig",
    "NoPlantError",
    "PlantBatch",
    "PlantConfig",
    "PlantDB",
    "PlantSimulator",
    "Scenario",
    "ScenarioSpec",
    "SeedSummary",
    "TickReport",
    "mask_url",
    "register",
    "run_live",
    "scenario_spec",
    "seed_plant",
    "write_window",
]
