"""The plant's Feast feature store: definitions, profiles, materialization, lookups, checks.

Importing this package does not import ``feast`` (the Dagster code location must load without
it); the modules that need Feast import it inside their functions:

- :mod:`.names` — names, paths, ``feature_refs()``, ``FEATURE_TTL`` (import-light)
- :mod:`.errors` — ``UnknownMachineError`` and friends (import-light)
- :mod:`.offline` — the daily parquet mirror Feast's ``FileSource`` reads (polars only)
- :mod:`.definitions` — ``build_definitions()``: entity, source, view, service
- :mod:`.config` — ``store_config(profile)``: ``embedded`` (SQLite), ``redis``, ``postgres``
- :mod:`.store` — ``open_store``, ``apply_definitions``, ``materialize_window``,
  ``write_online``, ``training_frame``
- :mod:`.online` — ``online_features(store, machine_ids)`` (serving)
- :mod:`.consistency` — ``check_online_offline`` (training/serving skew)

Feast CLI on the same registry (``repo/`` holds ``feature_store.yaml`` + the definitions)::

    python -m mfg_assets.feature_store apply                 # env defaults filled in
    python -m mfg_assets.feature_store feature-views list
    python -m mfg_assets.feature_store --profile redis feature-views list

or by hand (the yaml reads ``${MFG_DATA_DIR}`` and ``${MFG_FEAST_PROJECT}``; Feast expands
``${VAR}`` with ``os.path.expandvars``, which has no defaults, so both must be set)::

    cd mfg_assets/feature_store/repo
    MFG_DATA_DIR=/abs/path/to/data MFG_FEAST_PROJECT=mfg_plant feast apply
    MFG_DATA_DIR=/abs/path/to/data MFG_FEAST_PROJECT=mfg_plant feast feature-views list
"""

from mfg_assets.feature_store.errors import (
    FeatureStoreError,
    FeatureStoreNotReadyError,
    InvalidEntityRowsError,
    PartitionsNotFoundError,
    StaleFeaturesError,
    UnknownMachineError,
)
from mfg_assets.feature_store.names import (
    ENTITY_NAME,
    FEATURE_SERVICE_NAME,
    FEATURE_TTL,
    JOIN_KEY,
    PROFILES,
    feature_refs,
    feature_view_name,
    offline_source_dir,
    partitions_dir,
    profile_name,
    project_name,
)

__all__ = [
    "ENTITY_NAME",
    "FEATURE_SERVICE_NAME",
    "FEATURE_TTL",
    "JOIN_KEY",
    "PROFILES",
    "FeatureStoreError",
    "FeatureStoreNotReadyError",
    "InvalidEntityRowsError",
    "PartitionsNotFoundError",
    "StaleFeaturesError",
    "UnknownMachineError",
    "feature_refs",
    "feature_view_name",
    "offline_source_dir",
    "partitions_dir",
    "profile_name",
    "project_name",
]
