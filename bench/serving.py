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
    python bench/serving.py --open-loop --duration 5 --open-duration 10   # 50 % / 80 % of max
    python bench/serving.py --skip-maintenance --defect-plant neu_det     # real NEU-DET images

Reports per server and client count: requests/s, p50, p95, p99, non-2xx + socket errors; the
raw model's rows/s in-process (batch 1 and batch 64) as the ceiling; ratios bento / FastAPI.

Defect images: one rendered simulator inspection (default), or real ones: ``--defect-plant
neu_det`` serves a detector of the NEU plant (a few epochs on an imported NEU-DET subset, see
``bench/defect_inference.py``; or ``--defect-weights``) with ``MFG_PLANT=neu_det`` and uploads
NEU-DET's 200 x 200 grey JPEGs as they are, ``--defect-bodies`` of them in rotation
(``--defect-images DIR``: another folder). Each defect server first answers one checked
``POST /detect`` (the plant's classes, the image's size, boxes inside it) before it is loaded.
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
import urllib.error
import urllib.request
from collections.abc import Callable
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
# The 95th percentile, which wrk's --latency summary leaves out (it prints 50/75/90/99).
P95_LUA = """
done = function(summary, latency, requests)
  io.write(string.format("p95 %.0fus\\n", latency:percentile(95)))
end
"""
# Several bodies sent in turn (real images differ in size and content).
ROTATING_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "{content_type}"
local bodies = {{}}
for _, path in ipairs({{{paths}}}) do
  local f = assert(io.open(path, "rb"))
  bodies[#bodies + 1] = f:read("*a")
  f:close()
end
local turn = 0
request = function()
  turn = turn % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[turn])
