"""Predictive-maintenance service: P(failure within the horizon) per machine, with lineage.

Thin on purpose: the wrapper steps (validate → preprocess → predict → postprocess → validate
output), batching, online features and shadow scoring live in ``mfg_assets.serving``.

    POST /predict   {"rows": [{<every feature>}, ...]}  or  {"machine_ids": ["M001", ...]}
    POST /reload    {"tag": "maintenance_model:v4"}  (no tag: the registry's current champion)
                    needs ``Authorization: Bearer <MFG_SERVING_RELOAD_TOKEN>``: 401 without
                    it, 403 with a wrong one or when the server has no token (reload off)
    GET  /healthz /livez /readyz /metrics /docs.json   (BentoML built-ins)

Bodies are bounded (``MFG_SERVING_MAX_BODY_BYTES``, 413 before reading more), must be JSON
(415), and are validated before BentoML sees them (400): :mod:`mfg_assets.serving.http`.
A reload reaches every worker (``MFG_SERVING_WORKERS``): see ``maintenance_runtime``.

Environment: ``MFG_MAINTENANCE_MODEL_TAG`` (default ``maintenance_model:latest``),
``MFG_SERVING_BATCHING`` / ``MFG_SERVING_MAX_BATCH_SIZE`` / ``MFG_SERVING_MAX_LATENCY_MS``,
``MFG_SERVING_MAX_FEATURE_AGE_HOURS``, ``MFG_SERVING_WORKERS`` (default 1),
``MFG_SHADOW_CHALLENGER`` (``1``: score the registry's challenger in shadow; or a model tag),
``MFG_SHADOW_LOG``, ``MFG_DATA_DIR`` / ``MFG_FEATURE_STORE``, ``MFG_SERVING_MAX_BODY_BYTES``,
``MFG_SERVING_RELOAD_TOKEN``, ``MFG_SERVING_RELOAD_DIR``.
"""

from __future__ import annotations

import gc
from typing import Any, ClassVar

import bentoml
from bentoml.exceptions import BadInput
from pydantic import BaseModel

from mfg_assets.serving.errors import RequestError
from mfg_assets.serving.http import (
    RequestGuard,
    Route,
    client_error_response,
    parse_json,
    parsed_body,
    read_body,
)
from mfg_assets.serving.lineage import Lineage
from mfg_assets.serving.maintenance import PredictRequest, PredictResponse, ReloadRequest
from mfg_assets.serving.maintenance_runtime import MaintenanceRuntime
from mfg_assets.serving.tracing import suppress_unexported_http_spans
from mfg_assets.settings import get_settings

suppress_unexported_http_spans()  # no exporter configured: skip spans nobody receives
MODEL_TAG = get_settings().mfg_maintenance_model_tag  # fixed when the service class is defined

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


class ReloadResponse(BaseModel):
    previous: Lineage
    current: Lineage


# read once when the service is defined: a settings read costs milliseconds, far too much to
# pay on every request
_SETTINGS = get_settings()


def _max_body() -> int:
    return _SETTINGS.mfg_serving_max_body_bytes


def _reload_token() -> str | None:
    return _SETTINGS.mfg_serving_reload_token


def _guarded_input(model: type[BaseModel]) -> type[bentoml.IODescriptor]:
    """``model`` as the route's whole JSON body, taken from what :class:`RequestGuard` parsed
    (parsed again here only when a server runs without the guard)."""

    class Guarded(model, bentoml.IODescriptor):  # type: ignore[valid-type, misc]
        __root_input__: ClassVar[bool] = True
        media_type: ClassVar[str] = "application/json"

        @classmethod
        async def from_http_request(cls, request: Any, serde: Any) -> Any:
            value = parsed_body(request)
            if value is None:
                try:
                    body = await read_body(request.receive, dict(request.headers), _max_body())
                    value = parse_json(body, dict(request.headers), model)
                except RequestError as exc:
                    raise BadInput(exc.message) from None
            return value

    Guarded.__name__ = Guarded.__qualname__ = model.__name__
    return Guarded


PredictInput = _guarded_input(PredictRequest)
ReloadInput = _guarded_input(ReloadRequest)


@bentoml.service(
    name="maintenance",
    # a /reload reaches every worker (they follow one reload signal)
    workers=get_settings().mfg_serving_workers,
    threads=4,
    traffic={"timeout": 30, "max_concurrency": 1024},
    logging={"access": {"enabled": False}},
)
class MaintenanceService:
    champion = bentoml.models.BentoModel(MODEL_TAG)

    def __init__(self) -> None:
        self.runtime = MaintenanceRuntime.from_env(self.champion, on_batch=batch_rows.observe)
        # Everything loaded so far (torch, BentoML, the model) lives for the worker's life:
        # keep it out of the cyclic GC, whose full collections over it stall requests.
        gc.collect()
        gc.freeze()

    def __is_ready__(self) -> bool:
        return self.runtime.ready

    @bentoml.api(route="/predict", input_spec=PredictInput)
    async def predict(self, request: PredictRequest, /) -> PredictResponse:
        """Failure probability and decision per row or machine, with the model's lineage."""
        self.runtime.follow()
        try:
            response = await self.runtime.core.predict(request)
        except RequestError as exc:
            return client_error_response(exc, path="/predict")  # type: ignore[return-value]
        version = str(response.lineage.model_version)
        for prediction in response.predictions:
            decision = "failure" if prediction.failure_predicted else "ok"
            predictions_total.labels(decision=decision, model_version=version).inc()
        return response

    @bentoml.api(route="/reload", input_spec=ReloadInput)
    async def reload(self, request: ReloadRequest, /) -> ReloadResponse:
        """Switch every worker to another model (in-flight requests finish on the old one).
        Needs ``Authorization: Bearer <MFG_SERVING_RELOAD_TOKEN>``."""
        self.runtime.follow()
        try:
            previous, current = await self.runtime.reload(request.tag)
        except RequestError as exc:
            return client_error_response(exc, path="/reload")  # type: ignore[return-value]
        return ReloadResponse(previous=previous, current=current)


MaintenanceService.add_asgi_middleware(
    RequestGuard,
    routes=[
        Route("/predict", "json", _max_body, PredictRequest, statuses=(400, 404, 413, 415, 422)),
        Route(
            "/reload",
            "json",
            _max_body,
            ReloadRequest,
            token=_reload_token,
            empty_body="{}",  # no body: the registry's champion
            statuses=(400, 401, 403, 404, 409, 413, 415),
        ),
    ],
)
