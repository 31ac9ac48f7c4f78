"""Benchmark: the Feast online layer — materialization throughput and online lookup latency of
``mfg_assets.feature_store`` per profile, with Feast's own ``get_online_features`` as baseline.

    .venv/bin/python bench/online_features.py [--machines 100] [--days 1] [--iterations 500]
                                              [--profiles embedded,redis]

Everything runs in a temporary ``MFG_DATA_DIR`` (removed at the end): hourly
``machine_hourly_features`` partitions for N machines x D days are written exactly where the
Dagster IO manager puts them (``partitions_dir()/<YYYY-MM-DD-HHMM>.parquet``, schema
``feature_schema()``, realistic random values). Per profile (``embedded`` = SQLite online store,
``redis`` = ``FEAST_REDIS_CONNECTION``, default ``127.0.0.1:6379``):

- materialization of the last day: hour by hour (24 ``materialize_window`` calls, the hourly
  schedule; the first call is also shown on its own since it pays Feast's cold start), then the
  whole day in one call (same rows again: idempotent) -> rows/s;
- online lookups of 1 id and of 100 distinct ids: ``online_features(store, ids)`` and, as the
  baseline, ``store.get_online_features(features=feature_refs(), entity_rows=...).to_dict()``
  on the same ids, calls interleaved (alternating which goes first) after a warm-up, so machine
  load hits both alike; p50 / p99 / mean and the ratio ours / Feast.

The offline mirror (daily files Feast reads) is built once before the profiles run and timed on
its own, so materialization times are Feast + online store only. The Redis profile uses a unique
project ``bench_<hex>``; every Redis key ends with the project name and all of them are deleted
at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from _smoke import parse_args

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
FIRST_DAY = datetime(2026, 11, 1, tzinfo=UTC)
DEFAULT_REDIS = "127.0.0.1:6379"
BATCH = 100  # ids per multi-id lookup


# --------------------------------------------------------------------------- synthetic data


class FeatureGenerator:
    """Hourly feature rows that look like the plant's: each machine runs around its own operating
    point (nominal +- a few noise units) that drifts slowly; per-hour statistics are consistent
    (min <= mean <= max, std ~ sensor noise), 1 Hz readings with ~0.3 % gaps, ~12 inspections an
    hour with ~5 % defects."""

    def __init__(self, machines: int, seed: int = 0) -> None:
        from mfg_assets.plant.catalog import SENSORS, machine_ids

        self.rng = np.random.default_rng(seed)
        self.ids = machine_ids(machines)
        self.sensors = SENSORS
        self.nominal = np.array([s.nominal for s in SENSORS])
        self.noise = np.array([s.noise for s in SENSORS])
        n = len(self.ids)
        self.level = self.nominal + self.rng.normal(0.0, 3.0, (n, len(SENSORS))) * self.noise

    def hour(self, hour: datetime) -> pl.DataFrame:
        from mfg_assets.features.schema import feature_schema

        rng, n = self.rng, len(self.ids)
        self.level += rng.normal(0.0, 0.2, self.level.shape) * self.noise  # slow drift
        columns: dict[str, Any] = {
            "machine_id": self.ids,
            "hour": [hour] * n,
            "event_timestamp": [hour + HOUR] * n,
        }
        for j, spec in enumerate(self.sensors):
            mean = self.level[:, j] + rng.normal(0.0, 0.05 * spec.noise, n)
            std = spec.noise * rng.uniform(0.8, 1.25, n)
            columns[f"{spec.name}_mean"] = mean
            columns[f"{spec.name}_std"] = std
            columns[f"{spec.name}_min"] = mean - std * rng.uniform(2.8, 4.0, n)
            columns[f"{spec.name}_max"] = mean + std * rng.uniform(2.8, 4.0, n)
            columns[f"{spec.name}_last"] = mean + std * rng.normal(0.0, 1.0, n)
            columns[f"{spec.name}_slope"] = rng.normal(0.0, spec.noise / 60.0, n)
        cells = 3600 * len(self.sensors)
        columns["n_readings"] = cells - rng.binomial(cells, 0.003, n)
        inspections = rng.poisson(12, n)
        defects = rng.binomial(inspections, 0.05)
        columns["n_inspections"] = inspections
        columns["n_defects"] = defects
        columns["defect_rate"] = np.where(inspections > 0, defects / np.maximum(inspections, 1), 0)
        schema = feature_schema()
        return pl.DataFrame(columns).select([pl.col(c).cast(t) for c, t in schema.items()])


def write_partitions(machines: int, days: int) -> tuple[int, int, float]:
    """Hourly partitions for ``days`` days from ``FIRST_DAY``; (files, rows, seconds)."""
    from mfg_assets.feature_store.names import partitions_dir
    from mfg_assets.storage.files import LocalFileStore

    started = time.perf_counter()
    target = partitions_dir()
    files = LocalFileStore(target.parent)
    generator = FeatureGenerator(machines)
    rows = 0
    for i in range(24 * days):
        hour = FIRST_DAY + i * HOUR
        frame = generator.hour(hour)
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", statistics=True)
        files.write_bytes(f"{target.name}/{hour:%Y-%m-%d-%H%M}.parquet", buffer.getvalue())
        rows += frame.height
    return 24 * days, rows, time.perf_counter() - started


# --------------------------------------------------------------------------- measurements


def percentiles(samples_s: Sequence[float]) -> tuple[float, float, float]:
    """(p50, p99, mean) in milliseconds."""
    values = np.asarray(samples_s) * 1e3
    return (
        float(np.percentile(values, 50)),
        float(np.percentile(values, 99)),
        float(values.mean()),
    )


def materialize_quietly(store: Any, start: datetime, end: datetime) -> tuple[float, Any]:
    """(seconds, result) of one ``materialize_window``; Feast's progress output swallowed."""
    from mfg_assets.feature_store.store import materialize_window

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        t = time.perf_counter()
        result = materialize_window(store, start, end)
        return time.perf_counter() - t, result


