"""Ultralytics without a network, and inference on exported detectors.

:func:`configure_ultralytics` must run before ``ultralytics`` is first imported in a process
(every function of this package calls it): the library reads ``YOLO_CONFIG_DIR`` and
``YOLO_OFFLINE`` at import time. It

* points ``YOLO_CONFIG_DIR`` at ``<MFG_DATA_DIR>/ultralytics`` (settings file, fonts),
* sets ``YOLO_OFFLINE=1`` (no DNS probe, no downloads attempted) and
  ``ULTRALYTICS_SKIP_REQUIREMENTS_CHECKS=1`` (no run-time pip installs, e.g. during export),
* sets ``OMP_NUM_THREADS`` when unset (ultralytics would force it to 1) and
  ``OMP_WAIT_POLICY=PASSIVE`` (see :func:`cpu_threads`),
* turns off sync (analytics/crash reports) and every integration callback in the settings file:
  the MLflow callback is on by default and would open a second MLflow run next to ours,
* turns on Ultralytics' safe loading (``ULTRALYTICS_SAFE_LOAD``) for the process: every ``.pt``
  is unpickled with ``torch.load(weights_only=True)`` against Ultralytics' allow-list of model
  classes, so a crafted checkpoint (from MLflow, a user's ``init_weights``) cannot run code,
* places a local font as ``Arial.ttf`` in Ultralytics' user config dir: ``check_det_dataset``
  and the plot annotator look for that file and otherwise try to download it (a HEAD request
  to GitHub even with ``YOLO_OFFLINE=1``). The file is matplotlib's bundled DejaVu Sans
  (matplotlib is an ultralytics dependency), copied, not downloaded.

Ultralytics caps CPU threads at ``cpu_count() - 1`` (one thread on a 2-core machine) whenever it
selects a device; :func:`cpu_threads` overrides that cap for the duration of a call. Measured
here (YOLOv8-pico, 192 px, forward + backward, CPU time per image): 1 thread 18 ms, 2 threads
87 ms with OpenMP's default spin-waiting on a shared machine, 26 ms with passive waiting. Small
convolutions parallelise poorly: one thread per training process is the efficient choice on a
busy machine; a second thread buys ~1.4x wall time on an idle one.

:func:`predict` runs an exported detector (ONNX session, TorchScript module or a loaded
``YOLO`` model) on images and returns plain detections, so a serving layer needs no
ultralytics-specific code.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mfg_assets.plant.catalog import DEFECT_CLASSES
from mfg_assets.settings import data_dir, export_env, get_settings

OFFLINE_ENV: dict[str, str] = {
    "YOLO_OFFLINE": "1",
    "ULTRALYTICS_SKIP_REQUIREMENTS_CHECKS": "1",
    "YOLO_VERBOSE": "False",
}
INTEGRATIONS_OFF: dict[str, Any] = {
    "sync": False,
    "mlflow": False,
    "clearml": False,
    "comet": False,
    "dvc": False,
    "raytune": False,
    "tensorboard": False,
    "wandb": False,
    "vscode_msg": False,
    "openvino_msg": False,
    "api_key": "",
}
FONT_NAMES = ("Arial.ttf",)
_LOCK = threading.RLock()
_configured: Path | None = None


def ultralytics_dir() -> Path:
    """``YOLO_CONFIG_DIR`` if set, else ``<MFG_DATA_DIR>/ultralytics``."""
    configured = get_settings().yolo_config_dir
    path = configured or data_dir() / "ultralytics"
    path.mkdir(parents=True, exist_ok=True)
    return path


def configure_ultralytics(verbose: bool = False) -> Path:
    """Make ultralytics offline and quiet (idempotent); returns its config directory."""
    global _configured
    with _LOCK:
        if _configured is not None:
            return _configured
        export_env(OFFLINE_ENV)
        if verbose:
            export_env({"YOLO_VERBOSE": "True"}, override=True)
        # idle OpenMP threads sleep instead of spinning: on a busy machine spinning threads
        # burn ~3x the CPU of the actual work (effective only if torch is not imported yet)
        export_env({"OMP_NUM_THREADS": str(os.cpu_count() or 1), "OMP_WAIT_POLICY": "PASSIVE"})
        config_dir = ultralytics_dir()
        export_env({"YOLO_CONFIG_DIR": str(config_dir)}, override=True)

        from ultralytics import settings
        from ultralytics.utils import USER_CONFIG_DIR

        enable_safe_loading()

        # where check_font looks (YOLO_CONFIG_DIR/Ultralytics, or wherever an earlier import of
        # ultralytics in this process settled)
        _install_fonts(Path(USER_CONFIG_DIR))

        wanted = {
            **INTEGRATIONS_OFF,
            "runs_dir": str(config_dir / "runs"),
            "weights_dir": str(config_dir / "weights"),
            "datasets_dir": str(config_dir / "datasets"),
        }
        if any(settings.get(k) != v for k, v in wanted.items()):
            settings.update(wanted)
        _configured = config_dir
        return config_dir


def enable_safe_loading() -> None:
    """Load every Ultralytics ``.pt`` with ``weights_only=True`` in this process (and children).

    Ultralytics reads ``ULTRALYTICS_SAFE_LOAD`` once at import into a module constant that its
    checkpoint loader consults on every load; both are set here, so it holds even when
    ultralytics was imported before :func:`configure_ultralytics` ran. A checkpoint that needs
    anything outside the allow-list is refused with a ``TypeError`` before any of it runs."""
    export_env({"ULTRALYTICS_SAFE_LOAD": "1"}, override=True)
    import ultralytics.nn.tasks as tasks
    import ultralytics.utils as ultralytics_utils

    if not tasks._SafeLoad.SUPPORTED:  # torch < 2.6 would silently fall back to unpickling
        raise RuntimeError("safe checkpoint loading needs torch >= 2.6")
    ultralytics_utils.SAFE_LOAD = True
    tasks.SAFE_LOAD = True


def load_checkpoint_safely(path: str | Path, expected_sha256: str | None = None) -> Any:
    """``YOLO(path)`` for a ``.pt`` from anywhere but this process: verified against
    ``expected_sha256`` when given (:class:`ArtifactIntegrityError` otherwise), then loaded with
    ``weights_only=True`` (a checkpoint that would execute code is a ``TypeError``)."""
    from mfg_assets.models.artifacts import verify_sha256

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file {path}")
    if expected_sha256 is not None:
        verify_sha256(path, expected_sha256)
    configure_ultralytics()
    enable_safe_loading()  # idempotent; also when configure_ultralytics ran long ago
    from ultralytics import YOLO

    return YOLO(str(path), task="detect")


def _install_fonts(font_dir: Path) -> None:
    import matplotlib

    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    font_dir.mkdir(parents=True, exist_ok=True)
    for name in FONT_NAMES:
        target = font_dir / name
        if not target.exists() and source.exists():
            shutil.copyfile(source, target)


@contextmanager
def cpu_threads(threads: int | None) -> Iterator[None]:
    """Let ultralytics use ``threads`` CPU threads (default: all cores) inside the block."""
    import torch
    from ultralytics.utils import torch_utils

    wanted = max(1, int(threads or os.cpu_count() or 1))
    saved_cap, saved_torch = torch_utils.NUM_THREADS, torch.get_num_threads()
    torch_utils.NUM_THREADS = wanted
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch_utils.NUM_THREADS = saved_cap
        torch.set_num_threads(saved_torch)


@contextmanager
def cpu_bf16(enabled: bool) -> Iterator[None]:
    """Let Ultralytics' trainer autocast to bfloat16 on a CPU inside the block.

    ``amp="bf16"`` is Ultralytics' switch for bfloat16 training, but its ``autocast`` helper
    raises unless the device is CUDA. PyTorch's CPU autocast supports bfloat16 (oneDNN; AMX
    and AVX512-BF16 run it natively), so the trainer module's reference to the helper is
    replaced for the call and restored after; CUDA and disabled autocast are passed through.
    """
    if not enabled:
        yield
        return
    import torch
    from ultralytics.engine import trainer as trainer_module

    helper = trainer_module.autocast

    def autocast(dtype: bool | torch.dtype, device: str = "cuda") -> Any:
        if device == "cpu" and dtype is torch.bfloat16:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return helper(dtype, device=device)

    trainer_module.autocast = autocast
    try:
        yield
    finally:
        trainer_module.autocast = helper


def resolve_device(device: str | None) -> str:
    """``cpu``/``cuda[:N]`` as ultralytics wants it; ``auto``/None: CUDA when available."""
    if device in (None, "", "auto"):
        import torch

        return "0" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        return device.split(":", 1)[1] if ":" in device else "0"
    return device


# --- inference on exported models ------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    """One detected defect: class, confidence, box corners in pixels of the input image."""

    cls_name: str
    confidence: float
    box_xyxy: tuple[float, float, float, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoadedDetector:
    """An exported detector ready for :func:`predict`."""

    kind: str  # onnx | torchscript | ultralytics
    model: Any
    imgsz: int
    names: tuple[str, ...]
    path: Path
    fixed_batch: int | None = None  # exported with a static batch size
    device: str = "cpu"  # cpu | cuda[:N]


def load_detector(
    path: str | Path,
    imgsz: int | None = None,
    names: Sequence[str] | None = None,
    device: str = "cpu",
    threads: int | None = None,
) -> LoadedDetector:
    """Load an ``.onnx`` (onnxruntime), ``.torchscript`` (torch.jit) or ``.pt`` model.

    ``imgsz`` and ``names`` default to what the export recorded in the model's metadata.
    ``device``: ``cpu``, ``cuda``/``cuda:N`` or ``auto`` (CUDA when available). ``threads``:
    onnxruntime intra-op threads (default: all cores; idle threads sleep rather than spin);
    TorchScript and ``.pt`` use torch's thread setting (see :func:`cpu_threads`).
    """
    if device == "auto":
        device = "cuda" if resolve_device("auto") != "cpu" else "cpu"
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file {path}")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or os.cpu_count() or 1)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        wanted = ("CUDAExecutionProvider", "CPUExecutionProvider")
        if not device.startswith("cuda"):
            wanted = ("CPUExecutionProvider",)
        providers = [p for p in wanted if p in ort.get_available_providers()]
        session = ort.InferenceSession(str(path), options, providers=providers)
        meta = session.get_modelmeta().custom_metadata_map
        shape = session.get_inputs()[0].shape
        fixed = shape[0] if isinstance(shape[0], int) else None
        return LoadedDetector(
            "onnx",
            session,
            int(imgsz or _meta_imgsz(meta.get("imgsz"), shape[-1])),
            tuple(names or _meta_names(meta.get("names"))),
            path,
            fixed,
            "cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu",
        )
    if suffix == ".torchscript":
        import torch

        extra = {"config.txt": ""}
        module = torch.jit.load(str(path), map_location=device, _extra_files=extra)
        module.eval()
        meta = _parse_meta(extra["config.txt"])
        # a traced YOLO runs any batch size at the traced image size
        return LoadedDetector(
            "torchscript",
            module,
            int(imgsz or _meta_imgsz(meta.get("imgsz"), None)),
            tuple(names or _meta_names(meta.get("names"))),
            path,
            None,
            device,
        )
    if suffix == ".pt":
        model = load_checkpoint_safely(path)
        model_names = tuple(model.names[i] for i in sorted(model.names))
        return LoadedDetector(
            "ultralytics",
            model,
            int(imgsz or model.overrides.get("imgsz") or 320),
            tuple(names or model_names),
            path,
            device=device,
        )
    raise ValueError(f"unsupported model file {path} (use .onnx, .torchscript or .pt)")


def _parse_meta(text: str | bytes) -> dict[str, Any]:
    if isinstance(text, bytes):
        text = text.decode()
    if not text:
        return {}
    import json

    try:
        return json.loads(text)
    except ValueError:
        import ast

        return ast.literal_eval(text)


def _meta_imgsz(value: Any, fallback: Any) -> int:
    if value is None:
        if isinstance(fallback, int):
            return fallback
        raise ValueError("model has no imgsz metadata: pass imgsz")
    if isinstance(value, str):
        import ast

        value = ast.literal_eval(value)
    return int(max(value)) if isinstance(value, list | tuple) else int(value)


def _meta_names(value: Any) -> tuple[str, ...]:
    if value is None:
        return DEFECT_CLASSES
    if isinstance(value, str):
        import ast

        value = ast.literal_eval(value)
    if isinstance(value, dict):
        return tuple(value[k] for k in sorted(value, key=int))
    return tuple(value)


def letterbox(image: np.ndarray, imgsz: int) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Resize keeping aspect ratio and pad to ``imgsz`` square with grey 114, as Ultralytics
    does in training and prediction (OpenCV bilinear, no antialiasing: the detector learned on
    exactly these pixels, thin scratches included).

    Returns the padded HWC uint8 image, the scale factor and the (left, top) padding.
    """
    import cv2

    h, w = image.shape[:2]
    scale = min(imgsz / h, imgsz / w)
    new_w, new_h = round(w * scale), round(h * scale)
    if (new_w, new_h) != (w, h):
        image = cv2.resize(
            np.ascontiguousarray(image), (new_w, new_h), interpolation=cv2.INTER_LINEAR
        )
    left, top = (imgsz - new_w) / 2, (imgsz - new_h) / 2
    x0, y0 = round(left - 0.1), round(top - 0.1)
    canvas = np.full((imgsz, imgsz, 3), 114, dtype=np.uint8)
    canvas[y0 : y0 + new_h, x0 : x0 + new_w] = image
    return canvas, scale, (float(x0), float(y0))


