"""Benchmark: what one hourly partition costs against plant size, and one hour of the largest
plant split by line on 1 vs 2 worker processes.

    .venv/bin/python bench/scale.py [--sizes 20,200,899] [--repeats 3] [--groups 4] [--smoke]

For each plant size (simulator machines at its default 10 s cadence, seeded into a SQLite plant
database) the hour is built as the asset steps build it, each step in a fresh process (as
Dagster's multiprocess executor and a Celery worker run one step): **extract** (readings with the
database's COUNT(*), and inspections), **transform** (``build_features`` over the hour and its
reference hour) and **write** (the partition files, atomic writes through ``PartitionStore``),
with wall seconds and the process's peak RSS. Then the largest plant's hour split into
``--groups`` line groups (each reading only its machines' rows, as a ``line_features_*`` step
does) is transformed by a pool of 1, then 2, long-lived worker processes
(the work a Celery worker does for the ``line_features_*`` steps; the 1-worker pool is the
baseline of the ratio), followed by the whole-plant combine. The simulator caps a plant at 899
machines (ids M900-M999 are reserved for unknown machines), the largest size here.
Prints medians with min-max over the repeats, the machine's load average, and the slopes per
machine with their extrapolation to a 10,000-machine plant.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _smoke import parse_args

EPOCH = datetime(2026, 11, 2, tzinfo=UTC)
HOUR = EPOCH + timedelta(hours=1)  # the measured hour; the hour before is its reference
TARGET = 10_000


def _rss_mb() -> float:
    """Peak resident memory of this process so far (VmHWM: of this program image, unlike
    ru_maxrss, which a spawned child inherits from the parent it was forked from)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed(url: str, machines: int) -> None:
    from mfg_assets.plant.config import DirtConfig, PlantConfig
    from mfg_assets.plant.driver import seed_plant
    from mfg_assets.plant.writer import PlantDB

    config = PlantConfig(machines=machines, seed=3, epoch=EPOCH, dirt=DirtConfig())
    seed_plant(PlantDB(url), config, HOUR + timedelta(hours=1))


def step_extract(url: str, folder: str, hour: datetime) -> dict[str, Any]:
    """Extract one hour (readings + counts, inspections) and write its partition files."""
    from mfg_assets.ingestion.extract import (
        extract_quality_inspections,
        extract_sensor_readings_counted,
    )
    from mfg_assets.storage.partitions import hour_key, partition_store

    base = _rss_mb()
    t0 = time.perf_counter()
    readings, _ = extract_sensor_readings_counted(url, hour, hour + timedelta(hours=1))
    inspections = extract_quality_inspections(url, hour, hour + timedelta(hours=1))
    t1 = time.perf_counter()
    store = partition_store(folder)
    store.write("sensor_readings", hour_key(hour), readings)
    store.write("quality_inspections", hour_key(hour), inspections)
    t2 = time.perf_counter()
    return {"extract_s": t1 - t0, "write_s": t2 - t1, "rows": readings.height,
            "base_mb": base, "peak_mb": _rss_mb()}  # fmt: skip


def _inputs(folder: str) -> tuple[Any, Any, list[str]]:
    import polars as pl

    from mfg_assets.features.quarantine import with_source_columns
    from mfg_assets.ingestion.extract import SENSOR_READINGS_SCHEMA
    from mfg_assets.storage.partitions import hour_key, partition_store

    store = partition_store(folder)
    frames, _ = store.read_many("sensor_readings", [hour_key(EPOCH), hour_key(HOUR)])
    readings = with_source_columns(pl.concat(frames)).cast(SENSOR_READINGS_SCHEMA)
    inspections = store.read("quality_inspections", hour_key(HOUR))
    machines = store.read("machines", None)
    return readings, inspections, machines["machine_id"].to_list()


def _group_inputs(folder: str, group: list[str]) -> tuple[Any, Any, list[str]]:
    import polars as pl

    from mfg_assets.features.quarantine import with_source_columns
    from mfg_assets.ingestion.extract import SENSOR_READINGS_SCHEMA
    from mfg_assets.scale.lines import read_rows
    from mfg_assets.storage.partitions import hour_key, partition_store

    store = partition_store(folder)
    rows = pl.col("machine_id").is_in(group).fill_null(False)
    readings, _ = read_rows(store, "sensor_readings", [hour_key(EPOCH), hour_key(HOUR)], rows)
    inspections, _ = read_rows(store, "quality_inspections", [hour_key(HOUR)], rows)
    machines = store.read("machines", None)
    readings = with_source_columns(readings).cast(SENSOR_READINGS_SCHEMA)
    return readings, inspections, machines["machine_id"].to_list()


