"""Quality inspections → a YOLO detection dataset, split by inspection time.

Layout (Ultralytics' convention, labels found by replacing ``images`` with ``labels``)::

    <out_dir>/data.yaml              path: <absolute out_dir>, train/val/test, names
    <out_dir>/images/{train,validation,test}/<product_id>.png
    <out_dir>/labels/{train,validation,test}/<product_id>.txt
    <out_dir>/dataset.json           counts, time ranges, vocabulary (for metadata/lineage)

**Classes.** The plant definition's inspection classes
(:class:`~mfg_assets.plant.inspection_classes.InspectionClasses`, the active plant's by
default). The simulator's vocabulary has five defect types (``scratch, dent, crack,
contamination, normal``), but a detector draws boxes only around things that are there: the
detector's classes are the four drawn defects, and ``normal`` parts are
*background images*: an image with an empty label file. This is standard YOLO practice - the
background images teach the model what the undamaged surface looks like and curb false
positives - and it keeps ``normal`` out of mAP (which is undefined for a class that has no
boxes). An image is classified as ``normal`` when the detector finds nothing. NEU-DET has six box
classes and no normal class: there an image's ``defect_type`` is its main class (the file
name's) and its boxes may carry other classes. The
vocabulary is kept in ``dataset.json`` and in :attr:`DefectDataset.vocabulary`.

Backgrounds dominate a real line (~97 % good parts); ``max_normal_fraction`` caps their share
of each split (deterministically, by product id hash) so training time goes to defects.

**Split.** The platform's one time split (:func:`mfg_assets.features.splits.split_labels`):
rows ordered by ``inspection_time``, the earliest train, then validation, then test; rows
sharing a timestamp never straddle a boundary, so ``max(train time) < min(validation time) <
...`` holds strictly: no look-ahead across splits. The split names are the platform's
(``train``, ``validation``, ``test``); only ``data.yaml`` maps ``validation`` to YOLO's ``val``
key (:data:`YOLO_SPLIT_KEYS`).

**Images.** ``image_uri`` may be a local path (``file://`` or plain): the file is hard-linked
into the dataset (no copy, no extra disk, and unlike a symlink it stays valid when the
source is moved or cleaned; a copy is the fallback across file systems); its label is the
YOLO label file next to it (``.../images/x.png`` → ``.../labels/x.txt``), or empty for a normal
part. A ``synthetic://`` URI (what the plant simulator records) or a missing URI is rendered
with :mod:`mfg_assets.plant.images` straight into the dataset, so a dataset can be built from
the inspection rows alone.

**Stored images.** With ``image_store`` (a :class:`~mfg_assets.storage.files.FileStore`, e.g.
``artifact_store("inspection_images")``: the data directory locally, S3 in production), each
rendered inspection is also kept as the plant's image file,
``images/<YYYY-MM-DD>/<product_id>.png`` with its YOLO label at
``labels/<YYYY-MM-DD>/<product_id>.txt``, written once (labels first, then the image, each
atomically) and reused by later builds; ``inspections.parquet`` in the dataset records each
image's real file URI. Images are rendered when a dataset needs them rather than when the plant
is seeded: a week of a 20-machine plant is ~40,000 inspections (~10 GB of PNG, ~7 minutes of
rendering), while a dataset uses a few hundred of them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import yaml

from mfg_assets.features.splits import SPLITS, TEST, TRAIN, VALIDATION, split_labels
from mfg_assets.plant.catalog import DEFECT_CLASSES, DEFECT_TYPES
from mfg_assets.plant.images import (
    DEFAULT_SIZE,
    IMAGE_SUFFIX,
    Box,
    encode_png,
    local_path,
    parse_synthetic_uri,
    render_inspection,
    safe_name,
    save_png,
)
from mfg_assets.plant.inspection_classes import InspectionClasses, plant_classes

if TYPE_CHECKING:
    from mfg_assets.storage.files import FileStore

# YOLO's data.yaml names the validation split ``val``: the only place that name is used.
YOLO_SPLIT_KEYS: dict[str, str] = {TRAIN: "train", VALIDATION: "val", TEST: "test"}
REQUIRED_COLUMNS: tuple[str, ...] = ("inspection_time", "product_id", "defect_type", "severity")
DATA_YAML = "data.yaml"
META_JSON = "dataset.json"
MANIFEST = "inspections.parquet"


class DatasetError(ValueError):
    """The inspections cannot be turned into a detection dataset."""


@dataclass(frozen=True)
class DefectDataset:
    """A built YOLO dataset and what is in it."""

    root: Path
    data_yaml: Path
    counts: dict[str, dict[str, int]]  # split → vocabulary class → images (normal: backgrounds)
    box_counts: dict[str, dict[str, int]]  # split → drawn class → boxes
    images: dict[str, int]  # split → images
    time_ranges: dict[str, tuple[str, str] | None]  # split → (first, last) ISO time
    class_names: tuple[str, ...] = DEFECT_CLASSES  # detector classes (data.yaml names)
    vocabulary: tuple[str, ...] = DEFECT_TYPES  # plant vocabulary, incl. normal
    rendered: int = 0  # images rendered from synthetic/missing URIs
    linked: int = 0  # images hard-linked (or copied) from local files
    dropped: dict[str, int] = field(default_factory=dict)  # reason → rows left out
    reused: int = 0  # images already in the image store (rendered by an earlier build)
    stored: int = 0  # images rendered by this build and written to the image store

    @property
    def total_images(self) -> int:
        return sum(self.images.values())

    def split_dir(self, split: str) -> Path:
        return self.root / "images" / split

    @property
    def manifest(self) -> Path:
        """``inspections.parquet``: one row per image with its split and source file URI."""
        return self.root / MANIFEST

    def to_metadata(self) -> dict[str, Any]:
        """JSON-able summary (for Dagster metadata, MLflow params, ``dataset.json``)."""
        return {
            "root": str(self.root),
            "data_yaml": str(self.data_yaml),
            "class_names": list(self.class_names),
            "vocabulary": list(self.vocabulary),
            "normal_handling": "background images (empty label files)",
            "images": self.images,
            "counts": self.counts,
            "box_counts": self.box_counts,
            "time_ranges": {k: list(v) if v else None for k, v in self.time_ranges.items()},
            "rendered": self.rendered,
            "linked": self.linked,
            "reused": self.reused,
            "stored": self.stored,
            "dropped": self.dropped,
        }

    @classmethod
    def load(cls, root: str | Path) -> DefectDataset:
        """Re-open a dataset written by :func:`build_yolo_dataset`."""
        root = Path(root).resolve()
        meta = json.loads((root / META_JSON).read_text())
        return cls(
            root=root,
            data_yaml=root / DATA_YAML,
            counts=meta["counts"],
            box_counts=meta["box_counts"],
            images=meta["images"],
            time_ranges={k: tuple(v) if v else None for k, v in meta["time_ranges"].items()},
            class_names=tuple(meta["class_names"]),
            vocabulary=tuple(meta["vocabulary"]),
            rendered=meta["rendered"],
            linked=meta["linked"],
            dropped=meta["dropped"],
            reused=meta.get("reused", 0),
            stored=meta.get("stored", 0),
        )


def _keep_share(product_id: str) -> float:
    digest = hashlib.blake2b(product_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


def build_yolo_dataset(
    inspections: pl.DataFrame,
    out_dir: str | Path,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    *,
    seed: int = 0,
    image_size: int = DEFAULT_SIZE,
    max_normal_fraction: float | None = 0.2,
    max_images: int | None = None,
    image_store: FileStore | None = None,
    classes: InspectionClasses | None = None,
) -> DefectDataset:
    """Build the dataset under ``out_dir`` (its ``images``/``labels`` folders are replaced).

    ``inspections``: ``inspection_time, product_id, defect_type, severity`` and optionally
    ``image_uri`` and ``image_appearance`` (used for rows without a URI). Duplicate product ids
    keep their first row. The fractions split by time (:func:`features.splits.split_labels`).
    ``seed`` and ``image_size`` apply to images rendered here for rows without a
    ``synthetic://`` URI (those carry their own seed). ``max_normal_fraction``: cap on the
    share of background (normal) images per split; None keeps every normal part.
    ``max_images``: cap on the dataset size (training time grows linearly with it); each split
    keeps its share, chosen by product-id hash (deterministic, spread over the whole window).
    ``image_store``: keep (and reuse) rendered images there, see the module docstring. The
    caps and fractions are the experiment's ``data`` section, validated with it.
    ``classes``: the plant's inspection classes (default: the active plant's).
    """
    classes = classes or plant_classes()
    frame, dropped = _usable_rows(inspections, classes)
    frame, capped = _assign_splits(
        frame, validation_fraction, test_fraction, max_normal_fraction, max_images, classes
    )
    root = _empty_layout(out_dir)
    placed = _place_images(frame, root, seed, image_size, image_store, classes)
    dataset = DefectDataset(
        root=root,
        data_yaml=_write_data_yaml(root, classes.detector),
        counts=placed.counts,
        box_counts=placed.box_counts,
        images={s: sum(placed.counts[s].values()) for s in SPLITS},
        time_ranges=_time_ranges(frame),
        rendered=placed.hows["rendered"],
        linked=placed.hows["linked"],
        dropped={**dropped, **capped},
        reused=placed.hows["reused"],
        stored=placed.hows["stored"],
        class_names=classes.detector,
        vocabulary=classes.vocabulary,
    )
    _write_manifest(frame, placed, root)
    (root / META_JSON).write_text(json.dumps(dataset.to_metadata(), indent=2))
    for cache in (root / "labels").glob("*.cache"):
        cache.unlink()
    return dataset


def _usable_rows(
    inspections: pl.DataFrame, classes: InspectionClasses
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Inspections with every optional column, a time and a unique product id, sorted by time;
    and how many rows were dropped, per reason. DatasetError for unusable input."""
    missing = [c for c in REQUIRED_COLUMNS if c not in inspections.columns]
    if missing:
        raise DatasetError(f"inspections lack columns {missing}")
    vocabulary = classes.vocabulary
    unknown = sorted(set(inspections["defect_type"].unique().to_list()) - set(vocabulary))
    if unknown:
        raise DatasetError(f"unknown defect types {unknown} (vocabulary: {list(vocabulary)})")
    frame = inspections
    for column in ("image_uri", "image_appearance"):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    timed = frame.filter(pl.col("inspection_time").is_not_null())
    unique = timed.sort(["inspection_time", "product_id"]).unique(
        subset="product_id", keep="first", maintain_order=True
    )
    dropped = {
        "no_inspection_time": frame.height - timed.height,
        "duplicate_product_id": timed.height - unique.height,
    }
    names = unique["product_id"].map_elements(safe_name, return_dtype=pl.String)
    if names.n_unique() != unique.height:
        raise DatasetError("product ids collide after making them file-name safe")
    if unique.height < 3:
        raise DatasetError(f"need at least 3 inspections, got {unique.height}")
    return unique, dropped


