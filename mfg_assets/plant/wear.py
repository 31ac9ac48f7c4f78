"""The hidden wear process: the ground truth behind failures, maintenance and drifting sensors.

Each machine is simulated hour by hour from the plant epoch with its own generator. Wear grows at
the machine's rate (with noise and rare shocks); the hourly hazard of a fault starting rises
steeply with wear. A fault develops for 2–10 h (the precursor the sensors pick up) and ends in a
failure, which stops the machine for 2–6 h; then a maintenance event resets wear near zero. Now
and then preventive maintenance (no failure, no downtime) takes part of the wear away. Everything
is causal: nothing before a time depends on draws after it. Times are seconds since the epoch;
within an hour wear is linear, so it can be read at any instant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mfg_assets.plant.profile import MachineProfile
from mfg_assets.plant.randomness import Stream, machine_rng

HOUR_S = 3600
HAZARD_BASE = 0.0003  # faults per hour at no wear (random breakdowns)
HAZARD_SCALE = 0.35  # faults per hour at wear 1.0 ...
HAZARD_POWER = 6.0  # ... rising as wear**6
SHOCK_RATE = 0.01  # per hour: a sudden jump in wear
SHOCK_SIZE = 0.08
FAULT_S = (2 * HOUR_S, 10 * HOUR_S)  # from fault start to failure
DOWNTIME_S = (2 * HOUR_S, 6 * HOUR_S)
RESET_WEAR_MAX = 0.05  # wear right after repair
PREVENTIVE_RATE = 0.01  # per hour, once wear is above PREVENTIVE_MIN_WEAR
PREVENTIVE_MIN_WEAR = 0.45
PREVENTIVE_KEEP = (0.2, 0.6)  # share of wear left after preventive maintenance


def fault_hazard(wear: float) -> float:
    """Probability that a fault starts within the hour on a machine at this wear."""
    return min(1.0, HAZARD_BASE + HAZARD_SCALE * max(wear, 0.0) ** HAZARD_POWER)


def failure_probability(
    wear: np.ndarray, rate_per_h: np.ndarray, developing: np.ndarray, horizon_h: float
) -> np.ndarray:
    """The oracle: probability that a failure follows within ``horizon_h`` hours, from the
    hidden state at that time (wear, expected wear rate per hour, whether a fault is already
    developing). A developing fault fails within at most 10 h: 1 when that fits the horizon.
    Otherwise a fault starting in hour ``k`` (hazard at the wear expected then) fails within
    the horizon when its 2–10 h development ends before it (shocks and preventive
    maintenance, rare, are left out)."""
    wear = np.asarray(wear, dtype=np.float64)
    rate = np.asarray(rate_per_h, dtype=np.float64)
    hours = np.arange(int(np.ceil(horizon_h)))
    expected = wear[:, None] + rate[:, None] * (hours[None, :] + 1)
    hazard = np.minimum(1.0, HAZARD_BASE + HAZARD_SCALE * np.maximum(expected, 0) ** HAZARD_POWER)
    survive = np.cumprod(np.c_[np.ones(len(wear)), 1 - hazard[:, :-1]], axis=1)
    lo, hi = FAULT_S[0] / HOUR_S, FAULT_S[1] / HOUR_S
    fits = np.clip((horizon_h - hours - 0.5 - lo) / (hi - lo), 0.0, 1.0)
    p = np.sum(survive * hazard * fits[None, :], axis=1)
    return np.where(np.asarray(developing, dtype=bool) & (hi <= horizon_h), 1.0, p)


@dataclass(frozen=True)
class WearTrack:
    """One machine's wear, downtime and events over the first ``hours`` hours of the plant."""

    hours: int
    anchor_s: np.ndarray  # wear(t) = anchor_wear[i] + (t - anchor_s[i]) * anchor_rate[i]
    anchor_wear: np.ndarray
    anchor_rate: np.ndarray  # wear per second
    fault_start_s: np.ndarray  # a fault starts developing ...
    down_start_s: np.ndarray  # ... and ends in a failure here
    down_end_s: np.ndarray  # matching repair (maintenance) times
    maintenance_s: np.ndarray  # every maintenance event, after failures and preventive

    def wear_at(self, t_s: np.ndarray) -> np.ndarray:
        """Wear at times ``t_s`` (seconds since the epoch)."""
        i = np.maximum(np.searchsorted(self.anchor_s, t_s, side="right") - 1, 0)
        return self.anchor_wear[i] + (t_s - self.anchor_s[i]) * self.anchor_rate[i]

    def is_up(self, t_s: np.ndarray) -> np.ndarray:
        """True where the machine runs (not between a failure and its repair)."""
        last_repair = np.append(-np.inf, self.down_end_s)
        return t_s >= last_repair[np.searchsorted(self.down_start_s, t_s, side="right")]

    def fault_progress(self, t_s: np.ndarray) -> np.ndarray:
        """How far a developing fault is at ``t_s``: 0 (none) rising to 1 at the failure."""
        if not len(self.fault_start_s):
            return np.zeros_like(t_s)
        i = np.searchsorted(self.fault_start_s, t_s, side="right") - 1
        start, failure = self.fault_start_s[np.maximum(i, 0)], self.down_start_s[np.maximum(i, 0)]
        developing = (i >= 0) & (t_s < failure)
        return np.where(developing, (t_s - start) / (failure - start), 0.0)


