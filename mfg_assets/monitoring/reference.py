"""The reference a deployed model is monitored against: its champion's training window.

:func:`champion_reference` reads the champion's version and training window from the MLflow
registry (the ``training_window_start``/``training_window_end`` tags ``maintenance_model``
writes: the first and last label ``event_timestamp``, i.e. hour + 1 h). :func:`load_reference`
reads the window's hourly partitions through a reader the caller provides (the Dagster layer
passes the parquet IO manager's file store, so S3 works) and prepares the drift sample once
per champion version and drift configuration, cached as ``reference.parquet`` +
``reference.json`` in a :class:`~mfg_assets.storage.files.FileStore`.

Everything that makes a reference unusable raises :class:`ReferenceUnavailable` with the reason:
no champion yet, a champion without window tags, or none of the window's partitions stored.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from mfg_assets.monitoring.drift import (
    REFERENCE_FILE,
    REFERENCE_META_FILE,
    DriftConfig,
    DriftReference,
    default_drift_columns,
    prepare_reference,
)
from mfg_assets.storage.files import FileStore
from mfg_assets.storage.partitions import HOUR, PartitionReader, hour_keys

WINDOW_START_TAG = "training_window_start"
WINDOW_END_TAG = "training_window_end"


class ReferenceUnavailable(RuntimeError):
    """There is no usable reference; the message says why."""


@dataclass(frozen=True)
class ChampionReference:
    """The champion a report compares against: its version and its training hours."""

    model_name: str
    version: int
    start: datetime  # first hour of the training window
    end: datetime  # end of its last hour (exclusive)

    @property
    def reference_id(self) -> str:
        return f"{self.model_name} v{self.version}"

    @property
    def window(self) -> tuple[datetime, datetime]:
        return self.start, self.end


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip())
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def training_hours(
    tags: dict[str, str], label: str = "champion", label_times: bool = True
) -> tuple[datetime, datetime]:
    """``[first hour, end of last hour)`` from the training-window tags.

    ``label_times``: the tags are label event times (the end of each labelled hour, as the
    maintenance model records them); otherwise times inside the hours (inspection times)."""
    try:
        first, last = _parse_time(tags[WINDOW_START_TAG]), _parse_time(tags[WINDOW_END_TAG])
    except KeyError as exc:
        raise ReferenceUnavailable(f"{label} has no {exc.args[0]} tag") from None
    except ValueError as exc:
        raise ReferenceUnavailable(f"{label} has an unreadable training window ({exc})") from None
    if last < first:
        raise ReferenceUnavailable(f"{label} training window ends before it starts")
    if label_times:
        return first - HOUR, last
    floor = {"minute": 0, "second": 0, "microsecond": 0}
    return first.replace(**floor), last.replace(**floor) + HOUR


def champion_reference(
    model_name: str, registry: Any = None, label_times: bool = True
) -> ChampionReference:
    """The current champion of ``model_name`` and its training window (see
    :func:`training_hours` for ``label_times``)."""
    from mfg_assets.models.registry import CHAMPION, ModelRegistry

    registry = registry or ModelRegistry()
    version = registry.get_alias_version(model_name, CHAMPION)
    if version is None:
        raise ReferenceUnavailable(
            f"{model_name} has no champion yet: there is no training window to compare with"
        )
    tags = registry.version_info(model_name, version)["tags"]
    start, end = training_hours(tags, f"{model_name} v{version}", label_times)
    return ChampionReference(model_name, version, start, end)


def read_hours(read: PartitionReader, keys: Sequence[str]) -> tuple[pl.DataFrame | None, list[str]]:
    """The stored partitions of ``keys`` concatenated (None when none is stored) and the keys
    that are missing."""
    frames, missing = [], []
    for key in keys:
        frame = read(key)
        if frame is None:
            missing.append(key)
        else:
            frames.append(frame)
    return (pl.concat(frames, how="vertical_relaxed") if frames else None), missing


def cache_prefix(champion: ChampionReference, columns: Sequence[str], config: DriftConfig) -> str:
    """Where a champion's prepared reference is cached: per version, window and sampling."""
    recipe = {
        "window": [t.isoformat() for t in champion.window],
        "columns": list(columns),
        "rows": config.reference_sample_rows,
        "strata": config.sample_strata,
        "seed": config.seed,
    }
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    return f"drift_reference/{champion.model_name}/v{champion.version}-{digest}"


@dataclass(frozen=True)
class LoadedReference:
    """A prepared reference and how it was obtained (for the report's metadata)."""

    reference: DriftReference
    cache_hit: bool
    hours: int
    hours_missing: int
    cache_uri: str

    def as_metadata(self) -> dict[str, Any]:
        return {
            "reference_cache": "hit" if self.cache_hit else "prepared",
            "reference_hours": self.hours,
            "reference_hours_missing": self.hours_missing,
            "reference_cache_uri": self.cache_uri,
        }


def load_reference(
    champion: ChampionReference,
    read: PartitionReader,
    cache: FileStore,
    columns: Sequence[str] | None = None,
    config: DriftConfig | None = None,
    source: str = "machine_hourly_features",
) -> LoadedReference:
    """The champion's prepared reference: from ``cache``, or read, sampled and cached."""
    config = config or DriftConfig()
    columns = list(columns) if columns is not None else default_drift_columns()
    prefix = cache_prefix(champion, columns, config)
    meta_path, frame_path = f"{prefix}/{REFERENCE_META_FILE}", f"{prefix}/{REFERENCE_FILE}"
    if cache.exists(meta_path) and cache.exists(frame_path):
        meta = json.loads(cache.read_bytes(meta_path))
        frame = pl.read_parquet(io.BytesIO(cache.read_bytes(frame_path)))
        return LoadedReference(
            DriftReference.from_parts(frame, meta),
            cache_hit=True,
            hours=int(meta.get("hours", 0)),
            hours_missing=int(meta.get("hours_missing", 0)),
            cache_uri=cache.uri(prefix),
        )
    keys = hour_keys(champion.start, champion.end)
    frame, missing = read_hours(read, keys)
    if frame is None or frame.height == 0:
        raise ReferenceUnavailable(
            f"none of the {len(keys)} hourly {source} partitions of {champion.reference_id}'s "
            f"training window ({champion.start:%Y-%m-%d %H:%M} .. {champion.end:%Y-%m-%d %H:%M})"
            " is stored any more"
        )
    reference = prepare_reference(
        frame, columns, config, reference_id=champion.reference_id, window=champion.window
    )
    buffer = io.BytesIO()
    reference.frame.write_parquet(buffer)
    meta = {**reference.meta(), "hours": len(keys), "hours_missing": len(missing)}
    cache.write_bytes(frame_path, buffer.getvalue())
    cache.write_bytes(meta_path, json.dumps(meta, indent=2).encode())  # last: marks it complete
    return LoadedReference(reference, False, len(keys), len(missing), cache.uri(prefix))
