"""``mfg-plant import neu-det`` on the shared NEU-DET copy: every image lands with its class and
YOLO boxes, the time split is stratified by class, re-importing changes nothing, corrupted
images and annotations are refused with reasons, and a refused import leaves the previous one."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select

from mfg_assets.features.splits import split_labels
from mfg_assets.plant.cli import main
from mfg_assets.plant.importers import ImportRefused, run_import
from mfg_assets.plant.importers.datasets import dataset
from mfg_assets.plant.importers.landing import current_plant
from mfg_assets.plant.importers.neu_det import import_neu_det, linked_subset, main_class
from mfg_assets.plant.importers.voc import AnnotationError, parse_voc, read_voc
from mfg_assets.plant.inspection_classes import plant_classes
from mfg_assets.plant.schema import plant_meta
from mfg_assets.plant.writer import PlantDB
from mfg_assets.storage.files import LocalFileStore

SOURCE = dataset("neu_det")
needs_data = pytest.mark.skipif(
    SOURCE is None,
    reason="NEU-DET not found (MFG_DATASETS_DIR or ../shared/datasets/neu_det); get it from "
    "Northeastern University's NEU surface defect database (NEU-DET)",
)
CLASSES = ("crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches")


def _voc(width: int, height: int, *boxes: tuple[str, int, int, int, int]) -> bytes:
    objects = "".join(
        f"<object><name>{n}</name><bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{c}</xmax>"
        f"<ymax>{d}</ymax></bndbox></object>"
        for n, a, b, c, d in boxes
    )
    return (
        f"<annotation><size><width>{width}</width><height>{height}</height><depth>1</depth>"
        f"</size>{objects}</annotation>"
    ).encode()


def _frame(url: str) -> pl.DataFrame:
    db = PlantDB(url)
    try:
        return pl.read_database(
            "SELECT * FROM quality_inspections ORDER BY inspection_time", db.engine
        )
    finally:
        db.close()


def test_voc_box_to_yolo_matches_a_hand_computed_example() -> None:
    # 400 x 300 image, box x 51..151, y 31..131 (1-based VOC corners):
    # cx = ((51 + 151) / 2 - 1) / 400 = 0.25, cy = ((31 + 131) / 2 - 1) / 300 = 0.266667,
    # w = 100 / 400 = 0.25, h = 100 / 300 = 0.333333
    annotation = parse_voc(_voc(400, 300, ("patches", 51, 31, 151, 131)), CLASSES)
    assert annotation.yolo_lines(CLASSES) == "2 0.250000 0.266667 0.250000 0.333333\n"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<annotation><size>", "malformed XML"),
        (_voc(200, 200, ("rust", 1, 1, 10, 10)), "unknown class 'rust'"),
        (_voc(200, 200, ("patches", 150, 1, 250, 10)), "outside 200 x 200"),
        (_voc(200, 200, ("patches", 50, 1, 40, 10)), "or empty"),
        (_voc(200, 200), "no <object> boxes"),
        (_voc(0, 200, ("patches", 1, 1, 10, 10)), "bad image size"),
        (b'<!DOCTYPE a [<!ENTITY x "y">]><annotation/>', "DTD"),
    ],
)
def test_bad_annotations_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(AnnotationError, match=reason):
        parse_voc(data, CLASSES)


def test_main_class_is_the_file_name_class() -> None:
    assert main_class("rolled-in_scale_12", CLASSES) == "rolled-in_scale"
    assert main_class("pitted_surface_3", CLASSES) == "pitted_surface"
    assert main_class("rust_3", CLASSES) is None
    assert main_class("crazing_x", CLASSES) is None


def test_neu_plant_classes_come_from_its_definition() -> None:
    neu = plant_classes("neu_det")
    assert neu.vocabulary == neu.detector == CLASSES and neu.normal is None
    simulator = plant_classes("simulator")
    assert simulator.detector == ("scratch", "dent", "crack", "contamination")


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The whole shared copy imported once into SQLite and a local image store."""
    if SOURCE is None:
        pytest.skip("NEU-DET not found")
    root = tmp_path_factory.mktemp("neu_import")
    url = f"sqlite:///{root / 'plant.db'}"
    store = LocalFileStore(root / "images")
    report = import_neu_det(SOURCE, url, image_store=store)
    return {"root": root, "url": url, "store": store, "report": report, "frame": _frame(url)}


