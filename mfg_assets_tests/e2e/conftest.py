"""One running Dagster webserver over a small materialized plant, shared by the browser test and
the GraphQL-client test (session-scoped: the code location loads once)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY_FORMAT = "%Y-%m-%d-%H:%M"
MACHINES = 4
PLANT_HOURS = 24
# The plant's first hours are materialized before the webserver starts (ingestion + features +
# their checks); the rest of its day is left for the tests to materialize.
MATERIALIZED_HOURS = 18
# Data-quality checks that pass on every clean plant hour (other checks, such as lateness, judge
# the instance as a whole).
QUALITY_CHECKS = {
    "sensor_readings": ("schema", "non_empty"),
    "machine_hourly_features": (
        "schema",
        "non_empty",
        "duplicate_keys",
        "null_share",
        "physical_ranges",
        "quarantine_share",
    ),
}
STARTUP_TIMEOUT_S = 180

# Plain webserver, no daemon: the default run coordinator launches a submitted run at once
# (the project's dagster.yaml queues runs for the daemon, which `dagster dev` would add).
INSTANCE_YAML = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
"""

WORKSPACE_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
        }
      }
    }
  }
}
"""


@dataclass(frozen=True)
class DagsterUI:
    """A running ``dagster-webserver`` and the instance and plant behind it."""

    host: str
    port: int
    home: Path
    data_dir: Path
    log: Path
    plant_keys: tuple[str, ...]  # every hourly partition the plant has data for
    materialized_keys: tuple[str, ...]  # those materialized before the webserver started

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def open_keys(self) -> tuple[str, ...]:
        """Hours with plant data that were not materialized up front."""
        return tuple(k for k in self.plant_keys if k not in self.materialized_keys)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def plant_epoch() -> datetime:
    """The plant starts a day before the current hour, so its partitions are the UI's latest."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=PLANT_HOURS)


def materialize_small_plant(data_dir: Path, home: Path, epoch: datetime) -> tuple[str, ...]:
    """Seed a 4-machine plant for the day from ``epoch`` into ``data_dir`` and materialize its
    first ``MATERIALIZED_HOURS`` of ingestion and features (with their checks) into the instance
    at ``home``; returns the plant's partition keys."""
    import dagster as dg

    from mfg_assets.definitions import build_definitions
    from mfg_assets.runs import materialize_range
    from mfg_assets.settings import default_plant_db_url
    from mfg_assets_tests.integration.plant_fixtures import seed_small_plant

    keys = tuple((epoch + timedelta(hours=h)).strftime(KEY_FORMAT) for h in range(PLANT_HOURS))
    saved = {key: os.environ.get(key) for key in ("MFG_DATA_DIR", "PLANT_DB_URL")}
    os.environ["MFG_DATA_DIR"] = str(data_dir)
    os.environ.pop("PLANT_DB_URL", None)
    try:
        seed_small_plant(default_plant_db_url(), days=1, machines=MACHINES, epoch=epoch)
        defs = build_definitions()  # resources resolved now, against data_dir
        with dg.DagsterInstance.from_config(str(home)) as instance:
            result = materialize_range(
                defs,
                "hourly_plant_job",
                keys[0],
                keys[MATERIALIZED_HOURS - 1],
                instance,
                tags={"mfg/trigger": "test"},
            )
        assert result.success
        return keys
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def wait_until_loaded(ui: DagsterUI, proc: subprocess.Popen, timeout_s: float) -> None:
    """Until the webserver answers GraphQL and the code location is loaded (or fail)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dagster-webserver exited with {proc.returncode}:\n{ui.log_tail()}")
        try:
            reply = httpx.post(f"{ui.url}/graphql", json={"query": WORKSPACE_QUERY}, timeout=10)
            entries = reply.json()["data"]["workspaceOrError"]["locationEntries"]
            last = str(entries)
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                errors = [
                    e
                    for e in entries
                    if e["locationOrLoadError"]["__typename"] != "RepositoryLocation"
                ]
                if errors:
                    pytest.fail(f"code location failed to load: {errors}")
                return
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            last = repr(exc)
        time.sleep(1.0)
    pytest.fail(f"webserver not ready after {timeout_s} s ({last}):\n{ui.log_tail()}")


@pytest.fixture(scope="session")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterUI]:
    """``dagster-webserver`` on a free loopback port, in its own process group, over an instance
    with ``MATERIALIZED_HOURS`` hours of a small plant materialized."""
    from mfg_assets.demo import _terminate

    base = tmp_path_factory.mktemp("dagster_ui")
    home, data_dir = base / "dagster_home", base / "data"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    epoch = plant_epoch()
    keys = materialize_small_plant(data_dir, home, epoch)

    ui = DagsterUI(
        "127.0.0.1",
        free_port(),
        home,
        data_dir,
        base / "webserver.log",
        plant_keys=keys,
        materialized_keys=keys[:MATERIALIZED_HOURS],
    )
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MFG_DATA_DIR": str(data_dir),
        # The UI's partitions start with the plant, so its partition bars show the plant's day.
        "MFG_PARTITIONS_START": epoch.strftime(KEY_FORMAT),
    }
    env.pop("PLANT_DB_URL", None)
    webserver = Path(sys.executable).parent / "dagster-webserver"
    cmd = [str(webserver), "-h", ui.host, "-p", str(ui.port), "-w", str(ROOT / "workspace.yaml")]
    with ui.log.open("w") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until_loaded(ui, proc, STARTUP_TIMEOUT_S)
        yield ui
    finally:
        _terminate(proc, grace=5.0)
