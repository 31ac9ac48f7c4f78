"""Feast ``RepoConfig`` per profile, chosen by configuration (``MFG_FEATURE_STORE``), not code.

==========  ===============================================  ==============================
profile     online store                                     settings (env)
==========  ===============================================  ==============================
embedded    SQLite ``<MFG_DATA_DIR>/feature_store/online.db``  —
redis       Redis                                            ``FEAST_REDIS_CONNECTION``
                                                             (``127.0.0.1:6379``; redis-py
                                                             options after commas, e.g.
                                                             ``host:6379,db=1,password=…``)
postgres    PostgreSQL (tables ``<project>_<view>``)         ``FEAST_PG_HOST`` (127.0.0.1),
                                                             ``FEAST_PG_PORT`` (5432),
                                                             ``FEAST_PG_DB`` (postgres),
                                                             ``FEAST_PG_USER`` (postgres),
                                                             ``FEAST_PG_PASSWORD`` (empty),
                                                             ``FEAST_PG_SCHEMA`` (public),
                                                             ``FEAST_PG_SSLMODE`` (disable)
==========  ===============================================  ==============================

Every profile reads the offline data with Feast's ``file`` (dask) store from the daily mirror of
the hourly partitions (:mod:`.offline`). The project name (``MFG_FEAST_PROJECT``, default
``mfg_plant``) namespaces everything: Redis keys end with it, Postgres/SQLite tables start with
it. The registry is a file under ``<MFG_DATA_DIR>/feature_store/`` (one per profile, so switching
profiles never finds a registry that claims tables another online store lacks), or a SQL
registry when ``FEAST_REGISTRY_URL`` is set (a SQLAlchemy URL, e.g.
``postgresql+psycopg://user:pw@host:5432/db``); ``MFG_FEAST_REGISTRY_TTL_S`` sets its cache TTL.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from mfg_assets.feature_store.names import feature_store_dir, profile_name, project_name
from mfg_assets.settings import get_settings

if TYPE_CHECKING:
    from feast import RepoConfig


def registry_file_name(profile: str) -> str:
    """``registry.db`` for the embedded profile, ``registry-<profile>.db`` otherwise."""
    return "registry.db" if profile == "embedded" else f"registry-{profile}.db"


def registry_config(profile: str) -> dict[str, Any]:
    settings = get_settings()
    ttl = settings.mfg_feast_registry_ttl_s
    common = {
        "cache_ttl_seconds": ttl,
        # materialize() commits the view as MATERIALIZING; without this a process that refreshes
        # its registry cache meanwhile refuses get_online_features until its next refresh.
        "serve_features_while_materializing": True,
    }
    url = (settings.feast_registry_url or "").strip()
    if url:
        return {"registry_type": "sql", "path": url, **common}
    return {
        "registry_type": "file",
        "path": str(feature_store_dir() / registry_file_name(profile)),
        **common,
    }


def online_store_config(profile: str) -> dict[str, Any]:
    if profile == "embedded":
        return {"type": "sqlite", "path": str(feature_store_dir() / "online.db")}
    settings = get_settings()
    if profile == "redis":
        return {"type": "redis", "connection_string": settings.feast_redis_connection.strip()}
    if profile == "postgres":
        return {
            "type": "postgres",
            "host": settings.feast_pg_host.strip(),
            "port": settings.feast_pg_port,
            "database": settings.feast_pg_db.strip(),
            "db_schema": settings.feast_pg_schema.strip(),
            "user": settings.feast_pg_user.strip(),
            "password": settings.feast_pg_password,
            # Feast defaults to "require"; the local/compose server has no TLS.
            "sslmode": settings.feast_pg_sslmode.strip(),
        }
    raise ValueError(f"unknown profile {profile!r}")


def config_dict(profile: str | None = None) -> dict[str, Any]:
    """Plain-data ``feature_store.yaml`` content of a profile (what ``store_config`` validates)."""
    chosen = profile_name(profile)
    feature_store_dir().mkdir(parents=True, exist_ok=True)
    return {
        "project": project_name(),
        "provider": "local",
        "registry": registry_config(chosen),
        "online_store": online_store_config(chosen),
        "offline_store": {"type": "file"},
        "entity_key_serialization_version": 3,
    }


class _QuietServeWhileMaterializing(logging.Filter):
    """Drop Feast's advisory that the flag 'typically has no effect' on a file registry.

    It does have an effect there (``feast.infra.registry.registry.Registry`` reads it and
    ``utils._get_feature_views_to_use`` honours it), so the warning is only noise.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "serve_features_while_materializing" not in record.getMessage()


_FILTER = _QuietServeWhileMaterializing()


def store_config(profile: str | None = None) -> RepoConfig:
    """A validated Feast ``RepoConfig`` for ``profile`` (default: ``MFG_FEATURE_STORE``)."""
    from feast import RepoConfig

    logger = logging.getLogger("feast.repo_config")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return RepoConfig(**config_dict(profile))


def describe(profile: str | None = None) -> dict[str, str]:
    """Where a profile keeps things, passwords masked (for logs and Dagster metadata)."""
    data = config_dict(profile)
    online = dict(data["online_store"])
    if online.get("password"):
        online["password"] = "***"
    if "connection_string" in online:  # redis: host:port,password=...,ssl=...
        online["connection_string"] = ",".join(
            "password=***" if part.strip().startswith("password=") else part
            for part in online["connection_string"].split(",")
        )
    registry = data["registry"]["path"]
    if "@" in registry and "://" in registry:
        scheme, rest = registry.split("://", 1)
        registry = f"{scheme}://***@{rest.split('@', 1)[1]}"
    return {
        "profile": profile_name(profile),
        "project": data["project"],
        "registry": registry,
        "online_store": ", ".join(f"{k}={v}" for k, v in online.items()),
    }