def _as_rgb_array(image: Any) -> np.ndarray:
    if isinstance(image, str | Path):
        from PIL import Image

        with Image.open(image) as opened:
            return np.asarray(opened.convert("RGB"))
    if hasattr(image, "convert") and hasattr(image, "size"):  # PIL image
        return np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"expected an H x W x 3 RGB image, got shape {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {array.dtype}")
    return array[..., :3]


def predict(
    model: LoadedDetector | Any,
    images: Sequence[Any] | np.ndarray,
    conf: float = 0.25,
    iou: float = 0.7,
    max_det: int = 100,
) -> list[list[Detection]]:
    """Detections per image for RGB images (H x W x 3 uint8 arrays, PIL images or paths).

    ``model`` is a :class:`LoadedDetector`, or anything :func:`load_detector` accepts (a path).
    Pre-processing is ultralytics' (letterbox to the export size, grey padding, RGB, /255);
    post-processing is confidence filtering, class-aware NMS and mapping boxes back to the
    input image's pixels.
    """
    if not isinstance(model, LoadedDetector):
        model = load_detector(model)
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = [images]
    arrays = [_as_rgb_array(image) for image in images]
    if not arrays:
        return []
    if model.kind == "ultralytics":
        return _predict_ultralytics(model, arrays, conf, iou, max_det)
    batch, scales, pads = [], [], []
    for array in arrays:
        boxed, scale, pad = letterbox(array, model.imgsz)
        batch.append(boxed)
        scales.append(scale)
        pads.append(pad)
    tensor = np.stack(batch).transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255.0)
    raw = _forward(model, tensor)
    results = []
    for i, array in enumerate(arrays):
        results.append(
            _postprocess(
                raw[i], model.names, scales[i], pads[i], array.shape[:2], conf, iou, max_det
            )
        )
    return results


