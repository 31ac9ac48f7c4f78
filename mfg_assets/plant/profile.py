"""Each machine's fixed personality: type, line, wear rate, sensor baselines and noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mfg_assets.plant.catalog import MACHINE_TYPES, SENSORS, machine_id
from mfg_assets.plant.randomness import Stream, machine_rng

MACHINES_PER_LINE = 5
WEAR_RATE_RANGE = (0.0045, 0.0085)  # wear per operating hour; failures cluster near wear 0.8
BASELINE_SPREAD = np.array([2.5, 0.35, 0.3, 1.2, 40.0])  # machine-to-machine, per sensor


@dataclass(frozen=True)
class MachineProfile:
    """What makes one machine different from its neighbours; drawn once per seed."""

    index: int
    machine_id: str
    machine_type: str
    line: str
    wear_rate: float  # mean wear gained per operating hour
    initial_wear: float  # wear at the plant epoch
    baseline: np.ndarray  # healthy sensor levels, in catalog.SENSORS order
    noise_scale: np.ndarray  # factor on each sensor's catalog noise
    phase_us: int  # offset of this machine's sampling grid within the interval


def machine_profile(seed: int, index: int, sample_interval_s: int) -> MachineProfile:
    """The profile of machine ``index`` in the plant seeded with ``seed``."""
    rng = machine_rng(seed, index, Stream.PROFILE)
    nominal = np.array([s.nominal for s in SENSORS])
    return MachineProfile(
        index=index,
        machine_id=machine_id(index),
        machine_type=MACHINE_TYPES[index % len(MACHINE_TYPES)],
        line=f"L{index // MACHINES_PER_LINE + 1}",
        wear_rate=float(rng.uniform(*WEAR_RATE_RANGE)),
        initial_wear=float(rng.uniform(0.0, 0.7)),
        baseline=nominal + rng.standard_normal(len(SENSORS)) * BASELINE_SPREAD,
        noise_scale=rng.uniform(0.8, 1.25, len(SENSORS)),
        phase_us=int(rng.integers(0, min(sample_interval_s, 2) * 250_000)),
    )
