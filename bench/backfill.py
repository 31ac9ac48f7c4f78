"""Benchmark: seed 30 days × 20 machines, then backfill every hourly partition of ingestion +
features, wall time split by stage; compared with one-run-per-partition on a sample.

    .venv/bin/python bench/backfill.py [--days 30] [--machines 20] [--sample 12] [--smoke]

Runs everything in a temporary directory with a temporary Dagster instance.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _smoke import parse_args

ROOT = Path(__file__).resolve().parents[1]
KEY = "%Y-%m-%d-%H:%M"


def step_seconds(instance, run_id: str) -> dict[str, float]:
    """Wall seconds per step from the run's STEP_START / STEP_SUCCESS event log entries."""
    starts: dict[str, float] = {}
    out: dict[str, float] = defaultdict(float)
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type_value == "STEP_START":
            starts[entry.step_key] = entry.timestamp
        elif event.event_type_value == "STEP_SUCCESS" and entry.step_key in starts:
            out[entry.step_key] += entry.timestamp - starts[entry.step_key]
    return dict(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--machines", type=int, default=20)
    parser.add_argument("--sample", type=int, default=12, help="single-partition runs to time")
    args = parse_args(parser, days=1, machines=2, sample=1)

    tmp = Path(tempfile.mkdtemp(prefix="mfg_bench_backfill_"))
    end = datetime(2026, 11, 20, tzinfo=UTC)
    start = end - timedelta(days=args.days)
    os.environ["MFG_DATA_DIR"] = str(tmp / "data")
    os.environ["MFG_PARTITIONS_START"] = start.strftime(KEY)

    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "definitions",
            "validate",
            "-m",
            "mfg_assets.definitions",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    t_validate = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-2000:]
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mfg_assets.definitions"], check=True, cwd=ROOT)
    t_import = time.perf_counter() - t0

    import dagster as dg

    from mfg_assets.definitions import defs
    from mfg_assets.plant.config import DirtConfig, PlantConfig
    from mfg_assets.plant.driver import seed_plant
    from mfg_assets.plant.writer import PlantDB
    from mfg_assets.runs import materialize_range
    from mfg_assets.settings import plant_db_url

    t0 = time.perf_counter()
    summary = seed_plant(
        PlantDB(plant_db_url()),
        PlantConfig(machines=args.machines, seed=7, epoch=start, dirt=DirtConfig()),
        end,
    )
    t_seed = time.perf_counter() - t0

    job = defs.resolve_job_def("hourly_plant_job")
    policy = max_per_run = 168  # BackfillPolicy.multi_run(max_partitions_per_run=168)
    hours = args.days * 24
    stages: dict[str, float] = defaultdict(float)
    runs = 0
    t0 = time.perf_counter()
    with dg.instance_for_test() as instance:
        for first in range(0, hours, max_per_run):
            last = min(first + max_per_run, hours) - 1
            result = materialize_range(
                defs,
                job.name,
                (start + timedelta(hours=first)).strftime(KEY),
                (start + timedelta(hours=last)).strftime(KEY),
                instance,
            )
            assert result.success
            runs += 1
            for step, secs in step_seconds(instance, result.run_id).items():
                stages[step] += secs
        t_backfill = time.perf_counter() - t0

        t0 = time.perf_counter()
        for i in range(args.sample):
            key = (start + timedelta(hours=hours // 2 + i)).strftime(KEY)
            assert job.execute_in_process(
                instance=instance,
                partition_key=key,
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            ).success
        per_partition = (time.perf_counter() - t0) / args.sample

    readings = summary.rows["sensor_readings"]
    print(f"plant: {args.days} days × {args.machines} machines, {readings:,} readings")
    print("\n| stage | seconds |")
    print("|---|---:|")
    print(f"| import mfg_assets.definitions | {t_import:.2f} |")
    print(f"| dagster definitions validate | {t_validate:.2f} |")
    print(f"| seed plant (SQLite) | {t_seed:.1f} |")
    for step, secs in sorted(stages.items()):
        print(f"| backfill step: {step} | {secs:.1f} |")
    print(
        f"| **backfill total ({hours} partitions, {runs} runs of ≤{policy})** | "
        f"**{t_backfill:.1f}** |"
    )
    print(
        f"| one run per partition (measured on {args.sample}, in-process) | "
        f"{per_partition:.2f} per partition → {per_partition * hours:.0f} for {hours} |"
    )
    print(
        f"\nranged backfill is {per_partition * hours / t_backfill:.1f}× faster than one run "
        "per partition (in-process; a real per-partition backfill also starts a process "
        "per run)"
    )


if __name__ == "__main__":
    main()
