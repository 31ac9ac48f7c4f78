"""Window features per machine and hour, as the plant definition's ``features:`` lists them.

Input is the hourly summary (``machine_hourly_features``: ``{sensor}_{stat}`` per machine-hour)
of the hours the windows need, the plant's machine events and the machines' attributes; output
is one row per machine and hour of ``[start, end)``:

* **rolling** ``{sensor}_{stat}_{H}h`` over the hours ``h-H+1 … h`` *present* in the input
  (nothing is extrapolated over missing hours; ``hours_present_{H}h`` records how many there
  were). A one-hour window is the hour's own statistics of the raw readings. A longer window
  summarises the hourly series: ``mean``/``std`` of the hourly means (sample std, null below two
  hours), ``min``/``max`` of the hourly minima/maxima, ``slope`` of the hourly means per hour
  (least squares, null below two hours), ``last`` of the latest hour. For an hourly plant the
  hourly mean *is* the reading, so these are the plain rolling statistics of the readings.
* **event counts** ``{event_type}_count_{H}h``: events with ``ts`` in ``[h+1-H, h+1)`` hours.
* **hours since maintenance** ``hours_since_{component}`` (or ``hours_since_maintenance``
  without components): from the last maintenance *or failure* of the component (a failure is a
  replacement) before the hour's end, to the hour's end. With none recorded, from
  ``history_start`` (where the plant's records begin: a lower bound, as the reference guide
  counts from the start of its maintenance records).
* **machine attributes**: numeric as ``{name}``, categorical one-hot ``{name}_{value}``.

Plain polars, no Dagster: the asset (``defs/windows.py``), tests and ``bench/azure_pdm.py``
call the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from mfg_assets.plant.definition import DefinitionError, PlantDefinition, RollingWindowDef

HOUR = timedelta(hours=1)
TS = pl.Datetime("us", "UTC")
KEYS = ("machine_id", "hour")
TIMESTAMP_COLUMN = "event_timestamp"
MIN_SAMPLES = {"std": 2, "slope": 2}  # statistics undefined below this many samples


@dataclass(frozen=True)
class WindowPlan:
    """The columns a definition's ``features:`` produce, and what they need."""

    rolling: tuple[tuple[int, str, str], ...]  # (hours, sensor, stat)
    counts: tuple[tuple[int, str], ...]  # (hours, event_type)
    since: tuple[str, ...]  # components ('' = the whole machine)
    attributes: tuple[tuple[str, str | None], ...]  # (attribute, one-hot value or None)
    lookback_hours: int  # hours of hourly features before the first row a window reads

    def feature_columns(self) -> list[str]:
        """Model-facing columns, in a stable order."""
        return [
            *(f"{s}_{stat}_{h}h" for h, s, stat in self.rolling),
            *(f"{e}_count_{h}h" for h, e in self.counts),
            *(since_column(c) for c in self.since),
            *(a if v is None else f"{a}_{v}" for a, v in self.attributes),
        ]

    def coverage_columns(self) -> list[str]:
        """``hours_present_{H}h`` per rolling window length (data coverage, not a feature)."""
        return [f"hours_present_{h}h" for h in sorted({h for h, _, _ in self.rolling})]

    def schema(self) -> dict[str, pl.DataType]:
        schema: dict[str, pl.DataType] = {
            "machine_id": pl.String(),
            "hour": TS,
            TIMESTAMP_COLUMN: TS,
        }
        schema |= {c: pl.Float64() for c in self.feature_columns()}
        schema |= {c: pl.Int32() for c in self.coverage_columns()}
        return schema


def since_column(component: str) -> str:
    return f"hours_since_{component}" if component else "hours_since_maintenance"


def _check_window(plant: PlantDefinition, index: int, window: RollingWindowDef) -> None:
    cadence = {s.name: s.cadence_s for s in plant.sensors}
    for sensor in window.sensors or plant.sensor_names:
        # a window of one hour uses the hour's readings; a longer one, one value per hour
        samples = window.hours * 3600 // cadence[sensor] if window.hours == 1 else window.hours
        for stat in window.stats:
            if samples < MIN_SAMPLES.get(stat, 1):
                raise DefinitionError(
                    f"{plant.name}: features.rolling.{index}: {stat} of {sensor} over "
                    f"{window.hours} h has {samples} sample(s) at its cadence "
                    f"({cadence[sensor]} s): it would always be empty; use a longer window"
                )


