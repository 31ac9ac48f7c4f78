"""Where the platform keeps its files and how it finds the plant: one place for env-driven paths.

Every setting is read from the environment when asked for (never cached at import), so tests
and the demo can point the whole platform at another directory by setting ``MFG_DATA_DIR``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_PARTITIONS_START = "2026-11-01-00:00"


def data_dir() -> Path:
    """Root of the embedded profile's files (plant DB, parquet partitions, stores, models)."""
    path = Path(os.environ.get("MFG_DATA_DIR", Path.cwd() / "data")).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_plant_db_url() -> str:
    """SQLite plant database under the data directory."""
    return f"sqlite:///{data_dir() / 'plant.db'}"


def plant_db_url() -> str:
    """``PLANT_DB_URL`` if set, else the embedded SQLite plant."""
    return os.environ.get("PLANT_DB_URL") or default_plant_db_url()


def partitions_start() -> datetime:
    """First hourly partition (``MFG_PARTITIONS_START``, format ``YYYY-MM-DD-HH:MM``), UTC."""
    raw = os.environ.get("MFG_PARTITIONS_START", DEFAULT_PARTITIONS_START)
    for fmt in ("%Y-%m-%d-%H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(
        f"MFG_PARTITIONS_START={raw!r} is not a date; use YYYY-MM-DD or YYYY-MM-DD-HH:MM"
    )


def label_horizon_hours() -> int:
    """How far ahead a failure label looks (``MFG_LABEL_HORIZON_HOURS``, default 24)."""
    hours = int(os.environ.get("MFG_LABEL_HORIZON_HOURS", "24"))
    if hours < 1:
        raise ValueError(f"MFG_LABEL_HORIZON_HOURS must be >= 1 (got {hours})")
    return hours


def training_window_days() -> int:
    """Days of labelled history a daily training set covers (``MFG_TRAINING_WINDOW_DAYS``)."""
    days = int(os.environ.get("MFG_TRAINING_WINDOW_DAYS", "14"))
    if days < 1:
        raise ValueError(f"MFG_TRAINING_WINDOW_DAYS must be >= 1 (got {days})")
    return days
