"""The hourly schedule asks for the last complete hour, a few minutes after it ends."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from mfg_assets.definitions import defs


def _schedule() -> dg.ScheduleDefinition:
    return defs.get_repository_def().get_schedule_def("hourly_plant_schedule")


def test_schedule_runs_ten_minutes_past_each_hour():
    schedule = _schedule()
    assert schedule.cron_schedule == "10 * * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_schedule_requests_the_previous_hour_partition():
    schedule = _schedule()
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 11, 20, 14, 10, tzinfo=UTC)
        )
        result = schedule.evaluate_tick(context)
    assert result.run_requests is not None and len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.partition_key == "2026-11-20-13:00"
    assert request.tags["dagster/partition"] == "2026-11-20-13:00"


def test_definitions_validate_from_the_cli():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All code locations passed validation" in proc.stderr + proc.stdout
