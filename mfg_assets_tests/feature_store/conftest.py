"""Synthetic ``machine_hourly_features`` partitions (real schema) and stores over them.

3 machines x 12 hours starting 2026-11-01 00:00 UTC, written like the Dagster IO manager
writes them (atomic, one parquet file per hourly partition under the warehouse).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from mfg_assets.features.schema import feature_columns, feature_schema
from mfg_assets.storage.files import LocalFileStore

MACHINES = ("M01", "M02", "M03")
T0 = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = 12
HOUR = timedelta(hours=1)


def feature_value(machine: str, hour_index: int, column: str) -> float | int | None:
    """Deterministic, hour- and machine-specific values with many significant digits."""
    m = MACHINES.index(machine) + 1 if machine in MACHINES else 9
    c = feature_columns().index(column)
    if feature_schema()[column] == pl.Int64:
        return 1000 * hour_index + 10 * m + c
    if column == "defect_rate" and (m + hour_index) % 4 == 0:
        return None  # no inspections that hour: the rate is missing, not zero
    return 100.0 * hour_index + 10.0 * m + c / 7.0 + 0.123456789


def partition_frame(
    hour_index: int,
    machines: tuple[str, ...] = MACHINES,
    value: Callable[[str, int, str], float | int | None] = feature_value,
) -> pl.DataFrame:
    hour = T0 + hour_index * HOUR
    rows = []
    for machine in machines:
        row = {"machine_id": machine, "hour": hour, "event_timestamp": hour + HOUR}
        row.update({c: value(machine, hour_index, c) for c in feature_columns()})
        rows.append(row)
    return pl.DataFrame(rows, schema=feature_schema())


def partition_key(hour_index: int) -> str:
    return (T0 + hour_index * HOUR).strftime("%Y-%m-%d-%H%M")


def write_partition(data_dir: Path, hour_index: int, frame: pl.DataFrame) -> Path:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=True)
    store = LocalFileStore(data_dir / "warehouse")
    return Path(
        store.write_bytes(
            f"machine_hourly_features/{partition_key(hour_index)}.parquet", buffer.getvalue()
        )
    )


@dataclass
class Plant:
    data_dir: Path

    def write(self, hour_index: int, frame: pl.DataFrame | None = None) -> Path:
        return write_partition(
            self.data_dir, hour_index, frame if frame is not None else partition_frame(hour_index)
        )

    def all_rows(self) -> pl.DataFrame:
        files = sorted((self.data_dir / "warehouse" / "machine_hourly_features").glob("*.parquet"))
        return (
            pl.concat([pl.read_parquet(f) for f in files])
            if files
            else pl.DataFrame(schema=feature_schema())
        )


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = (tmp_path / "data").resolve()
    monkeypatch.setenv("MFG_DATA_DIR", str(path))
    monkeypatch.setenv("MFG_FEAST_PROJECT", "mfg_test")
    for name in ("MFG_FEATURE_STORE", "FEAST_REGISTRY_URL", "FEAST_REDIS_CONNECTION"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def plant(data_dir: Path) -> Plant:
    plant = Plant(data_dir)
    for h in range(HOURS):
        plant.write(h)
    return plant


@pytest.fixture
def embedded_store(plant: Plant) -> Iterator[object]:
    from mfg_assets.feature_store.store import open_store

    yield open_store("embedded")
