"""Open the plant's Feast store, apply definitions, materialize windows, read training frames.

Public API (what the Dagster assets and the BentoML service call)::

    store = open_store(profile=None, apply=True)       # FeatureStore, definitions applied
    apply_definitions(store, force=False) -> bool      # True when the registry changed
    materialize_window(store, start, end) -> MaterializeResult
    write_online(store, frame) -> int                  # rows pushed straight to the online store
    training_frame(store, entity_rows, features=None, engine="feast") -> pl.DataFrame
    online_features(store, machine_ids) -> pl.DataFrame   (see .online)

Windows are in partition terms: ``materialize_window(store, start, end)`` loads the hourly
partitions with ``start <= hour < end`` — their rows carry ``event_timestamp`` = hour end, so the
window is ``start < event_timestamp <= end``. Feast's file store filters materialization with
*both* ends inclusive, so the call made is ``materialize(start + 1 µs, end)``.

Concurrency: Feast's file registry is rewritten in place (truncate + write) on apply and
several times per materialize; registry writes here hold an exclusive ``flock`` on
``<registry>.lock`` and re-read the registry inside it, reads hold a shared lock (no-op for a
SQL registry).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from mfg_assets.feature_store.config import store_config
from mfg_assets.feature_store.definitions import FeastDefinitions, build_definitions
from mfg_assets.feature_store.errors import FeatureStoreError, InvalidEntityRowsError
from mfg_assets.feature_store.names import (
    FEATURE_SERVICE_NAME,
    FEATURE_TTL,
    JOIN_KEY,
    TIMESTAMP_FIELD,
    feature_view_name,
    offline_source_dir,
)
from mfg_assets.feature_store.offline import (
    as_utc,
    days_covering,
    latest_per_machine,
    partition_window_rows,
    read_offline,
    sync_offline_store,
)
from mfg_assets.feature_store.online import forget_reader, reader_for
from mfg_assets.features.schema import TS_DTYPE, model_feature_columns, model_feature_schema

if TYPE_CHECKING:
    from feast import FeatureStore, RepoConfig

ONE_MICROSECOND = timedelta(microseconds=1)
DEFAULT_CHUNK_ROWS = 5000


# --------------------------------------------------------------------------- store + registry


@contextmanager
def registry_lock(config: RepoConfig, *, exclusive: bool) -> Iterator[None]:
    """Serialize writers of a local file registry across processes (shared lock for readers)."""
    registry = config.registry
    path = str(getattr(registry, "path", registry) or "")
    if getattr(registry, "registry_type", "file") != "file" or not path or "://" in path:
        yield
        return
    lock_path = Path(path).with_name(Path(path).name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _quiet_dask() -> Iterator[None]:
    with warnings.catch_warnings():
        # dask's shuffle warns about pandas' fillna downcasting on every sort Feast makes
        warnings.simplefilter("ignore", FutureWarning)
        yield


def open_store(profile: str | None = None, *, apply: bool = True) -> FeatureStore:
    """A Feast ``FeatureStore`` for ``profile`` (default ``MFG_FEATURE_STORE`` / embedded).

    With ``apply=True`` the plant's definitions are applied when the registry lacks them or
    holds different ones (cheap check; nothing is written when they match).
    """
    from feast import FeatureStore

    config = store_config(profile)
    offline_source_dir().mkdir(parents=True, exist_ok=True)
    with registry_lock(config, exclusive=False):
        store = FeatureStore(config=config)
    if apply:
        apply_definitions(store)
    return store


def _strip_source_meta(message: Any) -> None:
    """Clear ``DataSource.meta`` (creation/update timestamps set when the object is built)."""
    if message.DESCRIPTOR.full_name == "feast.core.DataSource" and message.HasField("meta"):
        message.ClearField("meta")
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        if descriptor.is_repeated:
            if descriptor.message_type.GetOptions().map_entry:
                continue
            for item in value:
                _strip_source_meta(item)
        else:
            _strip_source_meta(value)


def _spec(obj: Any) -> Any:
    """The object's spec without volatile metadata, for "is the registry up to date?"."""
    spec = obj.to_proto().spec
    _strip_source_meta(spec)
    return spec


