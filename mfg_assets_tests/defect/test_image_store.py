"""Inspection images kept in the image store when a dataset is built: written once, reused,
recorded by their real file URI; the same code writes to S3 in the production profile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from PIL import Image

from mfg_assets.models.defect.dataset import (
    MANIFEST,
    DatasetError,
    build_yolo_dataset,
    sample_inspections,
    stored_image_paths,
)
from mfg_assets.plant.images import parse_synthetic_uri
from mfg_assets.storage.files import LocalFileStore, S3FileStore
from mfg_assets_tests.fixtures.s3 import S3Server

SPLIT = {"validation_fraction": 0.2, "test_fraction": 0.2}


@pytest.fixture(scope="module")
def inspections() -> pl.DataFrame:
    return sample_inspections(12, seed=5, defect_share=0.75, interval_s=4000.0)


def test_images_are_written_once_then_reused(inspections: pl.DataFrame, tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "inspection_images")
    first = build_yolo_dataset(
        inspections, tmp_path / "a", **SPLIT, max_normal_fraction=None, image_store=store
    )
    assert (first.stored, first.reused, first.rendered) == (12, 0, 0)
    manifest = pl.read_parquet(first.root / MANIFEST)
    assert manifest.height == 12 and set(manifest["split"]) == {"train", "validation", "test"}
    for row in manifest.iter_rows(named=True):
        image_rel, label_rel = stored_image_paths(row["product_id"], row["inspection_time"])
        day = row["inspection_time"].strftime("%Y-%m-%d")
        assert image_rel == f"images/{day}/{row['file_stem']}.png"
        # the recorded URI is the real file, and the dataset's copy is that file's content
        assert row["source_uri"] == store.uri(image_rel) and Path(row["source_uri"]).is_file()
        copy = first.root / "images" / row["split"] / f"{row['file_stem']}.png"
        assert copy.read_bytes() == Path(row["source_uri"]).read_bytes()
        label = (store.root / label_rel).read_text()
        assert (
            label == (first.root / "labels" / row["split"] / f"{row['file_stem']}.txt").read_text()
        )
        assert (label == "") == (row["defect_type"] == "normal")
    # the stored pixels are the plant's deterministic rendering of the inspection's URI
    row = inspections.row(0, named=True)
    ref = parse_synthetic_uri(row["image_uri"])
    expected = ref.render(row["defect_type"], row["severity"]).pixels
    stored = store.root / stored_image_paths(row["product_id"], row["inspection_time"])[0]
    assert np.array_equal(np.asarray(Image.open(stored).convert("RGB")), expected)

    before = {p: (store.root / p).stat().st_mtime_ns for p in store.list_files()}
    second = build_yolo_dataset(
        inspections, tmp_path / "b", **SPLIT, max_normal_fraction=None, image_store=store
    )
    assert (second.stored, second.reused) == (0, 12)
    after = {p: (store.root / p).stat().st_mtime_ns for p in store.list_files()}
    assert after == before  # nothing rewritten
    assert second.counts == first.counts and second.box_counts == first.box_counts


def test_images_land_in_s3_in_the_production_profile(
    inspections: pl.DataFrame,
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mfg_assets.storage.location import artifact_store

    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MFG_STORAGE_URI", f"s3://{s3_bucket}/defects")
    store = artifact_store("inspection_images")
    assert isinstance(store, S3FileStore)
    built = build_yolo_dataset(
        inspections, tmp_path / "ds", **SPLIT, max_normal_fraction=None, image_store=store
    )
    assert built.stored == 12
    manifest = pl.read_parquet(built.root / MANIFEST)
    assert all(
        u.startswith(f"s3://{s3_bucket}/defects/inspection_images/images/")
        for u in manifest["source_uri"]
    )
    keys = store.list_files("images")
    assert len(keys) == 12 and len(store.list_files("labels")) == 12
    row = manifest.row(0, named=True)
    local = built.root / "images" / row["split"] / f"{row['file_stem']}.png"
    rel = row["source_uri"].removeprefix(f"s3://{s3_bucket}/defects/inspection_images/")
    assert store.read_bytes(rel) == local.read_bytes()
    again = build_yolo_dataset(
        inspections, tmp_path / "ds2", **SPLIT, max_normal_fraction=None, image_store=store
    )
    assert (again.stored, again.reused) == (0, 12)

    # another machine (a step pod) gets the same dataset from S3 alone
    from mfg_assets.models.defect.workflow import open_dataset, publish_dataset

    uri = publish_dataset(built, "defect/2026-11-01")
    assert uri == f"s3://{s3_bucket}/defects/datasets/defect/2026-11-01"
    elsewhere = tmp_path / "pod" / "ds"
    restored = open_dataset(elsewhere, "defect/2026-11-01")
    assert restored.root == elsewhere.resolve() and restored.counts == built.counts
    assert yaml.safe_load(restored.data_yaml.read_text())["path"] == str(restored.root)
    for split in ("train", "validation", "test"):
        names = sorted(p.name for p in built.split_dir(split).iterdir())
        assert names == sorted(p.name for p in restored.split_dir(split).iterdir())
        for name in names:
            assert (restored.split_dir(split) / name).read_bytes() == (
                built.split_dir(split) / name
            ).read_bytes()
            label = f"labels/{split}/{Path(name).stem}.txt"
            assert (restored.root / label).read_text() == (built.root / label).read_text()
    # and says what is missing when nothing was published
    with pytest.raises(DatasetError, match="re-materialize defect_dataset"):
        open_dataset(tmp_path / "other", "defect/2026-11-02")
