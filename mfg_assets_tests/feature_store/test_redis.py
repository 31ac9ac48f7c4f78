"""Redis profile against the server at 127.0.0.1:6379 (skipped when unreachable).

Feast's Redis layout: one hash per entity, key = serialize_entity_key(machine_id, v3) followed
by the project name's bytes; fields ``mmh3("<view>:<feature>")`` (4 bytes) -> serialized
ValueProto and ``_ts:<view>`` -> protobuf Timestamp. Every key therefore ends with the project:
this session uses projects ``mfg_test_<hex>_<n>`` and deletes every key containing
``mfg_test_<hex>`` at the end.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mfg_assets.feature_store.consistency import check_online_offline
from mfg_assets.feature_store.errors import UnknownMachineError
from mfg_assets.feature_store.offline import latest_per_machine, read_offline
from mfg_assets.feature_store.online import online_features
from mfg_assets.feature_store.store import materialize_window, open_store, write_online
from mfg_assets.features.schema import feature_columns

from .conftest import HOUR, HOURS, MACHINES, T0, Plant

pytestmark = pytest.mark.redis

SESSION_PREFIX = f"mfg_test_{uuid.uuid4().hex[:10]}"
_counter = itertools.count()


@pytest.fixture(scope="module")
def redis_client(redis_server: str) -> Iterator[object]:
    import redis

    host, port = redis_server.split(":")
    client = redis.Redis(host=host, port=int(port))
    yield client
    keys = list(client.scan_iter(match=f"*{SESSION_PREFIX}*".encode(), count=1000))
    if keys:
        client.delete(*keys)
    assert not list(client.scan_iter(match=f"*{SESSION_PREFIX}*".encode()))
    client.close()


@pytest.fixture
def redis_store(plant: Plant, redis_client, redis_server: str, monkeypatch) -> object:
    project = f"{SESSION_PREFIX}_{next(_counter)}"
    monkeypatch.setenv("MFG_FEAST_PROJECT", project)
    monkeypatch.setenv("MFG_FEATURE_STORE", "redis")
    monkeypatch.setenv("FEAST_REDIS_CONNECTION", redis_server)
    return open_store()


def _entity_key(machine_id: str, project: str) -> bytes:
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    key = EntityKey(join_keys=["machine_id"], entity_values=[Value(string_val=machine_id)])
    return serialize_entity_key(key, entity_key_serialization_version=3) + project.encode()


def test_redis_end_to_end(plant: Plant, redis_store, redis_client) -> None:
    project = redis_store.project
    assert redis_store.config.online_store.type == "redis"
    result = materialize_window(redis_store, T0, T0 + HOURS * HOUR)
    assert result.rows_written == len(MACHINES)

    keys = sorted(redis_client.scan_iter(match=f"*{project}".encode()))
    assert keys == sorted(_entity_key(m, project) for m in MACHINES)
    fields = redis_client.hkeys(_entity_key("M01", project))
    assert b"_ts:machine_hourly_features" in fields
    assert len(fields) == len(feature_columns()) + 1

    ids = ["M02", "M01", "M03"]
    online = online_features(redis_store, ids)
    latest = latest_per_machine(plant.all_rows())
    expected = (
        pl.DataFrame({"machine_id": ids})
        .join(latest, on="machine_id", how="left", maintain_order="left")
        .select("machine_id", *feature_columns(), "event_timestamp")
    )
    assert_frame_equal(online, expected)

    again = materialize_window(redis_store, T0, T0 + HOURS * HOUR)
    assert again.rows_written == result.rows_written
    assert_frame_equal(online_features(redis_store, ids), online)
    assert sorted(redis_client.scan_iter(match=f"*{project}".encode())) == keys

    older = materialize_window(redis_store, T0, T0 + 2 * HOUR)  # Redis keeps the newer rows
    assert older.kept_newer == MACHINES
    assert_frame_equal(online_features(redis_store, ids), online)

    with pytest.raises(UnknownMachineError, match="'M404'"):
        online_features(redis_store, ["M01", "M404"])


def test_redis_consistency_detects_tampering(plant: Plant, redis_store) -> None:
    materialize_window(redis_store, T0, T0 + HOURS * HOUR)
    offline = read_offline(T0 + (HOURS - 1) * HOUR, T0 + HOURS * HOUR)
    now = T0 + 24 * HOUR
    assert check_online_offline(redis_store, offline, 3, seed=0, now=now).passed
    # Redis skips writes that are not newer than the stored row: tamper one tick later
    tampered = (
        latest_per_machine(offline)
        .filter(pl.col("machine_id") == "M03")
        .with_columns(pl.col("n_defects") + 1)
    )
    write_online(redis_store, tampered)
    report = check_online_offline(redis_store, offline, 3, seed=0, now=now)
    assert report.passed  # same timestamp: Redis ignored the write, the store is still faithful
    write_online(
        redis_store, tampered.with_columns(pl.col("event_timestamp") + pl.duration(microseconds=1))
    )
    report = check_online_offline(redis_store, offline, 3, seed=0, now=now)
    assert [(m.machine_id, m.feature) for m in report.mismatches] == [("M03", "event_timestamp")]