def _registry_matches(store: FeatureStore, defs: FeastDefinitions) -> bool:
    try:
        return (
            _spec(store.get_entity(defs.entity.name)) == _spec(defs.entity)
            and _spec(store.get_feature_view(defs.feature_view.name)) == _spec(defs.feature_view)
            and _spec(store.get_feature_service(defs.feature_service.name))
            == _spec(defs.feature_service)
        )
    except Exception:  # not registered yet (Feast raises a *NotFoundException per kind)
        return False


def apply_definitions(store: FeatureStore, *, force: bool = False) -> bool:
    """Apply entity, source, view and service unless the registry already holds them.

    Returns ``True`` when something was applied. Applying also creates the online store's
    tables (SQLite/Postgres). ``feast apply`` resets ``materialize_incremental`` bookkeeping;
    this package never uses incremental materialization, so re-applying loses nothing.
    """
    defs = build_definitions()
    offline_source_dir().mkdir(parents=True, exist_ok=True)
    with registry_lock(store.config, exclusive=True):
        store.refresh_registry()
        if not force and _registry_matches(store, defs):
            return False
        store.apply(defs.objects())
    forget_reader(store)
    return True


# --------------------------------------------------------------------------- materialization


@dataclass(frozen=True)
class MaterializeResult:
    """What ``materialize_window`` loaded into the online store.

    ``rows_written`` counts online rows: Feast keeps one row per machine, so a window writes
    each machine's latest row in it (``entities``). ``source_rows`` counts the offline rows the
    window covers (all its hours). ``kept_newer`` lists machines whose online row was already
    newer than the window (e.g. a backfill of old hours) and was left in place.
    """

    start: datetime
    end: datetime
    rows_written: int
    entities: tuple[str, ...]
    source_rows: int
    latest_event_timestamp: datetime | None
    kept_newer: tuple[str, ...] = ()
    seconds: float = 0.0
    source_days_rebuilt: tuple[str, ...] = field(default=())

    def to_metadata(self) -> dict[str, Any]:
        """Plain values for Dagster output metadata."""
        return {
            "window_start": self.start.isoformat(),
            "window_end": self.end.isoformat(),
            "online_rows_written": self.rows_written,
            "machines": len(self.entities),
            "source_rows": self.source_rows,
            "latest_event_timestamp": (
                self.latest_event_timestamp.isoformat() if self.latest_event_timestamp else None
            ),
            "kept_newer_online_rows": len(self.kept_newer),
            "seconds": round(self.seconds, 3),
        }


def _rows_frame(rows: dict[str, tuple[datetime, tuple[Any, ...]]]) -> pl.DataFrame:
    """Online rows (as fetched by the reader) as a ``write_online`` frame."""
    schema = model_feature_schema()
    return pl.DataFrame(
        [(m, ts, *values) for m, (ts, values) in rows.items()],
        schema={
            JOIN_KEY: pl.String(),
            TIMESTAMP_FIELD: TS_DTYPE,
            **{n: schema[n] for n in model_feature_columns()},
        },
        orient="row",
    )


def materialize_window(store: FeatureStore, start: datetime, end: datetime) -> MaterializeResult:
    """Load the hourly partitions ``start <= hour < end`` into the online store.

    Idempotent: re-running a window writes the same rows again (same values, same row count);
    the online store keeps one row per machine. An online row newer than the window is kept
    (SQLite/Postgres overwrite unconditionally, so it is written back; Redis skips older writes
    itself). A window without rows writes nothing and returns ``rows_written=0``; a missing
    partitions folder raises :class:`PartitionsNotFoundError`.
    """
    started = time.perf_counter()
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise ValueError(
            f"empty or reversed window: start={start.isoformat()} end={end.isoformat()}"
        )
    sync = sync_offline_store(days_covering(start, end))  # no partitions: a clear error
    window = partition_window_rows(start, end, sync=False)
    if window.is_empty():
        return MaterializeResult(
            start,
            end,
            0,
            (),
            0,
            None,
            seconds=time.perf_counter() - started,
            source_days_rebuilt=sync.days_rebuilt,
        )
    latest = latest_per_machine(window)
    latest_ts = dict(
        zip(latest[JOIN_KEY].to_list(), latest[TIMESTAMP_FIELD].to_list(), strict=True)
    )
    reader = reader_for(store)
    # one lock around read-newer / materialize / write-back: a concurrent materialization of a
    # newer window cannot slip in between and be overwritten by this (older) one
    with registry_lock(store.config, exclusive=True), _quiet_dask():
        current = reader.fetch(list(latest_ts))
        newer = {m: r for m, r in current.items() if r is not None and r[0] > latest_ts[m]}
        store.refresh_registry()
        store.materialize(
            start_date=start + ONE_MICROSECOND, end_date=end, feature_views=[feature_view_name()]
        )
        if newer:
            _push_online(store, _online_frame(_rows_frame(newer)))
    written = tuple(m for m in latest_ts if m not in newer)
    return MaterializeResult(
        start=start,
        end=end,
        rows_written=len(written),
        entities=written,
        source_rows=window.height,
        latest_event_timestamp=max(latest_ts.values()),
        kept_newer=tuple(sorted(newer)),
        seconds=time.perf_counter() - started,
        source_days_rebuilt=sync.days_rebuilt,
    )


