"""The defect bento: a tiny detector trained and registered through the defect workflow, built
by the ``defect_bento`` asset, served by ``bentoml serve`` and called over HTTP."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from mfg_assets.plant.catalog import DEFECT_CLASSES
from mfg_assets.plant.images import render_inspection
from mfg_assets.serving.errors import PayloadTooLargeError, RequestError, UnsupportedMediaError
from mfg_assets_tests.serving.conftest import RunningServer, start_bento
from mfg_assets_tests.serving.test_maintenance_service import (
    fuzz_operation,
    partial_request,
    schemathesis_all_checks,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore:Converting a tensor to a Python boolean"),
]


def _png(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def _inspection(kind: str = "scratch", size: int = 96) -> np.ndarray:
    return render_inspection(4, f"Q-{kind}", kind, 0.7, size=size).pixels


def test_uploads_are_checked_before_detection() -> None:
    # Ultralytics (imported by the detector runtime) patches PIL.Image.open to pip-install a
    # HEIF plugin on unidentified files: with it loaded, bad uploads must still be 4xx errors.
    import ultralytics  # noqa: F401

    from mfg_assets.serving.defect import read_upload

    pixels = _inspection()
    assert read_upload(_png(pixels)).shape == pixels.shape
    assert read_upload(_png(pixels, "JPEG")).shape == pixels.shape
    with pytest.raises(PayloadTooLargeError, match="limit is 100 bytes"):
        read_upload(_png(pixels), limit=100)
    with pytest.raises(UnsupportedMediaError, match="not a PNG or JPEG"):
        read_upload(b"%PDF-1.4 not an image at all")
    with pytest.raises(UnsupportedMediaError, match="not a PNG or JPEG"):
        read_upload(_png(pixels, "GIF"))
    with pytest.raises(RequestError, match="could not be decoded"):
        read_upload(_png(pixels)[:200])
    with pytest.raises(RequestError, match="could not be decoded"):
        read_upload(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 4)
    with pytest.raises(RequestError, match="8x8 px"):
        read_upload(_png(np.zeros((8, 8, 3), np.uint8)))
    with pytest.raises(RequestError, match="empty"):
        read_upload(b"")


@pytest.fixture(scope="module")
def defect_champion(serving_home, tmp_path_factory: pytest.TempPathFactory):
    """A 1-epoch detector at 64 px, trained, exported and registered by the defect workflow,
    then promoted to champion."""
    from mfg_assets.models.config import apply_overrides, load_experiment
    from mfg_assets.models.defect.dataset import build_yolo_dataset, sample_inspections
    from mfg_assets.models.defect.workflow import promote, train_and_register

    dataset = build_yolo_dataset(
        sample_inspections(24, seed=9, defect_share=0.85),
        tmp_path_factory.mktemp("defect_ds"),
        image_size=96,
        max_normal_fraction=None,
    )
    config = apply_overrides(
        load_experiment("defect_default"),
        {"data.image_size": 64, "training.epochs": 1, "training.batch_size": 8},
    )
    trained = train_and_register(
        dataset,
        config,
        {
            "dagster_run_id": "defect-run",
            "training_window_start": "2026-10-18T00:00:00+00:00",
            "training_window_end": "2026-11-01T00:00:00+00:00",
        },
        experiment="defect_default",
        out_dir=tmp_path_factory.mktemp("defect_run"),
    )
    promote(trained.version)
    return trained


@pytest.fixture(scope="module")
def defect_bento(serving_home, defect_champion):
    import dagster as dg

    from mfg_assets.defs.serving import defect_bento as asset

    with dg.instance_for_test() as instance:
        result = dg.materialize([asset], partition_key="2026-11-01", instance=instance)
        assert result.success
        return result.asset_materializations_for_node("defect_bento")[0].metadata


def test_defect_bento_asset_builds_the_champion_export(serving_home, defect_champion, defect_bento):
    assert defect_bento["model_tag"].value == f"defect_detector:v{defect_champion.version}"
    assert defect_bento["mlflow_run_id"].value == defect_champion.run_id
    assert defect_bento["training_window_end"].value == "2026-11-01T00:00:00+00:00"
    name, version = defect_bento["bento_tag"].value.split(":")
    info = yaml.safe_load(
        (serving_home.root / "bentoml/bentos" / name / version / "bento.yaml").read_text()
    )
    assert [m["tag"] for m in info["services"][0]["models"]] == [
        f"defect_detector:v{defect_champion.version}"
    ]
    from mfg_assets.serving.model_store import model_store

    stored = model_store().get(f"defect_detector:v{defect_champion.version}")
    assert stored.info.metadata["image_size"] == 64
    assert stored.info.metadata["classes"] == list(DEFECT_CLASSES)


@pytest.fixture(scope="module")
def defect_server(serving_home, defect_bento) -> Iterator[RunningServer]:
    env = {
        **serving_home.env,
        "MFG_DEFECT_MODEL_TAG": defect_bento["model_tag"].value,
        "MFG_DEFECT_CONFIDENCE": "0.0",  # a 1-epoch detector: keep every candidate box
        "MFG_DEFECT_MAX_UPLOAD_BYTES": str(200_000),
    }
    # the bento the asset built (its own copy of the code), not the source folder
    proc = start_bento("bento-defect", defect_bento["bento_tag"].value, env, serving_home.root)
    try:
        yield RunningServer(proc.url, proc, env)  # type: ignore[attr-defined]
    finally:
        proc.stop()


def test_detect_returns_boxes_in_image_pixels_with_lineage(defect_server, defect_champion):
    from mfg_assets.models.defect.runtime import load_detector, predict
    from mfg_assets.serving.model_store import model_store

    pixels = _inspection("dent", size=128)[:, :100]  # not square: boxes map back to 100x128
    with defect_server.client() as client:
        response = client.post("/detect", files={"image": ("part.png", _png(pixels), "image/png")})
        jpeg = client.post(
            "/detect", files={"image": ("p.jpg", _png(pixels, "JPEG"), "image/jpeg")}
        )
    assert response.status_code == 200, response.text
    assert jpeg.status_code == 200, jpeg.text
    body = response.json()
    assert (body["image_width"], body["image_height"]) == (100, 128)
    assert body["classes"] == list(DEFECT_CLASSES) and body["defect_found"] is True
    assert 0 < len(body["detections"]) <= 100
    for det in body["detections"]:
        x0, y0, x1, y1 = det["box_xyxy"]
        assert det["cls_name"] in DEFECT_CLASSES and 0.0 <= det["confidence"] <= 1.0
        assert 0 <= x0 <= x1 <= 100 and 0 <= y0 <= y1 <= 128
    stored = model_store().get(f"defect_detector:v{defect_champion.version}")
    local = load_detector(stored.path_of("detector.onnx"), imgsz=64, names=list(DEFECT_CLASSES))
    expected = predict(local, [pixels], conf=0.0)[0]
    assert body["detections"][0]["cls_name"] == expected[0].cls_name
    assert body["detections"][0]["confidence"] == pytest.approx(expected[0].confidence, abs=1e-5)
    lineage = body["lineage"]
    assert lineage["model_name"] == "defect_detector"
    assert lineage["model_version"] == defect_champion.version
    assert lineage["mlflow_run_id"] == defect_champion.run_id
    assert lineage["training_window_start"] == "2026-10-18T00:00:00+00:00"
    assert lineage["dagster_run_id"] == "defect-run" and lineage["code_version"]


def test_bad_uploads_get_4xx_naming_the_problem(defect_server) -> None:
    pixels = _inspection()
    big = np.random.default_rng(0).integers(0, 255, (400, 400, 3), dtype=np.uint8)
    cases = [
        ({"files": {"image": ("big.png", _png(big), "image/png")}}, 413, "limited to 200000"),
        ({"files": {"image": ("a.txt", b"hello, not an image", "text/plain")}}, 415, "not a PNG"),
        (
            {"files": {"image": ("a.gif", _png(pixels, "GIF"), "image/gif")}},
            415,
            "not a PNG or JPEG",
        ),
        ({"files": {"image": ("t.png", _png(pixels)[:300], "image/png")}}, 400, "decoded"),
        ({"files": {"photo": ("a.png", _png(pixels), "image/png")}}, 400, "'image'"),
        (  # a text field named image: BentoML's own parser would try to download it
            {"data": {"image": "http://127.0.0.1:1/x.png"}, "files": {"f": ("f", b"x", "x/y")}},
            400,
            "not a file upload",
        ),
        ({"data": {"image": "abc"}}, 415, "multipart/form-data"),
        ({"json": {"image": "abc"}}, 415, "multipart/form-data"),
    ]
    with defect_server.client() as client:
        for kwargs, status, needle in cases:
            response = client.post("/detect", **kwargs)
            assert response.status_code == status, (needle, response.text)
            assert needle in response.text, (needle, response.text)
            body = response.json()  # always one object, never BentoML's one-item list
            assert isinstance(body, dict) and isinstance(body["error"], str), body
        metrics = client.get("/metrics").text
    assert "mfg_defect_detections_total" in metrics


def test_fuzzed_uploads_never_get_a_server_error(defect_server) -> None:
    statuses = fuzz_operation(defect_server.url, "/detect", "POST", 30)
    assert sum(statuses.values()) >= 15, statuses


def test_schemathesis_all_checks_find_nothing(defect_server) -> None:
    schemathesis_all_checks(defect_server.url)
    log = defect_server.service.tail(2_000_000)
    assert "Traceback" not in log  # 4xx are one WARNING line each
    assert re.search(r"\[WARNING\].* POST /detect -> 4\d\d ", log)


def test_oversized_upload_is_refused_before_it_is_read(defect_server) -> None:
    answer = partial_request(
        defect_server.url,
        b"POST /detect HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\n"
        b"Content-Length: 300000000\r\n\r\n--b\r\n",
    )
    assert answer.startswith("HTTP/1.1 413") and "limited to 200000" in answer, answer


def _run_artifact(run_id: str, artifact: str) -> Path:
    """A run artifact's file in the local artifact store."""
    from urllib.parse import urlparse

    import mlflow

    root = mlflow.get_run(run_id).info.artifact_uri
    return Path(urlparse(root).path if root.startswith("file:") else root) / artifact