def step_transform(folder: str, group: list[str] | None = None, name: str = "plant") -> dict:
    """Features of the hour (of ``group``'s machines only, when given), written to files."""

    from mfg_assets.features.pipeline import build_features
    from mfg_assets.storage.partitions import hour_key, partition_store

    base = _rss_mb()
    t0 = time.perf_counter()
    if group is None:
        readings, inspections, known = _inputs(folder)
    else:  # as a line step reads: only the group's rows are decoded (scale/lines.read_rows)
        readings, inspections, known = _group_inputs(folder, group)
    t1 = time.perf_counter()
    build = build_features(readings, inspections, known, HOUR, HOUR + timedelta(hours=1))
    t2 = time.perf_counter()
    store = partition_store(folder)
    store.write(f"machine_hourly_features_{name}", hour_key(HOUR), build.features)
    store.write(f"quarantined_readings_{name}", hour_key(HOUR), build.quarantined)
    t3 = time.perf_counter()
    return {"read_s": t1 - t0, "transform_s": t2 - t1, "write_s": t3 - t2,
            "features": build.features.height, "base_mb": base, "peak_mb": _rss_mb()}  # fmt: skip


def _in_fresh_process(fn: Any, *args: Any) -> dict[str, Any]:
    """``fn(*args)`` in a new spawned process (its own peak RSS), result back."""
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def _warm(_: int) -> float:
    import mfg_assets.features.pipeline  # noqa: F401  (a worker holds its imports)

    return _rss_mb()


def split_on_workers(folder: str, groups: list[list[str]], workers: int) -> dict[str, Any]:
    """Transform every line group on a pool of ``workers`` processes, then combine them."""
    import polars as pl

    from mfg_assets.storage.partitions import hour_key, partition_store

    with mp.get_context("spawn").Pool(workers) as pool:
        pool.map(_warm, range(workers))  # started and imported, like waiting Celery workers
        t0 = time.perf_counter()
        jobs = [
            pool.apply_async(step_transform, (folder, g, f"g{i}")) for i, g in enumerate(groups)
        ]
        results = [job.get() for job in jobs]
        t1 = time.perf_counter()
    store = partition_store(folder)
    parts = [
        store.read(f"machine_hourly_features_g{i}", hour_key(HOUR)) for i in range(len(groups))
    ]
    combined = pl.concat(parts).sort("machine_id", "hour")
    store.write("machine_hourly_features_combined", hour_key(HOUR), combined)
    t2 = time.perf_counter()
    return {"lines_s": t1 - t0, "combine_s": t2 - t1, "wall_s": t2 - t0,
            "peak_mb": max(r["peak_mb"] for r in results), "rows": combined.height}  # fmt: skip


def summary(values: list[float]) -> str:
    med = statistics.median(values)
    return f"{med:.3f} [{min(values):.3f}-{max(values):.3f}]" if len(values) > 1 else f"{med:.3f}"


