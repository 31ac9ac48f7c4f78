"""`make demo`: seed the simulated plant, materialize the whole asset graph, then serve it.

Stages (each timed and printed): seed the plant → backfill every hourly partition through
``machine_hourly_features`` (ranged runs) → failure labels and the Feast online store → train,
evaluate, promote and package (bento) the maintenance model → the same for the defect detector
→ drift and performance reports → a prediction from the served maintenance bento → summary →
serve ``dagster dev`` on :3000 (schedules and the drift sensor running) against ``mfg-plant run``
(the live plant) and the maintenance service on :3001. Set ``MFG_DEMO_HEADLESS=1`` to stop after
the summary (tests and CI do). Sizes come from ``MFG_DEMO_DAYS`` (7), ``MFG_DEMO_MACHINES``
(20), ``MFG_DEMO_SEED`` (7); experiments from ``MFG_DEMO_EXPERIMENT`` (maintenance_default) and
``MFG_DEMO_DEFECT_EXPERIMENT`` (defect_default).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mfg_assets.settings import dagster_home, data_dir, export_env, get_settings, subprocess_env
from mfg_assets.storage.partitions import hour_key

ROOT = Path(__file__).resolve().parents[1]
QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


@dataclass
class DemoPlan:
    """What the demo builds, from the environment."""

    days: int = 7
    machines: int = 20
    seed: int = 7
    headless: bool = False
    port: int = 3000
    service_port: int = 3001
    maintenance_experiment: str = "maintenance_default"
    defect_experiment: str = "defect_default"
    end: datetime = field(
        default_factory=lambda: datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    )

    @classmethod
    def from_settings(cls) -> DemoPlan:
        """The plan the ``MFG_DEMO_*`` settings describe."""
        s = get_settings()
        return cls(
            days=s.mfg_demo_days,
            machines=s.mfg_demo_machines,
            seed=s.mfg_demo_seed,
            headless=s.mfg_demo_headless,
            port=s.mfg_demo_port,
            service_port=s.mfg_demo_service_port,
            maintenance_experiment=s.mfg_demo_experiment,
            defect_experiment=s.mfg_demo_defect_experiment,
        )

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)


@dataclass
class StageClock:
    """Wall time per stage, printed as a table at the end."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        print(f"\n== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = time.perf_counter() - t0
            print(f"   ({self.seconds[name]:.1f} s)", flush=True)

    def table(self) -> str:
        rows = [f"| {name} | {secs:.1f} |" for name, secs in self.seconds.items()]
        total = sum(self.seconds.values())
        return "\n".join(["| stage | seconds |", "|---|---:|", *rows, f"| total | {total:.1f} |"])


def prepare_environment(plan: DemoPlan) -> dict[str, str]:
    """DAGSTER_HOME with the root dagster.yaml, data dir, partition start; returns the env."""
    export_env({"DAGSTER_HOME": str(ROOT / ".dagster_home"), "MFG_DATA_DIR": str(ROOT / "data")})
    export_env({"MFG_PARTITIONS_START": hour_key(plan.start)}, override=True)
    export_env(
        {
            "DAGSTER_DISABLE_TELEMETRY": "1",
            "DO_NOT_TRACK": "1",
            "BENTOML_DO_NOT_TRACK": "true",
            "YOLO_OFFLINE": "1",
        }
    )
    home = dagster_home()
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    return subprocess_env()


def seed_plant(plan: DemoPlan) -> str:
    """Write the plant's history; returns the plant DB URL."""
    from mfg_assets.plant.config import DirtConfig, PlantConfig
    from mfg_assets.plant.driver import seed_plant as seed
    from mfg_assets.plant.writer import PlantDB
    from mfg_assets.settings import plant_db_url

    url = plant_db_url()
    config = PlantConfig(
        machines=plan.machines, seed=plan.seed, epoch=plan.start, dirt=DirtConfig()
    )
    summary = seed(PlantDB(url), config, plan.end)
    print(f"   plant: {url}")
    print(
        f"   {summary.start:%Y-%m-%d %H:%M} .. {summary.end:%Y-%m-%d %H:%M} UTC,"
        f" rows {summary.rows}"
    )
    return url


