"""Realistic dirt on clean readings: missing rows, NaNs, spikes, duplicates, late and stray rows.

Dirt draws from its own stream per machine-hour, so a dirty plant has exactly the clean plant's
signal underneath, and every dirt kind hits about its configured share of rows.
"""

from __future__ import annotations

import numpy as np

from mfg_assets.plant.config import DirtConfig
from mfg_assets.plant.readings import ReadingRows

# Never in the machines table: real ids start at M001 (catalog.machine_id), up to M9999.
UNKNOWN_MACHINE_ID = "M000"


DIRT_KINDS: tuple[str, ...] = ("clean", "spike", "nan", "duplicate", "unknown_machine", "late")
"""Ground-truth label of a delivered row. A row hit by several kinds carries one, by precedence
unknown_machine > nan > spike > late; the second copy of a duplicated row is a ``duplicate``
(unless it comes from an unknown machine). Missing readings are never delivered, so they have no
row to label: compare with the clean plant (same signal underneath) to find them."""


def apply_dirt_traced(
    rows: ReadingRows, dirt: DirtConfig, rng: np.random.Generator, unknown_machine: int
) -> tuple[ReadingRows, np.ndarray, np.ndarray]:
    """Dirty copy of one machine-hour's rows (``unknown_machine`` is the code of
    :data:`UNKNOWN_MACHINE_ID`), with each delivered row's dirt kind (index into
    :data:`DIRT_KINDS`) and undirtied value: the simulator's ground truth."""
    u = rng.random((len(rows), 8))
    value = rows.value.copy()
    spike = u[:, 2] < dirt.spike
    kind, size = np.divmod(u[:, 3] * 3, 1.0)
    plausible = spike & (kind == 0)  # ×1.5–2.5: often still inside the physical range
    value[plausible] *= 1.5 + size[plausible]
    value[spike & (kind == 1)] *= 8.0
    negative = spike & (kind == 2)
    value[negative] = -(np.abs(value[negative]) * (0.5 + size[negative]) + 1.0)
    nan = u[:, 1] < dirt.nan
    value[nan] = np.nan

    delay_s = dirt.late_delay_min_s + u[:, 6] * (dirt.late_delay_max_s - dirt.late_delay_min_s)
    late = u[:, 5] < dirt.late
    arrival = rows.arrival_us + np.where(late, np.round(delay_s * 1e6), 0).astype(np.int64)
    unknown = u[:, 7] < dirt.unknown_machine
    machine = np.where(unknown, unknown_machine, rows.machine)
    dirty = ReadingRows(rows.ts_us, machine.astype(np.int32), rows.sensor, value, arrival)
    label = np.select([unknown, nan, spike, late], [4, 2, 1, 5], default=0).astype(
        np.int8
    )  # a NaN overwrites a spike's value, so NaN wins over spike

    kept = np.flatnonzero(u[:, 0] >= dirt.missing)
    copies = np.where(u[kept, 4] < dirt.duplicate, 2, 1)
    index = np.repeat(kept, copies)
    labels = label[index]
    second = np.zeros(len(index), dtype=bool)
    second[1:] = index[1:] == index[:-1]
    labels[second & (labels != 4)] = 3  # an unknown machine's copy stays unknown_machine
    return dirty.take(index), labels, rows.value[index]
