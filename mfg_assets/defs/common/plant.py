"""Which plant the code location serves, shown on every asset in the Dagster UI.

The active plant definition (``MFG_PLANT``) decides the sensors, feature columns, event types
and inspection classes; the UI says which one it is: ``plant`` metadata (name, sensors,
whether it has inspections) on every asset and on the code location, and a closing line in
every asset's description.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dagster as dg

from mfg_assets.plant.definition import PlantDefinition


def plant_metadata(plant: PlantDefinition) -> dict[str, Any]:
    """What the UI shows about the active plant, as asset (and code location) metadata."""
    sensors = ", ".join(
        f"{s.name} [{s.unit}, {s.range[0]:g}…{s.range[1]:g}, every {s.cadence_s} s]"
        for s in plant.sensors
    )
    return {
        "plant": plant.name,
        "plant_sensors": sensors or "none",
        "plant_inspections": ", ".join(plant.inspections.classes)
        if plant.inspections.enabled
        else "none",
    }


def plant_line(plant: PlantDefinition) -> str:
    """The sentence appended to every asset description."""
    about = f": {plant.description}" if plant.description else "."
    return f"Plant **{plant.name}** (the definition MFG_PLANT selects){about}"


def with_plant(
    assets: Sequence[dg.AssetsDefinition], plant: PlantDefinition
) -> list[dg.AssetsDefinition]:
    """``assets`` with the plant's metadata merged in and its line closing each description."""
    metadata = plant_metadata(plant)
    line = plant_line(plant)

    def tag(spec: dg.AssetSpec) -> dg.AssetSpec:
        description = f"{spec.description}\n\n{line}" if spec.description else line
        return spec.merge_attributes(metadata=metadata).replace_attributes(description=description)

    return [asset.map_asset_specs(tag) for asset in assets]
