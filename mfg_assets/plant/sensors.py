"""Sensor physics of one machine-hour: healthy baseline + ambient cycle + wear effects + noise.

Wear raises vibration (level and noise), temperature and current and lowers spindle speed a
little; while a fault develops towards a failure, a precursor adds to vibration and temperature.
Hourly process drift and load changes blur single hours, so failure risk shows in hourly
aggregates without being a clean threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mfg_assets.plant.catalog import SENSOR_TYPES, SENSORS
from mfg_assets.plant.profile import MachineProfile

SENSOR_COLUMN: dict[str, int] = {name: i for i, name in enumerate(SENSOR_TYPES)}
NOISE = np.array([s.noise for s in SENSORS])
PHYSICAL_MIN = np.array([s.physical_min for s in SENSORS])
PHYSICAL_MAX = np.array([s.physical_max for s in SENSORS])
HOURLY_DRIFT = np.array([0.5, 0.15, 0.05, 0.35, 8.0])  # std of the per-hour process offset
AMBIENT_AMPLITUDE_C = 3.5  # daily cycle, warmest at 15:00 UTC


@dataclass
class SensorSignals:
    """One machine-hour before dirt, columns in catalog order: value = level + noise."""

    level: np.ndarray  # (samples, sensors)
    noise: np.ndarray  # (samples, sensors)

    def values(self) -> np.ndarray:
        """Readings as the instruments report them (clipped to their physical range)."""
        return np.clip(self.level + self.noise, PHYSICAL_MIN, PHYSICAL_MAX)


def ambient_c(hour_of_day: np.ndarray) -> np.ndarray:
    """Hall temperature deviation from its daily mean, in °C."""
    return AMBIENT_AMPLITUDE_C * np.sin(2 * np.pi * (hour_of_day - 9.0) / 24.0)


def machine_hour_signals(
    profile: MachineProfile,
    hour_of_day: np.ndarray,
    wear: np.ndarray,
    fault_progress: np.ndarray,
    rng: np.random.Generator,
) -> SensorSignals:
    """Sensor level and noise at the given samples of one machine-hour."""
    n = len(wear)
    noise = rng.standard_normal((n, len(SENSORS))) * NOISE * profile.noise_scale
    drift = rng.standard_normal(len(SENSORS)) * HOURLY_DRIFT
    load = rng.normal(1.0, 0.04)  # production load of this hour
    w = np.clip(wear, 0.0, 1.5)
    precursor = fault_progress**2
    ambient = ambient_c(hour_of_day)

    level = np.empty((n, len(SENSORS)))
    t, v, p, c, s = (SENSOR_COLUMN[name] for name in SENSOR_TYPES)
    base = profile.baseline + drift
    level[:, t] = base[t] + 0.6 * ambient + 9.0 * w**1.5 + 2.5 * precursor
    level[:, v] = base[v] + 3.0 * w**2 + 1.5 * precursor
    level[:, p] = base[p] - 0.15 * w
    level[:, c] = base[c] * load + 2.5 * w**2 + 0.05 * ambient
    level[:, s] = base[s] * (0.5 + 0.5 * load) - 60.0 * w**2
    noise[:, v] *= 1.0 + w + 1.5 * precursor
    noise[:, t] *= 1.0 + 0.5 * w
    return SensorSignals(level=level, noise=noise)
