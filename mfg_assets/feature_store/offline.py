"""The Feast offline source: a daily mirror of the hourly feature partitions (no feast import).

Dagster writes ``machine_hourly_features`` as one parquet file per hourly partition
(``<warehouse>/machine_hourly_features/<YYYY-MM-DD-HHMM>.parquet``, replaced atomically on
re-materialization). Feast's file offline store (dask) *can* read that directory directly — it
lists the folder on every retrieval, so new and rewritten files are picked up, and it skips the
IO manager's ``.``-prefixed temporary files — but dask turns every file into a partition and pays
~45 ms per partition per retrieval: with 30 days of history (720 files) a one-hour
``materialize`` took 7 s and any ``get_historical_features`` at least 34 s, growing with every
hour the plant runs.

So the ``FileSource`` points at this mirror instead: one parquet file per UTC day
(``<data>/feature_store/offline/machine_hourly_features/<YYYY-MM-DD>.parquet``), rebuilt from the
day's hourly files whenever they changed. Each day file records a fingerprint of the hourly
files it was built from (name, size, mtime, inode) in its parquet metadata, so a check costs a
directory listing plus one footer read per day, and the file and its fingerprint are replaced
together atomically. Rows are de-duplicated on ``(machine_id, event_timestamp)`` (last file
wins), so rewriting a partition with the same data changes nothing Feast reads. Every Feast
read in this package (materialize, historical retrieval, consistency) syncs the days it touches
first; ``sync_offline_store()`` syncs everything (the "Feast offline store" step).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from mfg_assets.feature_store.errors import FeatureStoreError, PartitionsNotFoundError
from mfg_assets.feature_store.names import JOIN_KEY, offline_source_dir, partitions_dir
from mfg_assets.features.schema import TIMESTAMP_COLUMN, TS_DTYPE, feature_schema

logger = logging.getLogger(__name__)

FINGERPRINT_KEY = "mfg_feature_store.source_fingerprint"
_HOURLY_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-\d{4}\.parquet$")
_DAY_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})\.parquet$")


@dataclass(frozen=True)
class SyncResult:
    """What a mirror sync did."""

    days_checked: int
    days_rebuilt: tuple[str, ...]
    days_removed: tuple[str, ...]
    seconds: float


@dataclass(frozen=True)
class _HourlyFile:
    path: Path
    size: int
    mtime_ns: int
    inode: int

    def token(self) -> str:
        return f"{self.path.name}:{self.size}:{self.mtime_ns}:{self.inode}"


def as_utc(value: datetime) -> datetime:
    """A timezone-aware UTC datetime; naive values are taken to be UTC already."""
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def require_partitions(source: Path | None = None) -> Path:
    """The hourly partitions folder, or a clear error naming where it was expected."""
    source = source or partitions_dir()
    if not source.is_dir():
        raise PartitionsNotFoundError(
            f"no machine_hourly_features partitions at {source}: materialize the "
            "machine_hourly_features asset first (or point MFG_DATA_DIR at the data directory "
            "that holds warehouse/machine_hourly_features)"
        )
    return source


def _hourly_files_by_day(source: Path) -> dict[str, list[_HourlyFile]]:
    days: dict[str, list[_HourlyFile]] = {}
    with os.scandir(source) as entries:
        for entry in entries:
            match = _HOURLY_NAME.match(entry.name)
            if not match or not entry.is_file():
                continue  # temporary ".name.tmp" files of atomic writes, foreign files
            st = entry.stat()
            days.setdefault(match.group(1), []).append(
                _HourlyFile(Path(entry.path), st.st_size, st.st_mtime_ns, st.st_ino)
            )
    for files in days.values():
        files.sort(key=lambda f: f.path.name)
    return days


def _fingerprint(files: list[_HourlyFile]) -> str:
    digest = hashlib.sha256("\n".join(f.token() for f in files).encode())
    return digest.hexdigest()


def _stored_fingerprint(path: Path) -> str | None:
    try:
        return pl.read_parquet_metadata(path).get(FINGERPRINT_KEY)
    except Exception:  # unreadable or half-written by a foreign tool: rebuild it
        return None


def conform(frame: pl.DataFrame, *, origin: str) -> pl.DataFrame:
    """``frame`` with exactly the ``feature_schema()`` columns and dtypes, or a clear error."""
    schema = feature_schema()
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise FeatureStoreError(f"{origin} lacks feature columns {missing}")
    try:
        return frame.select([pl.col(c).cast(dtype) for c, dtype in schema.items()])
    except Exception as exc:  # polars raises InvalidOperationError / ComputeError
        raise FeatureStoreError(f"{origin} does not match the feature schema: {exc}") from exc


def _build_day(files: list[_HourlyFile]) -> pl.DataFrame:
    frames = [conform(pl.read_parquet(f.path), origin=f"partition {f.path}") for f in files]
    day = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=feature_schema())
    keyless = pl.col(JOIN_KEY).is_null() | pl.col(TIMESTAMP_COLUMN).is_null()
    if dropped := day.filter(keyless).height:
        # Feast can neither serve nor join such rows (and dask's sort fails on null timestamps)
        logger.warning(
            "skipping %d rows without machine_id/event_timestamp in %s",
            dropped,
            ", ".join(f.path.name for f in files),
        )
        day = day.filter(~keyless)
    return day.unique(subset=[JOIN_KEY, TIMESTAMP_COLUMN], keep="last", maintain_order=True).sort(
        [TIMESTAMP_COLUMN, JOIN_KEY]
    )


def _write_atomic(frame: pl.DataFrame, path: Path, fingerprint: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        frame.write_parquet(tmp, compression="zstd", metadata={FINGERPRINT_KEY: fingerprint})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sync_offline_store(
    days: Iterable[str | date] | None = None,
    *,
    source: Path | None = None,
    target: Path | None = None,
) -> SyncResult:
    """Bring the daily mirror up to date with the hourly partitions (all days, or ``days``)."""
    started = time.perf_counter()
    source = require_partitions(source)
    target = target or offline_source_dir()
    target.mkdir(parents=True, exist_ok=True)
    hourly = _hourly_files_by_day(source)
    if days is None:
        existing = {m.group(1) for p in target.iterdir() if (m := _DAY_NAME.match(p.name))}
        wanted = set(hourly) | existing
    else:
        wanted = {d.isoformat() if isinstance(d, date) else str(d) for d in days}
    rebuilt, removed = [], []
    for day in sorted(wanted):
        day_file = target / f"{day}.parquet"
        files = hourly.get(day, [])
        if not files:
            if day_file.exists():
                day_file.unlink(missing_ok=True)
                removed.append(day)
            continue
        fingerprint = _fingerprint(files)
        if day_file.exists() and _stored_fingerprint(day_file) == fingerprint:
            continue
        _write_atomic(_build_day(files), day_file, fingerprint)
        rebuilt.append(day)
    return SyncResult(len(wanted), tuple(rebuilt), tuple(removed), time.perf_counter() - started)


def days_covering(lo: datetime, hi: datetime) -> list[str]:
    """Mirror days that can hold rows with ``lo <= event_timestamp <= hi``.

    A row sits in the file of its partition day (``hour`` = ``event_timestamp`` - 1 h); one day
    of margin keeps this right at midnight.
    """
    first = (as_utc(lo) - timedelta(days=1)).date()
    last = as_utc(hi).date()
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def read_offline(
    lo: datetime,
    hi: datetime,
    *,
    include_lo: bool = True,
    sync: bool = True,
) -> pl.DataFrame:
    """Offline rows (as Feast reads them) with ``event_timestamp`` between ``lo`` and ``hi``.

    ``hi`` is inclusive; ``lo`` inclusive unless ``include_lo=False``. Syncs those days first.
    """
    lo, hi = as_utc(lo), as_utc(hi)
    days = days_covering(lo, hi)
    if sync:
        sync_offline_store(days)
    target = offline_source_dir()
    paths = [p for d in days if (p := target / f"{d}.parquet").exists()]
    if not paths:
        return pl.DataFrame(schema=feature_schema())
    ts = pl.col(TIMESTAMP_COLUMN)
    lower = ts >= pl.lit(lo, dtype=TS_DTYPE) if include_lo else ts > pl.lit(lo, dtype=TS_DTYPE)
    return (
        pl.scan_parquet(paths)
        .filter(lower & (ts <= pl.lit(hi, dtype=TS_DTYPE)))
        .collect()
        .sort([TIMESTAMP_COLUMN, JOIN_KEY])
    )


def partition_window_rows(start: datetime, end: datetime, *, sync: bool = True) -> pl.DataFrame:
    """Rows of the partitions ``start <= hour < end``: ``start < event_timestamp <= end``."""
    return read_offline(start, end, include_lo=False, sync=sync)


def latest_per_machine(
    frame: pl.DataFrame, *, at_or_before: datetime | None = None
) -> pl.DataFrame:
    """Each machine's newest row (greatest ``event_timestamp``), optionally not after a time."""
    if at_or_before is not None:
        frame = frame.filter(
            pl.col(TIMESTAMP_COLUMN) <= pl.lit(as_utc(at_or_before), dtype=TS_DTYPE)
        )
    return (
        frame.sort([JOIN_KEY, TIMESTAMP_COLUMN])
        .group_by(JOIN_KEY, maintain_order=True)
        .last()
        .select(frame.columns)
    )