def backfill(plan: DemoPlan) -> Any:
    """Every hourly partition through the features, as one single-run backfill."""
    import dagster as dg

    from mfg_assets.definitions import defs
    from mfg_assets.runs import materialize_range

    first = hour_key(plan.start)
    last = hour_key(plan.end - timedelta(hours=1))
    print(f"   partitions {first} … {last} ({plan.days * 24} hours) in one run")
    with dg.DagsterInstance.get() as instance:
        result = materialize_range(
            defs, "hourly_plant_job", first, last, instance, tags={"mfg/trigger": "demo"}
        )
    return result


def build_feature_store_and_labels(plan: DemoPlan) -> list[Any]:
    """Failure labels for every hour whose look-ahead exists; the online store for the last
    hours (it keeps the latest row per machine)."""
    import dagster as dg

    from mfg_assets.definitions import defs
    from mfg_assets.runs import materialize_range
    from mfg_assets.settings import label_horizon_hours

    last_labelled = plan.end - timedelta(hours=1 + label_horizon_hours())
    results = []
    with dg.DagsterInstance.get() as instance:
        labels_job = defs.resolve_job_def("labels_and_online_store_job")
        if last_labelled >= plan.start:
            results.append(
                materialize_range(
                    defs,
                    labels_job.name,
                    hour_key(plan.start),
                    hour_key(last_labelled),
                    instance,
                    asset_selection=[dg.AssetKey("failure_labels")],
                )
            )
        for back in (3, 2, 1):
            key = hour_key(plan.end - timedelta(hours=back))
            results.append(
                labels_job.execute_in_process(
                    instance=instance,
                    partition_key=key,
                    asset_selection=[dg.AssetKey("online_features")],
                    run_config=QUIET,
                )
            )
    return results


def run_training_job(plan: DemoPlan, job_name: str, experiment: str, ops: list[str]) -> Any:
    """One training job for today's partition, ``experiment`` given to each op in ``ops``."""
    import dagster as dg

    from mfg_assets.definitions import defs

    job = defs.resolve_job_def(job_name)
    with dg.DagsterInstance.get() as instance:
        return job.execute_in_process(
            instance=instance,
            partition_key=plan.end.strftime("%Y-%m-%d"),
            run_config={
                **QUIET,
                "ops": {op: {"config": {"experiment": experiment}} for op in ops},
            },
            tags={"mfg/trigger": "demo", "mfg/kind": "training"},
            raise_on_error=False,
        )


def train_maintenance_model(plan: DemoPlan) -> Any:
    """Today's training set → model → evaluation (promotion gate) → champion → bento."""
    return run_training_job(
        plan, "maintenance_training_job", plan.maintenance_experiment, ["maintenance_model"]
    )


def train_defect_detector(plan: DemoPlan) -> Any:
    """Today's YOLO dataset → detector (+ ONNX export) → evaluation (gate) → champion → bento."""
    return run_training_job(
        plan, "defect_training_job", plan.defect_experiment, ["defect_dataset", "defect_detector"]
    )


def monitoring_reports(plan: DemoPlan) -> list[Any]:
    """Feature drift for the last hours (what the drift sensor reads), inspection drift for the
    last complete day, and the champion's performance on the last fully labelled day."""
    import dagster as dg

    from mfg_assets.definitions import defs
    from mfg_assets.runs import implicit_asset_job
    from mfg_assets.settings import label_horizon_hours

    last_day = plan.end - timedelta(days=1)
    labelled_day = plan.end - timedelta(hours=label_horizon_hours() + 1, days=1)
    requests = [
        ("feature_drift_report", hour_key(plan.end - timedelta(hours=back))) for back in (3, 2, 1)
    ]
    from mfg_assets.plant.definition import active_plant

    if active_plant().inspections.enabled:  # a plant without inspections has no such report
        requests.append(("inspection_drift_report", last_day.strftime("%Y-%m-%d")))
    if labelled_day >= plan.start:
        requests.append(("maintenance_model_performance", labelled_day.strftime("%Y-%m-%d")))
    results = []
    with dg.DagsterInstance.get() as instance:
        for asset, key in requests:
            job = implicit_asset_job(defs, asset)
            results.append(
                job.execute_in_process(
                    instance=instance,
                    partition_key=key,
                    asset_selection=[dg.AssetKey(asset)],
                    run_config=QUIET,
                    tags={"mfg/trigger": "demo"},
                    raise_on_error=False,
                )
            )
    for result in results:
        for event in result.get_asset_materialization_events():
            meta = event.materialization.metadata
            status = meta.get("status")
            drift = meta.get("dataset_drift")
            print(
                f"   {event.asset_key.to_user_string():<30} {event.partition}: "
                f"status={getattr(status, 'value', status)} "
                f"dataset_drift={getattr(drift, 'value', drift)}"
            )
    return results


