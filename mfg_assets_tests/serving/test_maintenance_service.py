"""The maintenance bento over HTTP: a real ``bentoml serve`` subprocess on loopback."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import hypothesis
import numpy as np
import pytest
import schemathesis

from mfg_assets.serving.samples import healthy_row
from mfg_assets_tests.serving.conftest import RELOAD_AUTH, RELOAD_TOKEN

pytestmark = pytest.mark.slow


def _rows(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [healthy_row(rng, risk=float(i % 3)) for i in range(n)]


def _counter(metrics: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_single_and_batched_rows_with_lineage(maintenance_server, registered) -> None:
    from mfg_assets.serving.maintenance_runtime import load_scorer

    scorer = load_scorer("maintenance_model:v1")
    rows = _rows(5)
    with maintenance_server.client() as client:
        single = client.post("/predict", json={"rows": rows[:1]})
        batch = client.post("/predict", json={"rows": rows})
    assert single.status_code == 200, single.text
    assert batch.status_code == 200, batch.text
    body = batch.json()
    expected = scorer.score(np.array([[r[n] for n in scorer.feature_names] for r in rows]))
    got = [p["failure_probability"] for p in body["predictions"]]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert single.json()["predictions"][0]["failure_probability"] == pytest.approx(got[0])
    assert [p["failure_predicted"] for p in body["predictions"]] == [
        bool(p >= body["threshold"]) for p in got
    ]
    assert body["threshold"] == pytest.approx(registered[1].threshold)
    assert body["source"] == "rows"
    lineage = body["lineage"]
    assert lineage["model_name"] == "maintenance_model"
    assert lineage["model_version"] == 1 and lineage["model_tag"] == "maintenance_model:v1"
    assert lineage["mlflow_run_id"] == registered[1].run_id
    assert lineage["feature_view"] == "machine_hourly_features"
    assert lineage["training_window_start"] == "2026-10-18 01:00:00+00:00"
    assert lineage["training_window_end"] == "2026-11-01 00:00:00+00:00"
    assert lineage["code_version"] and lineage["dagster_run_id"] == "run-0"


def test_machine_ids_read_the_online_store(maintenance_server, online_store) -> None:
    from mfg_assets.feature_store.online import online_features
    from mfg_assets.serving.maintenance_runtime import load_scorer

    scorer = load_scorer("maintenance_model:v1")
    ids = ["M003", "M001", "M002"]
    with maintenance_server.client() as client:
        response = client.post("/predict", json={"machine_ids": ids})
    assert response.status_code == 200, response.text
    body = response.json()
    frame = online_features(online_store, ids)
    expected = scorer.score(frame.select(scorer.feature_names).to_numpy().astype(np.float64))
    assert [p["machine_id"] for p in body["predictions"]] == ids
    np.testing.assert_allclose(
        [p["failure_probability"] for p in body["predictions"]], expected, rtol=1e-6
    )
    assert body["source"] == "online_store"
    assert {p["features_as_of"] for p in body["predictions"]} == {"2026-11-01T03:00:00Z"}


@pytest.mark.parametrize(
    ("payload", "status", "names"),
    [
        ({"rows": [{"vibration_mean": 3.0}]}, 400, "temperature_mean"),  # missing fields
        ({"rows": "not rows"}, 400, "rows"),
        ({"machine_ids": [12]}, 400, "machine_ids"),
        ({"machine_ids": ["M001", "M404", "M004"]}, 404, "'M404', 'M004'"),
        ({}, 400, "exactly one"),
    ],
)
def test_bad_payloads_get_4xx_naming_the_problem(
    maintenance_server, payload, status, names
) -> None:
    with maintenance_server.client() as client:
        response = client.post("/predict", json=payload)
    assert response.status_code == status, response.text
    assert names in response.text


def test_nan_out_of_range_wrong_type_and_junk_bodies(maintenance_server) -> None:
    row = _rows(1)[0]
    cases = {
        "vibration_mean": json.dumps({"rows": [{**row, "vibration_mean": float("nan")}]}),
        "spindle_speed_max": json.dumps({"rows": [{**row, "spindle_speed_max": 9000.0}]}),
        "n_inspections": json.dumps({"rows": [{**row, "n_inspections": "many"}]}),
        "Invalid JSON": "{not json",
        "object": "[1, 2, 3]",
    }
    with maintenance_server.client() as client:
        for needle, body in cases.items():
            response = client.post(
                "/predict", content=body, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 400, (needle, response.text)
            assert needle in response.text, (needle, response.text)


def test_probes_docs_and_metrics_count_predictions(maintenance_server) -> None:
    with maintenance_server.client() as client:
        for probe in ("/healthz", "/livez", "/readyz"):
            assert client.get(probe).status_code == 200, probe
        spec = client.get("/docs.json").json()
        assert "/predict" in spec["paths"] and "/reload" in spec["paths"]
        before = client.get("/metrics").text
        rows = _rows(6, seed=4)
        answer = client.post("/predict", json={"rows": rows}).json()
        client.post("/predict", json={"rows": rows[:1]})
        after = client.get("/metrics").text
    decisions = [p["failure_predicted"] for p in answer["predictions"]]
    decisions.append(decisions[0])
    name = "mfg_maintenance_predictions_total"
    for label, flag in (("failure", True), ("ok", False)):
        grown = _counter(after, name, decision=label, model_version="1") - _counter(
            before, name, decision=label, model_version="1"
        )
        assert grown == decisions.count(flag), label
    requests = "bentoml_service_request_total"
    assert (
        _counter(after, requests, endpoint="/predict")
        >= _counter(before, requests, endpoint="/predict") + 2
    )


def test_shadow_log_has_champion_and_challenger(maintenance_server, serving_home) -> None:
    from mfg_assets.serving.maintenance import ShadowLog

    log = ShadowLog(serving_home.root / "shadow.jsonl")
    before = len(log.read())
    with maintenance_server.client() as client:
        answer = client.post("/predict", json={"machine_ids": ["M002"]}).json()
    # shadow records are written after the answer, so earlier tests' records may still be
    # arriving: wait for this request's own record
    deadline = time.monotonic() + 10
    ours: list[dict] = []
    while not ours and time.monotonic() < deadline:
        ours = [r for r in log.read()[before:] if r.get("machine_id") == "M002"]
        time.sleep(0.1)
    assert ours, "no shadow record for M002"
    record = ours[-1]
    assert (record["champion_version"], record["challenger_version"]) == (1, 2)
    assert record["champion_probability"] == answer["predictions"][0]["failure_probability"]
    assert 0.0 <= record["challenger_probability"] <= 1.0
    assert answer["lineage"]["model_version"] == 1  # the answer always comes from the champion


def fuzz_operation(url: str, path: str, method: str, max_examples: int) -> Counter:
    """Schemathesis cases generated from the service's own OpenAPI document for one
    operation, sent to the server; fails on any 5xx, returns the status counts."""
    schema = schemathesis.openapi.from_url(f"{url}/docs.json")
    operation = schema[path][method]
    failures: list[str] = []
    statuses: Counter = Counter()

    @hypothesis.given(case=operation.as_strategy())
    @hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def send(case) -> None:
        response = case.call(base_url=url, timeout=30)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append(f"{response.status_code} for {case.body!r}: {response.text[:300]}")

    send()
    assert failures == [], failures
    return statuses


def test_fuzzed_requests_never_get_a_server_error(maintenance_server) -> None:
    statuses = fuzz_operation(maintenance_server.url, "/predict", "POST", 60)
    assert sum(statuses.values()) >= 30, statuses  # it really sent requests
    assert any(400 <= s < 500 for s in statuses), statuses


def test_reload_under_concurrent_requests_loses_none(maintenance_server, registered) -> None:
    rows = _rows(2, seed=9)
    results: list[tuple[int, int | None]] = []
    per_client: list[list[int | None]] = [[] for _ in range(6)]
    stop = threading.Event()

    def client_loop(seen: list[int | None]) -> None:
        with maintenance_server.client() as client:
            while not stop.is_set():
                response = client.post("/predict", json={"rows": rows})
                version = (
                    response.json()["lineage"]["model_version"] if response.is_success else None
                )
                results.append((response.status_code, version))
                seen.append(version)

    threads = [threading.Thread(target=client_loop, args=(seen,)) for seen in per_client]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        with maintenance_server.client() as client:
            reloaded = client.post(
                "/reload", json={"tag": "maintenance_model:v2"}, headers=RELOAD_AUTH
            )
            assert reloaded.status_code == 200, reloaded.text
            assert reloaded.json()["previous"]["model_version"] == 1
            assert reloaded.json()["current"]["model_version"] == 2
            time.sleep(1.0)
            served_after = client.post("/predict", json={"rows": rows}).json()["lineage"]
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    statuses = [s for s, _ in results]
    assert len(results) > 20 and set(statuses) == {200}, set(statuses)
    versions = [v for _, v in results]
    assert versions[0] == 1 and versions[-1] == 2 and set(versions) == {1, 2}
    # Once switched, stays switched: each client's requests are sequential, so its own list
    # is in the order the server answered them (the shared list is only in append order).
    for seen in per_client:
        assert 2 in seen and 1 not in seen[seen.index(2) :], seen
    assert served_after["model_version"] == 2
    assert served_after["mlflow_run_id"] == registered[2].run_id

    with maintenance_server.client() as client:
        client.headers.update(RELOAD_AUTH)
        missing = client.post("/reload", json={"tag": "maintenance_model:v99"})
        assert missing.status_code == 404 and "maintenance_model:v99" in missing.text
        bad = client.post("/reload", json={"tag": "Not A Tag!"})
        assert bad.status_code == 400 and "Not A Tag!" in bad.text
        back = client.post("/reload", json={})  # the registry's champion: v1 again
        assert back.status_code == 200, back.text
        assert back.json()["current"]["model_version"] == 1


# --------------------------------------------------------------------------- hardening


SCHEMATHESIS_CONFIG = Path(__file__).with_name("schemathesis.toml")


def schemathesis_all_checks(url: str, *headers: str, examples: int = 40) -> str:
    """``schemathesis run --checks all`` against a server's own OpenAPI document; the test
    fails on any failure or error it reports. Returns its output."""
    from mfg_assets_tests.production.stack import executable

    args = [executable("schemathesis"), "--config-file", str(SCHEMATHESIS_CONFIG), "run"]
    args += [f"{url}/docs.json", "--checks", "all", "-n", str(examples)]
    args += ["--generation-deterministic", "--no-color", "--request-timeout", "30"]
    for header in headers:
        args += ["-H", header]
    result = subprocess.run(args, capture_output=True, text=True, timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    assert re.search(r"\d+ generated, \d+ passed", out) and "failed" not in out, out[-3000:]
    return out


def test_schemathesis_all_checks_find_nothing(maintenance_server) -> None:
    with maintenance_server.client() as client:  # first online lookup opens the store
        assert client.post("/predict", json={"machine_ids": ["M001"]}).status_code == 200
    schemathesis_all_checks(maintenance_server.url, f"Authorization: Bearer {RELOAD_TOKEN}")
    log = maintenance_server.service.tail(2_000_000)
    assert "Traceback" not in log  # 4xx are one WARNING line each
    assert re.search(r"\[WARNING\].* POST /predict -> 400 ", log)


def partial_request(url: str, data: bytes) -> str:
    """Send ``data`` (headers announcing a larger body, and its first bytes), never the rest;
    the whole answer the server gives without it (within 10 s)."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < int(
            re.search(rb"content-length: (\d+)", answer.lower() + b"content-length: 1").group(1)
        ):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer.decode(errors="replace")


