"""The partition-storage contract: partition keys, file names, the warehouse root, and reading,
listing and writing an asset's partitions (no Dagster).

* **Keys.** An hourly partition is keyed by the start of its hour in UTC, ``YYYY-MM-DD-HH:MM``
  (Dagster's ``HourlyPartitionsDefinition`` keys); a daily one by ``YYYY-MM-DD``. Only this
  module formats or parses them: :func:`hour_key`, :func:`parse_hour_key`, :func:`hour_keys`,
  :func:`day_key`, :func:`hour_key_expr` (the same for a polars column).
* **Files.** One parquet file per partition, ``<asset>/<key without ':'>.parquet`` (an hour:
  ``machine_hourly_features/2026-11-02-1000.parquet``; an unpartitioned asset: ``data.parquet``),
  written atomically (see :mod:`.files`). :func:`partition_file` and :func:`key_of_file` map
  between the two.
* **Root.** The warehouse is ``<storage>/warehouse`` (:func:`warehouse_uri`): the local data
  directory in the embedded profile, ``s3://bucket/prefix/warehouse`` with
  ``MFG_STORAGE_URI=s3://bucket/prefix``.
* **Access.** :class:`PartitionStore` reads, lists and writes partitions over any
  :class:`~mfg_assets.storage.files.FileStore`; :func:`warehouse_partitions` is the configured
  warehouse's. The parquet IO manager, the monitoring readers and the Feast mirror all go
  through it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from mfg_assets.storage.files import (
    FileEntry,
    FileStore,
    LocalFileStore,
    file_store_from_uri,
    is_s3_uri,
    join_uri,
)
from mfg_assets.storage.location import storage_uri

HOUR_KEY_FORMAT = "%Y-%m-%d-%H:%M"
DAY_KEY_FORMAT = "%Y-%m-%d"
HOUR = timedelta(hours=1)
WAREHOUSE_AREA = "warehouse"
SUFFIX = ".parquet"
UNPARTITIONED = "data"  # file stem of an asset without partitions

_HOUR_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})-(\d{2})(\d{2})\.parquet$")
_DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.parquet$")

PartitionReader = Callable[[str], pl.DataFrame | None]


# --- keys ---------------------------------------------------------------------------------


def as_utc(at: datetime) -> datetime:
    """``at`` in UTC; a naive datetime is taken to be UTC already."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def floor_hour(at: datetime) -> datetime:
    """Start of the UTC hour holding ``at``."""
    return as_utc(at).replace(minute=0, second=0, microsecond=0)


def first_hour(at: datetime) -> datetime:
    """The first whole hour at or after ``at`` (where hourly partitions starting at ``at``
    begin: Dagster's first key of ``start_date=10:30`` is ``11:00``)."""
    floor = floor_hour(at)
    return floor if floor == as_utc(at) else floor + HOUR


def hour_key(at: datetime) -> str:
    """Key of the hourly partition holding ``at`` (``2026-11-02 10:17`` → ``2026-11-02-10:00``)."""
    return floor_hour(at).strftime(HOUR_KEY_FORMAT)


