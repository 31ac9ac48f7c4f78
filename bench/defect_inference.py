"""Defect-detector inference speed: ONNX (onnxruntime) vs TorchScript vs plain ``YOLO.predict``.

Measures images/s and ms/image at batch 1 and batch 8 on CPU (and on CUDA when available),
end to end per call: pre-processing (letterbox), the forward pass and post-processing (NMS,
boxes back to image pixels), i.e. what a serving endpoint pays. Ratios are against plain
``YOLO.predict`` on the same device in the same run. For context, Ultralytics' published table
gives YOLOv8n (640 px) about 80 ms/image on CPU with ONNX.

Usage::

    python bench/defect_inference.py                       # train a throwaway 1-epoch model
    python bench/defect_inference.py --weights best.pt     # a trained detector
    python bench/defect_inference.py --architecture yolov8n --imgsz 320 --iters 40

Everything is written under a temporary directory (or ``--work-dir``); nothing is downloaded.
Speed does not depend on what the weights learned, so an untrained model is a fair subject.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _smoke import parse_args  # noqa: E402


def _throwaway_weights(work: Path, architecture: str, imgsz: int) -> Path:
    from mfg_assets.models.defect.dataset import build_yolo_dataset, sample_inspections
    from mfg_assets.models.defect.training import DetectorSettings, train_detector

    dataset = build_yolo_dataset(
        sample_inspections(24, seed=1), work / "dataset", image_size=96, max_normal_fraction=None
    )
    settings = DetectorSettings(architecture=architecture, epochs=1, imgsz=imgsz, batch=8)
    return train_detector(dataset.data_yaml, settings, work / "train", cache=False).best_weights


def _time(fn, iters: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iters):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, help="trained .pt (default: throwaway model)")
    parser.add_argument("--architecture", default="yolov8-pico")
    parser.add_argument("--imgsz", type=int, default=None)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--work-dir", type=Path)
    args = parse_args(parser, imgsz=64, iters=1, threads=1)

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="defect_bench_"))
    os.environ.setdefault("MFG_DATA_DIR", str(work / "data"))
    from mfg_assets.models.defect.runtime import configure_ultralytics, cpu_threads

    configure_ultralytics()
    import torch
    from ultralytics import YOLO

    from mfg_assets.models.defect.export import export_detector
    from mfg_assets.models.defect.runtime import LoadedDetector, load_detector, predict
    from mfg_assets.plant.images import render_inspection

    imgsz = args.imgsz or 192
    weights = args.weights or _throwaway_weights(work, args.architecture, imgsz)
    exports = export_detector(weights, ("onnx", "torchscript"), imgsz=imgsz, out_dir=work / "x")
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
            for batch in (1, 8):
                chunk = images[:batch]
                base = None
                for name, detector in runtimes.items():
                    seconds = _time(lambda d=detector, c=chunk: predict(d, c), args.iters)
                    per_image = seconds / batch
                    base = base or per_image
                    rows.append(
                        (device, batch, name, per_image * 1000, 1 / per_image, base / per_image)
                    )

    print(
        f"\nweights={weights} imgsz={imgsz} threads={args.threads} torch={torch.__version__} "
        f"cpu_count={os.cpu_count()}"
    )
    header = (
        f"{'device':6} {'batch':>5}  {'runtime':22} {'ms/image':>9} {'images/s':>9} {'speed-up':>9}"
    )
    print(header)
    print("-" * len(header))
    for device, batch, name, ms, ips, ratio in rows:
        print(f"{device:6} {batch:>5}  {name:22} {ms:9.2f} {ips:9.1f} {ratio:8.2f}x")
    print("speed-up: plain YOLO.predict time / this runtime's time (same device, same batch)")


if __name__ == "__main__":
    main()
