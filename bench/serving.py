"""Serving throughput and latency: the maintenance bento (batched / unbatched) against a plain
FastAPI + uvicorn app serving the same model, and the defect bento batched vs unbatched.

Load comes from Debian's ``wrk`` (C, epoll, one thread): a Python load generator on a 2-core
machine competes with the server for the interpreter and the cores and measures itself. Each
server runs alone (one at a time) and, when the machine has at least 2 cores, is pinned to all
cores but the last while ``wrk`` is pinned to the last one (``taskset``), so the generator never
takes the server's CPU. Every run is loopback-only and bounded (``--duration`` seconds per
level, ``--timeout`` per request). Baseline and candidates are measured in the same run.

Install the load generator once: ``apt-get install wrk`` (the script checks and says so).

Usage::

    python bench/serving.py        # maintenance at 1, 8, 32, 64 clients; defect at 1, 4, 8
    python bench/serving.py --duration 10 --skip-defect
    python bench/serving.py --variants batched,fastapi --clients 32

Reports per server and client count: requests/s, p50, p99, non-2xx + socket errors; the raw
model's rows/s in-process (batch 1 and batch 64) as the ceiling; ratios bento / FastAPI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
BIN = Path(sys.executable).parent


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        sys.exit(
            "wrk is not installed: run `apt-get install wrk` (Debian package, an HTTP load "
            "generator in C). A Python client on this 2-core machine would compete with the "
            "server for CPU and distort the result."
        )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_sets() -> tuple[str | None, str | None]:
    """(server cpus, load generator cpu) for taskset, or (None, None) on a 1-core machine."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or shutil.which("taskset") is None:
        return None, None
    return ",".join(map(str, cpus[:-1])), str(cpus[-1])


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    url: str
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # leftover workers


def start(name: str, args: list[str], env: dict[str, str], work: Path, cpus: str | None) -> Server:
    """Start a server in its own process group; wait until its readiness probe answers."""
    probe = "/docs" if "uvicorn" in args[0] else "/readyz"
    port = free_port()
    args = [a.replace("{port}", str(port)) for a in args]
    if cpus:
        args = ["taskset", "-c", cpus, *args]
    log = work / f"{name}.log"
    proc = subprocess.Popen(
        args,
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + probe, timeout=2) as response:
                if response.status == 200:
                    return Server(name, proc, url, log)
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{name} did not become ready:\n{log.read_text()[-3000:]}")


LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "{content_type}"
local f = assert(io.open("{body}", "rb"))
wrk.body = f:read("*a")
f:close()
"""


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def run_wrk(
    wrk: str, url: str, script: Path, clients: int, duration: float, cpu: str | None
) -> dict[str, float]:
    args = [
        wrk,
        "-t1",
        f"-c{clients}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    if cpu:
        args = ["taskset", "-c", cpu, *args]
    out = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)$", out, re.M))

    def pct(key: str) -> float:
        match = re.match(r"([\d.]+)(\w+)", latency.get(key, "nan0ms"))
        return _ms(match.group(1), match.group(2)) if match else float("nan")

    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "requests": int(total.group(1)) if total else 0,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }


# --------------------------------------------------------------------------- maintenance


def setup_maintenance(work: Path) -> str:
    from mfg_assets.models.config import apply_overrides, load_experiment
    from mfg_assets.models.maintenance.workflow import promote, train_and_register
    from mfg_assets.serving.model_store import import_maintenance_model
    from mfg_assets_tests.models.synthetic import training_frame

    config = apply_overrides(load_experiment("maintenance_default"), {"training.epochs": 3})
    trained = train_and_register(
        training_frame(n_machines=10, hours=200, seed=0),
        config,
        {"training_window_start": "bench", "training_window_end": "bench"},
        experiment="maintenance_default",
    )
    promote(trained.version)
    return import_maintenance_model(trained.version).tag


def raw_model_rows_per_s(tag: str) -> dict[str, float]:
    import numpy as np
    import torch

    from mfg_assets.serving.maintenance_runtime import load_scorer

    torch.set_num_threads(1)
    scorer = load_scorer(tag)
    out = {}
    for batch in (1, 64):
        x = np.random.default_rng(0).normal(size=(batch, len(scorer.feature_names)))
        scorer.score(x)
        n, started = 0, time.perf_counter()
        while time.perf_counter() - started < 2.0:
            scorer.score(x)
            n += batch
        out[f"batch_{batch}"] = n / (time.perf_counter() - started)
    return out


def maintenance_body(work: Path) -> Path:
    import numpy as np

    from mfg_assets_tests.serving.conftest import healthy_row

    body = work / "maintenance.json"
    body.write_text(json.dumps({"rows": [healthy_row(np.random.default_rng(1))]}))
    script = work / "maintenance.lua"
    script.write_text(LUA.format(content_type="application/json", body=body))
    return script


MAINTENANCE_VARIANTS = {
    "fastapi": (
        [
            str(BIN / "uvicorn"),
            "bench.serving_baseline:app",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        {},
    ),
    "batched": (
        [
            str(BIN / "bentoml"),
            "serve",
            "bentos.maintenance.service:MaintenanceService",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
        ],
        {"MFG_SERVING_BATCHING": "1"},
    ),
    "batched-notrace": (
        [str(BIN / "bentoml"), "serve", "bentos.maintenance.service:MaintenanceService",
         "--host", "127.0.0.1", "--port", "{port}"],
        {"MFG_SERVING_BATCHING": "1", "BENTOML_CONFIG_OPTIONS": "tracing.excluded_urls=predict"},
    ),
    "unbatched": (
        [
            str(BIN / "bentoml"),
            "serve",
            "bentos.maintenance.service:MaintenanceService",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
        ],
        {"MFG_SERVING_BATCHING": "0"},
    ),
}


# --------------------------------------------------------------------------- defect


def setup_defect(work: Path, imgsz: int) -> str:
    from defect_inference import _throwaway_weights

    from mfg_assets.models.defect.export import export_detector
    from mfg_assets.plant.catalog import DEFECT_CLASSES
    from mfg_assets.serving.model_store import import_detector_file

    weights = _throwaway_weights(work / "defect", "yolov8-pico", imgsz)
    onnx = export_detector(weights, ("onnx",), imgsz=imgsz, out_dir=work / "export")["onnx"]
    return import_detector_file(
        onnx, version=1, run_id="bench", classes=list(DEFECT_CLASSES), image_size=imgsz
    ).tag


def defect_body(work: Path) -> Path:
    import io

    from PIL import Image

    from mfg_assets.plant.images import render_inspection

    buffer = io.BytesIO()
    Image.fromarray(render_inspection(3, "Q-bench", "scratch", 0.7).pixels).save(buffer, "PNG")
    boundary = "mfgbenchboundary"
    body = work / "defect.bin"
    body.write_bytes(
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="p.png"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode()
        + buffer.getvalue()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    script = work / "defect.lua"
    script.write_text(
        LUA.format(content_type=f"multipart/form-data; boundary={boundary}", body=body)
    )
    return script


DEFECT_ARGS = [
    str(BIN / "bentoml"),
    "serve",
    "bentos.defect.service:DefectService",
    "--host",
    "127.0.0.1",
    "--port",
    "{port}",
]


# --------------------------------------------------------------------------- report


def table(title: str, results: dict[str, dict[int, dict[str, float]]], unit: str) -> None:
    print(f"\n### {title}\n")
    print(f"| server | clients | {unit}/s | p50 ms | p99 ms | non-2xx + errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, levels in results.items():
        for clients, r in levels.items():
            bad = r["non_2xx"] + r["socket_errors"]
            print(
                f"| {name} | {clients} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | "
                f"{r['p99_ms']:.1f} | {bad} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per level")
    parser.add_argument("--clients", default="1,8,32,64")
    parser.add_argument("--defect-clients", default="1,4,8")
    parser.add_argument("--variants", default="fastapi,batched,unbatched")
    parser.add_argument("--skip-defect", action="store_true")
    parser.add_argument("--skip-maintenance", action="store_true")
    parser.add_argument("--defect-imgsz", type=int, default=192)
    parser.add_argument("--work-dir", type=Path)
    args = parser.parse_args()
    wrk = require_wrk()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench_serving_"))
    work.mkdir(parents=True, exist_ok=True)
    env = {
        "MFG_DATA_DIR": str(work / "data"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
        "BENTOML_HOME": str(work / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "YOLO_OFFLINE": "1",
    }
    os.environ.update(env)
    server_cpus, wrk_cpu = cpu_sets()
    load = os.getloadavg()[0]
    print(
        f"# bench/serving.py — load average {load:.2f}, cpus {os.cpu_count()}, "
        f"server on {server_cpus or 'any'}, wrk on {wrk_cpu or 'any'}, {args.duration:.0f} s "
        "per level"
    )

    if not args.skip_maintenance:
        tag = setup_maintenance(work)
        ceiling = raw_model_rows_per_s(tag)
        script = maintenance_body(work)
        results: dict[str, dict[int, dict[str, float]]] = {}
        for name in args.variants.split(","):
            cmd, extra = MAINTENANCE_VARIANTS[name]
            server = start(
                name, cmd, {**env, **extra, "MFG_MAINTENANCE_MODEL_TAG": tag}, work, server_cpus
            )
            try:
                run_wrk(wrk, server.url + "/predict", script, 8, 2.0, wrk_cpu)  # warm-up
                results[name] = {
                    c: run_wrk(wrk, server.url + "/predict", script, c, args.duration, wrk_cpu)
                    for c in map(int, args.clients.split(","))
                }
            finally:
                server.stop()
        table("maintenance: single-row JSON requests", results, "req")
        print(
            f"\nraw model in-process: {ceiling['batch_1']:,.0f} rows/s at batch 1, "
            f"{ceiling['batch_64']:,.0f} rows/s at batch 64"
        )
        if "fastapi" in results:
            for name in results:
                if name == "fastapi":
                    continue
                base = results["fastapi"]
                ratios = ", ".join(
                    f"{c} clients {r['rps'] / max(base[c]['rps'], 1e-9):.2f}x"
                    for c, r in results[name].items()
                )
                print(f"{name} / fastapi throughput: {ratios}")

    if not args.skip_defect:
        tag = setup_defect(work, args.defect_imgsz)
        script = defect_body(work)
        results = {}
        for name, batching in (("defect batched", "1"), ("defect unbatched", "0")):
            server = start(
                name.replace(" ", "_"),
                DEFECT_ARGS,
                {**env, "MFG_DEFECT_MODEL_TAG": tag, "MFG_SERVING_BATCHING": batching},
                work,
                server_cpus,
            )
            try:
                run_wrk(wrk, server.url + "/detect", script, 4, 2.0, wrk_cpu)
                results[name] = {
                    c: run_wrk(wrk, server.url + "/detect", script, c, args.duration, wrk_cpu)
                    for c in map(int, args.defect_clients.split(","))
                }
            finally:
                server.stop()
        table(f"defect: one {args.defect_imgsz}-px-model PNG upload per request", results, "img")
        for c in results["defect batched"]:
            ratio = results["defect batched"][c]["rps"] / max(
                results["defect unbatched"][c]["rps"], 1e-9
            )
            print(f"defect batched / unbatched at {c} clients: {ratio:.2f}x")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}; work dir {work}")


if __name__ == "__main__":
    main()