@needs_data
def test_every_image_lands_with_its_class(imported: dict) -> None:
    frame, report = imported["frame"], imported["report"]
    pairs = report.file("IMAGES + ANNOTATIONS")
    assert (pairs.read, pairs.written, pairs.refused_rows) == (1800, 1800, 0)
    assert report.written_rows == {"quality_inspections": 1800, "machines": 1}
    assert dict(Counter(frame["defect_type"].to_list())) == dict.fromkeys(CLASSES, 300)
    assert frame["product_id"].n_unique() == 1800
    assert frame["inspection_time"].n_unique() == 1800
    assert frame["severity"].is_between(0.0, 1.0).all()
    db = PlantDB(imported["url"])
    try:
        assert current_plant(db) == "neu_det"
        with db.engine.connect() as conn:
            meta = dict(conn.execute(select(plant_meta.c.key, plant_meta.c.value)).all())
    finally:
        db.close()
    summary = json.loads(meta["import"])
    assert summary["boxes"] == 4189  # as the dataset README counts them
    assert summary["boxes_of_another_class"] == 188  # boxes whose class is not the file's


@needs_data
def test_stored_labels_are_the_converted_voc_boxes(imported: dict) -> None:
    frame, store = imported["frame"], imported["store"]
    row = frame.filter(pl.col("product_id") == "neu-crazing_1").row(0, named=True)
    image = Path(row["image_uri"])
    assert image.read_bytes() == (SOURCE / "IMAGES" / "crazing_1.jpg").read_bytes()
    # crazing_1.xml: one crazing box 2, 2, 193, 194 in 200 x 200 →
    # cx = (97.5 - 1) / 200, cy = (98 - 1) / 200, w = 191 / 200, h = 192 / 200
    label = store.read_bytes("neu_det/labels/crazing_1.txt").decode()
    assert label == "0 0.482500 0.485000 0.955000 0.960000\n"
    assert image.parent.parent / "labels" / "crazing_1.txt" == store.root / (
        "neu_det/labels/crazing_1.txt"
    )
    # a file whose boxes carry several classes keeps each box's own class
    mixed = next(
        p.stem
        for p in sorted((SOURCE / "ANNOTATIONS").glob("*.xml"))
        if len({b.name for b in read_voc(p, CLASSES).boxes}) > 1
    )
    boxes = read_voc(SOURCE / "ANNOTATIONS" / f"{mixed}.xml", CLASSES).boxes
    lines = store.read_bytes(f"neu_det/labels/{mixed}.txt").decode().splitlines()
    assert [CLASSES[int(line.split()[0])] for line in lines] == [b.name for b in boxes]


@needs_data
def test_time_split_is_stratified_by_class(imported: dict) -> None:
    frame = imported["frame"]
    labels = split_labels(frame["inspection_time"].to_list(), 0.15, 0.15)
    counts = Counter(zip(labels, frame["defect_type"].to_list(), strict=True))
    for cls in CLASSES:
        assert abs(counts[("train", cls)] - 210) <= 1
        assert abs(counts[("validation", cls)] - 45) <= 1
        assert abs(counts[("test", cls)] - 45) <= 1
    first, last = map(datetime.fromisoformat, imported["report"].time_range)
    assert (last - first).total_seconds() == 1799 * 40  # one day, 40 s apart


@needs_data
def test_reimport_changes_nothing(imported: dict) -> None:
    again = import_neu_det(SOURCE, imported["url"], image_store=imported["store"])
    assert again.written_rows == imported["report"].written_rows
    assert _frame(imported["url"]).equals(imported["frame"])
    assert len(imported["store"].list_files("neu_det/images")) == 1800


@pytest.fixture
def corrupted(tmp_path: Path) -> Path:
    """Two good images per class plus one of each kind of broken input."""
    folder = linked_subset(SOURCE, 2, tmp_path / "neu")  # type: ignore[arg-type]
    images, notes = folder / "IMAGES", folder / "ANNOTATIONS"
    good = (SOURCE / "IMAGES" / "patches_10.jpg").read_bytes()  # type: ignore[operator]
    xml = (SOURCE / "ANNOTATIONS" / "patches_10.xml").read_bytes()  # type: ignore[operator]
    (images / "patches_901.jpg").write_bytes(good[:600])  # truncated JPEG
    (notes / "patches_901.xml").write_bytes(xml)
    (images / "patches_902.jpg").write_bytes(good)
    (notes / "patches_902.xml").write_bytes(xml[:150])  # cut-off XML
    (images / "patches_903.jpg").write_bytes(good)  # no annotation
    (notes / "patches_904.xml").write_bytes(xml)  # no image
    (images / "patches_905.jpg").write_bytes(good)
    (notes / "patches_905.xml").write_bytes(xml.replace(b"<width>200", b"<width>300"))
    (images / "rust_1.jpg").write_bytes(good)
    (notes / "rust_1.xml").write_bytes(xml)
    return folder