def _forward(model: LoadedDetector, tensor: np.ndarray) -> np.ndarray:
    """Raw head output (N, 4 + classes, anchors) for a float32 NCHW batch."""
    chunks = (
        [tensor[i : i + model.fixed_batch] for i in range(0, len(tensor), model.fixed_batch)]
        if model.fixed_batch
        else [tensor]
    )
    outputs = []
    for chunk in chunks:
        n = len(chunk)
        if model.fixed_batch and n < model.fixed_batch:  # pad a static-batch model's last chunk
            pad = np.zeros((model.fixed_batch - n, *chunk.shape[1:]), dtype=chunk.dtype)
            chunk = np.concatenate([chunk, pad])
        if model.kind == "onnx":
            session = model.model
            out = session.run(None, {session.get_inputs()[0].name: chunk})[0]
        else:
            import torch

            with torch.inference_mode():
                out = model.model(torch.from_numpy(chunk).to(model.device))
            if isinstance(out, list | tuple):
                out = out[0]
            out = out.float().cpu().numpy()
        outputs.append(out[:n])
    return np.concatenate(outputs)


def _postprocess(
    pred: np.ndarray,
    names: Sequence[str],
    scale: float,
    pad: tuple[float, float],
    shape: tuple[int, int],
    conf: float,
    iou: float,
    max_det: int,
) -> list[Detection]:
    pred = pred.T  # anchors x (4 + nc): cx, cy, w, h, class scores
    scores = pred[:, 4:]
    cls = scores.argmax(axis=1)
    best = scores[np.arange(len(scores)), cls]
    keep = best > conf
    if not keep.any():
        return []
    boxes, best, cls = pred[keep, :4], best[keep], cls[keep]
    xyxy = np.empty_like(boxes)
    xyxy[:, 0] = boxes[:, 0] - boxes[:, 2] / 2
    xyxy[:, 1] = boxes[:, 1] - boxes[:, 3] / 2
    xyxy[:, 2] = boxes[:, 0] + boxes[:, 2] / 2
    xyxy[:, 3] = boxes[:, 1] + boxes[:, 3] / 2
    order = _nms(xyxy, best, cls, iou)[:max_det]
    h, w = shape
    detections = []
    for i in order:
        x0 = float(np.clip((xyxy[i, 0] - pad[0]) / scale, 0, w))
        y0 = float(np.clip((xyxy[i, 1] - pad[1]) / scale, 0, h))
        x1 = float(np.clip((xyxy[i, 2] - pad[0]) / scale, 0, w))
        y1 = float(np.clip((xyxy[i, 3] - pad[1]) / scale, 0, h))
        detections.append(Detection(names[int(cls[i])], float(best[i]), (x0, y0, x1, y1)))
    return detections


