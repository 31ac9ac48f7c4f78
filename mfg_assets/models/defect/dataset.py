"""Quality inspections → a YOLO detection dataset, split by inspection time.

Layout (Ultralytics' convention, labels found by replacing ``images`` with ``labels``)::

    <out_dir>/data.yaml              path: <absolute out_dir>, train/val/test, names
    <out_dir>/images/{train,val,test}/<product_id>.png
    <out_dir>/labels/{train,val,test}/<product_id>.txt
    <out_dir>/dataset.json           counts, time ranges, vocabulary (for metadata/lineage)

**Classes.** The plant's vocabulary has five defect types (``scratch, dent, crack,
contamination, normal``), but a detector draws boxes only around things that are there: the
detector's classes are the four drawn defects (``DEFECT_CLASSES``), and ``normal`` parts are
*background images*: an image with an empty label file. This is standard YOLO practice - the
background images teach the model what the undamaged surface looks like and curb false
positives - and it keeps ``normal`` out of mAP (which is undefined for a class that has no
boxes). An image is classified as ``normal`` when the detector finds nothing. The five-class
vocabulary is kept in ``dataset.json`` and in :attr:`DefectDataset.vocabulary`.

Backgrounds dominate a real line (~97 % good parts); ``max_normal_fraction`` caps their share
of each split (deterministically, by product id hash) so training time goes to defects.

**Split.** Rows are ordered by ``inspection_time``; the earliest ``train`` fraction is train,
then val, then test. Rows sharing a timestamp never straddle a boundary, so
``max(train time) < min(val time) < ... `` holds strictly: no look-ahead across splits.

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import yaml

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

if TYPE_CHECKING:
    from mfg_assets.storage.files import FileStore

SPLITS: tuple[str, ...] = ("train", "val", "test")
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


def time_split(times: Sequence[Any], fractions: Sequence[float]) -> list[str]:
    """Split label per row for rows already sorted by time; ties stay in one split."""
    n = len(times)
    cuts = []
    total = 0.0
    for fraction in fractions[:-1]:
        total += fraction
        cut = int(round(total * n))
        cut = max(cut, cuts[-1] if cuts else 0)
        while 0 < cut < n and times[cut] == times[cut - 1]:
            cut += 1
        cuts.append(min(cut, n))
    labels = []
    bounds = [0, *cuts, n]
    for index, split in enumerate(SPLITS[: len(fractions)]):
        labels.extend([split] * (bounds[index + 1] - bounds[index]))
    return labels


def _keep_share(product_id: str) -> float:
    digest = hashlib.blake2b(product_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


def build_yolo_dataset(
    inspections: pl.DataFrame,
    out_dir: str | Path,
    split_fractions: Sequence[float] = (0.7, 0.15, 0.15),
    *,
    seed: int = 0,
    image_size: int = DEFAULT_SIZE,
    max_normal_fraction: float | None = 0.2,
    max_images: int | None = None,
    image_store: FileStore | None = None,
) -> DefectDataset:
    """Build the dataset under ``out_dir`` (its ``images``/``labels`` folders are replaced).

    ``inspections``: ``inspection_time, product_id, defect_type, severity`` and optionally
    ``image_uri`` and ``image_appearance`` (used for rows without a URI). Duplicate product ids
    keep their first row. ``seed`` and ``image_size`` apply to images rendered here for rows
    without a ``synthetic://`` URI (those carry their own seed). ``max_normal_fraction``: cap
    on the share of background (normal) images per split; None keeps every normal part.
    ``max_images``: cap on the dataset size (training time grows linearly with it); each split
    keeps its share, chosen by product-id hash (deterministic, spread over the whole window).
    ``image_store``: keep (and reuse) rendered images there, see the module docstring.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in inspections.columns]
    if missing:
        raise DatasetError(f"inspections lack columns {missing}")
    if len(split_fractions) != 3 or any(f < 0 for f in split_fractions):
        raise DatasetError(f"split_fractions must be 3 non-negative numbers: {split_fractions}")
    if abs(sum(split_fractions) - 1.0) > 1e-6:
        raise DatasetError(f"split_fractions must sum to 1 (got {sum(split_fractions):g})")
    if max_normal_fraction is not None and not 0 <= max_normal_fraction < 1:
        raise DatasetError(f"max_normal_fraction must be in [0, 1) (got {max_normal_fraction})")
    unknown = sorted(set(inspections["defect_type"].unique().to_list()) - set(DEFECT_TYPES))
    if unknown:
        raise DatasetError(f"unknown defect types {unknown} (vocabulary: {list(DEFECT_TYPES)})")

    frame = inspections
    for column in ("image_uri", "image_appearance"):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    before = frame.height
    frame = frame.filter(pl.col("inspection_time").is_not_null())
    dropped = {"no_inspection_time": before - frame.height}
    before = frame.height
    frame = frame.sort(["inspection_time", "product_id"]).unique(
        subset="product_id", keep="first", maintain_order=True
    )
    dropped["duplicate_product_id"] = before - frame.height
    names = frame["product_id"].map_elements(safe_name, return_dtype=pl.String)
    if names.n_unique() != frame.height:
        raise DatasetError("product ids collide after making them file-name safe")
    if frame.height < 3:
        raise DatasetError(f"need at least 3 inspections, got {frame.height}")

    times = frame["inspection_time"].to_list()
    frame = frame.with_columns(pl.Series("split", time_split(times, split_fractions)))
    frame, capped = _cap_normals(frame, max_normal_fraction)
    dropped["normal_over_cap"] = capped
    frame, over = _cap_total(frame, max_images)
    dropped["over_max_images"] = over
    empty = [s for s in ("train", "val") if frame.filter(pl.col("split") == s).height == 0]
    if empty:
        raise DatasetError(f"split(s) {empty} would be empty: need more inspections")

    root = Path(out_dir).expanduser().resolve()
    for sub in ("images", "labels"):
        shutil.rmtree(root / sub, ignore_errors=True)
    for split in SPLITS:
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)

    counts = {s: dict.fromkeys(DEFECT_TYPES, 0) for s in SPLITS}
    box_counts = {s: dict.fromkeys(DEFECT_CLASSES, 0) for s in SPLITS}
    hows: dict[str, int] = {"rendered": 0, "linked": 0, "reused": 0, "stored": 0}
    sources: list[str] = []
    stored_images: list[str | None] = []
    for row in frame.iter_rows(named=True):
        split = row["split"]
        split_images = root / "images" / split
        if image_store is not None and (
            not row["image_uri"] or parse_synthetic_uri(row["image_uri"])
        ):
            boxes, how, image_rel = _from_store(row, split_images, seed, image_size, image_store)
            source_uri: str = image_store.uri(image_rel)
        else:
            boxes, how = _materialize(row, split_images, seed, image_size)
            source_uri, image_rel = row["image_uri"] or "", None
        hows[how] += 1
        sources.append(source_uri)
        stored_images.append(image_rel)
        counts[split][row["defect_type"]] += 1
        for box in boxes:
            box_counts[split][DEFECT_CLASSES[box.cls_index]] += 1

    time_ranges: dict[str, tuple[str, str] | None] = {}
    for split in SPLITS:
        part = frame.filter(pl.col("split") == split)["inspection_time"]
        time_ranges[split] = (_iso(part.min()), _iso(part.max())) if part.len() else None

    data_yaml = _write_data_yaml(root)
    dataset = DefectDataset(
        root=root,
        data_yaml=data_yaml,
        counts=counts,
        box_counts=box_counts,
        images={s: sum(counts[s].values()) for s in SPLITS},
        time_ranges=time_ranges,
        rendered=hows["rendered"],
        linked=hows["linked"],
        dropped=dropped,
        reused=hows["reused"],
        stored=hows["stored"],
    )
    manifest_columns = ["inspection_time", "product_id", "defect_type", "severity", "split"]
    manifest_columns += [c for c in ("machine_id",) if c in frame.columns]
    frame.select(manifest_columns).with_columns(
        pl.Series("source_uri", sources, dtype=pl.String),
        pl.Series("stored_image", stored_images, dtype=pl.String),  # path in the image store
        pl.col("product_id").map_elements(safe_name, return_dtype=pl.String).alias("file_stem"),
    ).write_parquet(root / MANIFEST)
    (root / META_JSON).write_text(json.dumps(dataset.to_metadata(), indent=2))
    for cache in (root / "labels").glob("*.cache"):
        cache.unlink()
    return dataset


