"""Definitions, names and profile configuration (no online store needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from mfg_assets.feature_store import names
from mfg_assets.feature_store.config import config_dict, describe, store_config
from mfg_assets.features.schema import feature_columns, feature_schema

REPO_DIR = Path(names.__file__).resolve().parent / "repo"


def test_package_imports_without_feast() -> None:
    code = (
        "import sys\n"
        "import mfg_assets.feature_store, mfg_assets.feature_store.names\n"
        "import mfg_assets.feature_store.errors, mfg_assets.feature_store.offline\n"
        "import mfg_assets.feature_store.definitions, mfg_assets.feature_store.config\n"
        "import mfg_assets.feature_store.store, mfg_assets.feature_store.online\n"
        "import mfg_assets.feature_store.consistency\n"
        "assert 'feast' not in sys.modules, 'feast imported at module import time'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_feature_refs_cover_every_feature_in_schema_order() -> None:
    refs = names.feature_refs()
    assert refs == [f"machine_hourly_features:{c}" for c in feature_columns()]
    assert refs == names.feature_refs()  # stable


def test_feature_view_schema_types_ttl_and_service(data_dir: Path) -> None:
    from feast.types import Float64, Int64, String

    from mfg_assets.feature_store.definitions import build_definitions

    defs = build_definitions()
    view = defs.feature_view
    assert view.name == names.feature_view_name()
    assert [f.name for f in view.features] == feature_columns()
    expected = {c: Int64 if feature_schema()[c] == pl.Int64 else Float64 for c in feature_columns()}
    assert {f.name: f.dtype for f in view.features} == expected
    assert [(f.name, f.dtype) for f in view.entity_columns] == [("machine_id", String)]
    assert view.ttl == names.FEATURE_TTL
    assert view.online
    assert view.batch_source.timestamp_field == "event_timestamp"
    assert Path(view.batch_source.path) == names.offline_source_dir()
    assert defs.entity.join_key == "machine_id"
    projection = defs.feature_service.feature_view_projections[0]
    assert projection.name == view.name
    assert [f.name for f in projection.features] == feature_columns()


def test_profiles_are_chosen_by_environment(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded = store_config()
    assert embedded.online_store.type == "sqlite"
    assert Path(embedded.online_store.path) == data_dir / "feature_store" / "online.db"
    assert Path(embedded.registry.path) == data_dir / "feature_store" / "registry.db"
    assert embedded.project == "mfg_test"

    monkeypatch.setenv("MFG_FEATURE_STORE", "redis")
    redis = store_config()
    assert redis.online_store.type == "redis"
    assert redis.online_store.connection_string == "127.0.0.1:6379"
    assert Path(redis.registry.path).name == "registry-redis.db"
    monkeypatch.setenv("FEAST_REDIS_CONNECTION", "10.0.0.5:6380,db=2,password=secret")
    assert store_config().online_store.connection_string == "10.0.0.5:6380,db=2,password=secret"
    assert "secret" not in str(describe())

    monkeypatch.setenv("MFG_FEATURE_STORE", "postgres")
    monkeypatch.setenv("FEAST_PG_DB", "features")
    monkeypatch.setenv("FEAST_PG_PASSWORD", "pw")
    pg = store_config()
    assert pg.online_store.type == "postgres"
    assert (pg.online_store.host, pg.online_store.port, pg.online_store.database) == (
        "127.0.0.1",
        5432,
        "features",
    )
    assert pg.online_store.sslmode == "disable"
    assert "pw" not in describe()["online_store"]

    monkeypatch.setenv("FEAST_REGISTRY_URL", "postgresql+psycopg://u:pw@db:5432/feast")
    sql = store_config()
    assert sql.registry.registry_type == "sql"
    assert type(sql.registry).__name__ == "SqlRegistryConfig"
    assert "pw" not in describe()["registry"]

    assert store_config("embedded").online_store.type == "sqlite"  # argument wins over env


def test_bad_profile_and_project_are_clear(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown feature store profile 'dynamo'"):
        store_config("dynamo")
    monkeypatch.setenv("MFG_FEAST_PROJECT", "bad-name!")
    with pytest.raises(ValueError, match="MFG_FEAST_PROJECT"):
        store_config()


def test_repo_yaml_matches_the_embedded_profile(data_dir: Path) -> None:
    from feast.repo_config import load_repo_config

    loaded = load_repo_config(REPO_DIR, REPO_DIR / "feature_store.yaml")
    ours = config_dict("embedded")
    assert loaded.project == ours["project"] == os.environ["MFG_FEAST_PROJECT"]
    assert loaded.registry.path == ours["registry"]["path"]
    assert loaded.registry.cache_ttl_seconds == ours["registry"]["cache_ttl_seconds"]
    assert loaded.registry.serve_features_while_materializing
    assert loaded.online_store.type == "sqlite"
    assert loaded.online_store.path == ours["online_store"]["path"]
    assert loaded.offline_store.type == "file"
    assert loaded.entity_key_serialization_version == ours["entity_key_serialization_version"]