def window_plan(plant: PlantDefinition) -> WindowPlan:
    """The columns of ``plant``'s window features; :class:`DefinitionError` for a window that
    could only ever be empty (a std or slope over one sample) or an attribute without a fixed
    set of values used as a feature."""
    rolling = []
    for index, window in enumerate(plant.features.rolling):
        _check_window(plant, index, window)
        for sensor in window.sensors or plant.sensor_names:
            rolling += [(window.hours, sensor, stat) for stat in window.stats]
    counts = [(w.hours, e) for w in plant.features.event_counts for e in w.event_types]
    since: tuple[str, ...] = ()
    if plant.features.hours_since_maintenance:
        since = plant.components or ("",)
    attributes: list[tuple[str, str | None]] = []
    defs = {a.name: a for a in plant.machines.attributes}
    for name in plant.features.machine_attributes:
        attribute = defs[name]
        if attribute.kind == "numeric":
            attributes.append((name, None))
        elif not attribute.values:
            raise DefinitionError(
                f"{plant.name}: features.machine_attributes: {name} is categorical without "
                "a values list, so it cannot be one-hot encoded stably; list its values"
            )
        else:
            attributes += [(name, value) for value in attribute.values]
    lookback = max([h for h, _, _ in rolling] + [1]) - 1
    plan = WindowPlan(tuple(rolling), tuple(counts), since, tuple(attributes), lookback)
    columns = plan.feature_columns()
    if len(set(columns)) != len(columns):
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        raise DefinitionError(f"{plant.name}: features: columns computed twice: {repeated}")
    return plan


def needed_hours(plan: WindowPlan, start: datetime) -> datetime:
    """First hour of hourly features the rows from ``start`` on read."""
    return start - plan.lookback_hours * HOUR


def _rolling(hourly: pl.DataFrame, plan: WindowPlan) -> pl.DataFrame:
    """Rolling columns over the hours present, per machine; ``hourly`` sorted by machine, hour."""
    t = ((pl.col("hour") - pl.col("hour").min()).dt.total_seconds() / 3600).alias("_t")
    frame = hourly.with_columns(t)
    exprs: list[pl.Expr] = []
    for hours in sorted({h for h, _, _ in plan.rolling}):
        present = (
            pl.col("hour").is_not_null().cast(pl.Int32).rolling_sum_by("hour", f"{hours}h")
        ).over("machine_id")
        exprs.append(present.cast(pl.Int32).alias(f"hours_present_{hours}h"))
    for hours, sensor, stat in plan.rolling:
        name = f"{sensor}_{stat}_{hours}h"
        if hours == 1:
            exprs.append(pl.col(f"{sensor}_{stat}").cast(pl.Float64).alias(name))
            continue
        size = f"{hours}h"
        mean = pl.col(f"{sensor}_mean")
        if stat == "mean":
            expr = mean.rolling_mean_by("hour", size)
        elif stat == "std":
            expr = mean.rolling_std_by("hour", size)
        elif stat == "min":
            expr = pl.col(f"{sensor}_min").rolling_min_by("hour", size)
        elif stat == "max":
            expr = pl.col(f"{sensor}_max").rolling_max_by("hour", size)
        elif stat == "last":
            expr = pl.col(f"{sensor}_last")
        else:  # slope of the hourly means against time in hours
            has = mean.is_not_null()
            tt = pl.when(has).then(pl.col("_t"))
            n = has.cast(pl.Float64).rolling_sum_by("hour", size)
            st = tt.rolling_sum_by("hour", size)
            stt = (tt * tt).rolling_sum_by("hour", size)
            stx = (tt * mean).rolling_sum_by("hour", size)
            sx = mean.rolling_sum_by("hour", size)
            denominator = n * stt - st * st
            expr = pl.when((n >= 2) & (denominator > 1e-9)).then((n * stx - st * sx) / denominator)
        exprs.append(expr.over("machine_id").cast(pl.Float64).alias(name))
    return frame.select(*KEYS, *exprs)


def _event_counts(rows: pl.DataFrame, events: pl.DataFrame, plan: WindowPlan) -> pl.DataFrame:
    """``{event_type}_count_{H}h`` for each row (events in ``[h+1-H, h+1)``)."""
    if not plan.counts:
        return rows
    hourly = (
        events.filter(pl.col("event_type").is_in([e for _, e in plan.counts]))
        .with_columns(pl.col("ts").dt.truncate("1h").alias("hour"))
        .group_by("machine_id", "hour", "event_type")
        .len()
        .pivot(on="event_type", index=["machine_id", "hour"], values="len")
    )
    grid = rows.select(KEYS)
    # every hour with an event or a row, so the rolling sums see both
    keys = pl.concat([grid, hourly.select(KEYS)]).unique().sort(KEYS)
    filled = keys.join(hourly, on=list(KEYS), how="left")
    absent = {e for _, e in plan.counts} - set(filled.columns)
    filled = filled.with_columns(pl.lit(0, pl.UInt32).alias(e) for e in sorted(absent))
    exprs = []
    for hours, event in plan.counts:
        exprs.append(
            pl.col(event)
            .fill_null(0)
            .cast(pl.Float64)
            .rolling_sum_by("hour", f"{hours}h")
            .over("machine_id")
            .alias(f"{event}_count_{hours}h")
        )
    counted = filled.sort(KEYS).select(*KEYS, *exprs)
    return rows.join(counted, on=list(KEYS), how="left")


