"""Synthetic hourly plant input at benchmark scale (no simulator needed): numpy-fast."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl

from mfg_assets.plant.catalog import SENSORS, machine_ids


def sensor_hour(
    start: datetime, machines: int, hours: int = 1, interval_s: int = 1, seed: int = 0
) -> pl.DataFrame:
    """Long-format readings for ``machines`` × 5 sensors every ``interval_s`` s, with ~1 % dirt."""
    rng = np.random.default_rng(seed)
    steps = hours * 3600 // interval_s
    ts = np.datetime64(start.replace(tzinfo=None), "us") + np.arange(steps) * np.timedelta64(
        interval_s, "s"
    )
    ids = machine_ids(machines)
    n_sensor = len(SENSORS)
    total = steps * machines * n_sensor
    values = np.empty(total)
    for j, spec in enumerate(SENSORS):
        block = rng.normal(spec.nominal, spec.noise, size=(machines, steps))
        values[j::n_sensor] = block.reshape(-1)  # rows are machine-major, then time, sensor
    frame = pl.DataFrame(
        {
            "ts": np.tile(np.repeat(ts, n_sensor), machines),
            "machine_id": np.repeat(ids, steps * n_sensor),
            "sensor_type": np.tile([s.name for s in SENSORS], steps * machines),
            "value": values,
        }
    ).with_columns(pl.col("ts").dt.replace_time_zone("UTC"))
    dirt = rng.random(total)
    return frame.with_columns(
        pl.when(pl.Series(dirt < 0.003)).then(None).otherwise(pl.col("value")).alias("value")
    ).with_columns(
        pl.when(pl.Series((dirt > 0.003) & (dirt < 0.005)))
        .then(pl.col("value") * 8)
        .otherwise(pl.col("value"))
        .alias("value")
    )


def inspections_hour(start: datetime, machines: int, hours: int = 1, seed: int = 0) -> pl.DataFrame:
    """Twelve inspections per machine-hour, ~5 % defective."""
    rng = np.random.default_rng(seed + 1)
    n = machines * hours * 12
    offsets = rng.integers(0, hours * 3600, n)
    kinds = np.where(rng.random(n) < 0.05, "scratch", "normal")
    return pl.DataFrame(
        {
            "inspection_time": [start + timedelta(seconds=int(o)) for o in offsets],
            "product_id": [f"P{i}" for i in range(n)],
            "machine_id": np.repeat(machine_ids(machines), hours * 12),
            "defect_type": kinds,
            "severity": np.where(kinds == "normal", 0.0, 0.5),
            "image_uri": [None] * n,
        },
        schema_overrides={"image_uri": pl.String, "inspection_time": pl.Datetime("us", "UTC")},
    )
