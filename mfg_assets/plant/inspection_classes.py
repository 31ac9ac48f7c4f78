"""The inspection classes of a plant: its vocabulary and the detector's box classes, in order.

The plant definition's ``inspections.classes`` is the vocabulary of
``quality_inspections.defect_type``; the detector draws boxes around every class except the
``normal_class`` (a good part: an image without boxes). The simulator's plant has
``scratch, dent, crack, contamination`` + ``normal``; NEU-DET has six defect classes and no
normal class. Everything defect-side (dataset, training, serving, drift) reads them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from mfg_assets.plant.definition import (
    DefinitionError,
    PlantDefinition,
    active_plant,
    load_definition,
    shipped_definitions,
)


@dataclass(frozen=True)
class InspectionClasses:
    """A plant's inspection vocabulary and the detector's classes (the vocabulary's order)."""

    plant: str
    vocabulary: tuple[str, ...]
    normal: str | None = None

    @property
    def detector(self) -> tuple[str, ...]:
        """Classes with boxes, in vocabulary order (``normal`` images are backgrounds)."""
        return tuple(c for c in self.vocabulary if c != self.normal)

    @classmethod
    def of(cls, plant: PlantDefinition) -> InspectionClasses:
        """The classes of ``plant``; DefinitionError when it has no inspections."""
        if not plant.inspections.enabled:
            raise DefinitionError(f"plant {plant.name!r} has no inspections (no classes)")
        spec = plant.inspections
        return cls(plant.name, tuple(spec.classes), spec.normal_class)


@lru_cache(maxsize=8)
def _shipped(name: str) -> InspectionClasses:
    return InspectionClasses.of(load_definition(shipped_definitions()[name]))


def plant_classes(name: str | None = None) -> InspectionClasses:
    """The classes of a shipped plant by name, or of the active plant (``MFG_PLANT``)."""
    if name is None:
        return InspectionClasses.of(active_plant())
    if name not in shipped_definitions():
        raise DefinitionError(f"no shipped plant definition {name!r}")
    return _shipped(name)


SIMULATOR = "simulator"


def simulator_classes() -> InspectionClasses:
    """The simulator plant's classes (what :mod:`mfg_assets.plant.images` draws)."""
    return plant_classes(SIMULATOR)