end
"""


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a server process and all its descendants (BentoML's
    supervisor starts the workers in their own process groups)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def run_wrk(
    wrk: str,
    url: str,
    script: Path,
    clients: int,
    duration: float,
    cpu: str | None,
    server_pid: int | None = None,
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
    cpu_before = tree_cpu_seconds(server_pid) if server_pid else 0.0
    out = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60).stdout
    cpu_used = tree_cpu_seconds(server_pid) - cpu_before if server_pid else float("nan")
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)$", out, re.M))
    p95 = re.search(r"^p95 (\d+)us$", out, re.M)

    def pct(key: str) -> float:
        match = re.match(r"([\d.]+)(\w+)", latency.get(key, "nan0ms"))
        return _ms(match.group(1), match.group(2)) if match else float("nan")

    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    requests = int(total.group(1)) if total else 0
    return {
        "cpu_us_per_request": cpu_used / max(requests, 1) * 1e6,
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50_ms": pct("50"),
        "p95_ms": int(p95.group(1)) / 1000 if p95 else float("nan"),
        "p99_ms": pct("99"),
        "requests": requests,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }


# --------------------------------------------------------------------------- maintenance


def setup_maintenance(work: Path) -> str:
    from mfg_assets.models.config import apply_overrides, load_experiment
    from mfg_assets.models.maintenance.synthetic import training_frame
    from mfg_assets.models.maintenance.workflow import promote, train_and_register
    from mfg_assets.serving.model_store import import_maintenance_model

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

    from mfg_assets.serving.samples import healthy_row

    body = work / "maintenance.json"
    body.write_text(json.dumps({"rows": [healthy_row(np.random.default_rng(1))]}))
    script = work / "maintenance.lua"
    script.write_text(LUA.format(content_type="application/json", body=body) + P95_LUA)
    return script


UVICORN = [str(BIN / "uvicorn"), "bench.serving_baseline:app", "--host", "127.0.0.1"]
UVICORN += ["--port", "{port}", "--log-level", "warning", "--no-access-log"]
BENTO = [str(BIN / "bentoml"), "serve", "bentos.maintenance.service:MaintenanceService"]
BENTO += ["--host", "127.0.0.1", "--port", "{port}"]
MAINTENANCE_VARIANTS = {  # name: (command, extra environment)
    "fastapi": (UVICORN, {}),
    "batched": (BENTO, {"MFG_SERVING_BATCHING": "1"}),
    "unbatched": (BENTO, {"MFG_SERVING_BATCHING": "0"}),
    "fastapi-2w": ([*UVICORN, "--workers", "2"], {}),
    "batched-notrace": (
        BENTO,
        {"MFG_SERVING_BATCHING": "1", "BENTOML_CONFIG_OPTIONS": "tracing.excluded_urls=predict"},
    ),
    "batched-2w": (BENTO, {"MFG_SERVING_BATCHING": "1", "MFG_SERVING_WORKERS": "2"}),
}


# --------------------------------------------------------------------------- defect


def setup_defect(work: Path, args: argparse.Namespace) -> tuple[str, list[str]]:
    """The served detector's model-store tag and classes: ``--defect-weights`` or a briefly
    trained detector of ``--defect-plant``, exported to ONNX at ``--defect-imgsz``."""
    from defect_inference import throwaway_weights

    from mfg_assets.models.defect.export import export_detector
    from mfg_assets.plant.inspection_classes import plant_classes
    from mfg_assets.serving.model_store import import_detector_file

    imgsz = args.defect_imgsz
    weights = args.defect_weights or throwaway_weights(
        work / "defect",
        None,
        imgsz,
        args.defect_plant,
        args.defect_epochs,
        args.defect_train_per_class,
    )
    onnx = export_detector(weights, ("onnx",), imgsz=imgsz, out_dir=work / "export")["onnx"]
    classes = list(plant_classes(args.defect_plant).detector)
    tag = import_detector_file(
        onnx, version=1, run_id="bench", classes=classes, image_size=imgsz
    ).tag
    return tag, classes


BOUNDARY = "mfgbenchboundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


@dataclass
class DefectUploads:
    """The request bodies of the defect load (one multipart upload each) and their wrk script."""

    script: Path
    bodies: list[Path]
    sizes: list[tuple[int, int]]  # each body's image (width, height)
    label: str  # what one request uploads, for the table's title


def multipart(name: str, content_type: str, data: bytes) -> bytes:
    """A form with one file field ``image``."""
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="{name}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def defect_uploads(work: Path, args: argparse.Namespace) -> DefectUploads:
    """Real images (``--defect-plant neu_det`` or ``--defect-images``: the files' own bytes,
    ``--defect-bodies`` of them in rotation) or one rendered simulator inspection encoded as
    ``--image-format``."""
    import io

    from defect_inference import describe, image_files
    from PIL import Image

    from mfg_assets.plant.images import render_inspection

    files = image_files(args.defect_plant, args.defect_images, args.defect_bodies)
    bodies, sizes = [], []
    if files:
        for i, path in enumerate(files):
            kind = "png" if path.suffix.lower() == ".png" else "jpeg"
            body = work / f"defect_{i}.bin"
            body.write_bytes(multipart(path.name, f"image/{kind}", path.read_bytes()))
            bodies.append(body)
            with Image.open(path) as image:
                sizes.append(image.size)
        label = describe(files)
    else:
        fmt = args.image_format
        buffer = io.BytesIO()
        pixels = render_inspection(3, "Q-bench", "scratch", 0.7).pixels  # 320 x 320, as the plant
        extra = {"quality": 90} if fmt == "jpeg" else {}
        Image.fromarray(pixels).save(buffer, fmt.upper(), **extra)
        body = work / "defect.bin"
        body.write_bytes(multipart(f"p.{fmt}", f"image/{fmt}", buffer.getvalue()))
        bodies, sizes = [body], [(pixels.shape[1], pixels.shape[0])]
        label = f"one rendered 320x320 {fmt.upper()}"
    script = work / "defect.lua"
    paths = ", ".join(json.dumps(str(b)) for b in bodies)
    script.write_text(ROTATING_LUA.format(content_type=MULTIPART, paths=paths) + P95_LUA)
    return DefectUploads(script, bodies, sizes, label)


def check_detect(uploads: DefectUploads, classes: list[str]) -> Callable[[str], str]:
    """A check of a started defect server: its answer to the first upload names the plant's
    classes, the image's size and boxes inside the image (exits otherwise)."""

    def check(url: str) -> str:
        request = urllib.request.Request(
            url + "/detect",
            data=uploads.bodies[0].read_bytes(),
            headers={"Content-Type": MULTIPART},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"POST /detect answered {exc.code}: {exc.read()[:500]!r}") from exc
        width, height = uploads.sizes[0]
        size = (answer.get("image_width"), answer.get("image_height"))
        outside = [
            d["box_xyxy"]
            for d in answer["detections"]
            if not (0 <= d["box_xyxy"][0] <= d["box_xyxy"][2] <= width)
            or not (0 <= d["box_xyxy"][1] <= d["box_xyxy"][3] <= height)
            or d["cls_name"] not in classes
        ]
        if answer.get("classes") != classes or size != (width, height) or outside:
            raise SystemExit(
                f"POST /detect answered classes {answer.get('classes')}, size {size}, "
                f"bad boxes {outside[:3]}; expected {classes}, {(width, height)}"
            )
        found = sorted({d["cls_name"] for d in answer["detections"]})
        return (
            f"POST /detect checked: classes {classes}, {width}x{height} px, "
            f"{len(answer['detections'])} boxes {found}"
        )

    return check


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


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per-metric median over rounds; errors are summed (any error counts)."""
    import statistics

    out = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    for key in ("non_2xx", "socket_errors", "requests"):
        out[key] = sum(r[key] for r in runs)
    return out


def batch_rows(url: str) -> tuple[float, float]:
    """(sum, count) of the service's rows-per-model-call histogram (0, 0 if it has none)."""
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0.0, 0.0
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith(("mfg_maintenance_batch_rows_sum", "mfg_defect_batch_images_sum")):
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith(("mfg_maintenance_batch_rows_count", "mfg_defect_batch_images_count")):
            count += float(line.rsplit(" ", 1)[1])
    return total, count


