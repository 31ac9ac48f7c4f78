"""Fixtures of the production-profile tests: throwaway PostgreSQL databases, the deploy/
``DAGSTER_HOME``, a seeded plant and the environment the deploy/ files expect.

Everything skips with a clear reason when PostgreSQL (127.0.0.1:5432) or the S3 API server
(``moto[server]``) is absent; nothing here needs Docker.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mfg_assets_tests.fixtures.s3 import S3Server
from mfg_assets_tests.fixtures.services import PG_HOST, PG_PORT, _admin_conn
from mfg_assets_tests.production.stack import DEPLOY


@contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """CREATE a uniquely named database, DROP it (forcing connections closed) afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with _admin_conn() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with _admin_conn() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def plant_pg_url(postgres_server: None) -> Iterator[str]:
    """A small seeded plant (4 machines, 2026-11-02) in its own PostgreSQL database."""
    from mfg_assets_tests.integration.plant_fixtures import seed_small_plant

    with throwaway_database("mfg_prod_plant") as name:
        url = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
        seed_small_plant(url)
        yield url


@pytest.fixture(scope="session")
def instance_database(postgres_server: None) -> Iterator[str]:
    """The Dagster instance's database (run, event-log and schedule storage)."""
    with throwaway_database("mfg_prod_dagster") as name:
        yield name


def deploy_env(database: str, s3: S3Server, bucket: str, plant_url: str) -> dict[str, str]:
    """What deploy/dagster.yaml and the code location read from the environment."""
    return {
        "DAGSTER_PG_HOST": PG_HOST,
        "DAGSTER_PG_PORT": str(PG_PORT),
        "DAGSTER_PG_DB": database,
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "",  # the local server trusts loopback
        "DAGSTER_COMPUTE_LOGS_BUCKET": bucket,
        "MFG_STORAGE_URI": f"s3://{bucket}/mfg",
        "PLANT_DB_URL": plant_url,
        "AWS_MAX_ATTEMPTS": "2",
        **s3.env(),
    }


def make_dagster_home(root: Path) -> Path:
    """A DAGSTER_HOME whose dagster.yaml is deploy/dagster.yaml, byte for byte."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DEPLOY / "dagster.yaml", root / "dagster.yaml")
    return root


@pytest.fixture(scope="module")
def production_env(
    instance_database: str, s3_server: S3Server, s3_bucket: str, plant_pg_url: str
) -> Iterator[dict[str, str]]:
    """The deploy environment, set in this process for the module (and restored after)."""
    env = deploy_env(instance_database, s3_server, s3_bucket, plant_pg_url)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        yield env


@pytest.fixture(scope="module")
def production_instance(production_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    """A DagsterInstance built from deploy/dagster.yaml against the throwaway database."""
    import dagster as dg

    home = make_dagster_home(tmp_path_factory.mktemp("dagster_home"))
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        yield instance
    finally:
        instance.dispose()