@needs_data
def test_corrupted_inputs_are_refused_with_reasons(corrupted: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plant.db'}"
    report = import_neu_det(corrupted, url, image_store=LocalFileStore(tmp_path / "store"))
    pairs = report.file("IMAGES + ANNOTATIONS")
    assert (pairs.read, pairs.written, pairs.refused_rows) == (18, 12, 6)
    reasons = {reason: pairs.examples[reason] for reason in pairs.refused}
    assert reasons.pop("unreadable image (OSError)") == ["patches_901"]
    assert reasons.pop("image without annotation") == ["patches_903"]
    assert reasons.pop("annotation without image") == ["patches_904"]
    assert reasons.pop("file name names no class") == ["rust_1"]
    assert reasons.pop("image is 200 x 200, annotation says 300 x 200") == ["patches_905"]
    ((reason, stems),) = reasons.items()
    assert reason.startswith("malformed XML") and stems == ["patches_902"]
    assert _frame(url).height == 12
    text = "\n".join(report.lines())
    assert "1 × image without annotation (e.g. patches_903, ...)" in text


@needs_data
def test_a_refused_import_keeps_the_previous_one(corrupted: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plant.db'}"
    store = LocalFileStore(tmp_path / "store")
    import_neu_det(corrupted, url, image_store=store)
    before = _frame(url)
    shutil.rmtree(corrupted / "IMAGES")
    with pytest.raises(ImportRefused, match="no IMAGES folder"):
        run_import("neu-det", corrupted, url)
    assert _frame(url).equals(before)


@needs_data
def test_cli_imports_a_subset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = linked_subset(SOURCE, 3, tmp_path / "neu")  # type: ignore[arg-type]
    url = f"sqlite:///{tmp_path / 'plant.db'}"
    assert main(["import", "neu-det", str(folder), "--db", url]) == 0
    out = capsys.readouterr().out
    assert "read        18  written        18  refused       0" in out
    frame = _frame(url)
    assert dict(Counter(frame["defect_type"].to_list())) == dict.fromkeys(CLASSES, 3)


def _png(path: Path, width: int, height: int) -> None:
    from PIL import Image

    Image.new("RGB", (width, height), (120, 120, 120)).save(path)


def test_voc_folder_imports_for_the_active_plant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mfg-plant import voc``: the simulator plant's classes, defect_type = the class of the
    largest box area, an annotation without boxes = the normal class, bad pairs refused."""
    monkeypatch.setenv("MFG_PLANT", "simulator")
    folder = tmp_path / "voc"
    (folder / "JPEGImages").mkdir(parents=True)
    (folder / "Annotations").mkdir()
    annotations = {
        "part_a": _voc(64, 48, ("scratch", 1, 1, 10, 10)),
        "part_b": _voc(64, 48, ("scratch", 1, 1, 10, 10), ("dent", 20, 20, 60, 40)),
        "part_c": _voc(64, 48),
        "part_d": _voc(64, 48, ("rust", 1, 1, 10, 10)),
    }
    for stem, xml in annotations.items():
        _png(folder / "JPEGImages" / f"{stem}.png", 64, 48)
        (folder / "Annotations" / f"{stem}.xml").write_bytes(xml)
    url = f"sqlite:///{tmp_path / 'plant.db'}"
    report = run_import("voc", folder, url)
    pairs = report.file("JPEGImages + Annotations")
    assert (pairs.read, pairs.written, dict(pairs.refused)) == (4, 3, {"unknown class 'rust'": 1})
    frame = _frame(url)
    assert dict(zip(frame["product_id"], frame["defect_type"], strict=True)) == {
        "part_a": "scratch",
        "part_b": "dent",
        "part_c": "normal",
    }
    label = Path(frame.filter(pl.col("product_id") == "part_b")["image_uri"][0])
    lines = (label.parent.parent / "labels" / "part_b.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["0", "1"]  # scratch, dent
    assert (label.parent.parent / "labels" / "part_c.txt").read_text() == ""


def test_voc_folder_refuses_empty_annotations_without_a_normal_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MFG_PLANT", "neu_det")
    folder = tmp_path / "voc"
    (folder / "images").mkdir(parents=True)
    (folder / "annotations").mkdir()
    for stem, xml in {"a": _voc(32, 32, ("patches", 1, 1, 9, 9)), "b": _voc(32, 32)}.items():
        _png(folder / "images" / f"{stem}.png", 32, 32)
        (folder / "annotations" / f"{stem}.xml").write_bytes(xml)
    report = run_import("voc", folder, f"sqlite:///{tmp_path / 'plant.db'}")
    pairs = report.file("images + annotations")
    assert pairs.written == 1
    assert dict(pairs.refused) == {"no <object> boxes": 1}  # the plant has no normal class