def measure(
    variants: dict[str, tuple[list[str], dict[str, str]]],
    path: str,
    script: Path,
    levels: list[int],
    args: argparse.Namespace,
    work: Path,
    wrk: str,
    cpus: tuple[str | None, str | None],
    check: Callable[[str], str] | None = None,
) -> dict[str, dict[int, dict[str, float]]]:
    """Each variant's server started alone, ``check``-ed (first round), warmed up, loaded at
    every client level; repeated ``args.rounds`` times in interleaved order; per-level
    medians."""
    server_cpus, wrk_cpu = cpus
    runs: dict[str, dict[int, list[dict[str, float]]]] = {}
    for round_ in range(args.rounds):  # interleaved: drift in the machine's load hits all alike
        for name, (cmd, server_env) in variants.items():
            server = start(name.replace(" ", "_"), cmd, server_env, work, server_cpus)
            try:
                if check and round_ == 0:
                    print(f"{name}: {check(server.url)}")
                run_wrk(wrk, server.url + path, script, 4, 2.0, wrk_cpu)  # warm-up
                for clients in levels:
                    before = batch_rows(server.url)
                    r = run_wrk(
                        wrk,
                        server.url + path,
                        script,
                        clients,
                        args.duration,
                        wrk_cpu,
                        server.proc.pid,
                    )
                    after = batch_rows(server.url)
                    calls = after[1] - before[1]
                    r["rows_per_call"] = (after[0] - before[0]) / calls if calls else 0.0
                    runs.setdefault(name, {}).setdefault(clients, []).append(r)
            finally:
                server.stop()
    return {name: {c: median_run(rs) for c, rs in by.items()} for name, by in runs.items()}