def simulate_wear(
    profile: MachineProfile, seed: int, hours: int, rate_factor: np.ndarray
) -> WearTrack:
    """Run the wear process of one machine for ``hours`` hours.

    ``rate_factor[h]`` multiplies the wear rate in hour ``h`` (scenarios). The draws for an hour
    do not depend on ``hours``, so a longer run extends a shorter one without changing it.
    """
    draws = machine_rng(seed, profile.index, Stream.WEAR).random((hours, 9))
    anchors: list[tuple[float, float, float]] = []
    faults: list[tuple[float, float, float]] = []  # fault start, failure, repair
    maintenance: list[float] = []
    wear, down_until, failure_at = profile.initial_wear, 0.0, np.inf
    for h in range(hours):
        u = draws[h]
        hour_start, hour_end = h * HOUR_S, (h + 1) * HOUR_S
        if down_until >= hour_end:
            continue
        t0 = max(hour_start, down_until)
        rate = profile.wear_rate * rate_factor[h] * (0.4 + 1.2 * u[0]) / HOUR_S
        if u[1] < SHOCK_RATE:
            wear += SHOCK_SIZE * (0.5 + u[2])
        anchors.append((t0, wear, rate))
        wear_end = wear + rate * (hour_end - t0)
        t_event = float(np.floor(t0 + u[4] * (hour_end - t0)))
        if failure_at < hour_end:  # the developing fault ends in a failure this hour
            anchors.append((failure_at, wear + rate * (failure_at - t0), 0.0))
            wear, down_until, failure_at = RESET_WEAR_MAX * u[6], faults[-1][2], np.inf
        elif failure_at < np.inf:  # a fault is developing: no new fault, no preventive work
            wear = wear_end
        elif u[3] < fault_hazard(wear_end):
            failure_at = t_event + np.floor(FAULT_S[0] + u[8] * (FAULT_S[1] - FAULT_S[0]))
            repaired = failure_at + np.floor(DOWNTIME_S[0] + u[5] * (DOWNTIME_S[1] - DOWNTIME_S[0]))
            faults.append((t_event, failure_at, repaired))
            maintenance.append(repaired)
            wear = wear_end
        elif wear_end > PREVENTIVE_MIN_WEAR and u[7] < PREVENTIVE_RATE:
            keep = PREVENTIVE_KEEP[0] + u[6] * (PREVENTIVE_KEEP[1] - PREVENTIVE_KEEP[0])
            wear_event = (wear + rate * (t_event - t0)) * keep
            anchors.append((t_event, wear_event, rate))
            maintenance.append(t_event)
            wear = wear_event + rate * (hour_end - t_event)
        else:
            wear = wear_end
    a = np.array(anchors, dtype=float).reshape(-1, 3)
    f = np.array(faults, dtype=float).reshape(-1, 3)
    return WearTrack(
        hours=hours,
        anchor_s=a[:, 0],
        anchor_wear=a[:, 1],
        anchor_rate=a[:, 2],
        fault_start_s=f[:, 0],
        down_start_s=f[:, 1],
        down_end_s=f[:, 2],
        maintenance_s=np.sort(np.array(maintenance, dtype=float)),
    )
