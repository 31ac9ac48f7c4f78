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

import os
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any

import bentoml
from bentoml.exceptions import BadInput, BentoMLException
from bentoml.validators import ContentType
from pydantic import Field
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse

from mfg_assets.serving.defect import (
    DefectDetectionService,
    DetectorScorer,
    DetectResponse,
    max_upload_bytes,
)
from mfg_assets.serving.errors import RequestError
from mfg_assets.serving.tracing import suppress_unexported_http_spans

suppress_unexported_http_spans()  # no exporter configured: skip spans nobody receives
MODEL_TAG = os.environ.get("MFG_DEFECT_MODEL_TAG", "defect_detector:latest")
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
    """One uploaded image. The body is read here, bounded, instead of by BentoML's multipart
    parser: a too-large upload is refused (413) before it is buffered whole, and an ``image``
    field that is text rather than a file is a 400 (BentoML would try to download it as a URL).
    The validated upload reaches the API as bytes."""

    image: Annotated[Path, ContentType("image/*")] = Field(
        description="PNG or JPEG inspection image"
    )

    @classmethod
    async def from_http_request(cls, request: Any, serde: Any) -> DetectInput:
        limit = max_upload_bytes() + MULTIPART_SLACK
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise BentoMLException(
                f"request body is {declared} bytes; images are limited to "
                f"{max_upload_bytes()} bytes",
                error_code=HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            )
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BentoMLException(
                    f"request body exceeds {limit} bytes; images are limited to "
                    f"{max_upload_bytes()} bytes",
                    error_code=HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                )
            chunks.append(chunk)
        request._body = b"".join(chunks)  # starlette's form parser reads the buffered body
        media_type = request.headers.get("content-type", "").split(";")[0].strip()
        if media_type != "multipart/form-data":
            raise BentoMLException(
                f"send the image as multipart/form-data (field 'image'), not {media_type!r}",
                error_code=HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            )
        try:
            form = await request.form(max_files=1, max_fields=8)
        except Exception as exc:  # starlette's MultiPartException / malformed bodies
            raise BadInput(f"malformed multipart body: {exc}") from exc
        upload = form.get("image")
        if not isinstance(upload, UploadFile):
            raise BadInput("field 'image' is missing or is not a file upload")
        return cls.model_construct(image=await upload.read())


@bentoml.service(
    name="defect",
    workers=1,
    traffic={"timeout": 60, "max_concurrency": 256},
    logging={"access": {"enabled": False}},
)
class DefectService:
    detector = bentoml.models.BentoModel(MODEL_TAG)

    def __init__(self) -> None:
        threads = int(os.environ.get("MFG_DEFECT_THREADS", "0")) or None
        self.core = DefectDetectionService.from_env(
            DetectorScorer.from_bento_model(self.detector, threads=threads),
            on_batch=batch_images.observe,
        )

    @bentoml.api(route="/detect", input_spec=DetectInput)
    async def detect(self, image: Any) -> DetectResponse:
        """Defect boxes (class, confidence, pixel box) in the uploaded image, with lineage."""
        try:
            response = await self.core.detect(image)
        except RequestError as exc:
            return JSONResponse(exc.to_dict(), status_code=exc.status_code)  # type: ignore[return-value]
        version = str(response.lineage.model_version)
        for box in response.detections:
            detections_total.labels(cls_name=box.cls_name, model_version=version).inc()
        return response
