"""Scenario switches: deliberate plant changes from a point in time on (what drift must catch).

A scenario is a frozen dataclass registered under its ``name``. It changes the plant through three
hooks, each a no-op by default: ``wear_factor`` (wear rate of hours starting at or after ``start``),
``shape_signals`` (sensor level/noise of samples at or after ``start``) and ``shape_quality``
(defect probability, defect mix and image appearance of inspections at or after ``start``). Hooks
are deterministic, so data before ``start`` is exactly the data of the plant without the scenario.
Add a scenario by subclassing :class:`Scenario` and decorating it with :func:`register`.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import numpy as np

from mfg_assets.plant.catalog import DEFECT_CLASSES, SENSOR_TYPES
from mfg_assets.plant.quality import QualityDraft
from mfg_assets.plant.sensors import SENSOR_COLUMN, SensorSignals


@dataclass(frozen=True)
class ScenarioSpec:
    """A scenario as stored in the plant config: registry name, start time, parameters."""

    name: str
    start: datetime
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "start": self.start.isoformat(), "params": self.params}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScenarioSpec:
        return cls(data["name"], datetime.fromisoformat(data["start"]), dict(data["params"]))


@dataclass(frozen=True)
class Scenario:
    """Base of every scenario; subclasses add parameters as fields with defaults."""

    start: datetime
    name: ClassVar[str]

    def machines_named(self) -> tuple[str, ...]:
        """Machine ids the parameters refer to (checked against the plant)."""
        return ()

    def wear_factor(self, machine_id: str) -> float:
        """Multiplier on the machine's wear rate for hours starting at or after ``start``."""
        return 1.0

    def shape_signals(self, machine_id: str, active: np.ndarray, signals: SensorSignals) -> None:
        """Change sensor level/noise in place where ``active`` (sample time >= start)."""

    def shape_quality(self, machine_id: str, active: np.ndarray, quality: QualityDraft) -> None:
        """Change the inspection draft in place where ``active`` (inspection time >= start)."""


SCENARIOS: dict[str, type[Scenario]] = {}


ScenarioType = typing.TypeVar("ScenarioType", bound=type[Scenario])


def register(cls: ScenarioType) -> ScenarioType:
    """Class decorator: make a scenario selectable by its ``name``."""
    SCENARIOS[cls.name] = cls
    return cls


@register
@dataclass(frozen=True)
class SensorOffset(Scenario):
    """A sensor is recalibrated: its readings shift by ``offset`` (all machines or a list)."""

    name: ClassVar[str] = "sensor_offset"
    offset: float = 6.0
    sensor: str = "temperature"
    machines: tuple[str, ...] = ()  # empty: every machine

    def __post_init__(self) -> None:
        if self.sensor not in SENSOR_TYPES:
            raise ValueError(f"sensor_offset: unknown sensor {self.sensor!r}")

    def machines_named(self) -> tuple[str, ...]:
        return self.machines

    def shape_signals(self, machine_id: str, active: np.ndarray, signals: SensorSignals) -> None:
        if not self.machines or machine_id in self.machines:
            signals.level[active, SENSOR_COLUMN[self.sensor]] += self.offset


@register
@dataclass(frozen=True)
class SupplierChange(Scenario):
    """New raw-material supplier: rougher machining, more defects, more contamination."""

    name: ClassVar[str] = "supplier_change"
    vibration_shift: float = 1.2  # mm/s added to vibration
    vibration_noise: float = 1.5  # factor on vibration noise
    defect_factor: float = 2.5  # factor on defect probability
    contamination_factor: float = 3.0  # factor on the contamination share among defects
    image_appearance: str = "supplier_b"  # surface look for the image renderer

    def shape_signals(self, machine_id: str, active: np.ndarray, signals: SensorSignals) -> None:
        vibration = SENSOR_COLUMN["vibration"]
        signals.level[active, vibration] += self.vibration_shift
        signals.noise[active, vibration] *= self.vibration_noise

    def shape_quality(self, machine_id: str, active: np.ndarray, quality: QualityDraft) -> None:
        quality.defect_prob[active] = np.minimum(
            quality.defect_prob[active] * self.defect_factor, 1
        )
        quality.type_weights[active, DEFECT_CLASSES.index("contamination")] *= (
            self.contamination_factor
        )
        quality.appearance[active] = self.image_appearance


