"""Importer of the Microsoft Azure Predictive Maintenance sample data (``PdM_*.csv``).

``PdM_telemetry`` (wide, hourly) becomes long ``sensor_readings``; ``PdM_failures``,
``PdM_errors`` and ``PdM_maint`` (or ``PdM_maintenance``) become ``machine_events`` with the
event types of the shipped ``azure_pdm`` plant definition (a failure or a replacement of
``compN`` is ``failure_compN`` / ``maint_compN``; errors keep their ``errorN``);
``PdM_machines`` becomes ``machines`` (``machine_type`` = model) and ``machine_attributes``
(``model``, ``age``). Machine ids are the source's (``"1"`` … ``"100"``). Timestamps without a
zone are UTC. A file with missing columns, or that cannot be read, refuses the whole import;
a bad row (timestamp, number, unknown machine or code, duplicate) is refused and counted.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import polars as pl

from mfg_assets.plant.definition import PlantDefinition, load_definition, shipped_definitions
from mfg_assets.plant.importers.landing import replace_plant
from mfg_assets.plant.importers.parsing import integer_id, number, utc_timestamp
from mfg_assets.plant.importers.report import FileReport, ImportRefused, ImportReport
from mfg_assets.plant.writer import PlantDB

PLANT = "azure_pdm"
TELEMETRY = "PdM_telemetry"
MACHINES = "PdM_machines"
FAILURES = "PdM_failures"
ERRORS = "PdM_errors"
MAINTENANCE = ("PdM_maint", "PdM_maintenance")  # the guide's name, the Kaggle mirror's name
LINE = ""  # the source has no production lines


@dataclass(frozen=True)
class EventFile:
    """An event CSV: its code column and how a code maps to an event type."""

    name: str
    code_column: str
    kind: str  # failure, maintenance or error (definition event kind)


EVENT_FILES = (
    EventFile(FAILURES, "failure", "failure"),
    EventFile(ERRORS, "errorID", "error"),
    EventFile(MAINTENANCE[0], "comp", "maintenance"),
)


def _find(source: Path, stem: str | tuple[str, ...]) -> Path:
    stems = (stem,) if isinstance(stem, str) else stem
    found = [source / f"{s}.csv" for s in stems if (source / f"{s}.csv").is_file()]
    if not found:
        raise FileNotFoundError(f"{' or '.join(s + '.csv' for s in stems)} not in {source}")
    if len(found) > 1:
        raise FileNotFoundError(f"both {found[0].name} and {found[1].name} in {source}: keep one")
    return found[0]


def _read(path: Path, columns: tuple[str, ...], report: FileReport) -> pl.DataFrame:
    """The CSV as text columns plus its line number; a missing column refuses the file."""
    try:
        frame = pl.read_csv(path, infer_schema=False, row_index_name="_line", row_index_offset=2)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise ValueError(f"cannot read: {str(exc).splitlines()[0]}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        found = ", ".join(c for c in frame.columns if c != "_line")
        raise ValueError(f"missing columns {', '.join(missing)} (found: {found})")
    report.read = frame.height
    return frame.select("_line", *columns)


def _keep(frame: pl.DataFrame, reason: pl.Expr, report: FileReport) -> pl.DataFrame:
    """Rows whose ``reason`` is null; the others are counted as refused by reason."""
    frame = frame.with_columns(reason.alias("_reason"))
    refused = frame.filter(pl.col("_reason").is_not_null())
    for (why,), rows in refused.group_by("_reason", maintain_order=True):
        report.refuse(str(why), rows["_line"].to_list(), rows.height)
    kept = frame.filter(pl.col("_reason").is_null()).drop("_reason", "_line")
    report.written = kept.height
    return kept


def _first(*checks: tuple[pl.Expr, str | pl.Expr]) -> pl.Expr:
    """The first failing check's reason, null when every check passes."""
    expr = pl.when(checks[0][0]).then(_lit(checks[0][1]))
    for condition, why in checks[1:]:
        expr = expr.when(condition).then(_lit(why))
    return expr.otherwise(None)


def _lit(why: str | pl.Expr) -> pl.Expr:
    return pl.lit(why) if isinstance(why, str) else why


def _duplicate(*keys: str) -> pl.Expr:
    return pl.int_range(pl.len()).over(*keys) > 0


def machine_frames(raw: pl.DataFrame, plant: PlantDefinition, report: FileReport) -> pl.DataFrame:
    """``PdM_machines`` → one row per machine: ``machine_id, model, age``."""
    models = next(a.values for a in plant.machines.attributes if a.name == "model") or ()
    parsed = raw.with_columns(
        integer_id("machineID").alias("machine_id"),
        pl.col("model").str.strip_chars(),
        number("age").alias("age"),
    )
    reason = _first(
        (pl.col("machine_id").is_null(), "bad machineID"),
        (~pl.col("model").is_in(list(models)), "unknown model"),
        (pl.col("age").is_null() | (pl.col("age") < 0), "bad age"),
        (_duplicate("machine_id"), "duplicate machineID"),
    )
    return _keep(parsed, reason, report).select("machine_id", "model", "age")