def measure_materialization(store: Any, day_start: datetime) -> list[dict[str, Any]]:

    hourly = []
    for i in range(24):
        start = day_start + i * HOUR
        seconds, result = materialize_quietly(store, start, start + HOUR)
        hourly.append((seconds, result))
        if result.kept_newer or not result.rows_written:
            raise RuntimeError(f"unexpected materialization of {start}: {result}")
    day_s, day = materialize_quietly(store, day_start, day_start + DAY)
    if day.kept_newer or day.source_days_rebuilt:
        raise RuntimeError(f"unexpected whole-day materialization: {day}")

    def row(label: str, calls: list[tuple[float, Any]]) -> dict[str, Any]:
        seconds = sum(s for s, _ in calls)
        source = sum(r.source_rows for _, r in calls)
        written = sum(r.rows_written for _, r in calls)
        return {
            "window": label,
            "calls": len(calls),
            "s_per_call": seconds / len(calls),
            "source_rows": source,
            "online_rows": written,
            "source_rps": source / seconds,
            "online_rps": written / seconds,
        }

    return [
        row("1 hour, first call (cold)", hourly[:1]),
        row("1 hour, calls 2-24 (mean)", hourly[1:]),
        row("1 hour, all 24 (mean)", hourly),
        row("whole day, 1 call", [(day_s, day)]),
    ]


def check_same_answer(ours: pl.DataFrame, feast: dict[str, list[Any]], ids: list[str]) -> None:
    """Both paths must return the same values (else the comparison is meaningless)."""
    from mfg_assets.features.schema import feature_columns

    if feast["machine_id"] != ids or ours["machine_id"].to_list() != ids:
        raise AssertionError("ours and Feast return different machine ids / order")
    for name in feature_columns():
        for a, b in zip(ours[name].to_list(), feast[name], strict=True):
            missing_a = a is None or (isinstance(a, float) and math.isnan(a))
            missing_b = b is None or (isinstance(b, float) and math.isnan(b))
            if missing_a != missing_b or (not missing_a and a != b):
                raise AssertionError(f"{name}: ours {a!r} != Feast {b!r}")


