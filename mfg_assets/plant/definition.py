"""The plant definition: one YAML file says what a plant measures, what breaks and what to learn.

Sensors (unit, physical range, sampling cadence), where the machine master comes from and the
machines' attributes, which event types are failures (optionally per component), maintenance
or other events (errors), the label horizon, the feature windows, and whether the plant has
quality inspections (and their classes). Shipped definitions live in ``definitions/``; the
``MFG_PLANT`` setting picks the active one (:func:`active_plant`). Every validation error names
the file and the field: ``azure_pdm.yaml: sensors.volt.range: lower bound 300 above upper
bound 250``.

Units are checked against :data:`UNITS`, a small allow-list; ``unknown`` is allowed on purpose
for sources that do not document their units (the Azure sample data). Machine attributes named
after a column of the ``machines`` landing table (``machine_type``, ``line``) are read from that
column; any other attribute is a row of ``machine_attributes(machine_id, attribute, value)``.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SHIPPED_DIR = Path(__file__).with_name("definitions")
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
EVENT_TYPE_MAX_LEN = 16  # machine_events.event_type is VARCHAR(16)
MACHINE_COLUMNS = ("machine_type", "line")  # attributes stored as columns of ``machines``
STATS = ("mean", "std", "min", "max", "slope", "last")
UNITS: frozenset[str] = frozenset(
    {
        # temperature, motion, vibration
        "degC", "degF", "K", "rpm", "Hz", "mm/s", "m/s", "m/s2", "g", "um", "mm", "m",
        # pressure, force, flow
        "bar", "mbar", "Pa", "kPa", "MPa", "psi", "N", "kN", "Nm", "L/min", "m3/h", "kg/h",
        # electrical
        "V", "kV", "mV", "A", "mA", "W", "kW", "kWh", "ohm",
        # other
        "%", "ppm", "s", "h", "day", "year", "kg", "count", "1",
        "unknown",  # the source does not document the unit
    }
)  # fmt: skip
CADENCE_UNITS = {"s": 1, "min": 60, "h": 3600}

Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=32)]


class DefinitionError(ValueError):
    """A plant definition is invalid; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_start(text: str) -> datetime | None:
    """``YYYY-MM-DD``, ``YYYY-MM-DD-HH:MM`` or ``YYYY-MM-DDTHH:MM`` → UTC datetime (else None)."""
    for fmt in ("%Y-%m-%d-%H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def parse_cadence(text: str | int) -> int:
    """``10s``, ``1min``, ``1h`` (or a number of seconds) → seconds."""
    if isinstance(text, int):
        seconds = text
    else:
        match = re.fullmatch(r"\s*(\d+)\s*(s|min|h)\s*", str(text))
        if not match:
            raise ValueError(f"{text!r} is not a cadence: use e.g. 10s, 1min or 1h")
        seconds = int(match[1]) * CADENCE_UNITS[match[2]]
    if seconds <= 0:
        raise ValueError("cadence must be positive")
    return seconds


class SensorDef(_Strict):
    """One sensor channel on every machine."""

    name: Name
    unit: str
    range: tuple[float, float] = Field(description="physical range [lo, hi] of the instrument")
    cadence_s: int = Field(description="sampling cadence in seconds (YAML: `cadence: 10s`)")
    nominal: float | None = Field(None, description="typical healthy value")

    @model_validator(mode="before")
    @classmethod
    def _cadence(cls, data: Any) -> Any:
        if isinstance(data, dict) and "cadence" in data:
            data = dict(data)
            data["cadence_s"] = parse_cadence(data.pop("cadence"))
        return data

    @field_validator("unit")
    @classmethod
    def _unit(cls, unit: str) -> str:
        if unit not in UNITS:
            raise ValueError(
                f"unknown unit {unit!r}; use one of {', '.join(sorted(UNITS))} "
                "(`unknown` when the source does not document it)"
            )
        return unit

    @field_validator("range")
    @classmethod
    def _range(cls, bounds: tuple[float, float]) -> tuple[float, float]:
        lo, hi = bounds
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"bounds must be finite numbers, got [{lo:g}, {hi:g}]")
        if lo > hi:
            raise ValueError(f"lower bound {lo:g} above upper bound {hi:g}")
        if lo == hi:
            raise ValueError(f"lower bound {lo:g} equals upper bound (an empty range)")
        return bounds

    @model_validator(mode="after")
    def _nominal_inside(self) -> SensorDef:
        lo, hi = self.range
        if self.nominal is not None and not lo <= self.nominal <= hi:
            raise ValueError(f"nominal {self.nominal:g} outside the range [{lo:g}, {hi:g}]")
        return self


