"""A failure-label partition is not produced until its look-ahead window of events exists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from mfg_assets.defs.common.partitions import hourly_partitions
from mfg_assets.defs.labels import HORIZON_HOURS, failure_labels_asset


def _key(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d-%H:00")


def test_latest_hours_map_to_missing_future_events_and_fail_clearly(tmp_path):
    from mfg_assets.defs.resources import PlantDatabase
    from mfg_assets.defs.resources.io_managers import PartitionedParquetIOManager
    from mfg_assets.features.schema import empty_features
    from mfg_assets.storage.partitions import partition_file
    from mfg_assets_tests.integration.plant_fixtures import plant_assets

    # The latest complete hour, with its features stored; its future events cannot exist yet.
    latest = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    stored = tmp_path / partition_file(["machine_hourly_features"], _key(latest))
    stored.parent.mkdir(parents=True)
    empty_features().write_parquet(stored)
    result = dg.materialize(
        [failure_labels_asset, *plant_assets()],
        selection=[failure_labels_asset],
        partition_key=_key(latest),
        resources={
            "parquet_io_manager": PartitionedParquetIOManager(base_dir=str(tmp_path)),
            "plant_db": PlantDatabase(url=f"sqlite:///{tmp_path / 'none.db'}"),
        },
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.error.to_string()
    assert "labels are never guessed" in message
    assert not (tmp_path / "failure_labels").exists()


def test_label_partition_reads_the_next_horizon_hours_of_events():
    from mfg_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    mapping = graph.get_partition_mapping(
        dg.AssetKey("failure_labels"), dg.AssetKey("machine_events")
    )
    assert (mapping.start_offset, mapping.end_offset) == (1, HORIZON_HOURS)
    hour = datetime(2026, 11, 10, 5, tzinfo=UTC)
    upstream = mapping.get_upstream_mapped_partitions_result_for_partitions(
        hourly_partitions.subset_with_partition_keys([_key(hour)]),
        hourly_partitions,
        hourly_partitions,
    ).partitions_subset.get_partition_keys()
    assert upstream[0] == _key(hour + timedelta(hours=1))
    assert upstream[-1] == _key(hour + timedelta(hours=HORIZON_HOURS))
    assert len(upstream) == HORIZON_HOURS