def measure_lookups(
    store: Any, machine_ids: list[str], iterations: int, warmup: int, seed: int
) -> list[dict[str, Any]]:
    from mfg_assets.feature_store.names import JOIN_KEY, feature_refs
    from mfg_assets.feature_store.online import online_features

    refs = feature_refs()
    rng = np.random.default_rng(seed)
    batch = min(BATCH, len(machine_ids))
    out = []
    for size in (1, batch):
        requests = [
            [str(m) for m in rng.choice(machine_ids, size=size, replace=False)]
            for _ in range(warmup + iterations)
        ]
        rows = [[{JOIN_KEY: m} for m in ids] for ids in requests]

        def ours(i: int, requests: list[list[str]] = requests) -> Any:
            return online_features(store, requests[i])

        def feast(i: int, rows: list[list[dict[str, str]]] = rows) -> Any:
            return store.get_online_features(features=refs, entity_rows=rows[i]).to_dict()

        check_same_answer(ours(0), feast(0), requests[0])
        timings: dict[str, list[float]] = {"ours": [], "feast": []}
        calls: list[tuple[str, Callable[[int], Any]]] = [("ours", ours), ("feast", feast)]
        for i in range(warmup + iterations):
            for name, fn in calls if i % 2 == 0 else calls[::-1]:
                t = time.perf_counter()
                fn(i)
                elapsed = time.perf_counter() - t
                if i >= warmup:
                    timings[name].append(elapsed)
        out.append({"ids": size, **{k: percentiles(v) for k, v in timings.items()}})
    return out


# --------------------------------------------------------------------------- redis


def redis_client(connection: str) -> Any:
    import redis

    nodes = [part.split(":") for part in connection.split(",") if "=" not in part]
    params: dict[str, Any] = {}
    for part in connection.split(","):
        if "=" in part:
            key, value = part.split("=", 1)
            try:
                params[key] = json.loads(value)
            except json.JSONDecodeError:
                params[key] = value
    host, port = nodes[0]
    return redis.Redis(host=host, port=int(port), **params)


def delete_project_keys(client: Any, project: str) -> int:
    """Delete every key of ``project`` (Feast's Redis keys end with the project name)."""
    pattern = f"*{project}".encode()
    deleted = 0
    keys = list(client.scan_iter(match=pattern, count=1000))
    for i in range(0, len(keys), 1000):
        deleted += client.delete(*keys[i : i + 1000])
    left = list(client.scan_iter(match=pattern, count=1000))
    if left:
        raise RuntimeError(f"{len(left)} Redis keys of {project} are still there")
    return deleted


