"""Parquet IO manager that understands ranged (single-run backfill) outputs.

Each partition is its own parquet file ``<asset>/<partition>.parquet``. An asset that
materializes a range returns ``{partition_key: frame}``; loading several partitions returns
them concatenated. Missing upstream partitions are an error unless the input declares
``allow_missing_partitions`` (used for trailing reference windows).
"""

from __future__ import annotations

import io

import dagster as dg
import polars as pl
from pydantic import PrivateAttr

from mfg_assets.storage.files import FileStore, file_store_from_uri


def partition_file(asset_path: list[str], partition_key: str | None) -> str:
    """Relative path of one partition's parquet file."""
    name = "data" if partition_key is None else partition_key.replace(":", "")
    return "/".join([*asset_path, f"{name}.parquet"])


class PartitionedParquetIOManager(dg.ConfigurableIOManager):
    """Polars frames as one parquet file per partition under ``base_dir``: a local directory,
    or ``s3://bucket/prefix`` with the bucket reached through ``s3`` (dagster-aws)."""

    base_dir: str
    # A dagster-aws ``S3Resource`` when ``base_dir`` is s3://; typed as its base class so that
    # loading the code location does not import boto3/dagster-aws in the embedded profile.
    s3: dg.ConfigurableResource | None = None
    _store: FileStore | None = PrivateAttr(default=None)

    def file_store(self) -> FileStore:
        if self._store is None:
            self._store = file_store_from_uri(self.base_dir, self.s3)
        return self._store

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | dict) -> None:
        if obj is None:
            return
        keys = list(context.asset_partition_keys) if context.has_asset_partitions else [None]
        if isinstance(obj, dict):
            unknown = set(obj) - set(keys)
            missing = set(keys) - set(obj)
            if unknown or missing:
                raise dg.Failure(
                    f"{context.asset_key.to_user_string()} returned partitions "
                    f"{sorted(obj)} for a step covering {keys}"
                )
            parts = obj
        elif len(keys) == 1:
            parts = {keys[0]: obj}
        else:
            raise dg.Failure(
                "a ranged step must return {partition_key: frame}, got one frame for "
                f"{len(keys)} partitions"
            )
        store = self.file_store()
        for key, frame in parts.items():
            buffer = io.BytesIO()
            frame.write_parquet(buffer, compression="zstd", statistics=True)
            store.write_bytes(partition_file(context.asset_key.path, key), buffer.getvalue())
        if len(parts) == 1:
            only = next(iter(parts))
            context.add_output_metadata(
                {
                    "uri": dg.MetadataValue.path(
                        store.uri(partition_file(context.asset_key.path, only))
                    )
                }
            )

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        store = self.file_store()
        asset_path = context.asset_key.path
        keys = list(context.asset_partition_keys) if context.has_asset_partitions else [None]
        allow_missing = bool((context.definition_metadata or {}).get("allow_missing_partitions"))
        frames, missing = [], []
        for key in keys:
            rel = partition_file(asset_path, key)
            if store.exists(rel):
                frames.append(pl.read_parquet(io.BytesIO(store.read_bytes(rel))))
            else:
                missing.append(key)
        if missing and not allow_missing:
            raise dg.Failure(
                f"{context.asset_key.to_user_string()} has no stored data for partitions "
                f"{missing[:5]}{' …' if len(missing) > 5 else ''}: materialize them first"
            )
        if not frames:
            return pl.DataFrame()
        return pl.concat(frames, how="vertical_relaxed")


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A loaded input as its contract's schema (loading no partitions gives no columns)."""
    return pl.DataFrame(schema=schema) if frame.width == 0 else frame.cast(schema)
