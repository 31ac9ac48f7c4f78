"""The Feast offline source: a daily mirror of the hourly feature partitions (no feast import).

Dagster writes ``machine_hourly_features`` as one parquet file per hourly partition
(``<warehouse>/machine_hourly_features/<YYYY-MM-DD-HHMM>.parquet``, replaced atomically on
re-materialization; the layout of :mod:`mfg_assets.storage.partitions`). Feast's file offline
store (dask) *can* read that directory directly — it lists the folder on every retrieval, so
new and rewritten files are picked up, and it skips the
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

The hourly partitions are listed and read through :mod:`mfg_assets.storage.partitions`: the local
warehouse in the embedded profile, the S3 bucket of ``MFG_STORAGE_URI=s3://…`` in production
(listing gives each object's size, ETag and last-modified, so the fingerprint check costs one
LIST per sync). The mirror itself always lives on local disk under ``MFG_DATA_DIR``, because
Feast's file offline store (dask) reads local paths: in production it is a cache, derived from
the bucket, that any process (a run pod, the feature server) rebuilds on first use.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl

from mfg_assets.feature_store.errors import FeatureStoreError, PartitionsNotFoundError
from mfg_assets.feature_store.names import JOIN_KEY, features_asset, offline_source_dir
from mfg_assets.features.schema import TIMESTAMP_COLUMN, TS_DTYPE, model_feature_schema
from mfg_assets.storage.files import FileStore, LocalFileStore
from mfg_assets.storage.partitions import (
    PartitionStore,
    StoredPartition,
    day_key,
    file_name,
    is_hour_key,
    key_of_file,
    warehouse_store,
)
from mfg_assets.storage.partitions import as_utc as utc

logger = logging.getLogger(__name__)

FINGERPRINT_KEY = "mfg_feature_store.source_fingerprint"
READ_THREADS = 8  # concurrent GETs when the partitions are in S3


@dataclass(frozen=True)
class SyncResult:
    """What a mirror sync did."""

    days_checked: int
    days_rebuilt: tuple[str, ...]
    days_removed: tuple[str, ...]
    seconds: float


@dataclass(frozen=True)
class PartitionSource:
    """Where the hourly feature partitions are: a warehouse's file store and the asset in it."""

    store: FileStore
    asset: str = field(default_factory=features_asset)

    @property
    def partitions(self) -> PartitionStore:
        return PartitionStore(self.store)

    @property
    def uri(self) -> str:
        return self.partitions.asset_uri(self.asset)

    def hours(self) -> list[StoredPartition]:
        """The stored hourly partitions (one directory walk, or one S3 LIST), by key."""
        return [p for p in self.partitions.list(self.asset) if is_hour_key(p.key)]

    def read(self, partition: StoredPartition) -> pl.DataFrame:
        return self.partitions.read_file(partition)

    def read_all(self, partitions: list[StoredPartition]) -> list[pl.DataFrame]:
        """The partitions' frames, in order; from S3 with up to ``READ_THREADS`` GETs in
        flight (one GET per hourly file: sequential requests would make a cold day cost 24
        round trips). boto3 clients are thread-safe."""
        if isinstance(self.store, LocalFileStore) or len(partitions) < 2:
            return [self.read(p) for p in partitions]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(partitions))) as pool:
            return list(pool.map(self.read, partitions))


def partition_source(source: Path | PartitionSource | None = None) -> PartitionSource:
    """``source``, a local folder of hourly files as a source, or the configured warehouse's
    (``MFG_STORAGE_URI``: S3 in production, else the local data directory)."""
    if isinstance(source, PartitionSource):
        return source
    if source is not None:
        return PartitionSource(LocalFileStore(Path(source).parent), Path(source).name)
    return PartitionSource(warehouse_store())


def as_utc(value: datetime) -> datetime:
    """A timezone-aware UTC datetime; naive values are taken to be UTC already."""
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    return utc(value)


def _missing(source: PartitionSource) -> PartitionsNotFoundError:
    return PartitionsNotFoundError(
        f"no machine_hourly_features partitions at {source.uri}: materialize the "
        "machine_hourly_features asset first (or point MFG_STORAGE_URI / MFG_DATA_DIR at the "
        "storage that holds warehouse/machine_hourly_features)"
    )