# --------------------------------------------------------------------------- report


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--machines", type=int, default=100)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=500, help="timed lookups per case")
    parser.add_argument("--warmup", type=int, default=None, help="default: iterations / 10")
    parser.add_argument("--profiles", default="embedded,redis")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    args = parse_args(parser, machines=3, days=1, iterations=3, warmup=1)
    if args.machines < 1 or args.days < 1 or args.iterations < 1:
        parser.error("--machines, --days and --iterations must be >= 1")
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    warmup = args.warmup if args.warmup is not None else max(10, args.iterations // 10)

    tmp = Path(tempfile.mkdtemp(prefix="mfg_bench_online_"))
    project = f"bench_{uuid.uuid4().hex[:12]}"
    os.environ["MFG_DATA_DIR"] = str(tmp / "data")
    os.environ["MFG_FEAST_PROJECT"] = project
    for name in ("MFG_FEATURE_STORE", "FEAST_REGISTRY_URL"):
        os.environ.pop(name, None)  # a SQL registry would be shared with real projects
    redis_connection = os.environ.get("FEAST_REDIS_CONNECTION", "").strip() or DEFAULT_REDIS
    os.environ["FEAST_REDIS_CONNECTION"] = redis_connection

    from mfg_assets.feature_store.offline import sync_offline_store
    from mfg_assets.feature_store.store import open_store
    from mfg_assets.plant.catalog import machine_ids as catalog_ids

    load = os.getloadavg()
    print(
        f"# Online features benchmark: {args.machines} machines x {args.days} day(s), "
        f"{args.iterations} timed lookups per case after {warmup} warm-up\n"
    )
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average at start "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; project `{project}`\n"
    )

    materialize: list[tuple[str, dict[str, Any]]] = []
    lookups: list[tuple[str, dict[str, Any]]] = []
    notes: list[str] = []
    try:
        files, rows, write_s = write_partitions(args.machines, args.days)
        sync = sync_offline_store()
        print(
            f"Wrote {files} hourly partitions ({rows:,} rows) in {write_s:.2f} s; built the "
            f"offline mirror ({len(sync.days_rebuilt)} day file(s)) in {sync.seconds:.2f} s.\n"
        )
        day_start = FIRST_DAY + (args.days - 1) * DAY
        machine_ids = catalog_ids(args.machines)
        for i, profile in enumerate(profiles):
            client = None
            if profile == "redis":
                try:
                    client = redis_client(redis_connection)
                    client.ping()
                except Exception as exc:
                    notes.append(f"redis skipped: {redis_connection} unreachable ({exc})")
                    continue
            try:
                t = time.perf_counter()
                store = open_store(profile, apply=True)
                cold = " (includes importing Feast)" if i == 0 else ""
                notes.append(
                    f"{profile}: open_store(apply=True) {time.perf_counter() - t:.2f} s{cold}"
                )
                for row in measure_materialization(store, day_start):
                    materialize.append((profile, row))
                for row in measure_lookups(store, machine_ids, args.iterations, warmup, seed=i):
                    lookups.append((profile, row))
            finally:
                if client is not None:
                    deleted = delete_project_keys(client, project)
                    notes.append(f"redis: deleted {deleted} keys of project {project}")
                    client.close()
    finally:
        if args.keep:
            notes.append(f"data kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print("## Materialization (`materialize_window`, last day)\n")
    print_table(
        [
            "profile",
            "window",
            "calls",
            "s / call",
            "source rows",
            "online rows",
            "source rows/s",
            "online rows/s",
        ],
        [
            [
                profile,
                r["window"],
                str(r["calls"]),
                f"{r['s_per_call']:.3f}",
                f"{r['source_rows']:,}",
                f"{r['online_rows']:,}",
                f"{r['source_rps']:,.0f}",
                f"{r['online_rps']:,.0f}",
            ]
            for profile, r in materialize
        ],
    )
    print(
        "source rows: hourly offline rows in the window(s); online rows: rows written to the "
        "online store (one per machine per call: Feast keeps each machine's latest row).\n"
    )

    print("## Online lookup latency (ms): `online_features` vs Feast `get_online_features`\n")
    print_table(
        [
            "profile",
            "ids",
            "ours p50",
            "ours p99",
            "ours mean",
            "Feast p50",
            "Feast p99",
            "Feast mean",
            "ours/Feast p50",
            "ours/Feast p99",
            "ours/Feast mean",
        ],
        [
            [
                profile,
                str(r["ids"]),
                *(f"{v:.3f}" for v in r["ours"]),
                *(f"{v:.3f}" for v in r["feast"]),
                *(f"{a / b:.2f}" for a, b in zip(r["ours"], r["feast"], strict=True)),
            ]
            for profile, r in lookups
        ],
    )
    print(
        "Feast baseline: `store.get_online_features(features=feature_refs(), "
        "entity_rows=[{'machine_id': ...}]).to_dict()` on the same ids, calls interleaved; "
        "both answers checked equal before timing.\n"
    )
    load = os.getloadavg()
    notes.append(f"load average at end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
