"""Shared frames for the monitoring tests; Evidently is imported once per session (~10 s)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mfg_assets.monitoring.drift import import_evidently

# Eight columns with different shapes: symmetric, skewed, bounded, discrete, bimodal, heavy-tailed.
COLUMNS = ["normal", "lognormal", "uniform", "poisson", "bimodal", "student", "gamma", "beta"]


def controlled_frame(n: int, seed: int, machines: int = 50, **shift: float) -> pl.DataFrame:
    """``n`` rows of the eight :data:`COLUMNS` (fixed distributions) plus ``machine_id``.

    ``shift`` adds a constant to a column (``normal=0.5``); a ``<col>_scale`` key multiplies
    its deviations from the column's centre instead.
    """
    rng = np.random.default_rng(seed)
    data = {
        "normal": rng.normal(10.0, 2.0, n),
        "lognormal": rng.lognormal(0.0, 0.5, n),
        "uniform": rng.uniform(-1.0, 1.0, n),
        "poisson": rng.poisson(12.0, n).astype(float),
        "bimodal": np.where(rng.random(n) < 0.3, rng.normal(-2, 0.5, n), rng.normal(3, 1.0, n)),
        "student": rng.standard_t(4, n),
        "gamma": rng.gamma(2.0, 1.5, n),
        "beta": rng.beta(2.0, 5.0, n),
    }
    for key, value in shift.items():
        if key.endswith("_scale"):
            column = key.removesuffix("_scale")
            centre = float(np.median(data[column]))
            data[column] = centre + (data[column] - centre) * value
        else:
            data[key] = data[key] + value
    machine = rng.integers(0, machines, n)
    return pl.DataFrame(data).with_columns(
        pl.Series("machine_id", [f"M{m + 1:03d}" for m in machine])
    )


@pytest.fixture(scope="session")
def evidently() -> object:
    """Import Evidently once for the whole session (tests that run reports depend on it)."""
    return import_evidently()
