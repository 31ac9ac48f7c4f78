"""The maintenance service's domain logic without a server: schema, batching, scoring, lookup."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import numpy as np
import pytest
from pydantic import ValidationError

from mfg_assets.features.schema import feature_columns
from mfg_assets.serving.batching import AdaptiveBatcher
from mfg_assets.serving.errors import (
    UnknownMachinesRequestError,
    UnprocessableRequestError,
)
from mfg_assets.serving.maintenance import (
    MaintenancePredictionService,
    OnlineFeatureSource,
    PredictRequest,
    ShadowLog,
    check_output,
    feature_limits,
    rows_matrix,
)
from mfg_assets.serving.samples import healthy_row
from mfg_assets_tests.serving.conftest import ONLINE_MACHINES


def _row(**overrides):
    return {**healthy_row(np.random.default_rng(0)), **overrides}


def _errors(payload) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        PredictRequest.model_validate_json(json.dumps(payload))
    return info.value.errors()


def test_feature_limits_cover_the_schema_with_physical_ranges() -> None:
    limits = feature_limits()
    assert list(limits) == feature_columns()
    assert limits["vibration_mean"] == (0.0, 50.0, float)
    assert limits["temperature_min"] == (-20.0, 200.0, float)
    assert limits["spindle_speed_std"] == (0.0, 6000.0, float)
    assert limits["pressure_slope"] == (-20.0, 20.0, float)
    assert limits["defect_rate"] == (0.0, 1.0, float)
    assert limits["n_readings"][2] is int and limits["n_readings"][0] == 0


def test_valid_rows_and_ids_parse() -> None:
    request = PredictRequest.model_validate_json(json.dumps({"rows": [_row(), _row()]}))
    assert len(request.rows) == 2
    matrix = rows_matrix(request.rows, ["vibration_mean", "n_readings"])
    assert matrix.shape == (2, 2) and matrix.dtype == np.float64
    assert PredictRequest.model_validate({"machine_ids": ["M001"]}).machine_ids == ["M001"]


@pytest.mark.parametrize(
    ("payload", "loc", "kind"),
    [
        ({"rows": [_row(vibration_mean=60.0)]}, ("rows", 0, "vibration_mean"), "less_than_equal"),
        ({"rows": [_row(pressure_min=-1.0)]}, ("rows", 0, "pressure_min"), "greater_than_equal"),
        ({"rows": [_row(defect_rate=1.5)]}, ("rows", 0, "defect_rate"), "less_than_equal"),
        ({"rows": [_row(n_readings=-3)]}, ("rows", 0, "n_readings"), "greater_than_equal"),
        ({"rows": [_row(n_readings=3.5)]}, ("rows", 0, "n_readings"), "int_type"),
        ({"rows": [_row(current_mean="12")]}, ("rows", 0, "current_mean"), "float_type"),
        ({"rows": [_row(bogus=1.0)]}, ("rows", 0, "bogus"), "extra_forbidden"),
        ({"rows": []}, ("rows",), "too_short"),
        ({"machine_ids": ["M 1; drop"]}, ("machine_ids", 0), "string_pattern_mismatch"),
        ({"machine_ids": [7]}, ("machine_ids", 0), "string_type"),
        ({"machine_ids": "M001"}, ("machine_ids",), "list_type"),
    ],
)
def test_bad_payloads_name_the_field(payload, loc, kind) -> None:
    errors = _errors(payload)
    assert any(e["loc"] == loc and e["type"] == kind for e in errors), errors


def test_missing_field_nan_and_exactly_one_source() -> None:
    row = _row()
    del row["vibration_std"]
    assert any(e["loc"] == ("rows", 0, "vibration_std") for e in _errors({"rows": [row]}))
    # json.dumps writes NaN as the bare literal NaN, which a JSON body can carry
    errors = _errors({"rows": [_row(vibration_mean=float("nan"))]})
    assert [(e["loc"], e["type"]) for e in errors] == [
        (("rows", 0, "vibration_mean"), "finite_number")
    ]
    for payload in ({}, {"rows": [_row()], "machine_ids": ["M001"]}):
        assert "exactly one" in _errors(payload)[0]["msg"]


def test_output_check_refuses_bad_model_output() -> None:
    assert check_output([0.1, 0.9], 2).tolist() == [0.1, 0.9]
    for bad, n in (([0.1], 2), ([np.nan, 0.2], 2), ([1.2, 0.1], 2)):
        with pytest.raises(RuntimeError):
            check_output(bad, n)


def test_batcher_shares_calls_and_hands_each_caller_its_rows() -> None:
    calls: list[int] = []

    def model(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        return x[:, 0] * 10

    async def scenario() -> list[np.ndarray]:
        batcher = AdaptiveBatcher(model, max_batch_size=16, max_latency_ms=50)
        inputs = [np.full((1 + i % 3, 2), float(i)) for i in range(20)]
        results = await asyncio.gather(*(batcher.submit(x) for x in inputs))
        for x, got in zip(inputs, results, strict=True):
            assert got.tolist() == (x[:, 0] * 10).tolist()
        return results

    asyncio.run(scenario())
    assert sum(calls) == sum(1 + i % 3 for i in range(20))
    assert max(calls) <= 16 and len(calls) < 20  # shared calls, never above the cap


def test_batcher_off_calls_once_per_request_and_errors_reach_their_batch() -> None:
    calls: list[int] = []

    def model(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        if (x < 0).any():
            raise RuntimeError("model failed")
        return x[:, 0]

    async def scenario() -> None:
        off = AdaptiveBatcher(model, enabled=False)
        await asyncio.gather(*(off.submit(np.ones((1, 1))) for _ in range(5)))
        assert calls == [1] * 5
        on = AdaptiveBatcher(model, max_batch_size=1)  # one request per batch
        results = await asyncio.gather(
            on.submit(np.ones((1, 1))), on.submit(-np.ones((1, 1))), return_exceptions=True
        )
        assert results[0].tolist() == [1.0] and isinstance(results[1], RuntimeError)

    asyncio.run(scenario())


def test_scorer_matches_the_registered_mlflow_model(serving_home, registered) -> None:
    from mfg_assets.models.maintenance.packaging import load_maintenance_predict_proba
    from mfg_assets.serving.maintenance_runtime import load_scorer

    scorer = load_scorer("maintenance_model:v1")
    rng = np.random.default_rng(5)
    import pandas as pd

    frame = pd.DataFrame([healthy_row(rng, risk=r) for r in (0.0, 1.0, 2.0)])
    expected = load_maintenance_predict_proba("models:/maintenance_model/1")(frame)
    got = scorer.score(frame[scorer.feature_names].to_numpy(dtype=np.float64))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    lineage = scorer.lineage
    assert (lineage.model_name, lineage.model_version) == ("maintenance_model", 1)
    assert lineage.mlflow_run_id == registered[1].run_id
    assert lineage.training_window_end == "2026-11-01 00:00:00+00:00"
    assert lineage.feature_view == "machine_hourly_features"
    assert lineage.dagster_run_id == "run-0" and lineage.code_version


def test_import_is_idempotent_and_names_the_version(serving_home, registered) -> None:
    from mfg_assets.serving.model_store import import_maintenance_model, model_store

    again = import_maintenance_model()  # the champion: v1, already imported
    assert (again.tag, again.created) == ("maintenance_model:v1", False)
    stored = model_store().get("maintenance_model:v1")
    assert stored.info.metadata["registry_version"] == 1
    assert stored.info.metadata["metrics"]["best_val_roc_auc"] > 0
    assert stored.info.labels["alias"] == "champion"


def test_online_lookup_errors_are_client_errors(serving_home, registered, online_store) -> None:
    from mfg_assets.serving.maintenance_runtime import load_scorer

    names = load_scorer("maintenance_model:v1").feature_names
    source = OnlineFeatureSource()
    found = source.lookup(["M002", "M001"], names)
    assert found.matrix.shape == (2, len(names)) and np.isfinite(found.matrix).all()
    with pytest.raises(UnknownMachinesRequestError) as unknown:
        source.lookup(["M001", "M404", ONLINE_MACHINES[3]], names)
    assert unknown.value.status_code == 404
    assert unknown.value.detail == {"unknown_machine_ids": ["M404", "M004"]}
    with pytest.raises(UnprocessableRequestError, match="stale online features"):
        OnlineFeatureSource(max_age=timedelta(hours=1)).lookup(["M001"], names)


def test_service_core_answers_with_lineage_and_shadow_logs_both(
    serving_home, registered, online_store, tmp_path
) -> None:
    from mfg_assets.serving.maintenance_runtime import load_scorer

    champion, challenger = load_scorer("maintenance_model:v1"), load_scorer("maintenance_model:v2")
    log = ShadowLog(tmp_path / "shadow.jsonl")
    core = MaintenancePredictionService(champion, challenger=challenger, shadow_log=log)

    async def scenario():
        answer = await core.predict(PredictRequest(machine_ids=["M003", "M001"]))
        await core.drain_shadow()
        return answer

    answer = asyncio.run(scenario())
    assert [p.machine_id for p in answer.predictions] == ["M003", "M001"]
    assert answer.source == "online_store" and answer.lineage.model_version == 1
    for p in answer.predictions:
        assert p.failure_predicted == (p.failure_probability >= answer.threshold)
    records = log.read()
    assert [r["machine_id"] for r in records] == ["M003", "M001"]
    assert {(r["champion_version"], r["challenger_version"]) for r in records} == {(1, 2)}
    assert [r["champion_probability"] for r in records] == [
        p.failure_probability for p in answer.predictions
    ]


def test_maintenance_bento_asset_builds_the_champion(serving_home, registered) -> None:
    import dagster as dg
    import yaml

    from mfg_assets.defs.serving import maintenance_bento
    from mfg_assets.models.maintenance.workflow import promote

    promote(2)  # the bento follows the registry's champion, not the newest import
    try:
        with dg.instance_for_test() as instance:
            result = dg.materialize(
                [maintenance_bento], partition_key="2026-11-01", instance=instance
            )
            assert result.success
            meta = result.asset_materializations_for_node("maintenance_bento")[0].metadata
    finally:
        promote(1)
    assert meta["model_tag"].value == "maintenance_model:v2"
    assert meta["model_version"].value == 2
    assert meta["mlflow_run_id"].value == registered[2].run_id
    assert meta["bento_size_mb"].value > 0
    tag = meta["bento_tag"].value
    name, version = tag.split(":")
    bento = serving_home.root / "bentoml" / "bentos" / name / version / "bento.yaml"
    info = yaml.safe_load(bento.read_text())
    assert name == "maintenance"
    assert [m["tag"] for m in info["services"][0]["models"]] == ["maintenance_model:v2"]
    assert (bento.parent / "src" / "mfg_assets" / "serving" / "maintenance.py").is_file()


def test_serving_modules_and_code_location_import_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import mfg_assets.definitions, mfg_assets.defs.serving\n"
        "import mfg_assets.serving.maintenance, mfg_assets.serving.maintenance_runtime\n"
        "import mfg_assets.serving.defect, mfg_assets.serving.model_store\n"
        "import mfg_assets.serving.build, mfg_assets.serving.batching\n"
        "heavy = [m for m in ('bentoml', 'torch', 'mlflow', 'feast', 'onnxruntime', 'ultralytics')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize(("env", "suppressed"), [({}, True), ({"MFG_SERVING_TRACING": "1"}, False)])
def test_http_spans_are_skipped_only_when_nothing_exports_them(env, suppressed) -> None:
    import os
    import subprocess
    import sys

    code = (
        "from mfg_assets.serving.tracing import suppress_unexported_http_spans\n"
        "from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled\n"
        "done = suppress_unexported_http_spans()\n"
        "print(done, is_http_instrumentation_enabled())\n"
    )
    clean = {k: v for k, v in os.environ.items() if k != "MFG_SERVING_TRACING"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**clean, **env}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [str(suppressed), str(not suppressed)]
