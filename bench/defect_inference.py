"""Defect-detector inference speed: ONNX (onnxruntime) vs TorchScript vs plain ``YOLO.predict``.

Measures images/s, ms/image and the p50/p95 latency of one call at batch 1 and batch 8 on CPU
(and on CUDA when available), end to end per call: pre-processing (letterbox), the forward pass
and post-processing (NMS, boxes back to image pixels), i.e. what a serving endpoint pays. Ratios
are against plain ``YOLO.predict`` on the same device and batch, and batch 8 against the same
runtime unbatched (batch 1), all in the same run. For context, Ultralytics' published table
gives YOLOv8n (640 px) about 80 ms/image on CPU with ONNX.

**Images.** The simulator's rendered inspections (``--plant simulator``, the default), or real
ones: ``--plant neu_det`` runs on NEU-DET's 200 x 200 grey steel-strip images
(``MFG_DATASETS_DIR``, read in place) with a detector of the NEU plant trained for a few epochs
on a NEU-DET subset imported by ``mfg-plant import neu-det``'s importer; ``--images DIR`` takes
any folder of PNG/JPEG files (spread evenly over its sorted names).

Usage::

    python bench/defect_inference.py                       # train a throwaway 1-epoch model
    python bench/defect_inference.py --weights best.pt     # a trained detector
    python bench/defect_inference.py --architecture yolov8n --imgsz 320 --iters 40
    python bench/defect_inference.py --plant neu_det       # real images, a 3-epoch NEU model

Everything is written under a temporary directory (or ``--work-dir``); nothing is downloaded.
Speed hardly depends on what the weights learned (only NMS sees how many boxes pass the
confidence threshold), so a briefly trained model is a fair subject.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _smoke import parse_args  # noqa: E402

PLANTS = ("simulator", "neu_det")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
BATCHES = (1, 8)


def neu_source() -> Path:
    """The NEU-DET copy (``MFG_DATASETS_DIR``), or exit saying where it is looked for."""
    from mfg_assets.plant.importers.datasets import dataset, datasets_dir

    source = dataset("neu_det")
    if source is None:
        raise SystemExit(f"NEU-DET not found in {datasets_dir()} (set MFG_DATASETS_DIR)")
    return source


def image_files(plant: str, folder: Path | None, count: int) -> list[Path]:
    """``count`` real images spread evenly over ``folder``'s sorted PNG/JPEG files (NEU-DET's
    file names group its images by class, so every class is drawn); [] for the simulator
    without ``folder`` (its images are rendered)."""
    if folder is None and plant == "simulator":
        return []
    folder = folder or neu_source() / "IMAGES"
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SystemExit(f"no PNG/JPEG images in {folder}")
    return [files[len(files) * i // count] for i in range(count)]


def describe(files: list[Path]) -> str:
    """What the bench runs on, e.g. ``8 images from .../IMAGES (200x200 L JPEG)``."""
    from PIL import Image

    if not files:
        return "the simulator's rendered inspections"
    kinds = set()
    for path in files:
        with Image.open(path) as image:
            mode = "grey" if image.mode == "L" or _is_grey(image) else image.mode
            kinds.add(f"{image.width}x{image.height} {mode} {image.format}")
    return f"{len(files)} real images from {files[0].parent} ({', '.join(sorted(kinds))})"


def _is_grey(image: Any) -> bool:
    """An RGB image whose three channels are equal (NEU-DET's grey images are stored as RGB)."""
    import numpy as np

    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    return bool((pixels.max(axis=-1) - pixels.min(axis=-1)).max() <= 8)  # JPEG chroma noise


def neu_weights(
    work: Path, imgsz: int, epochs: int, per_class: int, architecture: str | None = None
) -> Path:
    """A detector of the NEU plant for timing, not accuracy: experiment ``defect_neu_det``
    (its architecture unless ``architecture``; from scratch) trained ``epochs`` epochs on the
    first ``per_class`` NEU-DET images of each class, imported by the platform's importer into
    a throwaway plant and built into a dataset like ``defect_dataset`` builds one."""
    import polars as pl

    from mfg_assets.models.defect.dataset import build_yolo_dataset
    from mfg_assets.models.defect.training import DetectorSettings, train_detector
    from mfg_assets.plant.importers.neu_det import PLANT, import_neu_det, linked_subset
    from mfg_assets.plant.inspection_classes import plant_classes
    from mfg_assets.plant.writer import PlantDB

    source = linked_subset(neu_source(), per_class, work / "neu_subset")
    url = f"sqlite:///{work / 'neu_plant.db'}"
    import_neu_det(source, url, replace=True)
    db = PlantDB(url)
    try:
        inspections = pl.read_database("SELECT * FROM quality_inspections", db.engine)
    finally:
        db.close()
    if inspections["inspection_time"].dtype == pl.String:  # SQLite keeps ISO text
        inspections = inspections.with_columns(
            pl.col("inspection_time").str.to_datetime(time_zone="UTC")
        )
    dataset = build_yolo_dataset(
        inspections, work / "neu_dataset", max_normal_fraction=None, classes=plant_classes(PLANT)
    )
    overrides: dict[str, Any] = {"epochs": epochs, "imgsz": imgsz, "time_hours": None}
    if architecture:
        overrides["architecture"] = architecture
    settings = DetectorSettings.from_config("defect_neu_det", batch=8, **overrides)
    return train_detector(dataset.data_yaml, settings, work / "neu_train", cache=False).best_weights


def throwaway_weights(
    work: Path,
    architecture: str | None,
    imgsz: int,
    plant: str = "simulator",
    epochs: int = 3,
    per_class: int = 20,
) -> Path:
    """A briefly trained detector of ``plant``: the simulator's (1 epoch on 24 rendered
    inspections, ``yolov8-pico`` unless ``architecture``) or NEU-DET's (:func:`neu_weights`)."""
    if plant == "neu_det":
        return neu_weights(work, imgsz, epochs, per_class, architecture)
    from mfg_assets.models.defect.dataset import build_yolo_dataset, sample_inspections
    from mfg_assets.models.defect.training import DetectorSettings, train_detector

    dataset = build_yolo_dataset(
        sample_inspections(24, seed=1), work / "dataset", image_size=96, max_normal_fraction=None
    )
    settings = DetectorSettings(
        architecture=architecture or "yolov8-pico", epochs=1, imgsz=imgsz, batch=8
    )
    return train_detector(dataset.data_yaml, settings, work / "train", cache=False).best_weights


def _time(fn, iters: int, warmup: int = 3) -> list[float]:
    """Seconds per call of ``fn``, ``iters`` calls after ``warmup``."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iters):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, help="trained .pt (default: throwaway model)")
    parser.add_argument("--plant", choices=PLANTS, default="simulator", help="images and model")
    parser.add_argument("--images", type=Path, help="folder of PNG/JPEG images to run on")
    parser.add_argument("--architecture", default=None, help="default: the plant's")
    parser.add_argument("--imgsz", type=int, default=None)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=3, help="NEU throwaway model's epochs")
    parser.add_argument("--per-class", type=int, default=20, help="NEU images per class to train")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--work-dir", type=Path)
    args = parse_args(parser, imgsz=64, iters=1, threads=1, epochs=1, per_class=3)

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="defect_bench_"))
    os.environ.setdefault("MFG_DATA_DIR", str(work / "data"))
    from mfg_assets.models.defect.runtime import configure_ultralytics, cpu_threads

    configure_ultralytics()
    import numpy as np
    import torch
    from PIL import Image
    from ultralytics import YOLO

    from mfg_assets.models.defect.export import export_detector
    from mfg_assets.models.defect.runtime import LoadedDetector, load_detector, predict
    from mfg_assets.plant.images import render_inspection

    load_before = os.getloadavg()
    imgsz = args.imgsz or 192
    files = image_files(args.plant, args.images, max(BATCHES))
    weights = args.weights or throwaway_weights(
        work, args.architecture, imgsz, args.plant, args.epochs, args.per_class
    )
    exports = export_detector(weights, ("onnx", "torchscript"), imgsz=imgsz, out_dir=work / "x")
    if files:  # decoded as the service decodes an upload: RGB
        images = [np.asarray(Image.open(path).convert("RGB")) for path in files]
    else:
        images = [render_inspection(3, f"B-{i}", "crack", 0.5).pixels for i in range(8)]

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    with cpu_threads(args.threads):
        for device in devices:
            onnx = load_detector(exports["onnx"], device=device, threads=args.threads)
            runtimes = {
                "YOLO.predict (.pt)": load_detector(weights, imgsz=imgsz, device=device),
                "ONNX (onnxruntime)": onnx,
                "TorchScript": load_detector(exports["torchscript"], device=device),
                # Ultralytics' own loader on the same .onnx (its pre/post-processing)
                "YOLO.predict (.onnx)": LoadedDetector(
                    "ultralytics",
                    YOLO(str(exports["onnx"]), task="detect"),
                    imgsz,
                    onnx.names,
                    exports["onnx"],
                    device=device,
                ),
            }
            unbatched: dict[str, float] = {}
            for batch in BATCHES:
                chunk = images[:batch]
                base = None
                for name, detector in runtimes.items():
                    samples = _time(lambda d=detector, c=chunk: predict(d, c), args.iters)
                    p50, p95 = np.percentile(samples, [50, 95])
                    base = base or p50
                    unbatched.setdefault(name, p50)
                    rows.append((device, batch, name, p50, p95, base / p50, unbatched[name]))

    print(
        f"\nweights={weights} imgsz={imgsz} threads={args.threads} torch={torch.__version__} "
        f"cpu_count={os.cpu_count()} plant={args.plant}\nimages: {describe(files)}\n"
        f"load average (1/5/15 min) before {load_before}, after {os.getloadavg()}"
    )
    header = (
        f"{'device':6} {'batch':>5}  {'runtime':22} {'ms/image':>9} {'images/s':>9} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'vs predict':>10} {'vs batch 1':>10}"
    )
    print(header)
    print("-" * len(header))
    for device, batch, name, p50, p95, ratio, batch_1 in rows:
        print(
            f"{device:6} {batch:>5}  {name:22} {p50 / batch * 1000:9.2f} {batch / p50:9.1f} "
            f"{p50 * 1000:8.2f} {p95 * 1000:8.2f} {ratio:9.2f}x {batch_1 * batch / p50:9.2f}x"
        )
    boxes = [len(found) for found in predict(load_detector(exports["onnx"]), images)]
    print(f"boxes per image (ONNX, confidence 0.25): {boxes}")
    print(
        "p50/p95: latency of one call (the whole batch); ms/image and images/s from the p50.\n"
        "vs predict: plain YOLO.predict time / this runtime's time (same device, same batch);\n"
        "vs batch 1: this runtime's time per image unbatched / at this batch (same run)"
    )


if __name__ == "__main__":
    main()
