"""Tiny end-to-end run with the network blocked: train → evaluate → export → predict.

Every socket connection and DNS lookup to a non-loopback address is refused *and recorded*;
the test fails if Ultralytics (or anything else) tried one, so "offline" means "never tried",
not "tried and swallowed the error".
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mfg_assets.models.config import load_experiment
from mfg_assets.models.defect.dataset import DefectDataset, build_yolo_dataset, sample_inspections
from mfg_assets.models.defect.runtime import Detection
from mfg_assets.models.defect.training import DetectorSettings, TrainedDetector
from mfg_assets.plant.catalog import DEFECT_CLASSES
from mfg_assets.plant.images import render_inspection

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::FutureWarning"),  # torch.jit deprecation notices
    pytest.mark.filterwarnings("ignore:Converting a tensor to a Python boolean"),  # tracing
]
LOOPBACK = ("127.", "::1", "localhost", "0.0.0.0")


def _is_loopback(host: Any) -> bool:
    return host is None or str(host).startswith(LOOPBACK) or str(host) == ""


@pytest.fixture(scope="module")
def no_network() -> Iterator[list[str]]:
    """Refuse and record every non-loopback connection or name lookup in this process."""
    attempts: list[str] = []
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(host):
            attempts.append(f"connect {address}")
            raise OSError(f"network blocked in tests: {address}")
        return original_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(host):
            attempts.append(f"connect_ex {address}")
            return 111
        return original_connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            attempts.append(f"getaddrinfo {host}")
            raise socket.gaierror(f"name lookup blocked in tests: {host}")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = guarded_getaddrinfo
    try:
        yield attempts
    finally:
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = original_getaddrinfo


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> DefectDataset:
    frame = sample_inspections(28, seed=9, defect_share=0.85)
    return build_yolo_dataset(
        frame, tmp_path_factory.mktemp("tiny_ds"), image_size=96, max_normal_fraction=None
    )


@pytest.fixture(scope="module")
def trained(
    no_network: list[str], tiny_dataset: DefectDataset, tmp_path_factory: pytest.TempPathFactory
) -> tuple[TrainedDetector, list[tuple[int, dict[str, float]]]]:
    from mfg_assets.models.defect.training import train_detector

    epochs: list[tuple[int, dict[str, float]]] = []
    config = load_experiment("defect_default")
    result = train_detector(
        tiny_dataset.data_yaml,
        config,
        tmp_path_factory.mktemp("tiny_run"),
        on_epoch=lambda epoch, metrics: epochs.append((epoch, metrics)),
        epochs=2,
        imgsz=64,
        batch=8,
        cache=False,
    )
    return result, epochs


def test_training_runs_offline_and_writes_weights(trained, no_network: list[str]) -> None:
    result, epochs = trained
    assert result.best_weights.is_file() and result.last_weights.is_file()
    assert result.epochs_run == 2 and result.seconds > 0
    assert [e for e, _ in epochs] == [1, 2]
    for _, metrics in epochs:
        assert {"train/box_loss", "map50", "map50_95", "precision", "recall", "lr"} <= set(metrics)
        assert all(np.isfinite(v) for v in metrics.values())
        assert all("(" not in k for k in metrics)  # MLflow-safe names
    assert {"map50", "map50_95", "precision", "recall"} <= set(result.metrics)
    assert no_network == [], f"something tried the network: {no_network}"


def test_ultralytics_settings_are_offline(trained) -> None:
    from ultralytics import settings

    assert settings["sync"] is False and settings["mlflow"] is False
    assert not any(settings[k] for k in ("clearml", "comet", "dvc", "wandb", "tensorboard"))


def test_evaluation_returns_metrics_and_confusion_matrix(
    trained, tiny_dataset: DefectDataset, no_network: list[str], tmp_path: Path
) -> None:
    from mfg_assets.models.defect.evaluation import evaluate_detector

    result, _ = trained
    report = evaluate_detector(
        result.best_weights, tiny_dataset.data_yaml, split="test", out_dir=tmp_path
    )
    assert {"map50", "map50_95", "precision", "recall", "fitness"} <= set(report["metrics"])
    assert report["classes"] == list(DEFECT_CLASSES)
    assert report["images"] == tiny_dataset.images["test"]
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (5, 5)
    png = Path(report["confusion_matrix_png"])
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for row in report["per_class"]:
        assert row["class"] in DEFECT_CLASSES
    assert no_network == []


@pytest.fixture(scope="module")
def exported(trained, no_network: list[str], tmp_path_factory: pytest.TempPathFactory):
    from mfg_assets.models.defect.export import export_detector

    result, _ = trained
    return export_detector(
        result.best_weights, ("torchscript", "onnx"), imgsz=64, out_dir=tmp_path_factory.mktemp("x")
    )


def test_export_and_predict_offline(exported, no_network: list[str]) -> None:
    from mfg_assets.models.defect.runtime import load_detector, predict

    assert exported["onnx"].suffix == ".onnx" and exported["onnx"].is_file()
    assert exported["torchscript"].suffix == ".torchscript" and exported["torchscript"].is_file()
    images = [render_inspection(4, f"Q-{i}", "dent", 0.6, size=96).pixels for i in range(3)]
    images.append(render_inspection(4, "Q-wide", "crack", 0.6, size=128).pixels[:, :100])
    raw: dict[str, Any] = {}
    for fmt, path in exported.items():
        detector = load_detector(path)
        assert detector.imgsz == 64 and detector.names == DEFECT_CLASSES
        # conf 0 keeps every candidate: an untrained detector still yields boxes to check
        detections = predict(detector, images, conf=0.0, max_det=20)
        assert len(detections) == len(images)
        for image, found in zip(images, detections, strict=True):
            assert 0 < len(found) <= 20
            h, w = image.shape[:2]
            for det in found:
                assert isinstance(det, Detection)
                assert det.cls_name in DEFECT_CLASSES
                assert 0.0 <= det.confidence <= 1.0
                x0, y0, x1, y1 = det.box_xyxy
                assert 0 <= x0 <= x1 <= w and 0 <= y0 <= y1 <= h
                assert set(det.to_dict()) == {"cls_name", "confidence", "box_xyxy"}
        raw[fmt] = detections
    # both exports are the same network: same top detection per image
    for a, b in zip(raw["onnx"], raw["torchscript"], strict=True):
        assert a[0].cls_name == b[0].cls_name
        assert a[0].confidence == pytest.approx(b[0].confidence, abs=1e-3)
        assert np.allclose(a[0].box_xyxy, b[0].box_xyxy, atol=0.5)
    assert no_network == []


def test_predict_matches_ultralytics_on_the_pt(trained, exported) -> None:
    from mfg_assets.models.defect.runtime import load_detector, predict

    result, _ = trained
    # 96 px images letterboxed to the 64 px export size: same resize, padding and box mapping
    images = [render_inspection(5, f"R-{i}", "scratch", 0.8, size=96).pixels for i in range(2)]
    ours = predict(load_detector(exported["onnx"]), images, conf=0.0, max_det=5)
    theirs = predict(load_detector(result.best_weights, imgsz=64), images, conf=0.0, max_det=5)
    for a, b in zip(ours, theirs, strict=True):
        assert a[0].cls_name == b[0].cls_name
        assert a[0].confidence == pytest.approx(b[0].confidence, abs=2e-3)
        assert np.allclose(a[0].box_xyxy, b[0].box_xyxy, atol=0.5)


def test_missing_init_weights_is_an_error(tiny_dataset: DefectDataset, tmp_path: Path) -> None:
    from mfg_assets.models.defect.training import train_detector

    settings = DetectorSettings(init_weights=tmp_path / "nope.pt", epochs=1)
    with pytest.raises(FileNotFoundError, match="init_weights"):
        train_detector(tiny_dataset.data_yaml, settings, tmp_path)


def test_settings_from_the_shipped_experiments() -> None:
    default = DetectorSettings.from_config(load_experiment("defect_default"))
    assert default.optimizer == "AdamW" and default.cos_lr
    assert default.detector_classes == DEFECT_CLASSES
    assert default.lrf == pytest.approx(0.00015 / 0.003)
    assert default.imgsz == 192 and default.threads == 1
    args = default.train_args()
    assert args["amp"] is False and args["plots"] is False and args["workers"] == 0
    assert args["pretrained"] is False and args["device"] == "cpu"
    gpu = DetectorSettings.from_config(load_experiment("defect_gpu"))
    assert gpu.architecture == "yolov8n" and gpu.device == "cuda"
    with pytest.raises(ValueError, match="model.kind"):
        DetectorSettings.from_config({"model": {"kind": "maintenance"}})


def test_cpu_bf16_lets_the_trainer_autocast_on_a_cpu_and_restores_it() -> None:
    import torch
    from ultralytics.engine import trainer as trainer_module

    from mfg_assets.models.defect.runtime import configure_ultralytics, cpu_bf16

    configure_ultralytics()
    with pytest.raises(RuntimeError, match="bfloat16"):  # Ultralytics' own helper refuses
        trainer_module.autocast(torch.bfloat16, device="cpu")
    with cpu_bf16(True):
        with trainer_module.autocast(torch.bfloat16, device="cpu"):
            out = torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3))
        assert out.dtype == torch.bfloat16
        with trainer_module.autocast(False, device="cpu"):  # fp32 training is untouched
            assert torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3)).dtype == (
                torch.float32
            )
    with pytest.raises(RuntimeError, match="bfloat16"):
        trainer_module.autocast(torch.bfloat16, device="cpu")
    with cpu_bf16(False), pytest.raises(RuntimeError, match="bfloat16"):
        trainer_module.autocast(torch.bfloat16, device="cpu")


def test_bf16_training_runs_in_bfloat16_channels_last_and_saves_float_weights(
    tiny_dataset: DefectDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from mfg_assets.models.defect.runtime import load_checkpoint_safely
    from mfg_assets.models.defect.training import train_detector

    autocasts: list[tuple[str, Any]] = []
    original = torch.autocast

    def recording(device_type: str, *args: Any, **kwargs: Any) -> Any:
        autocasts.append((device_type, kwargs.get("dtype")))
        return original(device_type, *args, **kwargs)

    monkeypatch.setattr(torch, "autocast", recording)
    settings = DetectorSettings.from_config(
        load_experiment("defect_default"), epochs=1, imgsz=64, batch=8, cache=False
    )
    result = train_detector(tiny_dataset.data_yaml, replace(settings, precision="bf16"), tmp_path)
    assert result.epochs_run == 1 and result.best_weights.is_file()
    assert result.settings.train_args()["amp"] == "bf16"
    batches = -(-sum(tiny_dataset.counts["train"].values()) // 8)
    assert autocasts.count(("cpu", torch.bfloat16)) >= batches  # every training step
    model = load_checkpoint_safely(result.best_weights).model
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d)).weight
    assert first.is_contiguous()  # saved in the standard layout, for export and serving
    assert all(p.dtype in (torch.float16, torch.float32) for p in model.parameters())


def test_cpu_training_model_and_its_ema_go_channels_last() -> None:
    from types import SimpleNamespace

    import torch

    from mfg_assets.models.defect.training import channels_last_on_cpu

    def nets() -> tuple[torch.nn.Module, torch.nn.Module]:
        return torch.nn.Conv2d(3, 8, 3), torch.nn.Conv2d(3, 8, 3)

    model, ema = nets()
    channels_last_on_cpu(
        SimpleNamespace(device=torch.device("cpu"), model=model, ema=SimpleNamespace(ema=ema))
    )
    assert model.weight.is_contiguous(memory_format=torch.channels_last)
    assert ema.weight.is_contiguous(memory_format=torch.channels_last)
    model, ema = nets()
    channels_last_on_cpu(
        SimpleNamespace(device=torch.device("cuda"), model=model, ema=SimpleNamespace(ema=ema))
    )
    assert not model.weight.is_contiguous(memory_format=torch.channels_last)