@register
@dataclass(frozen=True)
class FastWear(Scenario):
    """One machine degrades faster (a worn bearing, a bad batch of tools)."""

    name: ClassVar[str] = "fast_wear"
    machine: str = "M003"
    factor: float = 4.0

    def __post_init__(self) -> None:
        if self.factor <= 0:
            raise ValueError("fast_wear: factor must be > 0")

    def machines_named(self) -> tuple[str, ...]:
        return (self.machine,)

    def wear_factor(self, machine_id: str) -> float:
        return self.factor if machine_id == self.machine else 1.0


@register
@dataclass(frozen=True)
class UnitChange(Scenario):
    """A firmware update switches a sensor's unit: readings become ``value * scale + shift``
    (default °C → °F) on every machine or a list; a true level shift, not dirt."""

    name: ClassVar[str] = "unit_change"
    sensor: str = "temperature"
    scale: float = 1.8
    shift: float = 32.0
    machines: tuple[str, ...] = ()  # empty: every machine

    def __post_init__(self) -> None:
        if self.sensor not in SENSOR_TYPES:
            raise ValueError(f"unit_change: unknown sensor {self.sensor!r}")

    def machines_named(self) -> tuple[str, ...]:
        return self.machines

    def shape_signals(self, machine_id: str, active: np.ndarray, signals: SensorSignals) -> None:
        if not self.machines or machine_id in self.machines:
            column = SENSOR_COLUMN[self.sensor]
            signals.level[active, column] = signals.level[active, column] * self.scale + self.shift
            signals.noise[active, column] *= self.scale


@register
@dataclass(frozen=True)
class StuckSensor(Scenario):
    """One machine's sensor freezes: it keeps reporting ``value`` with no noise."""

    name: ClassVar[str] = "stuck_sensor"
    machine: str = "M002"
    sensor: str = "pressure"
    value: float = 6.0

    def __post_init__(self) -> None:
        if self.sensor not in SENSOR_TYPES:
            raise ValueError(f"stuck_sensor: unknown sensor {self.sensor!r}")

    def machines_named(self) -> tuple[str, ...]:
        return (self.machine,)

    def shape_signals(self, machine_id: str, active: np.ndarray, signals: SensorSignals) -> None:
        if machine_id == self.machine:
            column = SENSOR_COLUMN[self.sensor]
            signals.level[active, column] = self.value
            signals.noise[active, column] = 0.0


def _coerce(kind: Any, value: Any) -> Any:
    if typing.get_origin(kind) is tuple:
        items = re.split(r"[,+\s]+", value) if isinstance(value, str) else value
        return tuple(str(item) for item in items if item)
    return kind(value)


def _param_types(cls: type[Scenario]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.name != "start"}


def build_scenario(spec: ScenarioSpec) -> Scenario:
    """The scenario a spec describes; ``ValueError`` for unknown names or parameters."""
    cls = SCENARIOS.get(spec.name)
    if cls is None:
        raise ValueError(f"unknown scenario {spec.name!r}; known: {', '.join(sorted(SCENARIOS))}")
    types = _param_types(cls)
    unknown = sorted(set(spec.params) - set(types))
    if unknown:
        raise ValueError(
            f"scenario {spec.name}: unknown parameter(s) {', '.join(unknown)}; "
            f"known: {', '.join(types)}"
        )
    try:
        params = {key: _coerce(types[key], value) for key, value in spec.params.items()}
    except (TypeError, ValueError) as exc:
        raise ValueError(f"scenario {spec.name}: bad parameter value ({exc})") from None
    return cls(start=spec.start, **params)


def scenario_spec(name: str, start: datetime, params: dict[str, Any] | None = None) -> ScenarioSpec:
    """A validated spec with every parameter spelled out (defaults included), start in UTC."""
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    scenario = build_scenario(ScenarioSpec(name, start, dict(params or {})))
    values = {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in dataclasses.asdict(scenario).items()
        if key != "start"
    }
    return ScenarioSpec(name, start, values)
