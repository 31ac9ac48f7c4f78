"""Names, paths and constants of the Feast layer — import-light (no ``feast`` import).

The Dagster code location, the BentoML service and the tests refer to the feature store through
these names; the Feast objects themselves are built lazily in :mod:`.definitions`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from mfg_assets.features.schema import TIMESTAMP_COLUMN, model_feature_columns, model_features_asset
from mfg_assets.settings import data_dir, get_settings
from mfg_assets.storage.partitions import local_asset_dir

ENTITY_NAME = "machine"
JOIN_KEY = "machine_id"
FEATURE_SERVICE_NAME = "maintenance_model_v1"
TIMESTAMP_FIELD = TIMESTAMP_COLUMN  # end of the hour = when the row's features become known

# A row describes one hour and is materialized hourly. Training joins take the newest row at or
# before the label time, but never one older than this: a machine whose features stopped
# arriving hours ago gets nulls (explicitly missing) rather than a stale hour passed off as
# current. Six hours tolerates a few missed hourly runs without letting a machine that went
# dark — or a stalled pipeline — feed a model yesterday's vibration.
FEATURE_TTL = timedelta(hours=6)

# Asset whose hourly partitions feed Feast (stored as :mod:`mfg_assets.storage.partitions` lays
# out every asset's partitions): machine_hourly_features, or machine_window_features for a plant
# modelled on window features (see mfg_assets.features.schema.model_features_asset).
FEATURES_ASSET = "machine_hourly_features"


def features_asset() -> str:
    """The active plant's model features asset (``FEATURES_ASSET`` for the simulator)."""
    return model_features_asset()


def feature_view_name() -> str:
    """The Feast feature view: named after the asset that feeds it, so the lineage a served
    prediction reports (``feature_view``) is the asset the model's features came from."""
    return features_asset()


def source_name() -> str:
    """The Feast data source of :func:`feature_view_name`."""
    return f"{feature_view_name()}_source"


PROFILE_ENV = "MFG_FEATURE_STORE"
PROJECT_ENV = "MFG_FEAST_PROJECT"
DEFAULT_PROJECT = "mfg_plant"
PROFILES: tuple[str, ...] = ("embedded", "redis", "postgres")
DEFAULT_PROFILE = "embedded"

_PROJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")


def feature_refs() -> list[str]:
    """``<feature view>:<feature>`` per model feature, in ``model_feature_columns()`` order."""
    view = feature_view_name()
    return [f"{view}:{name}" for name in model_feature_columns()]


def project_name() -> str:
    """Feast project (``MFG_FEAST_PROJECT``, default ``mfg_plant``); it namespaces online keys."""
    name = get_settings().mfg_feast_project.strip() or DEFAULT_PROJECT
    if not _PROJECT_RE.match(name):
        raise ValueError(
            f"{PROJECT_ENV}={name!r} is not a valid Feast project name: use letters, digits and "
            "underscores, starting with a letter or digit"
        )
    return name


def profile_name(profile: str | None = None) -> str:
    """The chosen profile: the argument, else ``MFG_FEATURE_STORE``, else ``embedded``."""
    chosen = (profile or get_settings().mfg_feature_store or DEFAULT_PROFILE).strip().lower()
    if chosen not in PROFILES:
        raise ValueError(
            f"unknown feature store profile {chosen!r} (from "
            f"{'argument' if profile else PROFILE_ENV}); choose one of {', '.join(PROFILES)}"
        )
    return chosen


def partitions_dir() -> Path:
    """The local folder of the hourly features partitions (embedded profile)."""
    return local_asset_dir(features_asset())


def feature_store_dir() -> Path:
    """Registry, SQLite online store and the offline mirror (embedded profile)."""
    return data_dir() / "feature_store"


def offline_source_dir() -> Path:
    """The Feast ``FileSource`` directory: one parquet file per UTC day (see :mod:`.offline`)."""
    return feature_store_dir() / "offline" / feature_view_name()
