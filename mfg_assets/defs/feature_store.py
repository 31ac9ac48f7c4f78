"""Feast: the online store follows the hourly features; daily point-in-time training sets.

The Feast definitions (entity ``machine``, feature view ``machine_hourly_features``, feature
service ``maintenance_model_v1``) live in :mod:`mfg_assets.feature_store`; the resource applies
them when the registry lacks them.
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import dagster as dg
import polars as pl

from mfg_assets.defs.common.partitions import daily_partitions, hourly_partitions
from mfg_assets.defs.common.policies import HOURLY_FRESHNESS, RANGED_BACKFILL
from mfg_assets.features.labels import LABEL_COLUMN, LABEL_SCHEMA
from mfg_assets.features.schema import (
    model_feature_columns,
    model_feature_schema,
    model_features_asset,
)
from mfg_assets.features.splits import time_ordered_split
from mfg_assets.settings import evaluation_window_days, get_settings, training_window_days

WINDOW_DAYS = training_window_days()
FEATURES_ASSET = model_features_asset()  # the plant's model features (hourly or window)


class FeatureStoreResource(dg.ConfigurableResource):
    """The plant's Feast store; ``profile``: embedded (SQLite online), redis or postgres."""

    profile: str = "embedded"

    def open(self) -> Any:
        from mfg_assets.feature_store.store import open_store

        return open_store(self.profile, apply=True)


def feature_store_resource() -> FeatureStoreResource:
    """Profile from ``MFG_FEATURE_STORE`` (default embedded)."""
    return FeatureStoreResource(profile=get_settings().mfg_feature_store)


@dg.asset(
    partitions_def=hourly_partitions,
    deps=[FEATURES_ASSET],
    backfill_policy=RANGED_BACKFILL,
    group_name="feature_store",
    kinds={"feast"},
    freshness_policy=HOURLY_FRESHNESS,
    automation_condition=dg.AutomationCondition.eager(),
    check_specs=[
        dg.AssetCheckSpec(
            "training_serving_consistency",
            asset="online_features",
            description="For a sample of machines, the online store's features equal the "
            "latest offline features of the same machine and time (what serving reads is what "
            "training would have read).",
        )
    ],
    description=f"Loads exactly this hour of {FEATURES_ASSET} into the Feast online "
    "store with materialize(start, end) for the partition window (never "
    "materialize_incremental, whose state `feast apply` resets).",
)
def online_features(
    context: dg.AssetExecutionContext, feature_store: FeatureStoreResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    from mfg_assets.feature_store.consistency import check_online_offline
    from mfg_assets.feature_store.offline import partition_window_rows
    from mfg_assets.feature_store.store import materialize_window

    window = context.partition_time_window
    store = feature_store.open()
    result = materialize_window(store, window.start, window.end)
    yield dg.MaterializeResult(
        metadata={**result.to_metadata(), "entities": sorted(result.entities)}
    )
    offline = partition_window_rows(window.start, window.end, sync=False)
    report = check_online_offline(store, offline, sample_size=20, seed=0, now=window.end)
    yield dg.AssetCheckResult(
        check_name="training_serving_consistency",
        passed=report.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=report.describe(),
        metadata=report.to_metadata(),
    )


class TrainingSetConfig(dg.Config):
    """How the labelled window is split (by time, never shuffled)."""

    validation_fraction: float = 0.15
    test_fraction: float = 0.15  # used when less than 2 days of labels precede test_days
    # the rolling test window: the last N days (default MFG_EVALUATION_WINDOW_DAYS)
    test_days: float | None = None


@dg.asset(
    partitions_def=daily_partitions,
    ins={
        "failure_labels": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-WINDOW_DAYS, end_offset=-1, allow_nonexistent_upstream_partitions=True
            ),
            metadata={"allow_missing_partitions": True},
        )
    },
    group_name="maintenance_model",
    kinds={"feast", "polars"},
    io_manager_key="parquet_io_manager",
    freshness_policy=dg.FreshnessPolicy.time_window(
        fail_window=timedelta(days=7), warn_window=timedelta(days=2)
    ),
    description=f"Point-in-time correct training frame for the model of day D: the failure "
    f"labels of days D-{WINDOW_DAYS} … D-1 (their look-ahead ends by the end of D) joined "
    "with the features Feast's get_historical_features returns as of each label time "
    "(never later), split by time into train/validation/test. "
    "Window: MFG_TRAINING_WINDOW_DAYS.",
)
def maintenance_training_set(
    context: dg.AssetExecutionContext,
    config: TrainingSetConfig,
    feature_store: FeatureStoreResource,
    failure_labels: pl.DataFrame,
) -> pl.DataFrame:
    from mfg_assets.feature_store.store import training_frame

    labels = pl.DataFrame(schema=LABEL_SCHEMA) if failure_labels.width == 0 else failure_labels
    if labels.is_empty():
        raise dg.Failure(
            f"no failure labels in the {WINDOW_DAYS} days before {context.partition_key}: "
            "materialize failure_labels first (they need 24 h of future events)"
        )
    entity_rows = labels.select("machine_id", "event_timestamp", LABEL_COLUMN)
    frame = training_frame(feature_store.open(), entity_rows)
    complete = frame.drop_nulls(model_feature_columns())
    dropped = frame.height - complete.height
    frame = time_ordered_split(
        complete.cast({c: t for c, t in model_feature_schema().items() if c in complete.columns}),
        validation_fraction=config.validation_fraction,
        test_fraction=config.test_fraction,
        test_days=config.test_days if config.test_days is not None else evaluation_window_days(),
    )
    stats = frame.group_by("split").agg(
        pl.len().alias("rows"), pl.col(LABEL_COLUMN).mean().alias("positive_rate")
    )
    per_split = {r["split"]: r for r in stats.iter_rows(named=True)}
    context.add_output_metadata(
        {
            "dagster/row_count": frame.height,
            "rows_without_features": dropped,
            "window_start": str(frame["event_timestamp"].min()),
            "window_end": str(frame["event_timestamp"].max()),
            **{
                f"{split}_{key}": float(per_split.get(split, {}).get(key) or 0)
                for split in ("train", "validation", "test")
                for key in ("rows", "positive_rate")
            },
        }
    )
    return frame
