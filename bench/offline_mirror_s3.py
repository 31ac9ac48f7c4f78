"""Benchmark: Feast's offline mirror built from S3 partitions (production) vs local partitions
(embedded): what a fresh pod pays to rebuild the cache, and what a no-change check costs.

    .venv/bin/python bench/offline_mirror_s3.py [--machines 20] [--days 7]

Writes the same ``machine_hourly_features`` partitions (``bench/online_features.py``'s
generator, real schema) for N machines x D days twice: into a local warehouse and into a bucket
of a moto S3 server on loopback (the test suite's S3 API server). Then, for each source, times
``sync_offline_store`` into its own empty mirror folder (cold: every day rebuilt), again with
nothing changed (warm: one listing plus one footer read per day), and after one partition is
rewritten (that day rebuilt). The S3 source is timed twice: with ``offline.READ_THREADS`` GETs
in flight (the default) and one GET at a time. Each case runs ``--repeat`` times, alternating
which source goes first; medians are shown with the ratio S3 / local. Loopback S3 has no
network latency: on real S3 or MinIO over a network, expect each GET and LIST to cost more (and
the concurrent GETs to matter more).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _smoke import parse_args  # noqa: E402
from online_features import FeatureGenerator  # noqa: E402

FIRST_HOUR = datetime(2026, 11, 1, tzinfo=UTC)
FOLDER = "machine_hourly_features"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parquet_bytes(frame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=True)
    return buffer.getvalue()


def timed_sync(source, target: Path) -> tuple[float, object]:
    from mfg_assets.feature_store.offline import sync_offline_store

    started = time.perf_counter()
    result = sync_offline_store(source=source, target=target)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--machines", type=int, default=20)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parse_args(parser, machines=2, days=1, repeat=1)

    from dagster_aws.s3 import S3Resource
    from moto.server import ThreadedMotoServer

    from mfg_assets.feature_store import offline
    from mfg_assets.feature_store.offline import PartitionSource

    threads = offline.READ_THREADS
    from mfg_assets.storage.files import LocalFileStore, S3FileStore

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    root = Path(tempfile.mkdtemp(prefix="mfg_bench_mirror_"))
    os.environ["MFG_DATA_DIR"] = str(root / "data")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        resource = S3Resource(
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        resource.get_client().create_bucket(Bucket="bench")
        stores = {
            "local": LocalFileStore(root / "warehouse"),
            "s3": S3FileStore(resource, "bench", "mfg/warehouse"),
        }
        generator = FeatureGenerator(args.machines)
        hours = [FIRST_HOUR + timedelta(hours=i) for i in range(24 * args.days)]
        rows = 0
        for hour in hours:
            frame = generator.hour(hour)
            data = parquet_bytes(frame)
            rows += frame.height
            for store in stores.values():
                store.write_bytes(f"{FOLDER}/{hour:%Y-%m-%d-%H%M}.parquet", data)
        sources = {name: PartitionSource(store) for name, store in stores.items()}
        sources["s3-1"] = PartitionSource(stores["s3"])  # same bucket, one GET at a time
        stores["s3-1"] = stores["s3"]
        rewrite = f"{FOLDER}/{hours[len(hours) // 2]:%Y-%m-%d-%H%M}.parquet"

        samples: dict[tuple[str, str], list[float]] = {}
        for rep in range(args.repeat):
            order = list(sources) if rep % 2 == 0 else list(reversed(sources))
            for name in order:
                source, target = sources[name], root / f"mirror-{name}-{rep}"
                offline.READ_THREADS = 1 if name == "s3-1" else threads
                cold, result = timed_sync(source, target)
                assert len(result.days_rebuilt) == args.days, result
                warm, result = timed_sync(source, target)
                assert result.days_rebuilt == (), result
                # new bytes each time: "s3" and "s3-1" share the bucket, and rewriting an
                # object with the same bytes in the same second leaves its ETag and
                # LastModified (1 s resolution) unchanged, so no sync could see the change
                replacement = parquet_bytes(generator.hour(hours[len(hours) // 2]))
                stores[name].write_bytes(rewrite, replacement)
                changed, result = timed_sync(source, target)
                assert len(result.days_rebuilt) == 1, result
                for case, seconds in (("cold", cold), ("warm", warm), ("changed", changed)):
                    samples.setdefault((case, name), []).append(seconds)
                shutil.rmtree(target)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    print(
        f"{args.machines} machines x {args.days} days = {len(hours)} hourly partitions, "
        f"{rows} rows; median of {args.repeat}; load average {os.getloadavg()[0]:.2f}"
    )
    labels = {
        "cold": f"cold mirror ({args.days} days rebuilt)",
        "warm": "no change (listing + footers)",
        "changed": "one partition rewritten (1 day)",
    }
    print(
        f"| sync | local | S3 (moto, loopback), {threads} GETs in flight | S3 / local | "
        "S3, 1 GET at a time |\n| --- | --- | --- | --- | --- |"
    )
    for case, label in labels.items():
        local, s3, s3_1 = (statistics.median(samples[(case, n)]) for n in ("local", "s3", "s3-1"))
        print(
            f"| {label} | {local * 1e3:.1f} ms | {s3 * 1e3:.1f} ms | {s3 / local:.2f}x | "
            f"{s3_1 * 1e3:.1f} ms |"
        )


if __name__ == "__main__":
    main()