class AttributeDef(_Strict):
    """A machine attribute: categorical (with its values) or numeric (with a unit)."""

    name: Name
    kind: Literal["categorical", "numeric"]
    values: tuple[str, ...] | None = Field(None, description="allowed values; unset = open")
    unit: str | None = None
    column: Literal["machine_type", "line"] | None = Field(
        None, description="column of `machines` holding it; unset = a `machine_attributes` row"
    )

    @model_validator(mode="after")
    def _consistent(self) -> AttributeDef:
        if self.unit is not None and self.unit not in UNITS:
            raise ValueError(f"unknown unit {self.unit!r}; use one of {', '.join(sorted(UNITS))}")
        if self.kind == "numeric" and self.values:
            raise ValueError("a numeric attribute has no values list")
        if self.values and len(set(self.values)) != len(self.values):
            raise ValueError("values repeat")
        return self

    @property
    def stored_in(self) -> str:
        """Where the attribute is read: ``machines.<column>`` or ``machine_attributes``."""
        column = self.column or (self.name if self.name in MACHINE_COLUMNS else None)
        return f"machines.{column}" if column else "machine_attributes"


class MachinesDef(_Strict):
    """Where the machine master comes from: the ``machines`` table or an inline list."""

    source: Literal["table", "inline"] = "table"
    table: str = "machines"
    inline: tuple[dict[str, str | float], ...] = ()
    attributes: tuple[AttributeDef, ...] = ()

    @model_validator(mode="after")
    def _source(self) -> MachinesDef:
        names = [a.name for a in self.attributes]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate attribute names: {_repeated(names)}")
        if self.source == "inline":
            if not self.inline:
                raise ValueError("source inline needs an inline list of machines")
            ids = [str(m.get("machine_id", "")) for m in self.inline]
            if "" in ids:
                raise ValueError("every inline machine has a machine_id")
            if len(set(ids)) != len(ids):
                raise ValueError(f"duplicate machine ids: {_repeated(ids)}")
            for machine in self.inline:
                _check_machine(machine, self.attributes)
        elif self.inline:
            raise ValueError("an inline list needs source: inline")
        return self


def _check_machine(machine: dict[str, str | float], attributes: tuple[AttributeDef, ...]) -> None:
    where = f"machine {machine['machine_id']}"
    extra = set(machine) - {"machine_id"} - {a.name for a in attributes}
    if extra:
        raise ValueError(f"{where}: unknown attributes {sorted(extra)}")
    for attribute in attributes:
        if attribute.name not in machine:
            raise ValueError(f"{where}: missing attribute {attribute.name}")
        value = machine[attribute.name]
        if attribute.values and str(value) not in attribute.values:
            raise ValueError(f"{where}: {attribute.name} {value!r} not in {list(attribute.values)}")
        if attribute.kind == "numeric" and not isinstance(value, int | float):
            raise ValueError(f"{where}: {attribute.name} {value!r} is not a number")


class EventTypeDef(_Strict):
    """A value of ``machine_events.event_type`` and what it means."""

    name: Annotated[str, Field(pattern=NAME_PATTERN, max_length=EVENT_TYPE_MAX_LEN)]
    kind: Literal["failure", "maintenance", "error"]
    component: Name | None = None


class LabelDef(_Strict):
    """What the maintenance model predicts: a failure within the next ``horizon_hours``."""

    horizon_hours: int = Field(24, ge=1)
    failure_types: tuple[str, ...] | None = Field(
        None, description="event types that count; unset = every failure event type"
    )
    baseline_feature: str | None = Field(
        None,
        description="an hourly feature `<sensor>_<stat>` scored alone as the model's "
        "single-feature baseline in evaluations (e.g. vibration_mean); unset = none",
    )


class RollingWindowDef(_Strict):
    """Rolling statistics of sensors over the last ``hours``."""

    hours: int = Field(ge=1)
    stats: tuple[Literal["mean", "std", "min", "max", "slope", "last"], ...]
    sensors: tuple[str, ...] | None = Field(None, description="unset = every sensor")


