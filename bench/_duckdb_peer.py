"""The hourly transform as DuckDB SQL over the same Arrow input (a benchmark peer of the polars
asset code): triage, Hampel spike filter, pivot, time-linear interpolation per machine between
measured neighbours, hourly mean/std/min/max/last/slope, inspection join, in one query.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from mfg_assets.plant.catalog import SENSOR_TYPES, SENSORS

WINDOW_HALF, THRESHOLD = 5, 8.0
CONTEXT = timedelta(minutes=5)


def _sql() -> str:
    ranges = " OR ".join(
        f"(sensor_type = '{s.name}' AND value BETWEEN {s.physical_min} AND {s.physical_max})"
        for s in SENSORS
    )
    pivot = ", ".join(f"first(value) FILTER (sensor_type = '{s}') AS {s}" for s in SENSOR_TYPES)
    observed = " + ".join(f"({s} IS NOT NULL)::INT" for s in SENSOR_TYPES)
    by_machine = "PARTITION BY machine_id ORDER BY ts"
    neighbours = []
    for s in SENSOR_TYPES:
        neighbours += [
            f"last_value({s} IGNORE NULLS) OVER ({by_machine} ROWS BETWEEN UNBOUNDED PRECEDING "
            f"AND CURRENT ROW) AS {s}_pv",
            f"last_value(CASE WHEN {s} IS NOT NULL THEN epoch_us(ts) END IGNORE NULLS) OVER "
            f"({by_machine} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS {s}_pt",
            f"first_value({s} IGNORE NULLS) OVER ({by_machine} ROWS BETWEEN CURRENT ROW AND "
            f"UNBOUNDED FOLLOWING) AS {s}_nv",
            f"first_value(CASE WHEN {s} IS NOT NULL THEN epoch_us(ts) END IGNORE NULLS) OVER "
            f"({by_machine} ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS {s}_nt",
        ]
    filled = ", ".join(
        f"CASE WHEN {s} IS NOT NULL THEN {s} "
        f"WHEN {s}_pv IS NOT NULL AND {s}_nv IS NOT NULL AND {s}_nt > {s}_pt THEN "
        f"{s}_pv + ({s}_nv - {s}_pv) * (epoch_us(ts) - {s}_pt) / ({s}_nt - {s}_pt) "
        "ELSE NULL END AS " + s
        for s in SENSOR_TYPES
    )
    stats = ", ".join(
        f"avg({s}) AS {s}_mean, stddev_samp({s}) AS {s}_std, min({s}) AS {s}_min, "
        f"max({s}) AS {s}_max, arg_max({s}, ts) FILTER ({s} IS NOT NULL) AS {s}_last, "
        f"regr_slope({s}, _t) AS {s}_slope"
        for s in SENSOR_TYPES
    )
    return f"""
    WITH usable AS (
        SELECT ts, machine_id, sensor_type, value,
               row_number() OVER (PARTITION BY ts, machine_id, sensor_type ORDER BY _row) AS _copy
        FROM readings
        WHERE ts >= $context AND ts < $end AND machine_id IN (SELECT machine_id FROM machines)
          AND value IS NOT NULL AND NOT isnan(value) AND ({ranges})
    ),
    smoothed AS (
        SELECT *, median(value) OVER (
            PARTITION BY machine_id, sensor_type ORDER BY ts
            ROWS BETWEEN {WINDOW_HALF} PRECEDING AND {WINDOW_HALF} FOLLOWING) AS _median
        FROM usable WHERE _copy = 1
    ),
    scaled AS (
        SELECT *, 1.4826 * median(abs(value - _median)) OVER (
            PARTITION BY machine_id, sensor_type, date_trunc('hour', ts)) AS _scale
        FROM smoothed
    ),
    kept AS (
        SELECT * FROM scaled
        WHERE ts >= $start
          AND abs(value - _median) <= {THRESHOLD} * greatest(_scale, 1e-6 * abs(_median) + 1e-9)
    ),
    wide AS (
        SELECT machine_id, ts, {pivot} FROM kept GROUP BY machine_id, ts
    ),
    around AS (
        SELECT machine_id, ts, {observed} AS _observed, {", ".join(SENSOR_TYPES)},
               {", ".join(neighbours)}
        FROM wide
    ),
    gapless AS (
        SELECT machine_id, ts, _observed, date_trunc('hour', ts) AS hour,
               epoch_us(ts - date_trunc('hour', ts)) / 60e6 AS _t, {filled}
        FROM around
    ),
    hourly AS (
        SELECT machine_id, hour, sum(_observed) AS n_readings, {stats}
        FROM gapless GROUP BY machine_id, hour
    ),
    outcomes AS (
        SELECT machine_id, date_trunc('hour', inspection_time) AS hour,
               count(*) AS n_inspections, sum((defect_type <> 'normal')::INT) AS n_defects
        FROM inspections
        WHERE inspection_time >= $start AND inspection_time < $end
        GROUP BY ALL
    )
    SELECT h.*, coalesce(o.n_inspections, 0) AS n_inspections,
           coalesce(o.n_defects, 0) AS n_defects,
           coalesce(o.n_defects / o.n_inspections, 0.0) AS defect_rate
    FROM hourly h LEFT JOIN outcomes o USING (machine_id, hour)
    """


def build_features_duckdb(
    readings: pl.DataFrame,
    inspections: pl.DataFrame,
    known_machines: list[str],
    start: datetime,
    end: datetime,
    threads: int | None = None,
) -> pl.DataFrame:
    """Features for ``[start, end)`` computed by DuckDB from Arrow tables (no copies in)."""
    import duckdb

    con = duckdb.connect()
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        con.execute("SET TimeZone = 'UTC'")
        con.register("readings", readings.with_row_index("_row").to_arrow())
        con.register("inspections", inspections.to_arrow())
        con.register("machines", pl.DataFrame({"machine_id": known_machines}).to_arrow())
        params = {"context": start - CONTEXT, "start": start, "end": end}
        table = con.sql(_sql(), params=params).to_arrow_table()
    finally:
        con.close()
    out = pl.from_arrow(table)
    assert isinstance(out, pl.DataFrame)
    return out