def test_oversized_body_is_refused_before_it_is_read(maintenance_server) -> None:
    """A 300 MB body is answered 413 after its headers and the first kilobyte."""
    answer = partial_request(
        maintenance_server.url,
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 300000000\r\n\r\n" + b'{"rows": [' + b" " * 1000,
    )
    assert answer.startswith("HTTP/1.1 413"), answer
    assert '"limit_bytes":4194304' in answer.replace(" ", "")
    with maintenance_server.client() as client:  # chunked: no Content-Length to trust

        def chunks():
            for _ in range(1000):
                yield b" " * 65536

        response = client.post(
            "/predict", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413 and "exceeds 4194304 bytes" in response.text


def test_reload_needs_the_token_and_a_maintenance_model(maintenance_server) -> None:
    with maintenance_server.client() as client:
        body = {"tag": "maintenance_model:v1"}
        none = client.post("/reload", json=body)
        assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer"
        wrong = client.post("/reload", json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403 and wrong.json() == {
            "error": "the reload token is not valid"
        }
        client.headers.update(RELOAD_AUTH)
        foreign = client.post("/reload", json={"tag": "defect_detector:v1"})
        assert foreign.status_code == 400 and "defect_detector:v1" in foreign.text
        extra = client.post("/reload", json={"tag": "maintenance_model:v1", "x": 1})
        assert extra.status_code == 400 and "x: Extra inputs are not permitted" in extra.text
        null = client.post("/reload", json={"tag": None, "x": 1})
        assert null.status_code == 400
        assert client.post("/reload", json=body).status_code == 200


def test_client_errors_are_one_documented_json_object(maintenance_server) -> None:
    with maintenance_server.client() as client:
        spec = client.get("/docs.json").json()
        text = client.post(
            "/predict", content=b'{"machine_ids": ["M001"]}', headers={"Content-Type": "text/plain"}
        )
        empty = client.post("/predict", json={})
        missing = client.post("/predict", json={"rows": [{"vibration_mean": 3.0}]})
        unknown = client.post("/predict", json={"machine_ids": ["M404"]})
    assert text.status_code == 415 and "application/json" in text.json()["error"]
    request_schema = spec["paths"]["/predict"]["post"]["requestBody"]["content"]
    schema = request_schema["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert schema["oneOf"] == [{"required": ["rows"]}, {"required": ["machine_ids"]}]  # {} too
    assert empty.status_code == 400 and "exactly one" in empty.json()["error"]
    documented = spec["components"]["schemas"]["ClientError"]["properties"]["detail"]["type"]
    for response in (missing, unknown):
        body = response.json()
        assert set(body) == {"error", "detail"} and isinstance(body["detail"], dict)
        assert documented == "object"
    assert {e["loc"] for e in missing.json()["detail"]["errors"]} >= {"rows.0.temperature_mean"}
    responses = spec["paths"]["/predict"]["post"]["responses"]
    assert {"200", "400", "404", "413", "415", "422"} <= set(responses)


def test_model_swap_under_load_reaches_both_workers(serving_home, registered, online_store) -> None:
    """MFG_SERVING_WORKERS=2: a /reload answered by one worker swaps the other too; requests
    under load during the swap all succeed."""
    from mfg_assets_tests.serving.conftest import start_bento

    env = {
        **serving_home.env,
        "MFG_MAINTENANCE_MODEL_TAG": "maintenance_model:v1",
        "MFG_SERVING_WORKERS": "2",
        "MFG_SERVING_RELOAD_TOKEN": RELOAD_TOKEN,
        "MFG_SERVING_RELOAD_DIR": str(serving_home.root / "reload-2w"),
        "PATH": os.environ.get("PATH", ""),
    }
    proc = start_bento(
        "bento-2w", "bentos.maintenance.service:MaintenanceService", env, serving_home.root
    )
    url = proc.url  # type: ignore[attr-defined]
    rows = _rows(2, seed=11)
    results: list[tuple[float, int, int | None, int | None]] = []
    stop = threading.Event()

    def client_loop() -> None:
        # a new connection per request: the workers share the listening socket, so new
        # connections reach both of them (keep-alive ones may all sit on one worker)
        no_keepalive = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=url, timeout=30, limits=no_keepalive) as client:
            while not stop.is_set():
                response = client.post("/predict", json={"rows": rows})
                ok = response.is_success
                results.append(
                    (
                        time.monotonic(),
                        response.status_code,
                        response.json()["lineage"]["model_version"] if ok else None,
                        int(response.headers.get("x-served-by-worker", "0")) or None,
                    )
                )

    threads = [threading.Thread(target=client_loop) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(2.0)
        with httpx.Client(base_url=url, timeout=60, headers=RELOAD_AUTH) as client:
            reloaded = client.post("/reload", json={"tag": "maintenance_model:v2"})
            assert reloaded.status_code == 200, reloaded.text
        swapped_at = time.monotonic()
        time.sleep(5.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        proc.stop()
    assert len(results) > 50 and {s for _, s, _, _ in results} == {200}
    before = [v for t, _, v, _ in results if t < swapped_at - 0.5]
    settled = [(v, pid) for t, _, v, pid in results if t > swapped_at + 2.0]
    assert set(before) == {1}
    assert settled and {v for v, _ in settled} == {2}  # every worker serves v2 now
    workers = {pid for _, pid in settled}
    assert len(workers) == 2, workers  # and both workers answered after the swap