def _cap_normals(frame: pl.DataFrame, fraction: float | None) -> tuple[pl.DataFrame, int]:
    if fraction is None:
        return frame, 0
    keep_share = pl.Series([_keep_share(p) for p in frame["product_id"].to_list()])
    frame = frame.with_columns(keep_share.alias("_share"))
    parts = []
    for split in SPLITS:
        part = frame.filter(pl.col("split") == split)
        normal = part.filter(pl.col("defect_type") == "normal")
        defects = part.height - normal.height
        allowed = int(fraction * defects / (1 - fraction)) if fraction > 0 else 0
        if defects == 0:  # a split of good parts only: keep a few so it is not empty
            allowed = min(normal.height, 8)
        kept = normal.sort("_share").head(allowed)
        parts.append(pl.concat([part.filter(pl.col("defect_type") != "normal"), kept]))
    capped = pl.concat(parts).sort(["inspection_time", "product_id"]).drop("_share")
    return capped, frame.height - capped.height


def _cap_total(frame: pl.DataFrame, max_images: int | None) -> tuple[pl.DataFrame, int]:
    if max_images is None or frame.height <= max_images:
        return frame, 0
    if max_images < 3:
        raise DatasetError(f"max_images must be >= 3 (got {max_images})")
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
    row: dict[str, Any], split_images: Path, seed: int, size: int
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
    elif defect_type == "normal":
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


def _write_data_yaml(root: Path) -> Path:
    data_yaml = root / DATA_YAML
    spec = {
        "path": str(root),
        "train": "images/train",
        "val": "images/val",
        "test": "images/test",
        "nc": len(DEFECT_CLASSES),
        "names": dict(enumerate(DEFECT_CLASSES)),
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
    _write_data_yaml(root)
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
    by_class: dict[str, list[str]] = {c: [] for c in (*DEFECT_CLASSES, "normal")}
    for name, boxes in labels.items():
        by_class[DEFECT_CLASSES[boxes[0].cls_index] if boxes else "normal"].append(name)
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
            draw.text((x0 + 2, max(0, y0 - 12)), box.cls_name, fill=color, font=font)
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