def telemetry_readings(
    raw: pl.DataFrame, plant: PlantDefinition, known: pl.Series, report: FileReport
) -> pl.DataFrame:
    """Wide ``PdM_telemetry`` → long ``sensor_readings`` rows (a bad row is refused whole)."""
    sensors = list(plant.sensor_names)
    parsed = raw.with_columns(
        utc_timestamp("datetime").alias("ts"),
        integer_id("machineID").alias("machine_id"),
        *(number(s).alias(s) for s in sensors),
    )
    reason = _first(
        (pl.col("ts").is_null(), "bad timestamp"),
        (pl.col("machine_id").is_null(), "bad machineID"),
        (~pl.col("machine_id").is_in(known.implode()), "unknown machine"),
        *((pl.col(s).is_null(), f"non-numeric {s}") for s in sensors),
        (_duplicate("machine_id", "ts"), "duplicate machine and hour"),
    )
    wide = _keep(parsed, reason, report)
    return (
        wide.unpivot(index=["ts", "machine_id"], on=sensors, variable_name="sensor_type")
        .select("ts", "machine_id", "sensor_type", "value")
        .sort("ts", "machine_id", "sensor_type")
    )


def event_rows(
    raw: pl.DataFrame,
    spec: EventFile,
    plant: PlantDefinition,
    known: pl.Series,
    report: FileReport,
) -> pl.DataFrame:
    """An event CSV → ``machine_events`` rows with the definition's event type names."""
    declared = [e for e in plant.events if e.kind == spec.kind]
    # failures and replacements name a component; errors name the event type itself
    codes = {(e.component or e.name): e.name for e in declared}
    parsed = raw.with_columns(
        utc_timestamp("datetime").alias("ts"),
        integer_id("machineID").alias("machine_id"),
        pl.col(spec.code_column)
        .str.strip_chars()
        .replace_strict(codes, default=None, return_dtype=pl.String)
        .alias("event_type"),
    )
    reason = _first(
        (pl.col("ts").is_null(), "bad timestamp"),
        (pl.col("machine_id").is_null(), "bad machineID"),
        (~pl.col("machine_id").is_in(known.implode()), "unknown machine"),
        (pl.col("event_type").is_null(), f"unknown {spec.code_column}"),
        (_duplicate("machine_id", "ts", "event_type"), "duplicate event"),
    )
    return _keep(parsed, reason, report).select("ts", "machine_id", "event_type")


def import_azure_pdm(source: Path, url: str, *, replace: bool = False) -> ImportReport:
    """Import ``source`` (a folder of ``PdM_*.csv``) into the plant database at ``url``.

    Raises :class:`ImportRefused` (nothing written) when a file is missing, unreadable or
    lacks a column; otherwise writes every good row in one transaction, replacing the
    previous import, and returns the accounting.
    """
    started = time.perf_counter()
    plant = load_definition(shipped_definitions()[PLANT])
    db = PlantDB(url)
    report = ImportReport(plant=PLANT, source=str(source), db=db.display_url)
    try:
        return _import(source, plant, db, report, replace, started)
    finally:
        db.close()


def _import(
    source: Path,
    plant: PlantDefinition,
    db: PlantDB,
    report: ImportReport,
    replace: bool,
    started: float,
) -> ImportReport:
    if not source.is_dir():
        raise ImportRefused(f"{source} is not a folder", report)
    telemetry_columns = ("datetime", "machineID", *plant.sensor_names)
    wanted = [
        (MACHINES, ("machineID", "model", "age")),
        (TELEMETRY, telemetry_columns),
        *((e.name, ("datetime", "machineID", e.code_column)) for e in EVENT_FILES),
    ]
    raw: dict[str, pl.DataFrame] = {}
    for stem, columns in wanted:
        stems = MAINTENANCE if stem == MAINTENANCE[0] else stem
        try:
            path = _find(source, stems)
        except FileNotFoundError as exc:
            report.files.append(FileReport(file=f"{stem}.csv", error=str(exc)))
            continue
        file_report = FileReport(file=path.name)
        report.files.append(file_report)
        try:
            raw[stem] = _read(path, columns, file_report)
        except ValueError as exc:
            file_report.error = str(exc)
    refused = [f for f in report.files if f.error]
    if refused:
        message = "; ".join(f"{f.file}: {f.error}" for f in refused)
        raise ImportRefused(f"nothing imported: {message}", report)

    by_stem = dict(zip([w[0] for w in wanted], report.files, strict=True))
    machine_rows = machine_frames(raw[MACHINES], plant, by_stem[MACHINES])
    known = machine_rows["machine_id"]
    readings = telemetry_readings(raw[TELEMETRY], plant, known, by_stem[TELEMETRY])
    if readings.is_empty():
        raise ImportRefused(f"nothing imported: {TELEMETRY}.csv has no good row", report)
    events = pl.concat(
        [event_rows(raw[e.name], e, plant, known, by_stem[e.name]) for e in EVENT_FILES]
    ).sort("ts", "machine_id", "event_type")
    frames = {
        "sensor_readings": readings,
        "machine_events": events,
        "machines": machine_rows.select(
            "machine_id", pl.col("model").alias("machine_type"), pl.lit(LINE).alias("line")
        ),
        "machine_attributes": pl.concat(
            [
                machine_rows.select(
                    "machine_id", pl.lit(name).alias("attribute"), value.alias("value")
                )
                for name, value in (
                    ("model", pl.col("model")),
                    ("age", pl.col("age").map_elements(_format_number, pl.String)),
                )
            ]
        ),
    }
    first, last = readings["ts"].min(), readings["ts"].max()
    cadence = timedelta(seconds=max(s.cadence_s for s in plant.sensors))
    report.time_range = (first.isoformat(), last.isoformat())  # type: ignore[union-attr]
    summary = json.dumps(
        {
            "format": "azure-pdm",
            "source": str(source),
            "files": {f.file: {"read": f.read, "written": f.written} for f in report.files},
        }
    )
    report.written_rows = replace_plant(
        db,
        PLANT,
        frames,
        last + cadence,
        summary,
        replace_other=replace,  # type: ignore[operator]
    )
    report.seconds = time.perf_counter() - started
    return report


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
