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
from polars.testing import assert_frame_equal

from mfg_assets.scale.local import (
    Worker,
    celery_env,
    purge_queue,
    run_hourly_job,
    start_workers,
    step_pids,
    step_workers,
    write_postgres_instance,
)
from mfg_assets_tests.integration.plant_fixtures import HOUR_KEY
from mfg_assets_tests.scale.plant import (
    LINES,
    OUTPUTS,
    read_output,
    seed_lines_plant,
    single_process_reference,
    stray_files,
)

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
    env = celery_env(
        broker_url=f"redis://{redis_server}/{BROKER_DB}",
        backend_url=f"redis://{redis_server}/{BROKER_DB + 1}",
        plant_url=plant_url,
        data_dir=tmp_path / "data",
        dagster_home=tmp_path / "dagster_home",
        lines=LINES,
        visibility_timeout_s=VISIBILITY_TIMEOUT_S,
    )
    write_postgres_instance(tmp_path / "dagster_home", postgres_database)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    purge_queue(env["MFG_CELERY_BROKER_URL"])
    yield env


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
    going after RUN_TIMEOUT_S fails the test."""
    try:
        return run_hourly_job(instance, HOUR_KEY, RUN_TIMEOUT_S)
    except TimeoutError as exc:
        pytest.fail(str(exc))


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