def replacement_events(plant: PlantDefinition, events: pl.DataFrame) -> pl.DataFrame:
    """``(machine_id, component, ts)`` of every maintenance or failure (a failure replaces its
    component); component ``''`` when the plant has none."""
    component_of = {
        e.name: e.component or ""
        for e in plant.events
        if e.kind in ("maintenance", "failure") and (e.component or not plant.components)
    }
    return (
        events.filter(pl.col("event_type").is_in(list(component_of)))
        .select(
            "machine_id",
            pl.col("event_type")
            .replace_strict(component_of, return_dtype=pl.String)
            .alias("component"),
            pl.col("ts").cast(TS),
        )
        .unique()
    )


def _hours_since(
    rows: pl.DataFrame,
    replacements: pl.DataFrame,
    plan: WindowPlan,
    history_start: datetime,
) -> pl.DataFrame:
    """Hours from each component's last replacement before the hour's end."""
    rows = rows.sort(TIMESTAMP_COLUMN)
    for component in plan.since:
        last = (
            replacements.filter(pl.col("component") == component)
            .select("machine_id", pl.col("ts").alias("_replaced"))
            .sort("_replaced")
        )
        rows = rows.join_asof(
            last,
            left_on=TIMESTAMP_COLUMN,
            right_on="_replaced",
            by="machine_id",
            strategy="backward",
            allow_exact_matches=False,  # an event at the hour's end belongs to the next hour
            check_sortedness=False,  # both sorted by time above; polars cannot check per group
        )
        since = pl.col(TIMESTAMP_COLUMN) - pl.col("_replaced").fill_null(
            pl.lit(history_start).cast(TS)
        )
        rows = rows.with_columns(
            (since.dt.total_seconds() / 3600).alias(since_column(component))
        ).drop("_replaced")
    return rows


def _attributes(rows: pl.DataFrame, machines: pl.DataFrame, plan: WindowPlan) -> pl.DataFrame:
    if not plan.attributes:
        return rows
    exprs = []
    for name, value in plan.attributes:
        if name not in machines.columns:
            raise ValueError(f"machine attribute {name!r} is not in the machines frame")
        if value is None:
            exprs.append(pl.col(name).cast(pl.Float64, strict=True).alias(name))
        else:
            exprs.append(
                (pl.col(name).cast(pl.String) == value).cast(pl.Float64).alias(f"{name}_{value}")
            )
    encoded = machines.select("machine_id", *exprs)
    return rows.join(encoded, on="machine_id", how="left")


def window_features(
    plant: PlantDefinition,
    hourly: pl.DataFrame,
    events: pl.DataFrame,
    machines: pl.DataFrame,
    start: datetime,
    end: datetime,
    history_start: datetime,
) -> pl.DataFrame:
    """Window features of the machine-hours of ``hourly`` in ``[start, end)``.

    ``hourly`` holds the hourly features from :func:`needed_hours` on (earlier hours are
    ignored; missing ones are simply absent from the windows); ``events`` every machine event
    ``(ts, machine_id, event_type)`` before ``end`` (older ones only matter for hours since
    maintenance); ``machines`` one row per machine with the attribute columns.
    """
    plan = window_plan(plant)
    schema = plan.schema()
    first = needed_hours(plan, start)
    source = (
        hourly.filter(pl.col("hour").is_between(first, end, closed="left"))
        .unique(list(KEYS), keep="first", maintain_order=True)
        .sort(KEYS)
    )
    if source.is_empty():
        return pl.DataFrame(schema=schema)
    rows = _rolling(source, plan).filter(pl.col("hour") >= start)
    rows = rows.with_columns((pl.col("hour") + HOUR).alias(TIMESTAMP_COLUMN))
    events = events.filter(pl.col("ts") < end)
    rows = _event_counts(rows, events, plan)
    if plan.since:
        rows = _hours_since(rows, replacement_events(plant, events), plan, history_start)
    rows = _attributes(rows, machines, plan)
    return rows.select(list(schema)).cast(schema).sort("hour", "machine_id")