def _online_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` reduced to key, timestamp and features in schema dtypes; rejects empty rows."""
    features = model_feature_columns()
    missing = [c for c in (JOIN_KEY, TIMESTAMP_FIELD, *features) if c not in frame.columns]
    if missing:
        raise ValueError(f"write_online needs columns {missing}")
    schema = model_feature_schema()
    frame = frame.select(
        pl.col(JOIN_KEY).cast(pl.String),
        pl.col(TIMESTAMP_FIELD).cast(TS_DTYPE),
        *[pl.col(c).cast(schema[c]) for c in features],
    )
    no_value = pl.all_horizontal(
        [
            pl.col(c).is_null() | pl.col(c).is_nan()
            if schema[c] == pl.Float64
            else pl.col(c).is_null()
            for c in features
        ]
    )
    empty_rows = frame.filter(
        no_value | pl.col(JOIN_KEY).is_null() | pl.col(TIMESTAMP_FIELD).is_null()
    )
    if not empty_rows.is_empty():
        raise ValueError(
            "rows without a machine id, timestamp or any feature value cannot be written "
            f"(machines {empty_rows[JOIN_KEY].to_list()[:10]})"
        )
    return frame


def _push_online(store: FeatureStore, frame: pl.DataFrame) -> None:
    # arrow-backed pandas keeps Int64 features with nulls as integers (numpy would make floats)
    store.write_to_online_store(
        feature_view_name(), df=frame.to_pandas(use_pyarrow_extension_array=True)
    )


def write_online(store: FeatureStore, frame: pl.DataFrame) -> int:
    """Push rows (``machine_id``, ``event_timestamp``, every feature) to the online store.

    Goes through Feast's ``write_to_online_store``. Feast silently ignores an empty frame and a
    frame whose features are all null; here an empty frame returns 0 and a row without any
    feature value is an error. SQLite/Postgres overwrite regardless of timestamps; Redis skips
    rows not newer than the stored one.
    """
    frame = _online_frame(frame)
    if frame.is_empty():
        return 0
    with registry_lock(store.config, exclusive=False):
        _push_online(store, frame)
    return frame.height


# --------------------------------------------------------------------------- historical features


def _entity_frame(entity_rows: Any) -> pl.DataFrame:
    if isinstance(entity_rows, pl.DataFrame):
        frame = entity_rows
    elif type(entity_rows).__module__.startswith("pandas"):
        frame = pl.from_pandas(entity_rows)
    else:
        raise TypeError(
            f"entity_rows must be a polars or pandas DataFrame, got {type(entity_rows)}"
        )
    missing = [c for c in (JOIN_KEY, TIMESTAMP_FIELD) if c not in frame.columns]
    if missing:
        raise InvalidEntityRowsError(
            f"entity rows need columns {missing} (have {frame.columns}); event_timestamp is the "
            "label time: features known at or before it are joined"
        )
    ts_dtype = frame.schema[TIMESTAMP_FIELD]
    if not isinstance(ts_dtype, pl.Datetime):
        raise InvalidEntityRowsError(f"{TIMESTAMP_FIELD} must be a datetime column, got {ts_dtype}")
    ts = pl.col(TIMESTAMP_FIELD)
    ts = (
        ts.dt.replace_time_zone("UTC")
        if ts_dtype.time_zone is None
        else ts.dt.convert_time_zone("UTC")
    )
    frame = frame.with_columns(pl.col(JOIN_KEY).cast(pl.String), ts.cast(TS_DTYPE))
    nulls = frame.filter(pl.col(JOIN_KEY).is_null() | pl.col(TIMESTAMP_FIELD).is_null()).height
    if nulls:
        raise InvalidEntityRowsError(
            f"{nulls} entity rows have a null machine_id or event_timestamp"
        )
    return frame


def _feature_names(features: Sequence[str] | None) -> list[str]:
    if features is None:
        return model_feature_columns()
    known = model_feature_columns()
    names = [f.split(":", 1)[1] if ":" in f else f for f in features]
    views = {f.split(":", 1)[0] for f in features if ":" in f}
    unknown = [n for n in names if n not in known] + sorted(views - {feature_view_name()})
    if unknown:
        raise ValueError(f"unknown features {unknown}; choose from model_feature_columns()")
    wanted = set(names)
    return [n for n in known if n in wanted]


def _null_features(keys: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    schema = model_feature_schema()
    return keys.with_columns([pl.lit(None, dtype=schema[n]).alias(n) for n in names])


def _conform_features(frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    schema = model_feature_schema()
    return frame.select(
        pl.col(JOIN_KEY).cast(pl.String),
        pl.col(TIMESTAMP_FIELD).cast(TS_DTYPE),
        *[pl.col(n).cast(schema[n]) for n in names],
    ).unique(subset=[JOIN_KEY, TIMESTAMP_FIELD], keep="first", maintain_order=True)


def _scratch_store(store: FeatureStore, folder: Path, source: Path) -> FeatureStore:
    """A private Feast store (own registry, unused SQLite online store) whose definitions are the
    plant's, except that the file source reads ``source``; offline config taken from ``store``."""
    from feast import FeatureStore, RepoConfig

    config = RepoConfig(
        project=store.project,
        provider="local",
        registry={
            "registry_type": "file",
            "path": str(folder / "registry.db"),
            "cache_ttl_seconds": 0,
        },
        online_store={"type": "sqlite", "path": str(folder / "online.db")},
        offline_store=store.config.offline_store,
        entity_key_serialization_version=store.config.entity_key_serialization_version,
    )
    scratch = FeatureStore(config=config)
    scratch.apply(build_definitions(source_path=source).objects())
    return scratch


def _link_source_files(source: Path, files: list[Path]) -> None:
    """Make ``source`` hold exactly ``files`` (hard links: a snapshot, even if the mirror file
    is replaced meanwhile; copies where the filesystem cannot link)."""
    for old in source.iterdir():
        old.unlink()
    for path in files:
        try:
            os.link(path, source / path.name)
        except OSError:
            shutil.copy2(path, source / path.name)


def _feast_point_in_time(
    store: FeatureStore, keys: pl.DataFrame, names: list[str], chunk_rows: int
) -> pl.DataFrame:
    """Feast ``get_historical_features``, one UTC day of label times at a time.

    Feast's file store merges every label of a machine with *every* offline row of that
    machine before applying the TTL, so cost and memory grow with labels x history length
    (6,720 labels over 30 days of history: 47 s). Each day's labels only need the mirror files
    that can hold rows within the TTL, so they are joined against exactly those (a private
    store with the same definitions, its source folder holding links to those day files).
    """
    target = offline_source_dir()
    all_features = names == model_feature_columns()
    refs = [f"{feature_view_name()}:{n}" for n in names]
    parts = []
    scratch_root = target.parent / ".scratch"
    scratch_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch_root, prefix="pit-") as tmp:
        source = Path(tmp) / feature_view_name()
        source.mkdir()
        scratch: FeatureStore | None = None
        by_day = keys.with_columns(pl.col(TIMESTAMP_FIELD).dt.date().alias("_day"))
        for _, day_keys in by_day.group_by("_day", maintain_order=True):
            day_keys = day_keys.drop("_day")
            lo = day_keys[TIMESTAMP_FIELD].min() - FEATURE_TTL
            hi = day_keys[TIMESTAMP_FIELD].max()
            files = [f for d in days_covering(lo, hi) if (f := target / f"{d}.parquet").exists()]
            if not files:  # nothing within reach (and dask cannot read an empty folder)
                parts.append(_null_features(day_keys, names))
                continue
            # Feast's dask join crashes ("Divisions calculation failed ... nulls") on a
            # multi-file source when a machine has no row at all: answer those directly
            present = pl.scan_parquet(files).select(JOIN_KEY).unique().collect()[JOIN_KEY]
            absent = day_keys.filter(~pl.col(JOIN_KEY).is_in(present.implode()))
            if not absent.is_empty():
                parts.append(_null_features(absent, names))
                day_keys = day_keys.filter(pl.col(JOIN_KEY).is_in(present.implode()))
                if day_keys.is_empty():
                    continue
            _link_source_files(source, files)
            if scratch is None:
                scratch = _scratch_store(store, Path(tmp), source)
            wanted: Any = (
                scratch.get_feature_service(FEATURE_SERVICE_NAME) if all_features else refs
            )
            for chunk in day_keys.iter_slices(max(1, chunk_rows)):
                with _quiet_dask():
                    job = scratch.get_historical_features(
                        entity_df=chunk.to_pandas(), features=wanted
                    )
                    parts.append(_conform_features(pl.from_arrow(job.to_arrow()), names))
    return pl.concat(parts, how="vertical") if parts else _null_features(keys, names)


def _polars_point_in_time(
    keys: pl.DataFrame, names: list[str], lo: datetime, hi: datetime
) -> pl.DataFrame:
    offline = (
        read_offline(lo, hi, sync=False)
        .select(JOIN_KEY, pl.col(TIMESTAMP_FIELD).alias("_feature_ts"), *names)
        .sort("_feature_ts")
    )
    return (
        keys.sort(TIMESTAMP_FIELD)
        .join_asof(
            offline,
            left_on=TIMESTAMP_FIELD,
            right_on="_feature_ts",
            by=JOIN_KEY,
            strategy="backward",
            tolerance=FEATURE_TTL,
            check_sortedness=False,
        )
        .drop("_feature_ts")
    )


def training_frame(
    store: FeatureStore,
    entity_rows: Any,
    *,
    features: Sequence[str] | None = None,
    engine: Literal["feast", "polars"] = "feast",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> pl.DataFrame:
    """Point-in-time correct features for each entity row (label), in the entity frame's order.

    ``entity_rows`` (polars or pandas) needs ``machine_id`` and ``event_timestamp`` (the label
    time; naive values are UTC) and may carry any other columns (labels, ids) — they come back
    unchanged. Each row gets the features of that machine's newest offline row with
    ``event_timestamp - ttl <= feature event_timestamp <= event_timestamp``; rows without such
    a feature row get nulls (Feast drops those rows — they are joined back here). ``features``
    limits the columns (names or ``view:feature`` refs); default: the feature service.

    ``engine="feast"`` (default) runs Feast's ``get_historical_features`` per UTC day of label
    times, against only the offline files within reach (see ``_feast_point_in_time``), at most
    ``chunk_rows`` distinct (machine, time) keys per call: 6,720 labels (20 machines x 14 days)
    over 30 days of history take ~5 s instead of 47 s for one call over the whole source.
    ``engine="polars"`` computes the same as-of join directly on the offline mirror in ~0.1 s
    (a test asserts both engines return identical frames).
    """
    entity = _entity_frame(entity_rows)
    names = _feature_names(features)
    clashes = sorted((set(entity.columns) - {JOIN_KEY, TIMESTAMP_FIELD}) & set(names))
    if clashes:
        raise InvalidEntityRowsError(f"entity columns {clashes} clash with feature names")
    keys = entity.select(JOIN_KEY, TIMESTAMP_FIELD).unique().sort(TIMESTAMP_FIELD, JOIN_KEY)
    if keys.is_empty():
        return _null_features(entity, names)
    lo = keys[TIMESTAMP_FIELD].min() - FEATURE_TTL
    hi = keys[TIMESTAMP_FIELD].max()
    sync_offline_store(days_covering(lo, hi))  # no partitions: a clear error
    if engine == "feast":
        found = _feast_point_in_time(store, keys, names, chunk_rows)
    elif engine == "polars":
        found = _polars_point_in_time(keys, names, lo, hi)
    else:
        raise ValueError(f"engine must be 'feast' or 'polars', got {engine!r}")
    result = entity.join(found, on=[JOIN_KEY, TIMESTAMP_FIELD], how="left", maintain_order="left")
    if result.height != entity.height:  # defensive: a duplicate key on the right would fan out
        raise FeatureStoreError(
            f"point-in-time join changed the row count ({entity.height} -> {result.height})"
        )
    return result