def _assign_splits(
    frame: pl.DataFrame,
    validation_fraction: float,
    test_fraction: float,
    max_normal_fraction: float | None,
    max_images: int | None,
    classes: InspectionClasses,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Time-split ``frame`` (sorted by time), then apply the caps; rows dropped per cap."""
    times = frame["inspection_time"].to_list()
    labels = split_labels(times, validation_fraction, test_fraction)
    frame = frame.with_columns(pl.Series("split", labels))
    frame, over_cap = _cap_normals(frame, max_normal_fraction, classes.normal)
    frame, over_max = _cap_total(frame, max_images)
    empty = [s for s in (TRAIN, VALIDATION) if frame.filter(pl.col("split") == s).height == 0]
    if empty:
        raise DatasetError(f"split(s) {empty} would be empty: need more inspections")
    return frame, {"normal_over_cap": over_cap, "over_max_images": over_max}


def _empty_layout(out_dir: str | Path) -> Path:
    """``out_dir`` resolved, with empty ``images/<split>`` and ``labels/<split>`` folders."""
    root = Path(out_dir).expanduser().resolve()
    for sub in ("images", "labels"):
        shutil.rmtree(root / sub, ignore_errors=True)
        for split in SPLITS:
            (root / sub / split).mkdir(parents=True, exist_ok=True)
    return root


@dataclass
class _Placed:
    """What :func:`_place_images` put where: per-split counts, how each image got there."""

    counts: dict[str, dict[str, int]]  # split → vocabulary class → images
    box_counts: dict[str, dict[str, int]]  # split → drawn class → boxes
    hows: dict[str, int]  # rendered | linked | reused | stored → images
    sources: list[str]  # per row: the image's file URI
    stored_images: list[str | None]  # per row: its path in the image store, if there


def _place_images(
    frame: pl.DataFrame,
    root: Path,
    seed: int,
    image_size: int,
    image_store: FileStore | None,
    classes: InspectionClasses,
) -> _Placed:
    """Every row's image and label into its split folder (from the store when given)."""
    drawn = classes.vocabulary == DEFECT_TYPES  # the simulator's renderer draws these classes
    placed = _Placed(
        counts={s: dict.fromkeys(classes.vocabulary, 0) for s in SPLITS},
        box_counts={s: dict.fromkeys(classes.detector, 0) for s in SPLITS},
        hows={"rendered": 0, "linked": 0, "reused": 0, "stored": 0},
        sources=[],
        stored_images=[],
    )
    for row in frame.iter_rows(named=True):
        split = row["split"]
        split_images = root / "images" / split
        rendered = not row["image_uri"] or parse_synthetic_uri(row["image_uri"]) is not None
        if rendered and not drawn:
            raise DatasetError(
                f"{row['product_id']}: no image file, and only the simulator plant's images "
                f"can be rendered (plant {classes.plant!r})"
            )
        if image_store is not None and rendered:
            boxes, how, image_rel = _from_store(row, split_images, seed, image_size, image_store)
            source_uri: str = image_store.uri(image_rel)
        else:
            boxes, how = _materialize(row, split_images, seed, image_size, classes.normal)
            source_uri, image_rel = row["image_uri"] or "", None
        placed.hows[how] += 1
        placed.sources.append(source_uri)
        placed.stored_images.append(image_rel)
        placed.counts[split][row["defect_type"]] += 1
        for box in boxes:
            if not 0 <= box.cls_index < len(classes.detector):
                raise DatasetError(
                    f"{row['product_id']}: label class {box.cls_index} outside the plant's "
                    f"{len(classes.detector)} classes"
                )
            placed.box_counts[split][classes.detector[box.cls_index]] += 1
    return placed


def _time_ranges(frame: pl.DataFrame) -> dict[str, tuple[str, str] | None]:
    """First and last inspection time (ISO) per split; None for an empty split."""
    ranges: dict[str, tuple[str, str] | None] = {}
    for split in SPLITS:
        part = frame.filter(pl.col("split") == split)["inspection_time"]
        ranges[split] = (_iso(part.min()), _iso(part.max())) if part.len() else None
    return ranges


def _write_manifest(frame: pl.DataFrame, placed: _Placed, root: Path) -> None:
    """``inspections.parquet``: one row per image with its split and source/stored file."""
    columns = ["inspection_time", "product_id", "defect_type", "severity", "split"]
    columns += [c for c in ("machine_id",) if c in frame.columns]
    frame.select(columns).with_columns(
        pl.Series("source_uri", placed.sources, dtype=pl.String),
        pl.Series("stored_image", placed.stored_images, dtype=pl.String),
        pl.col("product_id").map_elements(safe_name, return_dtype=pl.String).alias("file_stem"),
    ).write_parquet(root / MANIFEST)


def _cap_normals(
    frame: pl.DataFrame, fraction: float | None, normal_class: str | None
) -> tuple[pl.DataFrame, int]:
    if fraction is None or normal_class is None:
        return frame, 0
    keep_share = pl.Series([_keep_share(p) for p in frame["product_id"].to_list()])
    frame = frame.with_columns(keep_share.alias("_share"))
    parts = []
    for split in SPLITS:
        part = frame.filter(pl.col("split") == split)
        normal = part.filter(pl.col("defect_type") == normal_class)
        defects = part.height - normal.height
        allowed = int(fraction * defects / (1 - fraction)) if fraction > 0 else 0
        if defects == 0:  # a split of good parts only: keep a few so it is not empty
            allowed = min(normal.height, 8)
        kept = normal.sort("_share").head(allowed)
        parts.append(pl.concat([part.filter(pl.col("defect_type") != normal_class), kept]))
    capped = pl.concat(parts).sort(["inspection_time", "product_id"]).drop("_share")
    return capped, frame.height - capped.height


def _cap_total(frame: pl.DataFrame, max_images: int | None) -> tuple[pl.DataFrame, int]:
    if max_images is None or frame.height <= max_images:
        return frame, 0
    share = pl.Series([_keep_share("cap:" + p) for p in frame["product_id"].to_list()])
    frame = frame.with_columns(share.alias("_share"))
    parts = []
    for split in SPLITS:
        part = frame.filter(pl.col("split") == split)
        keep = max(1, round(part.height * max_images / frame.height)) if part.height else 0
        parts.append(part.sort("_share").head(keep))
    capped = pl.concat(parts).sort(["inspection_time", "product_id"]).drop("_share")
    return capped, frame.height - capped.height


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _materialize(
    row: dict[str, Any], split_images: Path, seed: int, size: int, normal_class: str | None
) -> tuple[list[Box], str]:
    """Put one inspection's image and label into a split; returns its boxes and how."""
    product_id, defect_type = row["product_id"], row["defect_type"]
    severity = float(row["severity"] or 0.0)
    uri = row["image_uri"]
    ref = parse_synthetic_uri(uri) if uri else None
    source = local_path(uri) if uri and ref is None else None
    if uri and ref is None and source is None:
        raise DatasetError(f"{product_id}: cannot read image {uri!r} (local paths only)")
    if source is None:
        if ref is not None:
            rendered = ref.render(defect_type, severity, size)
        else:
            rendered = render_inspection(
                seed, product_id, defect_type, severity, size, row["image_appearance"]
            )
        name = safe_name(product_id)
        save_png(rendered.pixels, split_images / f"{name}{IMAGE_SUFFIX}")
        label = split_images.parent.parent / "labels" / split_images.name / f"{name}.txt"
        label.write_text(rendered.label_text())
        return rendered.boxes, "rendered"

    if not source.is_file():
        raise DatasetError(f"{product_id}: image file {source} does not exist")
    name = safe_name(product_id)
    target = split_images / f"{name}{source.suffix.lower() or IMAGE_SUFFIX}"
    _link_or_copy(source, target)
    label_source = _label_beside(source)
    label_target = split_images.parent.parent / "labels" / split_images.name / f"{name}.txt"
    if label_source is not None and label_source.is_file():
        text = label_source.read_text()
    elif normal_class is not None and defect_type == normal_class:
        text = ""
    else:
        raise DatasetError(f"{product_id}: {defect_type} image {source} has no YOLO label file")
    label_target.write_text(text)
    boxes = [Box.from_yolo_line(line) for line in text.splitlines() if line.strip()]
    return boxes, "linked"


def stored_image_paths(
    product_id: str, inspection_time: datetime, size: int = DEFAULT_SIZE
) -> tuple[str, str]:
    """Relative image and label paths of one inspection in the image store."""
    day = inspection_time.strftime("%Y-%m-%d")
    sized = "" if size == DEFAULT_SIZE else f"{size}px/"
    name = safe_name(product_id)
    return f"images/{sized}{day}/{name}{IMAGE_SUFFIX}", f"labels/{sized}{day}/{name}.txt"


def _from_store(
    row: dict[str, Any], split_images: Path, seed: int, size: int, store: FileStore
) -> tuple[list[Box], str, str]:
    """An inspection's image from the store (rendered and stored first if missing)."""
    from mfg_assets.storage.files import LocalFileStore

    image_rel, label_rel = stored_image_paths(row["product_id"], row["inspection_time"], size)
    png: bytes | None = None
    if store.exists(image_rel) and store.exists(label_rel):
        text, how = store.read_bytes(label_rel).decode(), "reused"
    else:
        uri = row["image_uri"]
        ref = parse_synthetic_uri(uri) if uri else None
        severity = float(row["severity"] or 0.0)
        if ref is not None:
            rendered = ref.render(row["defect_type"], severity, size)
        else:
            rendered = render_inspection(
                seed,
                row["product_id"],
                row["defect_type"],
                severity,
                size,
                row["image_appearance"],
            )
        png, text, how = encode_png(rendered.pixels), rendered.label_text(), "stored"
        store.write_bytes(label_rel, text.encode())  # label first: an image implies its label
        store.write_bytes(image_rel, png)
    name = safe_name(row["product_id"])
    target = split_images / f"{name}{IMAGE_SUFFIX}"
    if isinstance(store, LocalFileStore):
        _link_or_copy(Path(store.uri(image_rel)), target)
    else:
        target.write_bytes(png if png is not None else store.read_bytes(image_rel))
    label_target = split_images.parent.parent / "labels" / split_images.name / f"{name}.txt"
    label_target.write_text(text)
    boxes = [Box.from_yolo_line(line) for line in text.splitlines() if line.strip()]
    return boxes, how, image_rel


def _write_data_yaml(root: Path, names: tuple[str, ...]) -> Path:
    data_yaml = root / DATA_YAML
    spec = {
        "path": str(root),
        **{key: f"images/{split}" for split, key in YOLO_SPLIT_KEYS.items()},
        "nc": len(names),
        "names": dict(enumerate(names)),
    }
    data_yaml.write_text(yaml.safe_dump(spec, sort_keys=False))
    return data_yaml


def restore_yolo_dataset(
    manifest: pl.DataFrame, summary: dict[str, Any], image_store: FileStore, out_dir: str | Path
) -> DefectDataset:
    """Re-create a dataset built with an ``image_store`` from its manifest
    (``inspections.parquet``) and summary (``dataset.json``), fetching every image and label
    from the store: how a step on another machine (a Kubernetes pod) gets the same dataset."""
    missing = manifest.filter(pl.col("stored_image").is_null()).height
    if missing:
        raise DatasetError(f"{missing} images of the dataset are not in an image store")
    root = Path(out_dir).expanduser().resolve()
    for sub in ("images", "labels"):
        shutil.rmtree(root / sub, ignore_errors=True)
        for split in SPLITS:
            (root / sub / split).mkdir(parents=True, exist_ok=True)
    for row in manifest.iter_rows(named=True):
        image_rel = row["stored_image"]
        label_rel = (
            "labels/" + image_rel.removeprefix("images/").removesuffix(IMAGE_SUFFIX) + ".txt"
        )
        split, stem = row["split"], row["file_stem"]
        (root / "images" / split / f"{stem}{IMAGE_SUFFIX}").write_bytes(
            image_store.read_bytes(image_rel)
        )
        (root / "labels" / split / f"{stem}.txt").write_bytes(image_store.read_bytes(label_rel))
    _write_data_yaml(root, tuple(summary["class_names"]))
    manifest.write_parquet(root / MANIFEST)
    (root / META_JSON).write_text(
        json.dumps({**summary, "root": str(root), "data_yaml": str(root / DATA_YAML)}, indent=2)
    )
    return DefectDataset.load(root)


def _label_beside(image: Path) -> Path | None:
    parts = list(image.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return None


def _link_or_copy(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # other file system, or links not allowed
        shutil.copy2(source, target)


def read_labels(dataset: DefectDataset, split: str) -> dict[str, list[Box]]:
    """Image file name → boxes for one split, read back from the label files."""
    labels = {}
    for image in sorted(dataset.split_dir(split).iterdir()):
        label = dataset.root / "labels" / split / f"{image.stem}.txt"
        text = label.read_text() if label.is_file() else ""
        labels[image.name] = [Box.from_yolo_line(line) for line in text.splitlines() if line]
    return labels


def preview_grid(
    dataset: DefectDataset,
    n: int = 16,
    split: str = "train",
    path: str | Path | None = None,
    tile: int = 192,
) -> Path:
    """A PNG contact sheet of ``n`` images with their boxes and class names.

    Defective images first (round-robin over classes), then backgrounds; deterministic.
    Uses PIL's built-in default font, nothing is downloaded.
    """
    from PIL import Image, ImageDraw, ImageFont

    labels = read_labels(dataset, split)
    names = dataset.class_names
    by_class: dict[str, list[str]] = {c: [] for c in (*names, "normal")}
    for name, boxes in labels.items():
        by_class[names[boxes[0].cls_index] if boxes else "normal"].append(name)
    chosen: list[str] = []
    queues = [list(v) for k, v in by_class.items() if k != "normal"]
    while len(chosen) < n and any(queues):
        for queue in queues:
            if queue and len(chosen) < n:
                chosen.append(queue.pop(0))
    chosen.extend(by_class["normal"][: n - len(chosen)])
    cols = max(1, int(np.ceil(np.sqrt(max(len(chosen), 1)))))
    rows = max(1, int(np.ceil(len(chosen) / cols)))
    sheet = Image.new("RGB", (cols * tile, rows * tile), (32, 32, 32))
    font = ImageFont.load_default()
    colors = {0: (255, 64, 64), 1: (64, 160, 255), 2: (255, 200, 0), 3: (64, 255, 128)}
    for index, name in enumerate(chosen):
        with Image.open(dataset.split_dir(split) / name) as opened:
            image = opened.convert("RGB").resize((tile, tile), Image.Resampling.BILINEAR)
        draw = ImageDraw.Draw(image)
        for box in labels[name]:
            color = colors.get(box.cls_index, (255, 255, 255))
            x0, y0, x1, y1 = box.to_xyxy(tile, tile)
            draw.rectangle((x0, y0, x1, y1), outline=color, width=2)
            draw.text((x0 + 2, max(0, y0 - 12)), names[box.cls_index], fill=color, font=font)
        if not labels[name]:
            draw.text((4, 4), "normal", fill=(220, 220, 220), font=font)
        sheet.paste(image, ((index % cols) * tile, (index // cols) * tile))
    out = Path(path) if path else dataset.root / f"preview_{split}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out


def sample_inspections(
    n: int,
    seed: int = 0,
    defect_share: float = 0.8,
    start: datetime | None = None,
    appearance: str = "standard",
    interval_s: float = 60.0,
) -> pl.DataFrame:
    """Inspection rows shaped like the plant's (``synthetic://`` URIs), for tests and benches.

    Defect types are balanced over the drawn classes; severities follow the plant's skew towards
    mild defects (Beta(2, 5) lifted by 0.1). One inspection every ``interval_s`` seconds.
    """
    from datetime import UTC, timedelta

    from mfg_assets.plant.images import synthetic_uri

    rng = np.random.default_rng([seed, 4242])
    start = start or datetime(2026, 11, 1, tzinfo=UTC)
    defective = rng.random(n) < defect_share
    kinds = rng.integers(0, len(DEFECT_CLASSES), n)
    types = [DEFECT_CLASSES[k] if d else "normal" for k, d in zip(kinds, defective, strict=True)]
    severity = np.where(defective, np.clip(rng.beta(2.0, 5.0, n) + 0.1, 0.01, 1.0), 0.0)
    ids = [f"S{seed:03d}-{i:06d}" for i in range(n)]
    return pl.DataFrame(
        {
            "inspection_time": [start + timedelta(seconds=interval_s * i) for i in range(n)],
            "product_id": ids,
            "machine_id": [f"M{1 + i % 20:03d}" for i in range(n)],
            "defect_type": types,
            "severity": severity,
            "image_uri": [synthetic_uri(p, appearance, seed) for p in ids],
        }
    )