def measure_open_loop(
    variants: dict[str, tuple[list[str], dict[str, str]]],
    body: bytes,
    loads: list[float],
    args: argparse.Namespace,
    work: Path,
    wrk: str,
    cpus: tuple[str | None, str | None],
) -> tuple[float, dict[str, dict[float, dict[str, float]]]]:
    """Constant arrival rates at ``loads`` × the plain FastAPI baseline's maximum throughput
    (measured first, closed loop with wrk at 32 clients, in this run): each variant started
    alone and held at each rate for ``args.open_duration`` s (bench/open_loop.py)."""
    from open_loop import open_loop

    server_cpus, gen_cpu = cpus
    script = work / "maintenance.lua"
    base_cmd, base_env = variants["fastapi"]
    server = start("fastapi_max", base_cmd, base_env, work, server_cpus)
    try:
        run_wrk(wrk, server.url + "/predict", script, 4, 2.0, gen_cpu)  # warm-up
        peak = run_wrk(wrk, server.url + "/predict", script, 32, args.duration, gen_cpu)["rps"]
    finally:
        server.stop()
    results: dict[str, dict[float, dict[str, float]]] = {}
    for name, (cmd, server_env) in variants.items():
        server = start(f"{name}_open", cmd, server_env, work, server_cpus)
        try:
            open_loop(server.url, "/predict", body, "application/json", 0.2 * peak, 2.0, gen_cpu)
            for load in loads:
                results.setdefault(name, {})[load] = open_loop(
                    server.url,
                    "/predict",
                    body,
                    "application/json",
                    load * peak,
                    args.open_duration,
                    gen_cpu,
                )
        finally:
            server.stop()
    return peak, results


def open_loop_table(peak: float, results: dict[str, dict[float, dict[str, float]]]) -> None:
    print(f"\n### maintenance, open loop: constant arrival rate (FastAPI max {peak:,.0f} req/s)\n")
    print("| server | load | arrivals/s | answered/s | p50 ms | p99 ms | p99.9 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, by_load in results.items():
        for load, r in by_load.items():
            print(
                f"| {name} | {load:.0%} | {r['rate']:,.0f} | {r['achieved_rps']:,.0f} | "
                f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['p999_ms']:.1f} | {r['errors']} |"
            )
    kinds = [
        f"- {name} at {load:.0%}: {r['error_kinds']}"
        for name, by_load in results.items()
        for load, r in by_load.items()
        if r.get("error_kinds")
    ]
    if kinds:
        print("\nerrors by kind:\n" + "\n".join(kinds))


def ratios(candidate: dict[int, dict[str, float]], base: dict[int, dict[str, float]]) -> str:
    return ", ".join(
        f"{c} clients {r['rps'] / max(base[c]['rps'], 1e-9):.2f}x" for c, r in candidate.items()
    )


