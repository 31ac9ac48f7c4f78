"""The two Dagster APIs without a public form that mfg_assets.runs wraps, on a tiny graph.

(No ``from __future__ import annotations``: Dagster reads the asset functions' annotations.)
"""

import dagster as dg

from mfg_assets.runs import implicit_asset_job, materialize_range, partition_range_tags

HOURS = dg.HourlyPartitionsDefinition(start_date="2026-11-01-00:00")
DAYS = dg.DailyPartitionsDefinition(start_date="2026-11-01")


@dg.asset(partitions_def=HOURS, backfill_policy=dg.BackfillPolicy.single_run())
def hourly_rows(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    keys = context.partition_keys
    return dg.MaterializeResult(metadata={"first": keys[0], "last": keys[-1], "n": len(keys)})


@dg.asset(partitions_def=DAYS)
def daily_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"day": context.partition_key})


DEFS = dg.Definitions(
    assets=[hourly_rows, daily_report],
    jobs=[dg.define_asset_job("hourly_job", selection=[hourly_rows])],
)


def test_a_range_runs_once_over_every_partition() -> None:
    with dg.instance_for_test() as instance:
        result = materialize_range(
            DEFS, "hourly_job", "2026-11-01-01:00", "2026-11-01-04:00", instance
        )
        assert result.success
        events = result.get_asset_materialization_events()  # one per partition, one run
        assert [e.partition for e in events] == [f"2026-11-01-0{h}:00" for h in (1, 2, 3, 4)]
        meta = {k: v.value for k, v in events[0].materialization.metadata.items()}
        assert meta == {"first": "2026-11-01-01:00", "last": "2026-11-01-04:00", "n": 4}
        run = instance.get_run_by_id(result.run_id)
        assert run is not None
        assert (
            partition_range_tags("2026-11-01-01:00", "2026-11-01-04:00").items() <= run.tags.items()
        )


def test_implicit_job_of_an_asset_materializes_it_alone() -> None:
    job = implicit_asset_job(DEFS, "daily_report")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance,
            partition_key="2026-11-02",
            asset_selection=[dg.AssetKey("daily_report")],
        )
    assert result.success
    keys = [e.asset_key for e in result.get_asset_materialization_events()]
    assert keys == [dg.AssetKey("daily_report")]