def _nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> list[int]:
    """Class-aware greedy NMS (boxes of different classes never suppress each other)."""
    offset = classes.astype(np.float32)[:, None] * 4096.0  # same trick as ultralytics
    b = boxes + offset
    areas = (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)
    order = scores.argsort()[::-1]
    kept: list[int] = []
    while order.size:
        i = int(order[0])
        kept.append(i)
        rest = order[1:]
        xx0 = np.maximum(b[i, 0], b[rest, 0])
        yy0 = np.maximum(b[i, 1], b[rest, 1])
        xx1 = np.minimum(b[i, 2], b[rest, 2])
        yy1 = np.minimum(b[i, 3], b[rest, 3])
        inter = (xx1 - xx0).clip(0) * (yy1 - yy0).clip(0)
        overlap = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[overlap <= iou]
    return kept


def _predict_ultralytics(
    model: LoadedDetector, arrays: list[np.ndarray], conf: float, iou: float, max_det: int
) -> list[list[Detection]]:
    # ultralytics expects BGR numpy arrays
    results = model.model.predict(
        [np.ascontiguousarray(a[..., ::-1]) for a in arrays],
        imgsz=model.imgsz,
        conf=conf,
        iou=iou,
        max_det=max_det,
        device=resolve_device(model.device),
        verbose=False,
    )
    out = []
    for result in results:
        boxes = result.boxes
        xyxy = boxes.xyxy.cpu().numpy()
        confs = boxes.conf.cpu().numpy()
        classes = boxes.cls.cpu().numpy().astype(int)
        out.append(
            [
                Detection(model.names[c], float(p), tuple(float(v) for v in box))
                for box, p, c in zip(xyxy, confs, classes, strict=True)
            ]
        )
    return out
