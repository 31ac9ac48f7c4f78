"""One serving environment per test module: MLflow store, BentoML home, a Feast online store
with real materialized rows, and two registered maintenance versions (v1 champion, v2
challenger) imported into the BentoML model store; servers are real ``bentoml serve``
subprocesses on free loopback ports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest

from mfg_assets.features.schema import feature_schema
from mfg_assets.serving.samples import healthy_row, serving_environment
from mfg_assets_tests.fixtures.s3 import free_port
from mfg_assets_tests.production.stack import Service, executable, http_get, wait_until

T0 = datetime(2026, 11, 1, tzinfo=UTC)
ONLINE_MACHINES = ("M001", "M002", "M003", "M004")
ONLINE_HOURS = 3
HOUR = timedelta(hours=1)
RELOAD_TOKEN = "test-reload-token-7f3a"  # what MFG_SERVING_RELOAD_TOKEN is in these servers
RELOAD_AUTH = {"Authorization": f"Bearer {RELOAD_TOKEN}"}


@dataclass
class ServingHome:
    root: Path
    env: dict[str, str]

    @property
    def data_dir(self) -> Path:
        return Path(self.env["MFG_DATA_DIR"])


@dataclass
class RunningServer:
    url: str
    service: Service
    env: dict[str, str] = field(default_factory=dict)

    def client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)


@pytest.fixture(scope="module")
def serving_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServingHome]:
    root = tmp_path_factory.mktemp("serving")
    env = serving_environment(root)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        for key in ("MFG_FEATURE_STORE", "FEAST_REGISTRY_URL", "FEAST_REDIS_CONNECTION"):
            patch.delenv(key, raising=False)
        yield ServingHome(root, env)
        import mlflow

        while mlflow.active_run() is not None:
            mlflow.end_run()


@pytest.fixture(scope="module")
def registered(serving_home: ServingHome) -> dict[int, object]:
    """Two trained versions of maintenance_model: v1 champion, v2 challenger; both imported."""
    from mfg_assets.models.config import apply_overrides, load_experiment
    from mfg_assets.models.maintenance.synthetic import training_frame
    from mfg_assets.models.maintenance.workflow import promote, train_and_register
    from mfg_assets.serving.model_store import import_maintenance_model

    config = apply_overrides(load_experiment("maintenance_default"), {"training.epochs": 2})
    versions = {}
    for seed in (0, 1):
        trained = train_and_register(
            training_frame(n_machines=6, hours=120, signal=3.0, seed=seed),
            config,
            {
                "training_window_start": "2026-10-18 01:00:00+00:00",
                "training_window_end": "2026-11-01 00:00:00+00:00",
                "dagster_run_id": f"run-{seed}",
            },
            experiment="maintenance_default",
        )
        versions[trained.version] = trained
    promote(1)
    import_maintenance_model(1)
    import_maintenance_model(2, alias="challenger")
    return versions


@pytest.fixture(scope="module")
def online_store(serving_home: ServingHome):
    """ONLINE_HOURS hourly partitions for ONLINE_MACHINES, materialized into the SQLite online
    store exactly as the ``online_features`` asset does; M004 has no features at all."""
    from mfg_assets.feature_store.store import materialize_window, open_store
    from mfg_assets_tests.feature_store.conftest import write_partition

    rng = np.random.default_rng(3)
    for hour in range(ONLINE_HOURS):
        rows = []
        for i, machine in enumerate(ONLINE_MACHINES[:3]):
            start = T0 + timedelta(hours=hour)
            values = healthy_row(rng, risk=float(i))
            rows.append(
                {
                    "machine_id": machine,
                    "hour": start,
                    "event_timestamp": start + timedelta(hours=1),
                }
                | values
            )
        frame = pl.DataFrame(rows, schema=feature_schema()).select(feature_schema().keys())
        write_partition(serving_home.data_dir, hour, frame)
    store = open_store("embedded")
    materialize_window(store, T0, T0 + timedelta(hours=ONLINE_HOURS))
    return store


def start_bento(
    name: str, service: str, env: dict[str, str], log_dir: Path, ready_timeout: float = 120
) -> Service:
    port = free_port()
    args = [executable("bentoml"), "serve", service, "--host", "127.0.0.1", "--port", str(port)]
    proc = Service(name, args, env, log_dir)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_get(f"{url}/readyz")[0] == 200, ready_timeout, f"{name}", proc)
    except BaseException:
        proc.stop()
        raise
    proc.url = url  # type: ignore[attr-defined]
    return proc


@pytest.fixture(scope="module")
def maintenance_server(
    serving_home: ServingHome, registered, online_store
) -> Iterator[RunningServer]:
    env = {
        **serving_home.env,
        "MFG_MAINTENANCE_MODEL_TAG": "maintenance_model:v1",
        "MFG_SHADOW_CHALLENGER": "maintenance_model:v2",
        "MFG_SHADOW_LOG": str(serving_home.root / "shadow.jsonl"),
        "MFG_SERVING_RELOAD_TOKEN": RELOAD_TOKEN,
        "MFG_SERVING_RELOAD_DIR": str(serving_home.root / "reload-main"),
        "PATH": os.environ.get("PATH", ""),
    }
    proc = start_bento(
        "bento-maintenance",
        "bentos.maintenance.service:MaintenanceService",
        env,
        serving_home.root,
    )
    try:
        yield RunningServer(proc.url, proc, env)  # type: ignore[attr-defined]
    finally:
        proc.stop()
