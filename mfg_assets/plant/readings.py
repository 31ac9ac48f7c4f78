"""Long-format sensor rows as numpy arrays, and their polars frame (one machine-hour or many)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import polars as pl

from mfg_assets.plant.catalog import SENSOR_TYPES


def utc_from_us(us: np.ndarray, name: str) -> pl.Series:
    """Microseconds since the Unix epoch as a tz-aware UTC datetime series."""
    return pl.Series(name, us, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


@dataclass(frozen=True)
class ReadingRows:
    """Readings in long format: ``machine`` indexes the plant's machine names (unknown last)."""

    ts_us: np.ndarray  # int64, µs since the Unix epoch
    machine: np.ndarray  # int32
    sensor: np.ndarray  # int8, index into catalog.SENSOR_TYPES
    value: np.ndarray  # float64
    arrival_us: np.ndarray  # int64; equals ts_us unless the row arrives late

    def __len__(self) -> int:
        return len(self.ts_us)

    def take(self, index: np.ndarray) -> ReadingRows:
        """Rows at ``index`` (an integer index or boolean mask)."""
        return ReadingRows(*(getattr(self, f.name)[index] for f in fields(self)))

    @classmethod
    def concat(cls, parts: Sequence[ReadingRows]) -> ReadingRows:
        if not parts:
            return cls(
                np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, np.int8),
                np.empty(0), np.empty(0, np.int64),
            )  # fmt: skip
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def sorted_by(self, *keys: str) -> ReadingRows:
        """Rows ordered by the named columns, first key most significant (stable)."""
        order = np.lexsort([getattr(self, key) for key in reversed(keys)])
        return self.take(order)

    def to_frame(self, machine_names: Sequence[str]) -> pl.DataFrame:
        """The rows as ``ts, machine_id, sensor_type, value, arrival_ts``."""
        return pl.DataFrame(
            [
                utc_from_us(self.ts_us, "ts"),
                pl.Series("machine_id", machine_names, dtype=pl.String).gather(self.machine),
                pl.Series("sensor_type", SENSOR_TYPES, dtype=pl.String).gather(self.sensor),
                pl.Series("value", self.value, dtype=pl.Float64),
                utc_from_us(self.arrival_us, "arrival_ts"),
            ]
        )
