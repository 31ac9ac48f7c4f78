"""Celery worker processes for tests: started as subprocesses on the local Redis, bounded,
killed by their pid in teardown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mfg_assets.settings import subprocess_env

READY_TIMEOUT_S = 120


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

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 10 s (its pid only)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_workers(names: list[str], env: dict[str, str], folder: Path) -> list[Worker]:
    """Start one solo-pool worker per name (the pid runs the steps) and wait until each
    reports ready; on any failure the started ones are stopped."""
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
