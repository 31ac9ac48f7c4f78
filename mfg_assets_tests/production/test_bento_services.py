"""deploy/compose.yaml's maintenance-bento, run as a plain process on loopback with the command
and environment compose gives it. Its image's entrypoint turns the command ``serve --host …
--port …`` into ``bentoml serve --host … --port … <bento>``; outside a container the bento is
the service its bentofile names. A trained model sits in the BentoML store, and the Feast online
store and SQL registry are in PostgreSQL (a throwaway database), as compose configures them.
The compose healthcheck passes, predictions by machine id read the PostgreSQL online store, and
an unknown machine is a 404.

The defect-bento's environment sets nothing deployment-specific (BENTOML_DO_NOT_TRACK,
YOLO_OFFLINE), so mfg_assets_tests/serving (which serves the built defect bento) covers it. Here
only its command and image name are checked against the bentofile.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from mfg_assets_tests.fixtures.s3 import free_port
from mfg_assets_tests.fixtures.services import PG_HOST, PG_PORT
from mfg_assets_tests.production.conftest import throwaway_database
from mfg_assets_tests.production.stack import (
    ROOT,
    Service,
    compose,
    http_get,
    load_yaml,
    service_command,
    service_environment,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

T0 = datetime(2026, 11, 1, tzinfo=UTC)
MACHINES = ("M001", "M002", "M003")
HOURS = 2
COMPOSE_VARIABLES = {"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "unused-on-loopback"}


def bentofile(name: str) -> dict:
    return load_yaml(ROOT / "bentos" / name / "bentofile.yaml")


@dataclass
class BentoHome:
    root: Path
    feast_db: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def bento_home(postgres_server: None, tmp_path_factory) -> Iterator[BentoHome]:
    """A maintenance model in the BentoML store (one short training run, tracked in a local
    MLflow store) and MACHINES' features in a PostgreSQL online store with a SQL registry."""
    import numpy as np
    import polars as pl

    from mfg_assets.features.schema import feature_schema
    from mfg_assets.serving.samples import healthy_row
    from mfg_assets_tests.feature_store.conftest import write_partition

    root = tmp_path_factory.mktemp("bento_compose")
    with throwaway_database("mfg_bento_feast") as feast_db, pytest.MonkeyPatch.context() as mp:
        env = {
            "MFG_DATA_DIR": str(root / "data"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
            "BENTOML_HOME": str(root / "bentoml"),
            "MFG_FEAST_PROJECT": "mfg_compose",
            "MFG_FEATURE_STORE": "postgres",
            "FEAST_PG_HOST": PG_HOST,
            "FEAST_PG_PORT": str(PG_PORT),
            "FEAST_PG_DB": feast_db,
            "FEAST_PG_USER": "postgres",
            "FEAST_REGISTRY_URL": f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{feast_db}",
            "BENTOML_DO_NOT_TRACK": "true",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
        for key, value in env.items():
            mp.setenv(key, value)
        mp.delenv("MFG_STORAGE_URI", raising=False)
        _train_and_import_a_model()
        rng = np.random.default_rng(5)
        for hour in range(HOURS):
            start = T0 + timedelta(hours=hour)
            rows = [
                {"machine_id": m, "hour": start, "event_timestamp": start + timedelta(hours=1)}
                | healthy_row(rng, risk=float(i))
                for i, m in enumerate(MACHINES)
            ]
            frame = pl.DataFrame(rows, schema=feature_schema()).select(feature_schema().keys())
            write_partition(root / "data", hour, frame)
        from mfg_assets.feature_store.store import materialize_window, open_store

        store = open_store()
        assert store.config.online_store.type == "postgres"
        assert materialize_window(store, T0, T0 + timedelta(hours=HOURS)).rows_written == 3
        yield BentoHome(root, feast_db, env)
        import mlflow

        while mlflow.active_run() is not None:
            mlflow.end_run()


def _train_and_import_a_model() -> None:
    from mfg_assets.models.config import apply_overrides, load_experiment
    from mfg_assets.models.maintenance.synthetic import training_frame
    from mfg_assets.models.maintenance.workflow import promote, train_and_register
    from mfg_assets.serving.model_store import import_maintenance_model

    config = apply_overrides(load_experiment("maintenance_default"), {"training.epochs": 1})
    train_and_register(
        training_frame(n_machines=4, hours=80, signal=3.0, seed=0),
        config,
        {"dagster_run_id": "compose-test"},
        experiment="maintenance_default",
    )
    promote(1)
    import_maintenance_model(1)


def compose_bento_env(home: BentoHome) -> dict[str, str]:
    """maintenance-bento's compose environment, in-network addresses pointed at loopback."""
    env = service_environment(
        "maintenance-bento",
        COMPOSE_VARIABLES,
        {
            "@postgres:5432/feast": f"@{PG_HOST}:{PG_PORT}/{home.feast_db}",
            "http://mlflow:5000": home.env["MLFLOW_TRACKING_URI"],  # the test's tracking store
        },
    )
    assert env["MFG_FEATURE_STORE"] == "postgres" and env["FEAST_PG_DB"] == "feast"
    assert env["FEAST_PG_HOST"] == "postgres"  # compose's service name → the loopback server
    env["FEAST_PG_HOST"], env["FEAST_PG_DB"] = PG_HOST, home.feast_db
    # What the image itself provides: its model store and data directory; the project name.
    for key in ("BENTOML_HOME", "MFG_DATA_DIR", "MFG_FEAST_PROJECT"):
        env.setdefault(key, home.env[key])
    return env


def test_compose_bento_commands_serve_the_bentofiles_services():
    services = compose()["services"]
    for service, folder in (("maintenance-bento", "maintenance"), ("defect-bento", "defect")):
        command = service_command(service, {}, 3000)
        assert command[:1] == ["serve"] and "--port" in command, command
        spec = bentofile(folder)
        module, cls = spec["service"].split(":")
        assert (ROOT / Path(*module.split("."))).with_suffix(".py").is_file(), spec["service"]
        assert f"class {cls}" in (ROOT / Path(*module.split("."))).with_suffix(".py").read_text()
        # the image compose runs by default is the one `bentoml containerize <name>` makes
        image = services[service]["image"]
        assert image.split(":-", 1)[1].startswith(f"{spec['name']}:"), (service, image)


def test_maintenance_bento_runs_with_its_compose_command_and_environment(bento_home: BentoHome):
    port = free_port()
    command = service_command("maintenance-bento", COMPOSE_VARIABLES, port)
    service_path = bentofile("maintenance")["service"]
    args = ["bentoml", *command, service_path]  # what the image's entrypoint runs
    env = compose_bento_env(bento_home)
    proc = Service("maintenance-bento", args, env, bento_home.root)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_get(f"{url}/readyz")[0] == 200, 120, "readyz", proc)
        healthcheck = compose()["services"]["maintenance-bento"]["healthcheck"]["test"]
        probe = [a.replace("127.0.0.1:3000", f"127.0.0.1:{port}") for a in healthcheck[1:]]
        assert probe[0] == "python"
        done = subprocess.run(
            [sys.executable, *probe[1:]], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr

        with httpx.Client(base_url=url, timeout=30) as client:
            answer = client.post("/predict", json={"machine_ids": list(MACHINES)})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["source"] == "online_store"
            assert [p["machine_id"] for p in body["predictions"]] == list(MACHINES)
            last = (T0 + timedelta(hours=HOURS)).strftime("%Y-%m-%dT%H:%M:%SZ")
            assert {p["features_as_of"] for p in body["predictions"]} == {last}
            missing = client.post("/predict", json={"machine_ids": ["M001", "M404"]})
            assert missing.status_code == 404 and "M404" in missing.text
    finally:
        proc.stop()
