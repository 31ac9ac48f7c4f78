"""Predictive-maintenance service: P(failure within the horizon) per machine, with lineage.

Thin on purpose: the wrapper steps (validate → preprocess → predict → postprocess → validate
output), batching, online features and shadow scoring live in ``mfg_assets.serving``.

    POST /predict   {"rows": [{<every feature>}, ...]}  or  {"machine_ids": ["M001", ...]}
    POST /reload    {"tag": "maintenance_model:v4"}  (no tag: the registry's current champion)
    GET  /healthz /livez /readyz /metrics /docs.json   (BentoML built-ins)

Environment: ``MFG_MAINTENANCE_MODEL_TAG`` (default ``maintenance_model:latest``),
``MFG_SERVING_BATCHING`` / ``MFG_SERVING_MAX_BATCH_SIZE`` / ``MFG_SERVING_MAX_LATENCY_MS``,
``MFG_SERVING_MAX_FEATURE_AGE_HOURS``, ``MFG_SERVING_WORKERS`` (default 1),
``MFG_SHADOW_CHALLENGER`` (``1``: score the registry's challenger in shadow; or a model tag),
``MFG_SHADOW_LOG``, ``MFG_DATA_DIR`` / ``MFG_FEATURE_STORE``.
"""

from __future__ import annotations

import os

import bentoml
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from mfg_assets.serving.errors import RequestError
from mfg_assets.serving.lineage import Lineage
from mfg_assets.serving.maintenance import PredictRequest, PredictResponse
from mfg_assets.serving.maintenance_runtime import MaintenanceRuntime
from mfg_assets.serving.tracing import suppress_unexported_http_spans

suppress_unexported_http_spans()  # no exporter configured: skip spans nobody receives
MODEL_TAG = os.environ.get("MFG_MAINTENANCE_MODEL_TAG", "maintenance_model:latest")

predictions_total = bentoml.metrics.Counter(
    name="mfg_maintenance_predictions_total",
    documentation="Machine predictions answered, by decision and model version",
    labelnames=["decision", "model_version"],
)

batch_rows = bentoml.metrics.Histogram(
    name="mfg_maintenance_batch_rows",
    documentation="Rows per model call (adaptive batching across requests)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)


class ReloadRequest(BaseModel):
    tag: str | None = Field(
        default=None,
        max_length=200,
        description="BentoML model tag; omitted: import and load the registry's champion",
    )


class ReloadResponse(BaseModel):
    previous: Lineage
    current: Lineage


def _client_error(exc: RequestError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status_code)


@bentoml.service(
    name="maintenance",
    # one worker by default: /reload swaps the model of the worker that receives it
    workers=int(os.environ.get("MFG_SERVING_WORKERS", "1")),
    threads=4,
    traffic={"timeout": 30, "max_concurrency": 1024},
    logging={"access": {"enabled": False}},
)
class MaintenanceService:
    champion = bentoml.models.BentoModel(MODEL_TAG)

    def __init__(self) -> None:
        self.runtime = MaintenanceRuntime.from_env(self.champion, on_batch=batch_rows.observe)

    def __is_ready__(self) -> bool:
        return self.runtime.ready

    @bentoml.api(route="/predict")
    async def predict(self, request: PredictRequest, /) -> PredictResponse:
        """Failure probability and decision per row or machine, with the model's lineage."""
        try:
            response = await self.runtime.core.predict(request)
        except RequestError as exc:
            return _client_error(exc)  # type: ignore[return-value]
        version = str(response.lineage.model_version)
        for prediction in response.predictions:
            decision = "failure" if prediction.failure_predicted else "ok"
            predictions_total.labels(decision=decision, model_version=version).inc()
        return response

    @bentoml.api(route="/reload")
    async def reload(self, request: ReloadRequest, /) -> ReloadResponse:
        """Switch to another model (in-flight requests finish on the old one)."""
        try:
            previous, current = await self.runtime.reload(request.tag)
        except RequestError as exc:
            return _client_error(exc)  # type: ignore[return-value]
        return ReloadResponse(previous=previous, current=current)
