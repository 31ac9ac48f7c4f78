"""Postgres profile with a SQL registry, in a throwaway database (skipped without a server)."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mfg_assets.feature_store.consistency import check_online_offline
from mfg_assets.feature_store.offline import latest_per_machine
from mfg_assets.feature_store.online import online_features
from mfg_assets.feature_store.store import apply_definitions, materialize_window, open_store
from mfg_assets.features.schema import feature_columns

from .conftest import HOUR, HOURS, MACHINES, T0, Plant

pytestmark = pytest.mark.postgres


def test_postgres_online_store_and_sql_registry(
    plant: Plant, postgres_database: str, monkeypatch
) -> None:
    database = postgres_database.rsplit("/", 1)[1]
    monkeypatch.setenv("MFG_FEATURE_STORE", "postgres")
    monkeypatch.setenv("FEAST_PG_DB", database)
    monkeypatch.setenv("FEAST_REGISTRY_URL", postgres_database)
    store = open_store()
    assert store.config.online_store.type == "postgres"
    assert store.config.registry.registry_type == "sql"
    assert apply_definitions(store) is False

    result = materialize_window(store, T0, T0 + HOURS * HOUR)
    assert result.rows_written == len(MACHINES)
    online = online_features(store, ["M03", "M01"])
    expected = (
        pl.DataFrame({"machine_id": ["M03", "M01"]})
        .join(
            latest_per_machine(plant.all_rows()), on="machine_id", how="left", maintain_order="left"
        )
        .select("machine_id", *feature_columns(), "event_timestamp")
    )
    assert_frame_equal(online, expected)
    older = materialize_window(store, T0, T0 + 2 * HOUR)
    assert older.kept_newer == MACHINES
    assert_frame_equal(online_features(store, ["M03", "M01"]), online)
    report = check_online_offline(store, plant.all_rows(), 3, seed=0, now=T0 + 48 * HOUR)
    assert report.passed, report.describe()
