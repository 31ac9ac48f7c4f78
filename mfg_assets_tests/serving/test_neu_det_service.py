"""NEU-DET end to end on a small stratified subset: import → quality_inspections →
defect_dataset → defect_detector → evaluation + gate → champion → defect_bento (the real
assets, 64 px, 2 epochs), then ``bentoml serve`` answers ``POST /detect`` on a real NEU image
with boxes in its pixels and the six NEU class names, and the OpenAPI schema lists them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mfg_assets.plant.importers.datasets import dataset
from mfg_assets_tests.serving.conftest import RunningServer, start_bento

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.skipif(
        dataset("neu_det") is None,
        reason="NEU-DET not found (MFG_DATASETS_DIR or ../shared/datasets/neu_det)",
    ),
]
CLASSES = ["crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches"]
PER_CLASS = 6


@pytest.fixture(scope="module")
def neu_chain(serving_home, tmp_path_factory: pytest.TempPathFactory):
    """The NEU plant's defect chain, materialized through the assets."""
    from mfg_assets.models.config import experiment_path
    from mfg_assets.models.defect.chain import run_defect_chain
    from mfg_assets.plant.importers.neu_det import import_neu_det, linked_subset

    work = tmp_path_factory.mktemp("neu_chain")
    config = yaml.safe_load(experiment_path("defect_neu_det").read_text())
    config["data"]["image_size"] = 64
    config["training"].update({"epochs": 2, "batch_size": 8, "num_threads": 1})
    config["training"]["scheduler"]["T_max"] = 2
    config["training"].pop("time_budget_minutes")  # 2 epochs, not the 24-minute budget
    config["promotion"]["threshold"] = 0.0
    (work / "defect_neu_tiny.yaml").write_text(yaml.safe_dump(config))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MFG_PLANT", "neu_det")
        patch.setenv("MFG_EXPERIMENTS_DIR", str(work))
        source = linked_subset(dataset("neu_det"), PER_CLASS, work / "subset")  # type: ignore[arg-type]
        url = f"sqlite:///{work / 'plant.db'}"
        report = import_neu_det(source, url)
        assert report.file("IMAGES + ANNOTATIONS").written == PER_CLASS * len(CLASSES)
        first = report.time_range[0]  # type: ignore[index]
        from datetime import datetime

        result = run_defect_chain(url, datetime.fromisoformat(first), 1, "defect_neu_tiny", work)
        yield result, source


def test_assets_train_and_package_a_neu_detector(neu_chain) -> None:
    result, _ = neu_chain
    assert result.success, result.failures
    assert result.materialized == [
        "defect_dataset",
        "defect_detector",
        "defect_detector_evaluation",
        "defect_champion",
        "defect_bento",
    ]
    assert result.evaluation["classes"] == CLASSES
    assert len(result.evaluation["confusion_matrix"]) == len(CLASSES) + 1  # + background
    counts = result.metadata["defect_dataset"]["class_counts"]
    assert set(counts) == {f"{s}_{c}" for s in ("train", "validation", "test") for c in CLASSES}
    # the importer's times make the time split stratified: 6 images per class split 70/15/15
    # by time leave 4-5 of each class in train and 1-2 held out
    for cls in CLASSES:
        assert counts[f"train_{cls}"] in (4, 5)
        assert (
            counts[f"validation_{cls}"] + counts[f"test_{cls}"]
            == PER_CLASS - counts[f"train_{cls}"]
        )


@pytest.fixture(scope="module")
def neu_server(serving_home, neu_chain) -> Iterator[RunningServer]:
    result, _ = neu_chain
    bento = result.metadata["defect_bento"]
    env = {
        **serving_home.env,
        "MFG_PLANT": "neu_det",
        "MFG_DEFECT_MODEL_TAG": bento["model_tag"],
        "MFG_DEFECT_CONFIDENCE": "0.0",  # a 2-epoch detector: keep every candidate box
    }
    proc = start_bento("bento-neu", bento["bento_tag"], env, serving_home.root)
    try:
        yield RunningServer(proc.url, proc, env)  # type: ignore[attr-defined]
    finally:
        proc.stop()


def test_detect_answers_a_real_neu_image_with_neu_classes(neu_server, neu_chain) -> None:
    _, source = neu_chain
    image = Path(source) / "IMAGES" / "scratches_1.jpg"
    with neu_server.client() as client:
        response = client.post(
            "/detect", files={"image": (image.name, image.read_bytes(), "image/jpeg")}
        )
        schema = client.get("/docs.json").json()
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["classes"] == CLASSES
    assert (body["image_width"], body["image_height"]) == (200, 200)
    assert body["detections"] and body["defect_found"] is True
    for det in body["detections"]:
        x0, y0, x1, y1 = det["box_xyxy"]
        assert det["cls_name"] in CLASSES and 0.0 <= det["confidence"] <= 1.0
        assert 0 <= x0 <= x1 <= 200 and 0 <= y0 <= y1 <= 200
    box = schema["components"]["schemas"]["DefectBox"]["properties"]["cls_name"]
    assert box["enum"] == CLASSES
