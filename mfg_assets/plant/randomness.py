"""Independent random streams: one generator per (seed, machine, hour, stream).

Every machine-hour draws from its own generator, so the data of any time window is the same no
matter how the window is cut, and turning one stream on or off (dirt, scenarios) never shifts
another.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    """What a generator is used for."""

    PROFILE = 0
    WEAR = 1
    SENSORS = 2
    QUALITY = 3
    DIRT = 4


def machine_rng(seed: int, machine_index: int, stream: Stream) -> np.random.Generator:
    """Generator for one machine's whole life (profile, sequential wear process)."""
    return np.random.default_rng([seed, machine_index, int(stream)])


def machine_hour_rng(
    seed: int, machine_index: int, hour: int, stream: Stream
) -> np.random.Generator:
    """Generator for one machine-hour (``hour`` counted from the plant epoch)."""
    return np.random.default_rng([seed, machine_index, hour, int(stream)])
