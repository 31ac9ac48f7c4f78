"""The plant simulator and its database: the platform's data source (plain Python, no Dagster).

``PlantSimulator`` generates sensor readings, inspections and machine events for any window;
``PlantDB`` writes them to SQLite or PostgreSQL; ``seed_plant`` and ``run_live`` are the seed and
live modes behind the ``mfg-plant`` command. Names are imported lazily, so importing the light
modules (``catalog``, ``schema``) does not pull in polars or the simulator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mfg_assets.plant.config import DirtConfig, PlantConfig
    from mfg_assets.plant.driver import (
        SeedSummary,
        TickReport,
        run_live,
        seed_plant,
        write_window,
    )
    from mfg_assets.plant.scenarios import (
        SCENARIOS,
        Scenario,
        ScenarioSpec,
        register,
        scenario_spec,
    )
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
_HOMES = ("config", "driver", "scenarios", "simulator", "writer")


def __getattr__(name: str) -> Any:
    if name in __all__:
        for home in _HOMES:
            module = importlib.import_module(f"{__name__}.{home}")
            if name in vars(module):
                return vars(module)[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
