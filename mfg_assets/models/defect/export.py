"""Exporting a trained detector for serving: TorchScript and ONNX, offline.

Both exports keep Ultralytics' raw head output ``(batch, 4 + classes, anchors)`` (boxes as
centre/size in input pixels, per-class scores) and leave NMS to :func:`runtime.predict`, which
is what lets one pre/post-processing path serve either file. ONNX is exported with a dynamic
batch axis (adaptive batching in the serving layer) and simplified with onnxslim; TorchScript
is traced at ``batch`` and also runs other batch sizes. ``imgsz`` is fixed at export: the
serving side letterboxes every image to it. Ultralytics' requirement checks are off (see
``runtime``), so nothing is pip-installed at export time.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from mfg_assets.models.defect.runtime import configure_ultralytics, cpu_threads

FORMATS: dict[str, str] = {"torchscript": ".torchscript", "onnx": ".onnx"}


def export_detector(
    weights: str | Path,
    formats: Sequence[str] = ("torchscript", "onnx"),
    imgsz: int | None = None,
    *,
    out_dir: str | Path | None = None,
    dynamic: bool = True,
    batch: int = 1,
    threads: int | None = None,
) -> dict[str, Path]:
    """Export ``weights`` (a ``.pt``) to each format; returns format → file.

    ``imgsz`` defaults to the training image size stored in the checkpoint. Files are written
    next to the weights by Ultralytics and moved to ``out_dir`` when given.
    """
    weights = Path(weights)
    if not weights.is_file():
        raise FileNotFoundError(f"no weights file {weights}")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unsupported export formats {unknown} (supported: {list(FORMATS)})")
    configure_ultralytics()
    from ultralytics import YOLO

    target = Path(out_dir) if out_dir else None
    if target is not None:
        target.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    with cpu_threads(threads):
        for fmt in formats:
            model = YOLO(str(weights), task="detect")
            size = int(imgsz or (model.ckpt or {}).get("train_args", {}).get("imgsz") or 320)
            extra = {"dynamic": dynamic, "simplify": True} if fmt == "onnx" else {}
            produced = Path(
                model.export(
                    format=fmt, imgsz=size, batch=batch, device="cpu", verbose=False, **extra
                )
            )
            if target is not None:
                moved = target / produced.name
                shutil.move(str(produced), moved)
                produced = moved
            paths[fmt] = produced
    return paths
