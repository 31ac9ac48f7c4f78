"""The defect service's domain logic: upload limits, image decoding, detection, answers.

Wrapper steps:

    validate input  — :func:`read_upload` (size limit → 413, not an image / unsupported
                      format → 415, broken file or bad dimensions → 400)
    preprocess      — decode to RGB (PIL); letterboxing happens in ``runtime.predict``
    predict         — :class:`DetectorScorer`: the champion's ONNX export (onnxruntime)
    postprocess     — detections in input-image pixels, ``defect_found``, lineage
    validate output — :func:`check_detections` (known classes, confidences in [0, 1], boxes
                      inside the image)
"""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from mfg_assets.serving.batching import AdaptiveBatcher
from mfg_assets.serving.errors import PayloadTooLargeError, RequestError, UnsupportedMediaError
from mfg_assets.serving.lineage import Lineage
from mfg_assets.settings import get_settings

DETECTOR_FILE = "detector.onnx"  # inside the BentoML model folder
ALLOWED_FORMATS = ("PNG", "JPEG")
DEFAULT_MAX_UPLOAD_BYTES = 4 * 1024 * 1024
MIN_SIDE, MAX_SIDE = 16, 4096


def max_upload_bytes() -> int:
    """``MFG_DEFECT_MAX_UPLOAD_BYTES`` (default 4 MiB)."""
    return get_settings().mfg_defect_max_upload_bytes


# --------------------------------------------------------------------------- validate input


_SIGNATURES: dict[str, bytes] = {"PNG": b"\x89PNG\r\n\x1a\n", "JPEG": b"\xff\xd8\xff"}


def _sniff(data: bytes) -> str | None:
    """The accepted format whose signature ``data`` starts with (None: not an accepted image)."""
    return next((fmt for fmt, sig in _SIGNATURES.items() if data.startswith(sig)), None)


def read_upload(data: bytes, limit: int | None = None) -> np.ndarray:
    """The uploaded bytes as an H × W × 3 uint8 RGB array, or a 4xx :class:`RequestError`.

    The format is told from the file's signature and decoded by that Pillow plugin directly,
    not through ``Image.open``: importing Ultralytics patches ``Image.open`` to pip-install a
    HEIF plugin whenever Pillow cannot identify a file, which offline turns a bad upload into
    an import error (a 5xx) instead of a 415."""
    from PIL import JpegImagePlugin, PngImagePlugin

    limit = max_upload_bytes() if limit is None else limit
    if len(data) > limit:
        raise PayloadTooLargeError(
            f"image is {len(data)} bytes; the limit is {limit} bytes",
            detail={"size_bytes": len(data), "limit_bytes": limit},
        )
    if not data:
        raise RequestError("image is empty (0 bytes)")
    fmt = _sniff(data)
    if fmt is None or fmt not in ALLOWED_FORMATS:
        raise UnsupportedMediaError(
            f"upload is not a {' or '.join(ALLOWED_FORMATS)} image (could not identify it)"
        )
    decoder = {"PNG": PngImagePlugin.PngImageFile, "JPEG": JpegImagePlugin.JpegImageFile}[fmt]
    try:
        with decoder(io.BytesIO(data)) as image:
            width, height = image.size
            if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
                raise RequestError(
                    f"image is {width}x{height} px; each side must be {MIN_SIDE}..{MAX_SIDE} px"
                )
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated or corrupt file
        if isinstance(exc, RequestError):
            raise
        raise RequestError(f"image could not be decoded: {exc}") from exc


# --------------------------------------------------------------------------- answers


def plant_detector_classes() -> tuple[str, ...] | None:
    """The active plant's detector classes (None: the plant has no inspections)."""
    from mfg_assets.plant.definition import DefinitionError
    from mfg_assets.plant.inspection_classes import plant_classes

    try:
        return plant_classes().detector
    except DefinitionError:
        return None


PLANT_CLASSES = plant_detector_classes()  # the OpenAPI schema's enum, fixed at import
_ENUM = {"enum": list(PLANT_CLASSES)} if PLANT_CLASSES else None


class DefectBox(BaseModel):
    cls_name: str = Field(description="one of the plant's defect classes", json_schema_extra=_ENUM)
    confidence: float = Field(ge=0.0, le=1.0)
    box_xyxy: tuple[float, float, float, float] = Field(
        description="x0, y0, x1, y1 in pixels of the uploaded image"
    )


class DetectResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    detections: list[DefectBox]
    defect_found: bool
    image_width: int
    image_height: int
    classes: list[str] = Field(description="the detector's classes, in order")
    lineage: Lineage


# --------------------------------------------------------------------------- predict


