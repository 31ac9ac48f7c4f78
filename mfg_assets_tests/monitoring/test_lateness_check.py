"""The hourly_partitions_on_time check on a real instance: a gap behind newer hours is flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from mfg_assets.monitoring.reference import hour_keys


def test_gaps_behind_newer_hours_fail_the_check() -> None:
    from mfg_assets.definitions import defs

    now = datetime.now(UTC)
    keys = hour_keys(now - timedelta(hours=60), now + timedelta(hours=2))  # future: never due
    gaps = [keys[20], keys[30]]  # 40 and 30 hours ago: inside the 48 h look-back
    with dg.instance_for_test() as instance:
        job = defs.resolve_job_def("plant_lateness_job")
        for key in keys:
            if key not in gaps:
                instance.report_runless_asset_event(
                    dg.AssetMaterialization("machine_hourly_features", partition=key)
                )
        result = job.execute_in_process(instance=instance)
        (evaluation,) = result.get_asset_check_evaluations()
        assert evaluation.check_name == "hourly_partitions_on_time"
        assert not evaluation.passed
        assert evaluation.metadata["late_partitions"].value == gaps
        assert evaluation.metadata["late_count"].value == 2

        for key in gaps:  # backfilled: the next run passes
            instance.report_runless_asset_event(
                dg.AssetMaterialization("machine_hourly_features", partition=key)
            )
        (again,) = job.execute_in_process(instance=instance).get_asset_check_evaluations()
        assert again.passed and again.metadata["late_count"].value == 0