class EventCountWindowDef(_Strict):
    """Count of each listed event type over the last ``hours``."""

    hours: int = Field(ge=1)
    event_types: tuple[str, ...]


class FeaturesDef(_Strict):
    """The window features per machine and hour."""

    rolling: tuple[RollingWindowDef, ...] = ()
    event_counts: tuple[EventCountWindowDef, ...] = ()
    hours_since_maintenance: bool = Field(
        False, description="hours since the last maintenance (per component where defined)"
    )
    machine_attributes: tuple[str, ...] = Field((), description="attributes used as features")


class InspectionsDef(_Strict):
    """Quality inspections: whether the plant has them and their classes, in order."""

    enabled: bool = False
    classes: tuple[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=16)], ...] = ()
    normal_class: str | None = Field(None, description="the class of a good part (no box)")

    @model_validator(mode="after")
    def _classes(self) -> InspectionsDef:
        if self.enabled and not self.classes:
            raise ValueError("inspections enabled without classes")
        if not self.enabled and self.classes:
            raise ValueError("classes given but inspections not enabled")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"duplicate classes: {_repeated(self.classes)}")
        if self.normal_class is not None and self.normal_class not in self.classes:
            raise ValueError(f"normal_class {self.normal_class!r} is not one of the classes")
        return self


class PlantDefinition(_Strict):
    """A whole plant. Cross-references (event types, sensors, attributes) are checked."""

    name: Name
    description: str = ""
    sensors: tuple[SensorDef, ...] = ()
    machines: MachinesDef = MachinesDef()
    components: tuple[Name, ...] = ()
    events: tuple[EventTypeDef, ...] = ()
    label: LabelDef = LabelDef()
    features: FeaturesDef = FeaturesDef()
    inspections: InspectionsDef = InspectionsDef()
    partitions_start: str | None = Field(
        None,
        description="first hour of the plant's data, `YYYY-MM-DD[-HH:MM]` UTC: where the "
        "hourly partitions begin when MFG_PARTITIONS_START is not set",
    )

    @field_validator("partitions_start")
    @classmethod
    def _start(cls, value: str | None) -> str | None:
        if value is not None and parse_start(value) is None:
            raise ValueError(f"{value!r} is not a date; use YYYY-MM-DD or YYYY-MM-DD-HH:MM")
        return value

    @field_validator("sensors", mode="before")
    @classmethod
    def _sensors_by_name(cls, value: Any) -> Any:
        """``sensors:`` as a mapping ``name: {...}`` (so errors read ``sensors.volt.range``)."""
        if isinstance(value, dict):
            return tuple({"name": name, **(spec or {})} for name, spec in value.items())
        return value

    @model_validator(mode="after")
    def _references(self) -> PlantDefinition:
        sensors = [s.name for s in self.sensors]
        if len(set(sensors)) != len(sensors):
            raise ValueError(f"sensors: duplicate names {_repeated(sensors)}")
        if not self.sensors and not self.inspections.enabled:
            raise ValueError("a plant has sensors, inspections or both")
        events = {e.name: e for e in self.events}
        if len(events) != len(self.events):
            raise ValueError(f"events: duplicate names {_repeated([e.name for e in self.events])}")
        for event in self.events:
            if event.component is not None and event.component not in self.components:
                raise ValueError(
                    f"events.{event.name}.component: unknown component {event.component!r} "
                    f"(components: {list(self.components)})"
                )
        failures = {n for n, e in events.items() if e.kind == "failure"}
        if self.sensors and not failures:
            raise ValueError("events: a plant with sensors declares at least one failure type")
        for name in self.label.failure_types or ():
            if name not in failures:
                raise ValueError(f"label.failure_types: {name!r} is not a failure event type")
        baseline = self.label.baseline_feature
        if baseline is not None and baseline not in {
            f"{sensor}_{stat}" for sensor in sensors for stat in STATS
        }:
            raise ValueError(
                f"label.baseline_feature: {baseline!r} is not <sensor>_<stat> of a sensor "
                f"({', '.join(sensors)}) and a statistic ({', '.join(STATS)})"
            )
        cadence = {s.name: s.cadence_s for s in self.sensors}
        for i, window in enumerate(self.features.rolling):
            for sensor in window.sensors or sensors:
                if sensor not in cadence:
                    raise ValueError(f"features.rolling.{i}.sensors: unknown sensor {sensor!r}")
                if window.hours * 3600 % cadence[sensor]:
                    raise ValueError(
                        f"features.rolling.{i}.hours: {window.hours} h is not a multiple of "
                        f"sensor {sensor}'s cadence ({cadence[sensor]} s)"
                    )
        for i, window in enumerate(self.features.event_counts):
            for name in window.event_types:
                if name not in events:
                    raise ValueError(
                        f"features.event_counts.{i}.event_types: unknown event type {name!r}"
                    )
        attributes = {a.name for a in self.machines.attributes}
        for name in self.features.machine_attributes:
            if name not in attributes:
                raise ValueError(f"features.machine_attributes: unknown attribute {name!r}")
        return self

    # -- what the rest of the package reads --------------------------------------------------

    @property
    def sensor_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sensors)

    def event_names(self, kind: str) -> tuple[str, ...]:
        """Event types of one kind (``failure``, ``maintenance``, ``error``), in file order."""
        return tuple(e.name for e in self.events if e.kind == kind)

    @property
    def label_failure_types(self) -> tuple[str, ...]:
        """The event types that make a positive label."""
        return self.label.failure_types or self.event_names("failure")


