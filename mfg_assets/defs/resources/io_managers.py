"""Parquet IO manager that understands ranged (single-run backfill) outputs.

Each partition is its own parquet file, laid out by :mod:`mfg_assets.storage.partitions`
(``<asset>/<partition>.parquet``). An asset that materializes a range returns
``{partition_key: frame}``; loading several partitions returns them concatenated. Missing
upstream partitions are an error unless the input declares ``allow_missing_partitions`` (used
for trailing reference windows).
"""

from __future__ import annotations

import dagster as dg
import polars as pl
from pydantic import PrivateAttr

from mfg_assets.storage.partitions import PartitionStore, partition_store


class PartitionedParquetIOManager(dg.ConfigurableIOManager):
    """Polars frames as one parquet file per partition under ``base_dir``: a local directory,
    or ``s3://bucket/prefix`` with the bucket reached through ``s3`` (dagster-aws)."""

    base_dir: str
    # A dagster-aws ``S3Resource`` when ``base_dir`` is s3://; typed as its base class so that
    # loading the code location does not import boto3/dagster-aws in the embedded profile.
    s3: dg.ConfigurableResource | None = None
    _partitions: PartitionStore | None = PrivateAttr(default=None)

    def partitions(self) -> PartitionStore:
        """The stored partitions under ``base_dir`` (what readers outside a load use)."""
        if self._partitions is None:
            self._partitions = partition_store(self.base_dir, self.s3)
        return self._partitions

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
        store = self.partitions()
        uris = [store.write(context.asset_key.path, key, frame) for key, frame in parts.items()]
        if len(uris) == 1:
            context.add_output_metadata({"uri": dg.MetadataValue.path(uris[0])})

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        keys = list(context.asset_partition_keys) if context.has_asset_partitions else [None]
        allow_missing = bool((context.definition_metadata or {}).get("allow_missing_partitions"))
        frames, missing = self.partitions().read_many(context.asset_key.path, keys)
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
