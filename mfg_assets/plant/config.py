"""Simulator parameters: plant size, seed, sampling, dirt rates and scenario switches.

Stored as JSON in ``plant_meta`` so a live run continues exactly the plant that was seeded.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta

from mfg_assets.plant.catalog import machine_ids
from mfg_assets.plant.scenarios import ScenarioSpec, build_scenario
from mfg_assets.settings import partitions_start

MAX_MACHINES = 9_999  # ids M001..M9999 (catalog.machine_id); M000 is the unknown machine (dirt)


def floor_hour(ts: datetime) -> datetime:
    """``ts`` in UTC, floored to the hour; naive input is read as UTC."""
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    return ts.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class DirtConfig:
    """Share of readings hit by each kind of dirt; all zero is a clean plant."""

    missing: float = 0.01  # reading never arrives
    nan: float = 0.003  # value is NaN
    spike: float = 0.002  # value is a glitch (×1.5–2.5, ×8 or negative)
    duplicate: float = 0.003  # row is written twice, exactly
    late: float = 0.005  # row arrives late_delay_min_s..late_delay_max_s after its ts
    unknown_machine: float = 0.0002  # row carries a machine id missing from ``machines``
    late_delay_min_s: float = 60.0
    late_delay_max_s: float = 1800.0

    def __post_init__(self) -> None:
        for name in ("missing", "nan", "spike", "duplicate", "late", "unknown_machine"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"dirt rate {name}={rate} is not in [0, 1]")
        if not 0.0 <= self.late_delay_min_s <= self.late_delay_max_s:
            raise ValueError("late delays need 0 <= late_delay_min_s <= late_delay_max_s")

    @classmethod
    def clean(cls) -> DirtConfig:
        """No dirt at all."""
        return cls(missing=0.0, nan=0.0, spike=0.0, duplicate=0.0, late=0.0, unknown_machine=0.0)

    @property
    def max_delay(self) -> timedelta:
        """Longest time a reading can arrive after its timestamp."""
        return timedelta(seconds=self.late_delay_max_s if self.late > 0 else 0.0)


@dataclass(frozen=True)
class PlantConfig:
    """Everything that determines the simulated plant; same config → same data."""

    machines: int = 20
    seed: int = 7
    sample_interval_s: int = 10
    inspections_per_machine_hour: float = 12.0
    epoch: datetime = field(default_factory=partitions_start)  # plant start, UTC, on the hour
    dirt: DirtConfig = field(default_factory=DirtConfig)
    scenarios: tuple[ScenarioSpec, ...] = ()

    def __post_init__(self) -> None:
        if self.epoch.tzinfo is None:
            raise ValueError("epoch must be timezone-aware")
        if not 1 <= self.machines <= MAX_MACHINES:
            raise ValueError(f"machines must be between 1 and {MAX_MACHINES}")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")
        if not (1 <= self.sample_interval_s <= 3600 and 3600 % self.sample_interval_s == 0):
            raise ValueError("sample_interval_s must divide an hour (1, 2, 5, 10, 15, 30, 60, ...)")
        if self.inspections_per_machine_hour < 0:
            raise ValueError("inspections_per_machine_hour must be >= 0")
        object.__setattr__(self, "epoch", floor_hour(self.epoch))
        object.__setattr__(self, "scenarios", tuple(self.scenarios))
        known = set(machine_ids(self.machines))
        for spec in self.scenarios:
            for mid in build_scenario(spec).machines_named():
                if mid not in known:
                    raise ValueError(f"scenario {spec.name}: machine {mid!r} is not in the plant")

    def with_scenario(self, spec: ScenarioSpec) -> PlantConfig:
        """This plant with one more scenario switch."""
        return replace(self, scenarios=(*self.scenarios, spec))

    def to_json(self) -> str:
        """JSON text for ``plant_meta``."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["epoch"] = self.epoch.isoformat()
        data["dirt"] = asdict(self.dirt)
        data["scenarios"] = [spec.to_dict() for spec in self.scenarios]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PlantConfig:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        data["epoch"] = datetime.fromisoformat(data["epoch"])
        data["dirt"] = DirtConfig(**data["dirt"])
        data["scenarios"] = tuple(ScenarioSpec.from_dict(s) for s in data["scenarios"])
        return cls(**data)
