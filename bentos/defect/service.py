"""Surface-defect service: boxes, classes and confidences for an uploaded inspection image.

Thin on purpose: limits, decoding, batched ONNX detection and output checks live in
``mfg_assets.serving.defect``.

    POST /detect    multipart/form-data, field ``image``: a PNG or JPEG (≤ 4 MiB by default)
    GET  /healthz /livez /readyz /metrics /docs.json   (BentoML built-ins)

Environment: ``MFG_DEFECT_MODEL_TAG`` (default ``defect_detector:latest``),
``MFG_DEFECT_MAX_UPLOAD_BYTES``, ``MFG_SERVING_BATCHING``, ``MFG_DEFECT_MAX_BATCH_SIZE``,
``MFG_DEFECT_MAX_LATENCY_MS``, ``MFG_DEFECT_CONFIDENCE``, ``MFG_DEFECT_THREADS``.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Annotated, Any

import bentoml
from bentoml.exceptions import BadInput
from bentoml.validators import ContentType
from pydantic import Field

from mfg_assets.serving.defect import (
    DefectDetectionService,
    DetectorScorer,
    DetectResponse,
    max_upload_bytes,
)
from mfg_assets.serving.errors import RequestError
from mfg_assets.serving.http import RequestGuard, Route, client_error_response, parsed_body
from mfg_assets.serving.tracing import suppress_unexported_http_spans
from mfg_assets.settings import get_settings

suppress_unexported_http_spans()  # no exporter configured: skip spans nobody receives
MODEL_TAG = get_settings().mfg_defect_model_tag  # fixed when the service class is defined
MULTIPART_SLACK = 64 * 1024  # form boundaries and headers around the file

detections_total = bentoml.metrics.Counter(
    name="mfg_defect_detections_total",
    documentation="Defect boxes reported, by class and model version",
    labelnames=["cls_name", "model_version"],
)

batch_images = bentoml.metrics.Histogram(
    name="mfg_defect_batch_images",
    documentation="Images per detector call (adaptive batching across requests)",
    buckets=(1, 2, 4, 8, 16, 32),
)


class DetectInput(bentoml.IODescriptor):
    """One uploaded image. The body is read, bounded and parsed by :class:`RequestGuard` in
    front of BentoML (a too-large upload is a 413 before it is buffered whole; a body that is
    not multipart a 415; a missing or text ``image`` field a 400, as one JSON object), never by
    BentoML's multipart parser (which would try to download a text field as a URL). The
    validated upload reaches the API as bytes."""

    image: Annotated[Path, ContentType("image/*")] = Field(
        description="PNG or JPEG inspection image"
    )

    @classmethod
    async def from_http_request(cls, request: Any, serde: Any) -> DetectInput:
        data = parsed_body(request)
        if data is None:  # served without the guard
            raise BadInput("uploads are parsed by mfg_assets.serving.http.RequestGuard")
        return cls.model_construct(image=data)


MAX_UPLOAD = max_upload_bytes()  # read once: a settings read costs milliseconds


def _upload_limit() -> int:
    return MAX_UPLOAD + MULTIPART_SLACK


@bentoml.service(
    name="defect",
    workers=1,
    traffic={"timeout": 60, "max_concurrency": 256},
    logging={"access": {"enabled": False}},
)
class DefectService:
    detector = bentoml.models.BentoModel(MODEL_TAG)

    def __init__(self) -> None:
        threads = get_settings().mfg_defect_threads or None
        self.core = DefectDetectionService.from_env(
            DetectorScorer.from_bento_model(self.detector, threads=threads),
            on_batch=batch_images.observe,
        )
        # as in the maintenance service: the start-up heap lives for the worker's life
        gc.collect()
        gc.freeze()

    @bentoml.api(route="/detect", input_spec=DetectInput)
    async def detect(self, image: Any) -> DetectResponse:
        """Defect boxes (class, confidence, pixel box) in the uploaded image, with lineage."""
        try:
            response = await self.core.detect(image)
        except RequestError as exc:
            return client_error_response(exc, path="/detect")  # type: ignore[return-value]
        version = str(response.lineage.model_version)
        for box in response.detections:
            detections_total.labels(cls_name=box.cls_name, model_version=version).inc()
        return response


DefectService.add_asgi_middleware(
    RequestGuard,
    routes=[
        Route(
            "/detect",
            "multipart",
            _upload_limit,
            file_field="image",
            statuses=(400, 413, 415),
            limit_hint=lambda: f"; images are limited to {MAX_UPLOAD} bytes",
        )
    ],
)
