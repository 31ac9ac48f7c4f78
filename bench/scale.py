"""Benchmark: what one hourly partition costs against plant size, and one hour of the largest
plant split by line on 1 vs 2 Celery workers.

    .venv/bin/python bench/scale.py [--sizes 20,200,1000] [--repeats 3] [--groups 4]
        [--celery-repeats 2] [--smoke]

For each plant size (simulator machines at its default 10 s cadence, seeded into a SQLite plant
database) the hour is built as the asset steps build it, each step in a fresh process (as
Dagster's multiprocess executor runs one step): **extract** (readings with the database's
COUNT(*), and inspections), **transform** (``build_features`` over the hour and its reference
hour) and **write** (the partition files, atomic writes through ``PartitionStore``), with wall
seconds and the process's peak RSS.

Then the largest plant's machines are put on ``--groups`` production lines of consecutive
machines, and its hour runs as ``hourly_plant_job`` with ``MFG_EXECUTOR=celery`` and
``MFG_PLANT_LINES`` listing those lines (one ``line_features_*`` step per line): on 1, then 2,
real Celery worker processes (solo pool: one step at a time each) on the local Redis, with the
instance in a throwaway PostgreSQL database, started and run exactly as
``mfg_assets_tests/scale/test_celery_workers.py`` does (:mod:`mfg_assets.scale.local`). Each
worker set first runs the reference hour (untimed: it stores that hour and loads the code in
every worker), then the measured hour ``--celery-repeats`` times: the run's wall time, each
step's duration from the event log, and the workers' peak RSS. The 1-worker run is the baseline
of the ratio. As a second row, the line groups' transform alone on a pool of 1, then 2,
long-lived processes (no broker, no Dagster), whose combined hour is checked equal to the
whole-plant step. Without Redis or PostgreSQL the Celery row is skipped, saying so.

Prints medians with min-max over the repeats, the machine's load average, and the slopes per
machine with their extrapolation to a 10,000-machine plant.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import resource
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _smoke import parse_args

EPOCH = datetime(2026, 11, 2, tzinfo=UTC)
HOUR = EPOCH + timedelta(hours=1)  # the measured hour; the hour before is its reference
TARGET = 10_000
# Redis databases of the bench's broker and results: away from the default 0/1 and the tests'
# 11/12 (Celery binds dagster-celery's task to the first broker a process uses).
BROKER_DB = 13
RUN_TIMEOUT_S = 900


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


def regroup_lines(path: Path, count: int) -> tuple[str, ...]:
    """Put the plant's machines on ``count`` production lines ``L1``, ``L2``, ... of consecutive
    machines (whole simulator lines each), in its ``machines`` table; the line names back."""
    from mfg_assets.plant.profile import MACHINES_PER_LINE

    db = sqlite3.connect(path)
    try:
        ids = sorted((row[0] for row in db.execute("SELECT machine_id FROM machines")),
                     key=lambda m: int(m[1:]))  # fmt: skip
        per = -(-len(ids) // count)
        per = -(-per // MACHINES_PER_LINE) * MACHINES_PER_LINE
        with db:
            db.executemany(
                "UPDATE machines SET line = ? WHERE machine_id = ?",
                [(f"L{i // per + 1}", m) for i, m in enumerate(ids)],
            )
        # into the database file itself: the steps' readers do not all go through the WAL
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return tuple(f"L{g + 1}" for g in range(-(-len(ids) // per)))


def _reachable(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def postgres_database(server: str) -> Iterator[str]:
    """A throwaway database on the PostgreSQL ``server`` (URL of its admin database)."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(server)
    name = f"mfg_bench_{uuid.uuid4().hex[:10]}"
    connect = {"host": admin.host, "port": admin.port, "user": admin.username,
               "password": admin.password, "dbname": admin.database}  # fmt: skip
    with psycopg.connect(**connect, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**connect, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _hour_on_workers(
    env: dict[str, str], folder: Path, workers: int, repeats: int
) -> list[dict[str, Any]]:
    """The reference hour (untimed), then the measured hour ``repeats`` times, on ``workers``
    fresh Celery workers; per run: wall time, step times and workers, workers' peak RSS."""
    import dagster as dg

    from mfg_assets.scale.local import (
        purge_queue,
        run_hourly_job,
        start_workers,
        step_times,
        step_workers,
    )
    from mfg_assets.storage.partitions import hour_key

    purge_queue(env["MFG_CELERY_BROKER_URL"])
    folder.mkdir(parents=True, exist_ok=True)
    started = start_workers([f"w{i + 1}" for i in range(workers)], env, folder)
    runs: list[dict[str, Any]] = []
    try:
        with dg.DagsterInstance.get() as instance:
            for key in [hour_key(EPOCH)] + [hour_key(HOUR)] * repeats:
                t0 = time.perf_counter()
                result = run_hourly_job(instance, key, RUN_TIMEOUT_S)
                wall = time.perf_counter() - t0
                if not result.success:
                    logs = "\n".join(w.log_text()[-3000:] for w in started)
                    raise RuntimeError(f"the {key} run on {workers} worker(s) failed:\n{logs}")
                if key == hour_key(EPOCH):
                    continue  # the reference hour: stored, and the code loaded in each worker
                times = step_times(instance, result.run_id)
                by_step = step_workers(instance, result.run_id)
                begin = min(start for start, _ in times.values())
                lines = [t for k, t in times.items() if k.startswith("line_features_")]
                runs.append({
                    "wall_s": wall,
                    "line_steps_s": max(e for _, e in lines) - min(s for s, _ in lines),
                    "steps": {k: {"start_s": s - begin, "duration_s": e - s,
                                  "workers": sorted(by_step.get(k, ()))}
                              for k, (s, e) in times.items()},
                    "worker_peak_mb": {w.name: w.peak_mb() for w in started},
                })  # fmt: skip
    finally:
        for worker in started:
            worker.stop()
    return runs


def on_celery_workers(
    url: str, tmp: Path, lines: tuple[str, ...], machines: int, args: argparse.Namespace
) -> dict[int, list[dict[str, Any]]] | None:
    """One hour of the plant at ``url`` as ``hourly_plant_job`` split by ``lines``, on 1 then 2
    Celery workers; printed, and returned per worker count (``None``: no Redis/PostgreSQL)."""
    import polars as pl

    from mfg_assets.scale.local import celery_env, write_postgres_instance
    from mfg_assets.storage.partitions import hour_key, partition_file

    server = args.postgres.split("@")[-1].split("/")[0]
    absent = [name for name, address in (("Redis", args.redis), ("PostgreSQL", server))
              if not _reachable(address)]  # fmt: skip
    if absent:
        print(f"\nCelery workers: skipped, {' and '.join(absent)} not reachable", flush=True)
        return None
    runs: dict[int, list[dict[str, Any]]] = {}
    outputs: dict[int, pl.DataFrame] = {}
    saved = dict(os.environ)
    with postgres_database(args.postgres) as database:
        try:
            for workers in (1, 2):
                home = tmp / f"celery_{workers}" / "dagster_home"
                write_postgres_instance(home, database)
                env = celery_env(
                    broker_url=f"redis://{args.redis}/{BROKER_DB}",
                    backend_url=f"redis://{args.redis}/{BROKER_DB + 1}",
                    plant_url=url,
                    data_dir=tmp / f"celery_{workers}" / "data",
                    dagster_home=home,
                    lines=lines,
                )
                os.environ.update(env)  # the run's process, as the workers get it
                runs[workers] = _hour_on_workers(
                    env, tmp / f"celery_{workers}", workers, args.celery_repeats
                )
                path = Path(env["MFG_DATA_DIR"], "warehouse") / partition_file(
                    ["machine_hourly_features"], hour_key(HOUR)
                )
                outputs[workers] = pl.read_parquet(path).sort("machine_id", "hour")
        finally:
            os.environ.clear()
            os.environ.update(saved)
    assert outputs[1].equals(outputs[2]), "1 and 2 workers built different hours"
    report_celery(runs, machines, len(lines))
    return runs


def report_celery(runs: dict[int, list[dict[str, Any]]], machines: int, lines: int) -> None:
    wall = {w: [r["wall_s"] for r in runs[w]] for w in runs}
    line = {w: [r["line_steps_s"] for r in runs[w]] for w in runs}
    ratio = [a / b for a, b in zip(wall[1], wall[2], strict=True)]
    line_ratio = [a / b for a, b in zip(line[1], line[2], strict=True)]
    print(
        f"\n{machines} machines, one hour as hourly_plant_job on Celery workers ({lines} line "
        f"steps + rest, solo pool): run wall 1 worker {summary(wall[1])} s, 2 workers "
        f"{summary(wall[2])} s, ratio {summary(ratio)}x; line steps (first start to last end) "
        f"1 worker {summary(line[1])} s, 2 workers {summary(line[2])} s, ratio "
        f"{summary(line_ratio)}x; 1 and 2 workers' hours equal: yes",
        flush=True,
    )
    order = sorted(runs[2][0]["steps"], key=lambda k: runs[2][0]["steps"][k]["start_s"])
    print(f"  {'step (event log)':34s} {'1 worker s':>16s} {'2 workers s':>16s}  start / worker")
    for key in order:
        cells = []
        for w in (1, 2):
            durations = [r["steps"][key]["duration_s"] for r in runs[w] if key in r["steps"]]
            cells.append(summary(durations) if durations else "-")
        last = runs[2][-1]["steps"].get(key, {})
        where = ",".join(last.get("workers", [])) or "-"
        print(
            f"  {key:34s} {cells[0]:>16s} {cells[1]:>16s}  {last.get('start_s', 0):6.1f} s {where}"
        )
    extract = [r["steps"]["sensor_readings"]["duration_s"] for r in runs[1]]
    print(
        f"  sensor_readings step per machine: {1000 * statistics.median(extract) / machines:.3f} ms"
    )
    for w in runs:
        peaks = [max(v for v in r["worker_peak_mb"].values() if v) for r in runs[w]]
        print(f"  peak RSS of a worker, {w} worker(s): {max(peaks):.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="20,200,1000", help="plant sizes (machines)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--groups", type=int, default=4, help="production lines of the split hour")
    parser.add_argument(
        "--celery-repeats", type=int, default=2, help="measured runs per worker set"
    )
    parser.add_argument("--redis", default="127.0.0.1:6379", help="Redis host:port (broker)")
    parser.add_argument(
        "--postgres",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server (a database is created there for the instance, then dropped)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parse_args(parser, sizes="4,8", repeats=1, groups=2, celery_repeats=1)
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

    from mfg_assets.ingestion.extract import extract_machines
    from mfg_assets.scale.lines import REST, machines_by_group

    largest = sizes[-1]
    url = f"sqlite:///{tmp / f'plant_{largest}.db'}"
    lines = regroup_lines(tmp / f"plant_{largest}.db", args.groups)
    by_line = machines_by_group(extract_machines(url), lines)
    groups = [by_line[line] for line in lines]
    print(
        f"\n{largest} machines put on {len(lines)} lines of "
        f"{'/'.join(str(len(g)) for g in groups)} machines (+ {REST}: unknown ids, no id)",
        flush=True,
    )

    celery = on_celery_workers(url, tmp, lines, largest, args)

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
        f"\nsecond row, the {len(groups)} lines' transform alone on a process pool (no broker, no "
        f"Dagster): 1 process {summary(wall[1])} s, 2 processes {summary(wall[2])} s, "
        f"ratio {summary(ratios)}x; peak per line {max(r['peak_mb'] for r in split[2]):.0f} MB; "
        f"combine {summary([r['combine_s'] for r in split[2]])} s; equal to the single step: yes",
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
        args.json.write_text(
            json.dumps({"sizes": results, "split": split, "celery": celery}, default=str)
        )


if __name__ == "__main__":
    sys.exit(main())