def champion_summary() -> dict[str, Any]:
    """Each model's champion version and held-out metrics, printed and returned."""
    from mfg_assets.models.registry import REGISTERED_MODELS, ModelRegistry, RegistryError

    registry = ModelRegistry()
    champions: dict[str, Any] = {}
    for name in REGISTERED_MODELS.values():
        try:
            champion = registry.status(name).get("champion")
        except RegistryError:
            champion = None
        if champion is None:
            print(f"   {name}: no champion")
            continue
        metrics = {
            k: round(v, 3)
            for k, v in champion.get("metrics", {}).items()
            if k.startswith("test_") and "/" not in k
        }
        print(f"   {name} champion: version {champion.get('version')}, {metrics}")
        champions[name] = champion
    return champions


def bento_summary() -> dict[str, str]:
    """The newest bento of each service in the demo's BentoML store."""
    from bentoml._internal.bento import BentoStore
    from bentoml.exceptions import NotFound

    from mfg_assets.serving.build import SERVICES
    from mfg_assets.serving.model_store import bentoml_home

    store = BentoStore(str(bentoml_home() / "bentos"))
    bentos: dict[str, str] = {}
    for service in SERVICES:
        try:
            bentos[service] = str(store.get(f"{service}:latest").tag)
        except NotFound:
            continue
    for service in SERVICES:
        print(f"   bento {service:<12} {bentos.get(service, 'not built')}")
    return bentos


def start_maintenance_service(plan: DemoPlan, env: dict[str, str]) -> subprocess.Popen:
    """``bentoml serve`` of the newest maintenance bento on the service port."""
    from mfg_assets.serving.model_store import bentoml_home

    bin_dir = Path(sys.executable).parent
    service_env = {**env, "BENTOML_HOME": str(bentoml_home())}
    cmd = [
        str(bin_dir / "bentoml"),
        "serve",
        "maintenance:latest",
        "--host",
        "127.0.0.1",
        "--port",
        str(plan.service_port),
    ]
    return subprocess.Popen(cmd, cwd=ROOT, env=service_env, start_new_session=True)


def served_prediction(
    plan: DemoPlan,
    proc: subprocess.Popen,
    timeout: float = 180.0,
    machines: list[str] | None = None,
) -> dict:
    """Wait for the service, then ask it about ``machines`` (default: the simulator's first two)
    with their features from the online store."""
    import httpx

    base = f"http://127.0.0.1:{plan.service_port}"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the maintenance service exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the maintenance service was not ready after {timeout:.0f} s")
        time.sleep(1)
    machines = machines or [f"M{i:03d}" for i in range(1, min(plan.machines, 2) + 1)]
    response = httpx.post(f"{base}/predict", json={"machine_ids": machines}, timeout=30)
    response.raise_for_status()
    answer = response.json()
    for prediction in answer.get("predictions", []):
        print(f"   {prediction}")
    print(f"   lineage: {answer.get('lineage')}")
    return answer


def summarize_runs(results: list[Any]) -> dict[str, Any]:
    """Partitions materialized per asset and check outcomes, printed and returned."""
    materialized: dict[str, int] = {}
    checks: dict[str, str] = {}
    for result in results:
        for event in result.get_asset_materialization_events():
            key = event.asset_key.to_user_string()
            materialized[key] = materialized.get(key, 0) + 1
        for evaluation in result.get_asset_check_evaluations():
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            outcome = (
                "passed"
                if evaluation.passed
                else f"failed ({evaluation.severity.value}): {evaluation.description}"
            )
            if checks.get(name, "passed") == "passed":
                checks[name] = outcome
    print("   partitions materialized:")
    for key, count in sorted(materialized.items()):
        print(f"     {key:<28} {count}")
    print("   checks:")
    for name, outcome in sorted(checks.items()):
        print(f"     {name:<44} {outcome}")
    return {"materialized": materialized, "checks": checks}


