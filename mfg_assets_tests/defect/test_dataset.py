"""Inspections → YOLO dataset: time split, labels, data.yaml, counts, linked and rendered images."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from PIL import Image

from mfg_assets.features.splits import SPLITS, split_labels
from mfg_assets.models.defect.dataset import (
    YOLO_SPLIT_KEYS,
    DatasetError,
    DefectDataset,
    build_yolo_dataset,
    preview_grid,
    read_labels,
    sample_inspections,
)
from mfg_assets.plant.catalog import DEFECT_CLASSES, DEFECT_TYPES
from mfg_assets.plant.images import (
    parse_synthetic_uri,
    render_inspection,
    safe_name,
    write_inspection_image,
)

SIZE = 96


@pytest.fixture(scope="module")
def inspections() -> pl.DataFrame:
    frame = sample_inspections(60, seed=3, defect_share=0.75)
    return frame.sample(fraction=1.0, shuffle=True, seed=1)  # the builder must sort by time


@pytest.fixture(scope="module")
def dataset(inspections: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> DefectDataset:
    out = tmp_path_factory.mktemp("defect_dataset")
    return build_yolo_dataset(inspections, out, image_size=SIZE, max_normal_fraction=None)


def _split_times(dataset: DefectDataset, inspections: pl.DataFrame) -> dict[str, list]:
    time_of = {
        safe_name(p): t for p, t in inspections.select("product_id", "inspection_time").rows()
    }
    return {
        split: sorted(time_of[f.stem] for f in dataset.split_dir(split).iterdir())
        for split in SPLITS
    }


def test_time_split_has_no_leakage(dataset: DefectDataset, inspections: pl.DataFrame) -> None:
    times = _split_times(dataset, inspections)
    assert all(times[s] for s in SPLITS)
    assert max(times["train"]) < min(times["validation"])
    assert max(times["validation"]) < min(times["test"])
    total = sum(len(v) for v in times.values())
    assert total == inspections.height
    assert len(times["train"]) == pytest.approx(0.7 * total, abs=2)
    first, last = dataset.time_ranges["train"]
    assert datetime.fromisoformat(first) == times["train"][0]
    assert datetime.fromisoformat(last) == times["train"][-1]


def test_time_split_keeps_ties_together() -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    times = [t0] * 4 + [t0 + timedelta(minutes=1)] * 4 + [t0 + timedelta(minutes=2)] * 2
    labels = split_labels(times, validation_fraction=0.3, test_fraction=0.2)
    for t in set(times):
        assert len({lab for lab, tt in zip(labels, times, strict=True) if tt == t}) == 1
    # the 50 % cut falls inside the second timestamp's rows: they all stay in train
    assert labels == ["train"] * 8 + ["test"] * 2


def test_label_files_match_rendered_boxes(
    dataset: DefectDataset, inspections: pl.DataFrame
) -> None:
    rows = {r["product_id"]: r for r in inspections.iter_rows(named=True)}
    checked = 0
    for split in SPLITS:
        for name, boxes in read_labels(dataset, split).items():
            row = rows[Path(name).stem]
            ref = parse_synthetic_uri(row["image_uri"])
            expected = render_inspection(
                ref.seed, row["product_id"], row["defect_type"], row["severity"], SIZE
            )
            label = (dataset.root / "labels" / split / f"{Path(name).stem}.txt").read_text()
            assert label == expected.label_text()
            if row["defect_type"] == "normal":
                assert boxes == []
            else:
                assert [DEFECT_CLASSES[b.cls_index] for b in boxes] == [row["defect_type"]]
            with Image.open(dataset.split_dir(split) / name) as image:
                assert np.array_equal(np.asarray(image), expected.pixels)
            checked += 1
    assert checked == inspections.height


def test_data_yaml_is_absolute_with_four_drawn_classes(dataset: DefectDataset) -> None:
    spec = yaml.safe_load(dataset.data_yaml.read_text())
    assert Path(spec["path"]).is_absolute() and Path(spec["path"]) == dataset.root
    assert spec["names"] == dict(enumerate(DEFECT_CLASSES)) and spec["nc"] == 4
    for split in SPLITS:
        assert (Path(spec["path"]) / spec[YOLO_SPLIT_KEYS[split]]).is_dir()
    meta = json.loads((dataset.root / "dataset.json").read_text())
    assert meta["vocabulary"] == list(DEFECT_TYPES)  # the 5-class vocabulary is kept
    assert DefectDataset.load(dataset.root) == dataset


def test_class_counts(dataset: DefectDataset, inspections: pl.DataFrame) -> None:
    expected = inspections.group_by("defect_type").len()
    totals = {t: sum(dataset.counts[s][t] for s in SPLITS) for t in DEFECT_TYPES}
    assert totals == {t: n for t, n in expected.rows()} | {
        t: 0 for t in DEFECT_TYPES if t not in expected["defect_type"].to_list()
    }
    for split in SPLITS:
        for cls in DEFECT_CLASSES:
            assert dataset.box_counts[split][cls] == dataset.counts[split][cls]
        assert dataset.images[split] == len(list(dataset.split_dir(split).iterdir()))
    assert dataset.rendered == inspections.height and dataset.linked == 0


def test_normal_share_is_capped(inspections: pl.DataFrame, tmp_path: Path) -> None:
    capped = build_yolo_dataset(inspections, tmp_path, image_size=64, max_normal_fraction=0.1)
    for split in SPLITS:
        normal = capped.counts[split]["normal"]
        assert normal <= 0.1 * capped.images[split] + 1
    assert capped.dropped["normal_over_cap"] > 0


def test_max_images_caps_each_split_proportionally(
    inspections: pl.DataFrame, tmp_path: Path
) -> None:
    capped = build_yolo_dataset(
        inspections, tmp_path, image_size=64, max_normal_fraction=None, max_images=30
    )
    assert capped.total_images == pytest.approx(30, abs=2)
    assert capped.images["train"] == pytest.approx(0.7 * capped.total_images, abs=2)
    assert capped.dropped["over_max_images"] == inspections.height - capped.total_images


def test_local_images_are_hard_linked_with_their_labels(tmp_path: Path) -> None:
    store = tmp_path / "camera"
    rows = []
    t0 = datetime(2026, 11, 2, tzinfo=UTC)
    for i, defect_type in enumerate(["dent", "normal", "crack", "scratch", "contamination"] * 2):
        pid = f"L-{i}"
        image, _ = write_inspection_image(
            store, pid, render_inspection(1, pid, defect_type, 0.5, 64)
        )
        rows.append((t0 + timedelta(minutes=i), pid, defect_type, 0.5, str(image)))
    rows.append((t0 + timedelta(minutes=20), "L-new", "dent", 0.5, None))  # no image yet
    frame = pl.DataFrame(
        rows,
        schema=["inspection_time", "product_id", "defect_type", "severity", "image_uri"],
        orient="row",
    )
    built = build_yolo_dataset(frame, tmp_path / "ds", image_size=64, max_normal_fraction=None)
    assert (built.linked, built.rendered) == (10, 1)
    linked = next((tmp_path / "ds" / "images").rglob("L-0.png"))
    assert linked.stat().st_ino == (store / "images" / "L-0.png").stat().st_ino
    label = next((tmp_path / "ds" / "labels").rglob("L-0.txt")).read_text()
    assert label == (store / "labels" / "L-0.txt").read_text() and label.startswith("1 ")


def test_bad_input_is_rejected(inspections: pl.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown defect types"):
        build_yolo_dataset(inspections.with_columns(pl.lit("rust").alias("defect_type")), tmp_path)
    with pytest.raises(DatasetError, match="lack columns"):
        build_yolo_dataset(inspections.drop("severity"), tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        build_yolo_dataset(
            inspections.with_columns(pl.lit("/nonexistent/x.png").alias("image_uri")), tmp_path
        )


def test_preview_grid(dataset: DefectDataset, tmp_path: Path) -> None:
    path = preview_grid(dataset, n=9, path=tmp_path / "preview.png")
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (3 * 192, 3 * 192)
