"""The partition-storage contract: keys, file names, the warehouse root, and reading, listing and
writing partitions in a local warehouse and in S3 (a real S3 API server on loopback)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mfg_assets.storage.files import LocalFileStore, S3FileStore
from mfg_assets.storage.partitions import (
    PartitionStore,
    day_key,
    file_name,
    first_hour,
    hour_key,
    hour_key_expr,
    hour_keys,
    key_of_file,
    local_asset_dir,
    parse_day_key,
    parse_hour_key,
    partition_file,
    partition_store,
    warehouse_partitions,
    warehouse_uri,
)
from mfg_assets_tests.fixtures.s3 import S3Server

T = datetime(2026, 11, 2, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_hour_key_round_trip_matches_dagster() -> None:
    hourly = dg.HourlyPartitionsDefinition(start_date="2026-11-02-00:00", timezone="UTC")
    dagster_keys = hourly.get_partition_keys(current_time=datetime(2026, 11, 3, 1, tzinfo=UTC))
    assert (
        hour_keys(datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
        == (dagster_keys[:24])
    )
    for key in dagster_keys:
        assert hour_key(parse_hour_key(key)) == key
    assert parse_hour_key("2026-11-02-10:00") == T
    assert (
        hour_key(T + timedelta(minutes=59, seconds=59)) == "2026-11-02-10:00"
    )  # the hour holding it
    assert hour_key(datetime(2026, 11, 2, 10, 30)) == "2026-11-02-10:00"  # naive = UTC
    cet = timezone(timedelta(hours=1))
    assert hour_key(datetime(2026, 11, 2, 11, 5, tzinfo=cet)) == "2026-11-02-10:00"
    with pytest.raises(ValueError, match="not an hourly partition key"):
        parse_hour_key("2026-11-02")


def test_day_keys_and_first_hour() -> None:
    assert day_key(T) == day_key(date(2026, 11, 2)) == "2026-11-02"
    assert day_key(datetime(2026, 11, 2, 23, 30, tzinfo=timezone(timedelta(hours=-2)))) == (
        "2026-11-03"
    )
    assert parse_day_key("2026-11-02") == datetime(2026, 11, 2, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a daily partition key"):
        parse_day_key("2026-11-02-10:00")
    # where Dagster's hourly partitions starting at a time begin
    assert first_hour(T) == T
    assert first_hour(T + timedelta(minutes=30)) == T + HOUR
    hourly = dg.HourlyPartitionsDefinition(start_date="2026-11-02-10:30", timezone="UTC")
    assert hourly.get_partition_keys(current_time=T + 3 * HOUR)[0] == hour_key(
        first_hour(T + timedelta(minutes=30))
    )
    # hour_keys is half-open and starts at the hour holding ``start``
    assert hour_keys(T + timedelta(minutes=20), T + 2 * HOUR) == [
        "2026-11-02-10:00",
        "2026-11-02-11:00",
    ]
    assert hour_keys(T, T) == []


def test_hour_key_expr_matches_hour_key() -> None:
    times = [T + timedelta(minutes=m) for m in (0, 59, 61, 600)]
    frame = pl.DataFrame({"ts": times}, schema={"ts": pl.Datetime("us", "UTC")})
    assert frame.select(hour_key_expr("ts"))["ts"].to_list() == [hour_key(t) for t in times]


def test_file_naming_and_its_inverse() -> None:
    assert partition_file("machine_hourly_features", "2026-11-02-10:00") == (
        "machine_hourly_features/2026-11-02-1000.parquet"
    )
    assert (
        partition_file(["plant", "readings"], "2026-11-02") == "plant/readings/2026-11-02.parquet"
    )
    assert partition_file(["model_card"], None) == "model_card/data.parquet"
    for key in ("2026-11-02-10:00", "2026-11-02"):
        assert key_of_file(file_name(key)) == key
    for foreign in (
        ".2026-11-02-1000.parquet.abc123.tmp",
        "data.parquet",
        "2026-11-02-1000.csv",
        "notes.parquet",
    ):
        assert key_of_file(foreign) is None, foreign
    for bad in ("", "../x", ["a", ""]):
        with pytest.raises(ValueError, match="not an asset path"):
            partition_file(bad, "2026-11-02")


def _frame(hour: datetime, value: float) -> pl.DataFrame:
    return pl.DataFrame({"machine_id": ["M01", "M02"], "hour": [hour, hour], "v": [value, -value]})


def _exercise(store: PartitionStore) -> None:
    """The same contract in any file store."""
    asset = "machine_hourly_features"
    assert store.list(asset) == [] and not store.holds(asset)
    keys = hour_keys(T, T + 3 * HOUR)
    for i, key in enumerate(keys):
        uri = store.write(asset, key, _frame(parse_hour_key(key), float(i)))
        assert uri == store.uri(asset, key) and uri.endswith(f"{asset}/{file_name(key)}")
    store.write(asset, None, _frame(T, 9.0))  # an unpartitioned file is not a partition
    store.files.write_bytes(f"{asset}/README.txt", b"foreign")
    store.files.write_bytes(f"{asset}/old/2026-11-01-0000.parquet", b"subfolder")
    store.write("other_asset", keys[0], _frame(T, 5.0))

    listed = store.list(asset)
    assert store.holds(asset)
    assert [p.key for p in listed] == keys
    assert [p.hour for p in listed] == [T, T + HOUR, T + 2 * HOUR]
    assert all(p.file.size > 0 for p in listed)
    assert_frame_equal(store.read_file(listed[1]), _frame(T + HOUR, 1.0))

    assert store.exists(asset, keys[2]) and not store.exists(asset, "2026-11-02-13:00")
    assert_frame_equal(store.read(asset, keys[0]), _frame(T, 0.0))
    assert store.read(asset, "2026-11-02-13:00") is None
    frames, missing = store.read_many(asset, [keys[0], "2026-11-02-13:00", keys[2]])
    assert [f["v"][0] for f in frames] == [0.0, 2.0] and missing == ["2026-11-02-13:00"]
    read = store.reader(asset)
    assert_frame_equal(read(keys[1]), _frame(T + HOUR, 1.0))
    assert read("2026-11-01-00:00") is None

    before = listed[0].file.version
    store.write(asset, keys[0], _frame(T, 7.0))  # replaced: a new version, same key
    (again, *_) = store.list(asset)
    assert again.key == keys[0] and again.file.version != before
    assert store.read(asset, keys[0])["v"][0] == 7.0


def test_local_warehouse(tmp_path: Path) -> None:
    store = PartitionStore(LocalFileStore(tmp_path / "warehouse"))
    _exercise(store)
    stored = tmp_path / "warehouse" / "machine_hourly_features" / "2026-11-02-1000.parquet"
    assert store.uri("machine_hourly_features", "2026-11-02-10:00") == str(stored)
    assert stored.is_file()
    assert not list(stored.parent.glob("*.tmp"))  # writes are atomic


def test_s3_warehouse(s3_server: S3Server, s3_bucket: str) -> None:
    store = partition_store(f"s3://{s3_bucket}/unit-partitions/warehouse", s3_server.resource())
    assert isinstance(store.files, S3FileStore)
    _exercise(store)
    head = s3_server.client().head_object(
        Bucket=s3_bucket,
        Key="unit-partitions/warehouse/machine_hourly_features/2026-11-02-1000.parquet",
    )
    assert head["ContentLength"] > 0


def test_warehouse_root_follows_the_settings(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MFG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MFG_STORAGE_URI", raising=False)
    assert warehouse_uri() == str(tmp_path / "data" / "warehouse")
    assert local_asset_dir("machine_hourly_features") == (
        tmp_path / "data" / "warehouse" / "machine_hourly_features"
    )
    monkeypatch.setenv("MFG_STORAGE_URI", f"file://{tmp_path / 'elsewhere'}")
    assert warehouse_uri() == str(tmp_path / "elsewhere" / "warehouse")

    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MFG_STORAGE_URI", f"s3://{s3_bucket}/rooted")
    assert warehouse_uri() == f"s3://{s3_bucket}/rooted/warehouse"
    with pytest.raises(ValueError, match="not a local folder"):
        local_asset_dir("machine_hourly_features")
    # a plain boto3 client from the AWS_* settings: no Dagster resource involved
    store = warehouse_partitions()
    uri = store.write("sensor_readings", "2026-11-02-10:00", _frame(T, 1.0))
    assert uri == f"s3://{s3_bucket}/rooted/warehouse/sensor_readings/2026-11-02-1000.parquet"
    assert [p.key for p in store.list("sensor_readings")] == ["2026-11-02-10:00"]


def test_storage_imports_no_dagster() -> None:
    """storage/ is plain Python: no module in it imports dagster or dagster_aws, not even
    inside a function."""
    import ast

    import mfg_assets.storage

    offenders = []
    for path in sorted(Path(mfg_assets.storage.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            offenders += [
                f"{path.name}:{node.lineno} {n}"
                for n in names
                if n.split(".")[0] in ("dagster", "dagster_aws")
            ]
    assert offenders == []