def parse_hour_key(key: str) -> datetime:
    """Start of the hour an hourly key names, UTC; a clear ``ValueError`` otherwise."""
    try:
        return datetime.strptime(key, HOUR_KEY_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        raise ValueError(f"{key!r} is not an hourly partition key (YYYY-MM-DD-HH:MM)") from None


def is_hour_key(key: str) -> bool:
    try:
        parse_hour_key(key)
    except ValueError:
        return False
    return True


def hour_keys(start: datetime, end: datetime) -> list[str]:
    """Keys of the hours in ``[start, end)``, the hour holding ``start`` first."""
    keys, at, end = [], floor_hour(start), as_utc(end)
    while at < end:
        keys.append(at.strftime(HOUR_KEY_FORMAT))
        at += HOUR
    return keys


def day_key(at: datetime | date) -> str:
    """Key of the daily partition holding ``at`` (a datetime is taken in UTC)."""
    day = as_utc(at).date() if isinstance(at, datetime) else at
    return day.strftime(DAY_KEY_FORMAT)


def parse_day_key(key: str) -> datetime:
    """Start (UTC midnight) of the day a daily key names."""
    try:
        return datetime.strptime(key, DAY_KEY_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        raise ValueError(f"{key!r} is not a daily partition key (YYYY-MM-DD)") from None


def hour_key_expr(column: str | pl.Expr) -> pl.Expr:
    """:func:`hour_key` of a datetime column, as a polars expression."""
    col = pl.col(column) if isinstance(column, str) else column
    return col.dt.truncate("1h").dt.strftime(HOUR_KEY_FORMAT)


# --- files --------------------------------------------------------------------------------


def _asset_path(asset: str | Sequence[str]) -> list[str]:
    parts = asset.split("/") if isinstance(asset, str) else list(asset)
    if not parts or any(not p or p in (".", "..") for p in parts):
        raise ValueError(f"not an asset path: {asset!r}")
    return parts


def file_stem(partition_key: str | None) -> str:
    """A partition's name in file names (``2026-11-02-10:00`` → ``2026-11-02-1000``; ``None``,
    an unpartitioned asset: ``data``)."""
    return UNPARTITIONED if partition_key is None else partition_key.replace(":", "")


def file_name(partition_key: str | None) -> str:
    """File name of a partition: its :func:`file_stem` + ``.parquet``."""
    return f"{file_stem(partition_key)}{SUFFIX}"


def partition_file(asset: str | Sequence[str], partition_key: str | None) -> str:
    """Path of a partition's file relative to the warehouse: ``<asset path>/<file name>``."""
    return "/".join([*_asset_path(asset), file_name(partition_key)])


def key_of_file(name: str) -> str | None:
    """The partition key a file name stands for (an hour or a day), or None for anything
    else (temporary files of atomic writes, foreign files, ``data.parquet``)."""
    if match := _HOUR_FILE.match(name):
        day, hour, minute = match.groups()
        return f"{day}-{hour}:{minute}"
    if match := _DAY_FILE.match(name):
        return match.group(1)
    return None


# --- root ---------------------------------------------------------------------------------


def warehouse_uri() -> str:
    """Root of the partition files: ``<storage>/warehouse`` (a local path or ``s3://…``)."""
    return join_uri(storage_uri(), WAREHOUSE_AREA)


def local_asset_dir(asset: str | Sequence[str]) -> Path:
    """The local folder of an asset's partitions; a clear error when the warehouse is in S3."""
    root = warehouse_uri()
    if is_s3_uri(root):
        raise ValueError(f"the warehouse is {root} (MFG_STORAGE_URI), not a local folder")
    return Path(root, *_asset_path(asset))


def warehouse_store() -> FileStore:
    """The warehouse as a file store (local directory, or the bucket through the ``AWS_*``
    settings)."""
    return file_store_from_uri(warehouse_uri())


# --- access -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredPartition:
    """One partition file found in the store: its key and the file (size and version)."""

    key: str
    file: FileEntry

    @property
    def hour(self) -> datetime | None:
        """Start of its hour for an hourly partition, else None."""
        return parse_hour_key(self.key) if is_hour_key(self.key) else None


class PartitionStore:
    """The partitions of assets in one warehouse, over a :class:`FileStore` (local or S3)."""

    def __init__(self, files: FileStore) -> None:
        self.files = files

    def uri(self, asset: str | Sequence[str], partition_key: str | None = None) -> str:
        return self.files.uri(partition_file(asset, partition_key))

    def asset_uri(self, asset: str | Sequence[str]) -> str:
        return self.files.uri("/".join(_asset_path(asset)))

    def exists(self, asset: str | Sequence[str], partition_key: str | None) -> bool:
        return self.files.exists(partition_file(asset, partition_key))

    def write(
        self, asset: str | Sequence[str], partition_key: str | None, frame: pl.DataFrame
    ) -> str:
        """Store one partition (replacing it atomically); returns its URI."""
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", statistics=True)
        return self.files.write_bytes(partition_file(asset, partition_key), buffer.getvalue())

    def read(self, asset: str | Sequence[str], partition_key: str | None) -> pl.DataFrame | None:
        """One partition, or None when it is not stored."""
        path = partition_file(asset, partition_key)
        if not self.files.exists(path):
            return None
        return pl.read_parquet(io.BytesIO(self.files.read_bytes(path)))

    def read_many(
        self, asset: str | Sequence[str], partition_keys: Sequence[str | None]
    ) -> tuple[list[pl.DataFrame], list[str | None]]:
        """The stored partitions of ``partition_keys`` in order, and the keys not stored."""
        frames, missing = [], []
        for key in partition_keys:
            frame = self.read(asset, key)
            if frame is None:
                missing.append(key)
            else:
                frames.append(frame)
        return frames, missing

    def read_file(self, stored: StoredPartition) -> pl.DataFrame:
        """A listed partition's frame (no existence check: it was just listed)."""
        return pl.read_parquet(io.BytesIO(self.files.read_bytes(stored.file.relpath)))

    def reader(self, asset: str | Sequence[str]) -> PartitionReader:
        """``read`` for one asset: partition key → frame, or None when not stored."""
        return lambda key: self.read(asset, key)

    def holds(self, asset: str | Sequence[str]) -> bool:
        """Whether the asset has a folder here (S3 has no folders: any object under it)."""
        folder = "/".join(_asset_path(asset))
        if isinstance(self.files, LocalFileStore):
            return (self.files.root / folder).is_dir()
        return bool(self.files.list_entries(folder))

    def list(self, asset: str | Sequence[str]) -> list[StoredPartition]:
        """The asset's stored hourly and daily partitions, by key (one directory walk or one
        S3 listing; temporary files, foreign files and subfolders are left out)."""
        folder = "/".join(_asset_path(asset))
        found = []
        for entry in self.files.list_entries(folder):
            key = key_of_file(entry.name)
            if key is not None and entry.relpath == f"{folder}/{entry.name}":
                found.append(StoredPartition(key, entry))
        return sorted(found, key=lambda p: p.key)


def partition_store(uri: str | None = None, s3: Any = None) -> PartitionStore:
    """The partitions under ``uri`` (default: the configured warehouse, :func:`warehouse_uri`);
    ``s3`` as for :func:`~mfg_assets.storage.files.file_store_from_uri`."""
    return PartitionStore(file_store_from_uri(uri or warehouse_uri(), s3))


def warehouse_partitions() -> PartitionStore:
    """The configured warehouse's partitions."""
    return PartitionStore(warehouse_store())
