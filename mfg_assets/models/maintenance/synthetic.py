"""Synthetic training frames shaped like the real ones (schema features + label + split).

For runs that need a trainable maintenance frame without simulating a plant: the test suite and
the benches (``bench/serving.py``) train throwaway models on it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from mfg_assets.features.schema import feature_columns, sensor_types

INT_FEATURES = ("n_readings", "n_inspections", "n_defects")


def training_frame(
    n_machines: int = 10, hours: int = 300, signal: float = 3.0, seed: int = 0
) -> pd.DataFrame:
    """Hourly rows per machine of the active plant's feature schema; P(failure) rises with the
    means of its first two sensors (the simulator: temperature, vibration); ``signal=0``: noise.

    Splits are time-ordered: first 60% of hours train, next 20% validation, last 20% test.
    """
    rng = np.random.default_rng(seed)
    n = n_machines * hours
    hour_index = np.tile(np.arange(hours), n_machines)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    frame = pd.DataFrame(
        {
            "machine_id": np.repeat([f"M{i + 1:03d}" for i in range(n_machines)], hours),
            "event_timestamp": [start + timedelta(hours=int(h) + 1) for h in hour_index],
        }
    )
    for column in feature_columns():
        if column in INT_FEATURES:
            frame[column] = rng.integers(0, 700, n)
        else:
            frame[column] = rng.normal(50.0, 10.0, n)
    risk = sum((frame[f"{sensor}_mean"] - 50) / 10 for sensor in sensor_types()[:2])
    logit = signal * risk - 2.5
    frame["failure_within_h"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame["split"] = np.select(
        [hour_index < 0.6 * hours, hour_index < 0.8 * hours], ["train", "validation"], "test"
    )
    return frame.sort_values(["event_timestamp", "machine_id"], ignore_index=True)
