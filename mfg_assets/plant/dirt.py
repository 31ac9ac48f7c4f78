"""Realistic dirt on clean readings: missing rows, NaNs, spikes, duplicates, late and stray rows.

Dirt draws from its own stream per machine-hour, so a dirty plant has exactly the clean plant's
signal underneath, and every dirt kind hits about its configured share of rows.
"""

from __future__ import annotations

import numpy as np

from mfg_assets.plant.config import DirtConfig
from mfg_assets.plant.readings import ReadingRows

UNKNOWN_MACHINE_ID = "M999"  # never in the machines table (config caps the plant below it)


def apply_dirt(
    rows: ReadingRows, dirt: DirtConfig, rng: np.random.Generator, unknown_machine: int
) -> ReadingRows:
    """Dirty copy of one machine-hour's rows; ``unknown_machine`` is the code of M999."""
    u = rng.random((len(rows), 8))
    value = rows.value.copy()
    spike = u[:, 2] < dirt.spike
    kind, size = np.divmod(u[:, 3] * 3, 1.0)
    plausible = spike & (kind == 0)  # ×1.5–2.5: often still inside the physical range
    value[plausible] *= 1.5 + size[plausible]
    value[spike & (kind == 1)] *= 8.0
    negative = spike & (kind == 2)
    value[negative] = -(np.abs(value[negative]) * (0.5 + size[negative]) + 1.0)
    value[u[:, 1] < dirt.nan] = np.nan

    delay_s = dirt.late_delay_min_s + u[:, 6] * (dirt.late_delay_max_s - dirt.late_delay_min_s)
    late = u[:, 5] < dirt.late
    arrival = rows.arrival_us + np.where(late, np.round(delay_s * 1e6), 0).astype(np.int64)
    machine = np.where(u[:, 7] < dirt.unknown_machine, unknown_machine, rows.machine)
    dirty = ReadingRows(rows.ts_us, machine.astype(np.int32), rows.sensor, value, arrival)

    kept = np.flatnonzero(u[:, 0] >= dirt.missing)
    copies = np.where(u[kept, 4] < dirt.duplicate, 2, 1)
    return dirty.take(np.repeat(kept, copies))
