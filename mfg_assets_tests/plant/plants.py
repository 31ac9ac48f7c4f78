"""Small plants for the plant tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mfg_assets.plant import DirtConfig, PlantConfig

EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def small_config(**overrides: object) -> PlantConfig:
    """A plant small enough for unit tests: 4 machines sampled every 30 s."""
    values: dict[str, object] = {
        "machines": 4,
        "seed": 11,
        "sample_interval_s": 30,
        "epoch": EPOCH,
        "dirt": DirtConfig(),
    }
    values.update(overrides)
    return PlantConfig(**values)  # type: ignore[arg-type]