def _repeated(names: Any) -> list[str]:
    seen: set[str] = set()
    return sorted({n for n in names if n in seen or seen.add(n)})


def _loc(loc: tuple[Any, ...], data: Any) -> str:
    """A pydantic error location in the file's own terms: ``sensors.volt.range``."""
    parts: list[str] = []
    node = data
    for i, key in enumerate(loc):
        if isinstance(key, int) and i and loc[i - 1] == "sensors" and isinstance(node, dict):
            name = list(node)[key] if key < len(node) else key
            parts.append(str(name))
            node = node.get(name) if isinstance(name, str) else None
            continue
        if isinstance(key, int) and isinstance(node, list | tuple) and key < len(node):
            item = node[key]
            parts.append(str(item.get("name", key)) if isinstance(item, dict) else str(key))
            node = item
            continue
        parts.append(str(key))
        node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts)


def parse_definition(data: Any, source: str) -> PlantDefinition:
    """Validate a mapping read from ``source`` (used in messages)."""
    if not isinstance(data, dict):
        raise DefinitionError(f"{source}: a plant definition is a mapping, got {type(data)}")
    try:
        return PlantDefinition.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = [k for k in error["loc"] if k not in ("function-after",)]
            where = _loc(tuple(loc), data)
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
        raise DefinitionError(f"{source}: " + "; ".join(problems)) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a repeated key (YAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(text: str) -> Any:
    """``yaml.safe_load`` semantics (no Python objects), but a repeated key is an error."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def load_definition(path: Path) -> PlantDefinition:
    """Read and validate one YAML file (safe loading; a repeated key is an error)."""
    label = path.name if path.parent == SHIPPED_DIR else str(path)
    try:
        data = read_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DefinitionError(f"{label}: cannot read: {exc.strerror or exc}") from None
    except yaml.MarkedYAMLError as exc:
        line = f"line {exc.problem_mark.line + 1}: " if exc.problem_mark else ""
        raise DefinitionError(f"{label}: {line}{exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{label}: not valid YAML: {exc}") from None
    return parse_definition(data, label)


def shipped_definitions() -> dict[str, Path]:
    """Name → path of every definition shipped in the package."""
    return {p.stem: p for p in sorted(SHIPPED_DIR.glob("*.yaml"))}


def resolve_definition(ref: str, extra_dir: Path | None = None) -> Path:
    """The file a ``MFG_PLANT`` value names: a shipped name, a name in ``extra_dir`` (without
    ``.yaml``), or a path inside one of the two folders (relative paths: ``extra_dir`` first).
    Nothing outside them is read; a shipped name always means the shipped file."""
    ref = ref.strip()
    shipped = shipped_definitions()
    if ref in shipped:
        return shipped[ref]
    folders = [SHIPPED_DIR.resolve()]
    if extra_dir is not None:
        folders.insert(0, extra_dir.expanduser().resolve())
    path = Path(ref).expanduser()
    if path.is_absolute():
        candidates = [path.resolve()]
    else:
        names = [ref] if path.suffix in (".yaml", ".yml") else [f"{ref}.yaml", f"{ref}.yml"]
        candidates = [(folder / name).resolve() for folder in folders for name in names]
    outside = DefinitionError(
        f"plant {ref!r}: only shipped definitions ({', '.join(shipped)}) or files inside "
        "MFG_PLANT_DEFINITIONS_DIR are read"
    )
    for candidate in candidates:
        if candidate.is_file():
            if not any(candidate.is_relative_to(f) for f in folders):
                raise outside
            return candidate
    if not any(c.is_relative_to(f) for c in candidates for f in folders):
        raise outside
    where = f"; folder {folders[0]}" if extra_dir is not None else ""
    raise DefinitionError(
        f"plant {ref!r}: no such definition (shipped: {', '.join(shipped)}{where})"
    )


_active: tuple[tuple[Any, ...], PlantDefinition] | None = None


def active_definition_file() -> Path:
    """The YAML file the ``MFG_PLANT`` setting selects."""
    from mfg_assets.settings import get_settings

    settings = get_settings()
    return resolve_definition(settings.mfg_plant, settings.mfg_plant_definitions_dir)


def active_plant() -> PlantDefinition:
    """The definition the ``MFG_PLANT`` setting selects (default: the simulator's plant).

    Read on every call, so a changed setting or an edited file takes effect at once; the
    parsed definition is reused while the setting, the file and its modification time are
    unchanged (feature schemas ask for it on every partition)."""
    global _active
    path = active_definition_file()
    try:
        stat = path.stat()
        key: tuple[Any, ...] = (str(path), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = (str(path), None, None)
    cached = _active
    if cached is not None and cached[0] == key:
        return cached[1]
    plant = load_definition(path)
    _active = (key, plant)
    return plant


def _columns(url: str, table: str) -> set[str] | None:
    """The columns of ``table`` in the plant database, None when it has no such table. Read
    through the extract's driver: a second SQLite library on the same file in one process
    breaks the other's locks ("disk I/O error")."""
    from mfg_assets.ingestion.extract import PlantDatabaseError, read_snapshot

    try:
        (frame,) = read_snapshot(url, [f"SELECT * FROM {table} LIMIT 0"])  # noqa: S608
    except PlantDatabaseError as exc:
        text = str(exc).lower()
        if any(m in text for m in ("no such table", "does not exist", "not found")):
            return None
        raise
    return set(frame.columns)


def source_problems(definition: PlantDefinition, url: str) -> list[str]:
    """What the plant database at ``url`` lacks for ``definition``'s machine source: the
    table, a column an attribute is stored in, or an attribute row of a machine. Empty = fine.
    """
    from mfg_assets.ingestion.extract import read_snapshot

    source = definition.machines
    if source.source == "inline":
        return []
    columns = _columns(url, source.table)
    if columns is None:
        return [f"machines.table: no table {source.table!r} in the plant database"]
    needed = ["machine_id"] + [
        a.stored_in.split(".", 1)[1]
        for a in source.attributes
        if a.stored_in.startswith("machines.")
    ]
    problems = [
        f"machines.table: {source.table!r} has no column {c!r}" for c in needed if c not in columns
    ]
    long = [a.name for a in source.attributes if a.stored_in == "machine_attributes"]
    if not long or problems:
        return problems
    if _columns(url, "machine_attributes") is None:
        return [f"machines.attributes: no table 'machine_attributes' for {long}"]
    (rows,) = read_snapshot(
        url,
        [
            f"SELECT m.machine_id, a.attribute FROM {source.table} m "  # noqa: S608
            "LEFT JOIN machine_attributes a ON a.machine_id = m.machine_id"
        ],
    )
    have: dict[str, set[str]] = {}
    for machine, attribute in rows.iter_rows():
        have.setdefault(str(machine), set()).add(attribute)
    for name in long:
        lacking = sorted(m for m, attrs in have.items() if name not in attrs)
        if lacking:
            problems.append(
                f"machines.attributes.{name}: missing for {len(lacking)} machine(s) "
                f"({', '.join(lacking[:5])})"
            )
    return problems


def check_source(definition: PlantDefinition, url: str, source: str) -> None:
    """Raise :class:`DefinitionError` naming ``source`` (the file) when the database lacks
    what the definition reads."""
    problems = source_problems(definition, url)
    if problems:
        raise DefinitionError(f"{source}: " + "; ".join(problems))
