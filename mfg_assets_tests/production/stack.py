"""Helpers to run the deploy/ stack's services as plain processes on loopback.

``compose.yaml`` is the source of truth: tests take each service's ``command`` and
``environment`` from it, interpolate ``${VAR}`` the way docker compose does, and rewrite the
in-network service addresses (``postgres:5432``, ``minio:9000``, ``user-code:4000``...) to the
loopback servers the test session started.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent

_VAR = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\})")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def compose() -> dict[str, Any]:
    return load_yaml(DEPLOY / "compose.yaml")


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """docker compose interpolation: ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
    ``${VAR:?error}``, ``${VAR?error}`` and ``$$`` for a literal ``$``."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        value = env.get(name)
        unset_or_empty = value is None or (value == "" and op and op.startswith(":"))
        if op in (":-", "-") and (unset_or_empty if op == ":-" else value is None):
            return interpolate(arg, env)
        if op in (":?", "?") and (unset_or_empty if op == ":?" else value is None):
            raise KeyError(f"${{{name}}} is required: {arg}")
        return value or ""

    return _VAR.sub(sub, value)


def referenced_variables(text: str) -> set[str]:
    return {m.group("name") for m in _VAR.finditer(text) if m.group("name")}


def service_environment(
    service: str, env: Mapping[str, str], addresses: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The service's ``environment:`` as a process would see it, addresses rewritten."""
    raw = compose()["services"][service].get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, env.get(item, "")) for item in raw)
    out = {}
    for key, value in raw.items():
        text = interpolate("" if value is None else str(value), env)
        out[key] = rewrite_addresses(text, addresses or {})
    return out


def rewrite_addresses(text: str, addresses: Mapping[str, str]) -> str:
    for in_network, loopback in addresses.items():
        text = text.replace(in_network, loopback)
    return text


def service_command(service: str, env: Mapping[str, str], port: int) -> list[str]:
    """The service's command with host → 127.0.0.1 and port → ``port``."""
    command = compose()["services"][service]["command"]
    if isinstance(command, str):
        command = command.split()
    args = [interpolate(str(a), env) for a in command]
    out = []
    for i, arg in enumerate(args):
        prev = args[i - 1] if i else ""
        if prev in ("-h", "--host"):
            arg = "127.0.0.1"
        elif prev in ("-p", "--port"):
            arg = str(port)
        out.append(arg)
    return out


def executable(name: str) -> str:
    """A console script of this virtualenv (``dagster``, ``mlflow``...)."""
    path = BIN / name
    return str(path) if path.exists() else shutil.which(name) or name


class Service:
    """A process in its own session (process group), logging to a file; stopped by group."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log_dir: Path):
        self.name = name
        self.log = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        args = [executable(args[0]), *args[1:]]
        self._handle = self.log.open("wb")
        self.proc = subprocess.Popen(
            args,
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.alive():
            pgid = os.getpgid(self.proc.pid)
            os.killpg(pgid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(pgid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            else:
                # children (run workers) of a process that exited on SIGTERM
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
        self._handle.close()


@contextmanager
def running(name: str, args: list[str], env: Mapping[str, str], log_dir: Path) -> Iterator[Service]:
    service = Service(name, args, env, log_dir)
    try:
        yield service
    finally:
        service.stop()


def wait_until(check, timeout: float, what: str, service: Service | None = None, every=0.25):
    """Poll ``check()`` until it returns a truthy value; fail with the service's log tail."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if service is not None and not service.alive():
            raise AssertionError(f"{service.name} exited early:\n{service.tail()}")
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - polling until ready
            last = exc
        time.sleep(every)
    log = f"\n--- {service.name} log ---\n{service.tail()}" if service else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r}){log}")


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def graphql(base_url: str, query: str, variables: dict | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{base_url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.loads(response.read())
    if payload.get("errors"):
        raise AssertionError(f"GraphQL errors: {payload['errors']}")
    return payload["data"]
