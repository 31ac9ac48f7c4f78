"""The plant's vocabulary: machines, sensors with units and physical ranges, defect and event types.

Shared by the simulator (what it produces) and the ETL (what it accepts). Physical ranges are
what the instrument can report; a reading outside them is a fault, not an outlier.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SensorSpec:
    """One sensor channel on every machine."""

    name: str
    unit: str
    physical_min: float
    physical_max: float
    nominal: float  # typical healthy value
    noise: float  # typical sample-to-sample noise (std)


SENSORS: tuple[SensorSpec, ...] = (
    SensorSpec("temperature", "degC", -20.0, 200.0, 65.0, 0.8),
    SensorSpec("vibration", "mm/s", 0.0, 50.0, 3.0, 0.35),
    SensorSpec("pressure", "bar", 0.0, 20.0, 6.0, 0.12),
    SensorSpec("current", "A", 0.0, 100.0, 18.0, 0.6),
    SensorSpec("spindle_speed", "rpm", 0.0, 6000.0, 2400.0, 15.0),
)
SENSOR_TYPES: tuple[str, ...] = tuple(s.name for s in SENSORS)
SENSOR_BY_NAME: dict[str, SensorSpec] = {s.name: s for s in SENSORS}

DEFECT_TYPES: tuple[str, ...] = ("scratch", "dent", "crack", "contamination", "normal")
DEFECT_CLASSES: tuple[str, ...] = DEFECT_TYPES[:-1]  # drawn defects; "normal" has no box

EVENT_TYPES: tuple[str, ...] = ("failure", "maintenance")

MACHINE_TYPES: tuple[str, ...] = ("cnc_mill", "cnc_lathe", "press")


def machine_id(index: int) -> str:
    """Machine id for a zero-based index: 0 -> 'M001'."""
    return f"M{index + 1:03d}"


def machine_ids(count: int) -> list[str]:
    """The first ``count`` machine ids."""
    return [machine_id(i) for i in range(count)]