def slope(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares intercept and slope."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    return my - b * mx, b


def measure_size(machines: int, repeats: int, tmp: Path) -> tuple[str, dict[str, list[float]]]:
    from mfg_assets.ingestion.extract import extract_machines
    from mfg_assets.storage.partitions import partition_store

    url = f"sqlite:///{tmp / f'plant_{machines}.db'}"
    t0 = time.perf_counter()
    seed(url, machines)
    print(f"seeded {machines} machines, 2 hours, in {time.perf_counter() - t0:.1f} s", flush=True)
    folder = str(tmp / f"warehouse_{machines}")
    partition_store(folder).write("machines", None, extract_machines(url))
    _in_fresh_process(step_extract, url, folder, EPOCH)  # the reference hour, stored before
    out: dict[str, list[float]] = {}
    for _ in range(repeats):
        e = _in_fresh_process(step_extract, url, folder, HOUR)
        t = _in_fresh_process(step_transform, folder)
        for key, value in {
            "extract_s": e["extract_s"], "extract_write_s": e["write_s"],
            "extract_peak_mb": e["peak_mb"], "extract_base_mb": e["base_mb"],
            "transform_read_s": t["read_s"], "transform_s": t["transform_s"],
            "transform_write_s": t["write_s"], "transform_peak_mb": t["peak_mb"],
            "transform_base_mb": t["base_mb"], "rows": e["rows"],
            "extract_step_mb": e["peak_mb"] - e["base_mb"],
            "transform_step_mb": t["peak_mb"] - t["base_mb"],
        }.items():  # fmt: skip
            out.setdefault(key, []).append(value)
    return folder, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="20,200,899", help="plant sizes (machines)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--groups", type=int, default=4, help="line groups of the split hour")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parse_args(parser, sizes="4,8", repeats=1, groups=2)
    sizes = [int(s) for s in args.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="mfg_bench_scale_"))
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}", flush=True)

    results: dict[int, dict[str, list[float]]] = {}
    folder = ""
    for machines in sizes:
        folder, results[machines] = measure_size(machines, args.repeats, tmp)
        r = results[machines]
        print(
            f"{machines:5d} machines, {int(r['rows'][0]):8d} readings/h | "
            f"extract {summary(r['extract_s'])} s + write {summary(r['extract_write_s'])} s, "
            f"peak {max(r['extract_peak_mb']):.0f} MB (base {max(r['extract_base_mb']):.0f}) | "
            f"read {summary(r['transform_read_s'])} s, transform {summary(r['transform_s'])} s, "
            f"write {summary(r['transform_write_s'])} s, peak {max(r['transform_peak_mb']):.0f} "
            f"MB (base {max(r['transform_base_mb']):.0f})",
            flush=True,
        )

    import polars as pl

    from mfg_assets.plant.profile import MACHINES_PER_LINE
    from mfg_assets.storage.partitions import partition_store

    largest = sizes[-1]
    machines = partition_store(folder).read("machines", None)["machine_id"].sort().to_list()
    per = -(-len(machines) // args.groups)
    per = -(-per // MACHINES_PER_LINE) * MACHINES_PER_LINE  # whole simulator lines per group
    groups = [machines[i : i + per] for i in range(0, len(machines), per)]
    split: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    for _ in range(args.repeats):
        for workers in (1, 2):
            split[workers].append(split_on_workers(folder, groups, workers))
    single = pl.read_parquet(
        next(Path(folder, "machine_hourly_features_plant").glob("*.parquet"))
    ).sort("machine_id", "hour")
    combined = pl.read_parquet(
        next(Path(folder, "machine_hourly_features_combined").glob("*.parquet"))
    )
    assert combined.equals(single), "the line split does not rebuild the whole-plant hour"
    wall = {w: [r["wall_s"] for r in split[w]] for w in split}
    ratios = [a / b for a, b in zip(wall[1], wall[2], strict=True)]
    print(
        f"\n{largest} machines split into {len(groups)} line groups: 1 worker "
        f"{summary(wall[1])} s, 2 workers {summary(wall[2])} s, speed-up {summary(ratios)}x; "
        f"peak per line step {max(r['peak_mb'] for r in split[2]):.0f} MB; combine "
        f"{summary([r['combine_s'] for r in split[2]])} s; equal to the single step: yes",
        flush=True,
    )

    xs = [float(m) for m in sizes]
    per_machine: dict[str, tuple[float, float]] = {}
    for key in ("extract_s", "extract_write_s", "transform_s", "transform_write_s",
                "extract_step_mb", "transform_step_mb"):  # fmt: skip
        per_machine[key] = slope(xs, [statistics.median(results[m][key]) for m in sizes])
    print("\nper machine (least-squares slope over the sizes; intercept = fixed cost):")
    for key, (a, b) in per_machine.items():
        unit = "MB" if key.endswith("_mb") else "s"
        scale = 1 if unit == "MB" else 1000
        shown = "ms" if unit == "s" else "MB"
        print(f"  {key:18s} {b * scale:8.3f} {shown}/machine + {a:.3f} {unit}")
    cpu = sum(a + b * TARGET for k, (a, b) in per_machine.items() if k.endswith("_s"))
    a, b = per_machine["transform_step_mb"]
    base = max(results[sizes[-1]]["transform_base_mb"])
    print(
        f"\nextrapolated to {TARGET} machines: {cpu:.0f} s of step time per hour on one "
        f"process; a whole-plant transform step needs {base:.0f} MB (imports) + "
        f"{a + b * TARGET:.0f} MB; a line step of L machines {base:.0f} + {a:.0f} + {b:.2f} x L MB",
    )
    print(f"load average after: {os.getloadavg()}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"sizes": results, "split": split}, default=str))


if __name__ == "__main__":
    sys.exit(main())