def serve(plan: DemoPlan, env: dict[str, str], service: subprocess.Popen | None) -> None:
    """Dagster UI + daemon, the live plant and the maintenance service, until Ctrl-C; then
    stop them all cleanly."""
    bin_dir = Path(sys.executable).parent
    processes = {
        "live plant": [str(bin_dir / "mfg-plant"), "run", "--speed", "1"],
        "dagster dev": [str(bin_dir / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(plan.port)],
    }
    running: dict[str, subprocess.Popen] = {}
    if service is not None:
        running["maintenance service"] = service
    for name, cmd in processes.items():
        running[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    print(f"\n   Dagster UI      http://127.0.0.1:{plan.port}")
    if service is not None:
        print(f"   maintenance     http://127.0.0.1:{plan.service_port}  (POST /predict, /docs)")
    print("   drift demo      .venv/bin/mfg-plant scenario supplier_change --at +2h")
    print(f"   data directory  {data_dir()}")
    print(f"   DAGSTER_HOME    {dagster_home()}")
    print("   Ctrl-C stops everything.", flush=True)
    stop = _wait_for_interrupt(lambda: any(p.poll() is not None for p in running.values()))
    for name, proc in running.items():
        _terminate(proc)
        print(f"   stopped {name}", flush=True)
    if not stop:
        raise SystemExit("a demo process exited unexpectedly; see its output above")


def _wait_for_interrupt(child_died: Callable[[], bool]) -> bool:
    interrupted = False

    def handler(signum: int, frame: Any) -> None:
        nonlocal interrupted
        interrupted = True

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    while not interrupted and not child_died():
        time.sleep(0.5)
    return interrupted


def _terminate(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop a child's whole process group (dagster dev may ignore a lone SIGTERM)."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def main() -> int:
    plan = DemoPlan.from_settings()
    env = prepare_environment(plan)
    clock = StageClock()
    print(f"mfg_assets demo: {plan.machines} machines, {plan.days} days, seed {plan.seed}")
    with clock.stage("seed the simulated plant"):
        seed_plant(plan)
    with clock.stage("backfill hourly partitions (ingestion → features)"):
        result = backfill(plan)
    with clock.stage("failure labels and online feature store"):
        feature_runs = build_feature_store_and_labels(plan)
    with clock.stage("maintenance model: train, evaluate, promote, build the bento"):
        training = train_maintenance_model(plan)
    with clock.stage("defect detector: dataset, train, export, evaluate, promote, bento"):
        defect_training = train_defect_detector(plan)
    with clock.stage("drift and performance reports"):
        reports = monitoring_reports(plan)
    runs = [result, *feature_runs, training, defect_training, *reports]
    service = None
    answer: dict | None = None
    if training.success:
        with clock.stage("serve the maintenance bento and ask it for a prediction"):
            service = start_maintenance_service(plan, env)
            try:
                answer = served_prediction(plan, service)
            except Exception as exc:  # reported below; the demo then fails
                print(f"   no prediction: {exc}", file=sys.stderr)
    with clock.stage("summary"):
        summary = summarize_runs(runs)
        champions = champion_summary()
        bentos = bento_summary()
    print("\n" + clock.table())
    ok = (
        all(r.success for r in runs)
        and set(champions) == {"maintenance_model", "defect_detector"}
        and set(bentos) == {"maintenance", "defect"}
        and answer is not None
        and bool(summary["materialized"])
    )
    if not ok:
        print("demo pipeline FAILED", file=sys.stderr)
        if service is not None:
            _terminate(service)
        return 1
    if plan.headless:
        if service is not None:
            _terminate(service)
        print("\nheadless demo finished")
        return 0
    serve(plan, env, service)
    return 0


if __name__ == "__main__":
    sys.exit(main())