class DetectorScorer:
    """The champion's ONNX export from a BentoML model folder."""

    def __init__(self, detector: Any, lineage: Lineage, conf: float = 0.25, iou: float = 0.7):
        self.detector = detector
        self.lineage = lineage
        self.conf = conf
        self.iou = iou
        self.classes: list[str] = list(detector.names)

    @classmethod
    def from_bento_model(cls, model: Any, threads: int | None = None) -> DetectorScorer:
        from mfg_assets.models.defect.runtime import load_detector

        meta = dict(model.info.metadata)
        plant = plant_detector_classes()
        if plant is not None and tuple(meta["classes"]) != plant:
            raise ValueError(
                f"model {model.tag} detects {list(meta['classes'])}, but the active plant's "
                f"classes are {list(plant)} (MFG_PLANT): serve a model of this plant"
            )
        detector = load_detector(
            Path(model.path_of(DETECTOR_FILE)),
            imgsz=int(meta["image_size"]),
            names=list(meta["classes"]),
            threads=threads,
        )
        conf = get_settings().mfg_defect_confidence
        return cls(detector, Lineage.from_metadata(str(model.tag), meta), conf=conf)

    def detect(self, images: list[np.ndarray]) -> list[list[Any]]:
        from mfg_assets.models.defect.runtime import predict

        return predict(self.detector, images, conf=self.conf, iou=self.iou)


# --------------------------------------------------------------------------- validate output


def check_detections(detections: list[Any], image: np.ndarray, classes: list[str]) -> None:
    """Known classes, confidences in [0, 1], boxes inside the image; RuntimeError otherwise."""
    height, width = image.shape[:2]
    for det in detections:
        x0, y0, x1, y1 = det.box_xyxy
        if det.cls_name not in classes:
            raise RuntimeError(f"detector returned unknown class {det.cls_name!r}")
        if not 0.0 <= det.confidence <= 1.0:
            raise RuntimeError(f"detector returned confidence {det.confidence}")
        if not (0 <= x0 <= x1 <= width and 0 <= y0 <= y1 <= height):
            raise RuntimeError(f"detector returned a box outside the image: {det.box_xyxy}")


# --------------------------------------------------------------------------- the service core


@dataclass
class DetectorSlot:
    scorer: DetectorScorer
    batcher: AdaptiveBatcher
    loaded_at: float


class DefectDetectionService:
    """validate → decode → detect (batched across requests) → postprocess → validate output."""

    def __init__(
        self,
        scorer: DetectorScorer,
        *,
        batching: bool = True,
        max_batch_size: int = 8,
        max_latency_ms: float = 10.0,
        on_batch: Any = None,
        max_upload: int | None = None,
    ) -> None:
        self.on_batch = on_batch  # called with each model call's image count (metrics)
        # read once: a settings read costs milliseconds, far too much per request
        self.max_upload = max_upload if max_upload is not None else max_upload_bytes()
        self.batching = batching
        self.max_batch_size = max_batch_size
        self.max_latency_ms = max_latency_ms
        self.slot = self._slot(scorer)

    @classmethod
    def from_env(cls, scorer: DetectorScorer, on_batch: Any = None) -> DefectDetectionService:
        settings = get_settings()
        return cls(
            scorer,
            on_batch=on_batch,
            batching=settings.mfg_serving_batching,
            max_batch_size=settings.mfg_defect_max_batch_size,
            max_latency_ms=settings.mfg_defect_max_latency_ms,
            max_upload=settings.mfg_defect_max_upload_bytes,
        )

    def _slot(self, scorer: DetectorScorer) -> DetectorSlot:
        batcher = AdaptiveBatcher(
            scorer.detect,
            max_batch_size=self.max_batch_size,
            max_latency_ms=self.max_latency_ms,
            threaded=True,  # milliseconds of ONNX work per image: keep the loop accepting uploads
            enabled=self.batching,
            on_batch=self.on_batch,
        )
        return DetectorSlot(scorer, batcher, time.time())

    async def detect(self, data: bytes) -> DetectResponse:
        slot = self.slot
        # decoding releases the GIL: off the loop, it overlaps other requests and the model
        image = await asyncio.to_thread(read_upload, data, self.max_upload)
        (detections,) = await slot.batcher.submit([image])
        check_detections(detections, image, slot.scorer.classes)
        return DetectResponse(
            detections=[
                DefectBox(cls_name=d.cls_name, confidence=d.confidence, box_xyxy=d.box_xyxy)
                for d in detections
            ],
            defect_found=bool(detections),
            image_width=int(image.shape[1]),
            image_height=int(image.shape[0]),
            classes=slot.scorer.classes,
            lineage=slot.scorer.lineage,
        )