def _hours_by_day(source: PartitionSource) -> dict[str, list[StoredPartition]]:
    """The source's hourly partitions grouped by UTC day, or a clear error when the asset's
    folder is missing (S3 has no folders: no object under the prefix)."""
    hours = source.hours()
    if not hours and not source.partitions.holds(source.asset):
        raise _missing(source)
    days: dict[str, list[StoredPartition]] = {}
    for partition in hours:  # sorted by key: each day's hours in order
        days.setdefault(day_key(partition.hour), []).append(partition)
    return days


def _fingerprint(partitions: list[StoredPartition]) -> str:
    files = [p.file for p in partitions]
    digest = hashlib.sha256("\n".join(f"{f.name}:{f.size}:{f.version}" for f in files).encode())
    return digest.hexdigest()


def _stored_fingerprint(path: Path) -> str | None:
    try:
        return pl.read_parquet_metadata(path).get(FINGERPRINT_KEY)
    except Exception:  # unreadable or half-written by a foreign tool: rebuild it
        return None


def conform(frame: pl.DataFrame, *, origin: str) -> pl.DataFrame:
    """``frame`` with exactly the ``model_feature_schema()`` columns and dtypes, or a clear
    error."""
    schema = model_feature_schema()
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise FeatureStoreError(f"{origin} lacks feature columns {missing}")
    try:
        return frame.select([pl.col(c).cast(dtype) for c, dtype in schema.items()])
    except Exception as exc:  # polars raises InvalidOperationError / ComputeError
        raise FeatureStoreError(f"{origin} does not match the feature schema: {exc}") from exc


def _build_day(source: PartitionSource, files: list[StoredPartition]) -> pl.DataFrame:
    frames = [
        conform(frame, origin=f"partition {source.partitions.uri(source.asset, p.key)}")
        for p, frame in zip(files, source.read_all(files), strict=True)
    ]
    empty = pl.DataFrame(schema=model_feature_schema())
    day = pl.concat(frames, how="vertical") if frames else empty
    keyless = pl.col(JOIN_KEY).is_null() | pl.col(TIMESTAMP_COLUMN).is_null()
    if dropped := day.filter(keyless).height:
        # Feast can neither serve nor join such rows (and dask's sort fails on null timestamps)
        logger.warning(
            "skipping %d rows without machine_id/event_timestamp in %s",
            dropped,
            ", ".join(p.file.name for p in files),
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
    source: Path | PartitionSource | None = None,
    target: Path | None = None,
) -> SyncResult:
    """Bring the daily mirror up to date with the hourly partitions (all days, or ``days``).

    ``source`` defaults to the configured storage (local warehouse or S3, see
    :func:`partition_source`); ``target`` to the local mirror folder Feast reads.
    """
    started = time.perf_counter()
    source = partition_source(source)
    hourly = _hours_by_day(source)
    target = target or offline_source_dir()
    target.mkdir(parents=True, exist_ok=True)
    if days is None:
        existing = {
            key for p in target.iterdir() if (key := key_of_file(p.name)) and not is_hour_key(key)
        }
        wanted = set(hourly) | existing
    else:
        wanted = {day_key(d) if isinstance(d, date) else str(d) for d in days}
    rebuilt, removed = [], []
    for day in sorted(wanted):
        day_file = target / file_name(day)
        files = hourly.get(day, [])
        if not files:
            if day_file.exists():
                day_file.unlink(missing_ok=True)
                removed.append(day)
            continue
        fingerprint = _fingerprint(files)
        if day_file.exists() and _stored_fingerprint(day_file) == fingerprint:
            continue
        _write_atomic(_build_day(source, files), day_file, fingerprint)
        rebuilt.append(day)
    return SyncResult(len(wanted), tuple(rebuilt), tuple(removed), time.perf_counter() - started)


def days_covering(lo: datetime, hi: datetime) -> list[str]:
    """Mirror days that can hold rows with ``lo <= event_timestamp <= hi``.

    A row sits in the file of its partition day (``hour`` = ``event_timestamp`` - 1 h); one day
    of margin keeps this right at midnight.
    """
    first = (as_utc(lo) - timedelta(days=1)).date()
    last = as_utc(hi).date()
    return [day_key(first + timedelta(days=i)) for i in range((last - first).days + 1)]


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
    paths = [p for d in days if (p := target / file_name(d)).exists()]
    if not paths:
        return pl.DataFrame(schema=model_feature_schema())
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