def test_replaced_export_and_weights_are_refused_by_digest(
    serving_home, defect_champion, tmp_path: Path
) -> None:
    """Serving's download of the champion's export and evaluation's download of its weights
    both check the digests recorded at registration."""
    from mfg_assets.models.artifacts import ArtifactIntegrityError
    from mfg_assets.models.defect.workflow import (
        EXPORT_ARTIFACT,
        WEIGHTS_ARTIFACT,
        download_champion_export,
    )
    from mfg_assets.models.registry import ModelRegistry

    tags = ModelRegistry().version_info("defect_detector", defect_champion.version)["tags"]
    assert len(tags["artifact_sha256"]) == 64 and len(tags["weights_sha256"]) == 64
    assert download_champion_export(tmp_path / "ok").version == defect_champion.version
    export = _run_artifact(defect_champion.run_id, EXPORT_ARTIFACT)
    original = export.read_bytes()
    export.write_bytes(original + b"\0")
    try:
        with pytest.raises(ArtifactIntegrityError, match="does not match the digest"):
            download_champion_export(tmp_path / "tampered")
    finally:
        export.write_bytes(original)

    from mfg_assets.models.defect.evaluation import evaluate_detector
    from mfg_assets.models.defect.workflow import download_weights

    weights = _run_artifact(defect_champion.run_id, WEIGHTS_ARTIFACT)
    original = weights.read_bytes()
    weights.write_bytes(original + b"\0")
    try:
        local = download_weights(defect_champion.run_id, tmp_path / "weights")
        data_yaml = tmp_path / "data.yaml"
        data_yaml.write_text("path: .\ntrain: a\nval: a\nnames: [scratch]\n")
        with pytest.raises(ArtifactIntegrityError, match="does not match the digest"):
            evaluate_detector(local, data_yaml, expected_sha256=tags["weights_sha256"])
    finally:
        weights.write_bytes(original)
