"""One hour of a multi-line plant run on two Celery worker processes (Redis broker and result
backend, PostgreSQL instance storage), against the single-process build of the same hour."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.definitions.reconstruct import ReconstructableRepository
from polars.testing import assert_frame_equal
from sqlalchemy.engine import make_url

from mfg_assets_tests.integration.plant_fixtures import HOUR_KEY
from mfg_assets_tests.scale.celery_workers import Worker, start_workers
from mfg_assets_tests.scale.plant import (
    LINES,
    OUTPUTS,
    read_output,
    seed_lines_plant,
    single_process_reference,
    stray_files,
)

REPO = Path(__file__).resolve().parents[2]
LINE_STEPS = {f"line_features_{g}" for g in (*LINES, "rest")}
RUN_TIMEOUT_S = 120
# One broker for the whole session: Celery 5.7 registers dagster-celery's task once per
# process, bound to the first app's broker, so a second broker URL in this process would send
# steps where no worker listens. Databases 11 and 12, away from the default 0.
BROKER_DB = 11
VISIBILITY_TIMEOUT_S = 5  # a killed worker's step goes back to the queue after this


@pytest.fixture
def scale_env(
    tmp_path: Path, redis_server: str, postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The scale-out profile: Celery on the local Redis (databases of its own),
    PostgreSQL instance storage, a seeded 20-machine plant split into lines L1, L2 (+ rest)."""
    plant_url = f"sqlite:///{tmp_path / 'plant.db'}"
    seed_lines_plant(plant_url)
    env = {
        "MFG_EXECUTOR": "celery",
        "MFG_CELERY_BROKER_URL": f"redis://{redis_server}/{BROKER_DB}",
        "MFG_CELERY_BACKEND_URL": f"redis://{redis_server}/{BROKER_DB + 1}",
        "MFG_CELERY_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S),
        "MFG_PLANT_LINES": ",".join(LINES),
        "PLANT_DB_URL": plant_url,
        "MFG_DATA_DIR": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    pg = make_url(postgres_database)
    home = tmp_path / "dagster_home"
    home.mkdir()
    storage = {
        "hostname": pg.host, "port": pg.port, "db_name": pg.database,
        "username": pg.username, "password": "", "scheme": "postgresql+psycopg2",
    }  # fmt: skip
    config = {"telemetry": {"enabled": False}, "storage": {"postgres": {"postgres_db": storage}}}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    _purge_queue(env["MFG_CELERY_BROKER_URL"])
    yield env


def _purge_queue(broker: str) -> None:
    """Drop tasks an earlier, interrupted test may have left in this broker database."""
    import redis

    client = redis.Redis.from_url(broker)
    stale = [*client.scan_iter("dagster*"), *client.scan_iter("unacked*")]
    if stale:
        client.delete(*stale)  # the step queue (and its priority levels), unacked steps
    client.close()


@pytest.fixture
def workers(scale_env: dict[str, str], tmp_path: Path) -> Iterator[list[Worker]]:
    started = start_workers(["w1", "w2"], scale_env, tmp_path)
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()


def run_hour(instance: dg.DagsterInstance) -> dg.ExecuteJobResult:
    """The hourly plant job for the test hour, its steps sent to the workers; a run still
    going after RUN_TIMEOUT_S fails the test (the run thread is a daemon, it ends with pytest)."""
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
                    tags={"dagster/partition": HOUR_KEY},
                )
            )
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    runner = threading.Thread(target=execute, daemon=True)
    runner.start()
    runner.join(RUN_TIMEOUT_S)
    if not outcome:
        pytest.fail(f"the run did not finish within {RUN_TIMEOUT_S} s")
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


def assert_equals_single_process(scale_env: dict[str, str], tmp_path: Path) -> None:
    warehouse = Path(scale_env["MFG_DATA_DIR"]) / "warehouse"
    single_process_reference(scale_env["PLANT_DB_URL"], tmp_path / "reference")
    for asset in OUTPUTS:
        assert_frame_equal(
            read_output(warehouse, asset), read_output(tmp_path / "reference", asset)
        )
    assert stray_files(warehouse) == []  # no temporary or partial partition file left


def test_hour_runs_on_two_workers(scale_env: dict[str, str], workers: list[Worker], tmp_path: Path):
    with dg.DagsterInstance.get() as instance:
        result = run_hour(instance)
        assert result.success, [w.log_text()[-2000:] for w in workers]
        by_step = step_workers(instance, result.run_id)
        pids = step_pids(instance, result.run_id)
    assert set(by_step) >= LINE_STEPS  # one step per line, each on a worker
    assert set().union(*by_step.values()) == {"w1", "w2"}  # both workers took steps
    assert pids == {w.pid for w in workers}  # ... and ran them in their own processes
    assert_equals_single_process(scale_env, tmp_path)


def test_killed_worker_loses_nothing(
    scale_env: dict[str, str], workers: list[Worker], tmp_path: Path
):
    """One worker is killed (SIGKILL, by its pid) as soon as it starts a line step: the step
    goes back to the queue and the other worker runs it, or the run fails and a re-run
    completes; either way the hour equals the single-process build, with no stray files."""
    by_name = {w.name: w for w in workers}
    killed: list[str] = []
    done = threading.Event()

    def kill_first_line_worker(instance: dg.DagsterInstance) -> None:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not done.is_set() and time.monotonic() < deadline:
            for run in instance.get_runs(limit=1):
                for step, names in step_workers(instance, run.run_id).items():
                    if step in LINE_STEPS and names:
                        name = sorted(names)[0]
                        os.kill(by_name[name].pid, signal.SIGKILL)
                        killed.extend([name, step])
                        return
            time.sleep(0.2)

    with dg.DagsterInstance.get() as instance:
        watcher = threading.Thread(target=kill_first_line_worker, args=(instance,), daemon=True)
        watcher.start()
        try:
            first = run_hour(instance)
        finally:
            done.set()
            watcher.join(timeout=10)
        assert len(killed) == 2, "no line step started on a worker"
        survivor = next(w for w in workers if w.name != killed[0])
        assert by_name[killed[0]].process.wait(timeout=10) == -signal.SIGKILL
        if not first.success:  # failed clearly: the re-run on the surviving worker completes
            second = run_hour(instance)
            assert second.success, survivor.log_text()[-2000:]
        else:  # the killed step was handed back to the queue and run by the survivor
            assert survivor.name in step_workers(instance, first.run_id)[killed[1]]
    assert_equals_single_process(scale_env, tmp_path)
