"""Celery workers and a Dagster instance on this host, for the scale-out tests and benchmark.

Workers are started as subprocesses (bounded, stopped by their pid), the instance stores runs
and events in PostgreSQL (what workers on other hosts would share), the hourly job runs with
its steps sent to the workers through the ``celery`` executor (``MFG_EXECUTOR``), and the event
log says which worker and process ran each step, and when.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from mfg_assets.settings import subprocess_env

READY_TIMEOUT_S = 120
REPO = Path(__file__).resolve().parents[2]
STEP_ENDS = (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)


@dataclass
class Worker:
    """One worker process: its Celery node name, process and log file."""

    name: str
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def peak_mb(self) -> float | None:
        """Peak resident memory of the worker so far (VmHWM); ``None`` once it has exited."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 10 s (its pid only)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def celery_env(
    broker_url: str,
    backend_url: str,
    plant_url: str,
    data_dir: Path,
    dagster_home: Path,
    lines: tuple[str, ...] = (),
    visibility_timeout_s: int | None = None,
) -> dict[str, str]:
    """The scale-out profile's environment, for the run's process and every worker."""
    env = {
        "MFG_EXECUTOR": "celery",
        "MFG_CELERY_BROKER_URL": broker_url,
        "MFG_CELERY_BACKEND_URL": backend_url,
        "MFG_PLANT_LINES": ",".join(lines),
        "PLANT_DB_URL": plant_url,
        "MFG_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(dagster_home),
    }
    if visibility_timeout_s is not None:
        env["MFG_CELERY_VISIBILITY_TIMEOUT_S"] = str(visibility_timeout_s)
    return env


def write_postgres_instance(dagster_home: Path, postgres_url: str) -> None:
    """``dagster.yaml`` in ``dagster_home``: runs, events and schedules in the PostgreSQL
    database of ``postgres_url`` (a SQLAlchemy URL), telemetry off."""
    import yaml
    from sqlalchemy.engine import make_url

    pg = make_url(postgres_url)
    storage = {
        "hostname": pg.host, "port": pg.port, "db_name": pg.database,
        "username": pg.username, "password": pg.password or "", "scheme": "postgresql+psycopg2",
    }  # fmt: skip
    config = {"telemetry": {"enabled": False}, "storage": {"postgres": {"postgres_db": storage}}}
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config))


def purge_queue(broker_url: str) -> None:
    """Drop tasks an earlier, interrupted run may have left in this broker database."""
    import redis

    client = redis.Redis.from_url(broker_url)
    stale = [*client.scan_iter("dagster*"), *client.scan_iter("unacked*")]
    if stale:
        client.delete(*stale)  # the step queue (and its priority levels), unacked steps
    client.close()


def start_workers(names: list[str], env: dict[str, str], folder: Path) -> list[Worker]:
    """Start one solo-pool worker per name (the pid runs the steps, one at a time) and wait
    until each reports ready; on any failure the started ones are stopped."""
    workers: list[Worker] = []
    try:
        for name in names:
            log = folder / f"{name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "mfg_assets.scale.worker", "--pool", "solo",
                     "-n", f"{name}@%h", "--without-gossip", "--without-mingle"],
                    env=subprocess_env(**env),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=os.getcwd(),
                )  # fmt: skip
            workers.append(Worker(name, process, log))
        deadline = time.monotonic() + READY_TIMEOUT_S
        for worker in workers:
            while " ready." not in worker.log_text():
                if worker.process.poll() is not None:
                    raise RuntimeError(f"worker {worker.name} exited:\n{worker.log_text()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"worker {worker.name} not ready:\n{worker.log_text()}")
                time.sleep(0.5)
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
    return workers


def run_hourly_job(
    instance: dg.DagsterInstance, partition_key: str, timeout_s: float
) -> dg.ExecuteJobResult:
    """``hourly_plant_job`` for one hour, reconstructed from ``mfg_assets.definitions`` (so the
    executor is the one ``MFG_EXECUTOR`` selects). Raises :class:`TimeoutError` when the run
    is still going after ``timeout_s`` (its thread is a daemon: it ends with the process)."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    repo = ReconstructableRepository.for_module(
        "mfg_assets.definitions", "build_definitions", working_directory=str(REPO)
    )
    outcome: list[dg.ExecuteJobResult | BaseException] = []

    def execute() -> None:
        try:
            outcome.append(
                dg.execute_job(
                    repo.get_reconstructable_job("hourly_plant_job"),
                    instance=instance,
                    tags={"dagster/partition": partition_key},
                )
            )
        except BaseException as exc:  # handed to the calling thread
            outcome.append(exc)

    runner = threading.Thread(target=execute, daemon=True)
    runner.start()
    runner.join(timeout_s)
    if not outcome:
        raise TimeoutError(f"the run did not finish within {timeout_s:.0f} s")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def step_workers(instance: dg.DagsterInstance, run_id: str) -> dict[str, set[str]]:
    """Step key → the Celery workers that reported executing it (engine events)."""
    found: dict[str, set[str]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not event.is_engine_event or not event.step_key:
            continue
        data = event.engine_event_data.metadata.get("Celery worker")
        if data is not None:
            found.setdefault(event.step_key, set()).add(str(data.value).split("@")[0])
    return found


def step_pids(instance: dg.DagsterInstance, run_id: str) -> set[int]:
    """Pids of the processes that started the run's steps."""
    return {
        entry.dagster_event.pid
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
        if entry.dagster_event is not None and entry.dagster_event.pid is not None
    }


def step_times(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[float, float]]:
    """Step key → (start, end) of its last attempt, epoch seconds from the event log."""
    starts: dict[str, float] = {}
    times: dict[str, tuple[float, float]] = {}
    for entry in instance.all_logs(run_id, of_type={dg.DagsterEventType.STEP_START, *STEP_ENDS}):
        key = entry.step_key
        if key is None:
            continue
        if entry.dagster_event_type == dg.DagsterEventType.STEP_START:
            starts[key] = entry.timestamp
        elif key in starts:
            times[key] = (starts[key], entry.timestamp)
    return times