def table(title: str, results: dict[str, dict[int, dict[str, float]]], unit: str) -> None:
    print(f"\n### {title}\n")
    print(
        f"| server | clients | {unit}/s | p50 ms | p95 ms | p99 ms | non-2xx + errors "
        f"| server CPU µs/{unit} | rows per model call |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, levels in results.items():
        for clients, r in levels.items():
            bad = r["non_2xx"] + r["socket_errors"]
            per_call = f"{r['rows_per_call']:.1f}" if r.get("rows_per_call") else "–"
            print(
                f"| {name} | {clients} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | "
                f"{r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {bad} | "
                f"{r['cpu_us_per_request']:,.0f} | {per_call} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per level")
    parser.add_argument("--clients", default="1,8,32,64")
    parser.add_argument("--defect-clients", default="1,4,8")
    parser.add_argument("--variants", default="fastapi,batched,unbatched")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved repeats (median)")
    parser.add_argument("--skip-defect", action="store_true")
    parser.add_argument("--skip-maintenance", action="store_true")
    parser.add_argument("--defect-imgsz", type=int, default=192)
    parser.add_argument("--image-format", choices=("jpeg", "png"), default="jpeg")
    parser.add_argument(
        "--defect-plant",
        choices=("simulator", "neu_det"),
        default="simulator",
        help="the served detector's plant and its images (neu_det: real NEU-DET images)",
    )
    parser.add_argument("--defect-images", type=Path, help="folder of real PNG/JPEG images")
    parser.add_argument("--defect-bodies", type=int, default=8, help="real images in rotation")
    parser.add_argument("--defect-weights", type=Path, help="trained .pt (default: throwaway)")
    parser.add_argument("--defect-epochs", type=int, default=3, help="NEU throwaway's epochs")
    parser.add_argument(
        "--defect-train-per-class", type=int, default=20, help="NEU throwaway's images/class"
    )
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument(
        "--open-loop",
        action="store_true",
        help="maintenance at constant arrival rates (--loads x FastAPI's max) instead of clients",
    )
    parser.add_argument("--loads", default="0.5,0.8", help="open-loop rates, share of max")
    parser.add_argument("--open-duration", type=float, default=10.0, help="seconds per rate")
    args = parser.parse_args()
    wrk = require_wrk()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench_serving_"))
    work.mkdir(parents=True, exist_ok=True)
    from mfg_assets.serving.samples import serving_environment

    env = serving_environment(work)
    os.environ.update(env)
    server_cpus, wrk_cpu = cpu_sets()
    load = os.getloadavg()[0]
    print(
        f"# bench/serving.py — load average {load:.2f}, cpus {os.cpu_count()}, "
        f"server on {server_cpus or 'any'}, wrk on {wrk_cpu or 'any'}, {args.duration:.0f} s "
        "per level"
    )

    cpus = (server_cpus, wrk_cpu)
    if not args.skip_maintenance:
        tag = setup_maintenance(work)
        ceiling = raw_model_rows_per_s(tag)
        variants = {
            name: (cmd, {**env, **extra, "MFG_MAINTENANCE_MODEL_TAG": tag})
            for name, (cmd, extra) in MAINTENANCE_VARIANTS.items()
            if name in args.variants.split(",")
        }
        levels = [int(c) for c in args.clients.split(",")]
        script = maintenance_body(work)
        if args.open_loop:
            open_variants = {
                name: (cmd, {**env, **extra, "MFG_MAINTENANCE_MODEL_TAG": tag})
                for name, (cmd, extra) in MAINTENANCE_VARIANTS.items()
                if name in ("fastapi", "batched", "unbatched")
            }
            loads = [float(x) for x in args.loads.split(",")]
            body = (work / "maintenance.json").read_bytes()
            peak, open_results = measure_open_loop(
                open_variants, body, loads, args, work, wrk, cpus
            )
            open_loop_table(peak, open_results)
            print(f"\nload average at the end: {os.getloadavg()[0]:.2f}; work dir {work}")
            return
        results = measure(variants, "/predict", script, levels, args, work, wrk, cpus)
        table("maintenance: single-row JSON requests", results, "req")
        print(
            f"\nraw model in-process: {ceiling['batch_1']:,.0f} rows/s at batch 1, "
            f"{ceiling['batch_64']:,.0f} rows/s at batch 64"
        )
        for name in results:
            if name != "fastapi" and "fastapi" in results:
                print(f"{name} / fastapi throughput: {ratios(results[name], results['fastapi'])}")

    if not args.skip_defect:
        tag, classes = setup_defect(work, args)
        server_env = {
            **env,
            "MFG_PLANT": args.defect_plant,
            "MFG_DEFECT_MODEL_TAG": tag,
            # one onnxruntime thread per core the server may use
            "MFG_DEFECT_THREADS": str(len(server_cpus.split(",")) if server_cpus else 0),
        }
        variants = {
            "defect batched": (DEFECT_ARGS, {**server_env, "MFG_SERVING_BATCHING": "1"}),
            "defect unbatched": (DEFECT_ARGS, {**server_env, "MFG_SERVING_BATCHING": "0"}),
        }
        levels = [int(c) for c in args.defect_clients.split(",")]
        uploads = defect_uploads(work, args)
        check = check_detect(uploads, classes)
        results = measure(variants, "/detect", uploads.script, levels, args, work, wrk, cpus, check)
        title = f"defect ({args.defect_plant} detector, {args.defect_imgsz} px): one upload per "
        table(title + f"request of {uploads.label}", results, "img")
        print(
            "defect batched / unbatched throughput: "
            + ratios(results["defect batched"], results["defect unbatched"])
        )
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}; work dir {work}")


if __name__ == "__main__":
    main()
