"""Seed and live modes: drive the simulator into a plant database.

Both write by arrival: a window ``[a, b)`` gets the readings that reach the database in it (late
rows after the on-time rows they trail) and the inspections and events timestamped in it, then
the watermark moves to ``b``. Late rows whose arrival falls after the seeded end are written by
the live run, when plant time passes their arrival. Because every window is regenerated
deterministically, a live run keeps no state in memory and can be stopped and restarted freely.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from mfg_assets.plant.config import PlantConfig
from mfg_assets.plant.simulator import PlantSimulator
from mfg_assets.plant.writer import PlantDB

SEED_CHUNK = timedelta(hours=12)
LIVE_CHUNK = timedelta(hours=1)


@dataclass(frozen=True)
class SeedSummary:
    """What a seed wrote."""

    rows: dict[str, int]
    failures: int
    start: datetime
    end: datetime
    seconds: float


@dataclass(frozen=True)
class TickReport:
    """What one live tick wrote, and the plant time written up to after it."""

    written_until: datetime
    rows: dict[str, int] = field(default_factory=dict)


def write_window(
    db: PlantDB,
    sim: PlantSimulator,
    start: datetime,
    end: datetime,
    chunk: timedelta,
    stop: threading.Event | None = None,
) -> dict[str, int]:
    """Write everything arriving in ``[start, end)`` in chunks (each one transaction, so
    ``stop`` may end it between chunks); rows written per table."""
    rows = {"sensor_readings": 0, "quality_inspections": 0, "machine_events": 0}
    while start < end and not (stop and stop.is_set()):
        chunk_end = min(start + chunk, end)
        batch = sim.arrivals(start, chunk_end)
        db.write(batch, written_until=chunk_end)
        rows["sensor_readings"] += batch.readings.height
        rows["quality_inspections"] += batch.inspections.height
        rows["machine_events"] += batch.events.height
        start = chunk_end
    return rows


def seed_plant(db: PlantDB, config: PlantConfig, end: datetime) -> SeedSummary:
    """Replace the plant in ``db`` with ``config``'s history from its epoch up to ``end``."""
    began = time.perf_counter()
    db.create(config)
    write_window(db, PlantSimulator(config), config.epoch, end, SEED_CHUNK)
    return SeedSummary(
        rows=db.row_counts(),
        failures=db.failure_count(),
        start=config.epoch,
        end=end,
        seconds=time.perf_counter() - began,
    )


def run_live(
    db: PlantDB,
    *,
    speed: float = 1.0,
    tick_s: float = 5.0,
    max_ticks: int | None = None,
    until: datetime | None = None,
    stop: threading.Event | None = None,
    on_tick: Callable[[TickReport], None] | None = None,
) -> int:
    """Continue the stored plant live; returns the number of ticks run.

    At ``speed == 1`` plant time is wall time: the first tick catches up from the last written
    timestamp to now. Otherwise plant time starts at the last written timestamp and runs
    ``speed`` times faster than the wall clock. Scenarios are re-read from the database every
    tick. Stops after ``max_ticks`` ticks, when plant time reaches ``until`` or when ``stop`` is
    set (a write in progress completes first).
    """
    if speed <= 0 or tick_s < 0:
        raise ValueError("speed must be > 0 and tick >= 0")
    stop = stop or threading.Event()
    start = db.last_timestamp() or db.config().epoch  # config() raises when nothing was seeded
    wall_start = time.monotonic()

    def plant_now() -> datetime:
        if speed == 1.0:
            return datetime.now(UTC)
        return start + timedelta(seconds=(time.monotonic() - wall_start) * speed)

    sim: PlantSimulator | None = None
    ticks = 0
    while True:
        config = db.config()
        if sim is None or sim.config != config:
            sim = PlantSimulator(config)
        target = plant_now() if until is None else min(plant_now(), until)
        written = db.last_timestamp() or start
        rows: dict[str, int] = {}
        if target > written:
            rows = write_window(db, sim, written, target, LIVE_CHUNK, stop)
            written = db.last_timestamp() or target
        ticks += 1
        if on_tick:
            on_tick(TickReport(written_until=written, rows=rows))
        done = until is not None and written >= until
        if done or (max_ticks is not None and ticks >= max_ticks) or stop.wait(tick_s):
            return ticks
