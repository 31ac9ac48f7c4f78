"""Importer of the NEU surface defect database (NEU-DET): ``IMAGES/<class>_<n>.jpg`` with
Pascal VOC boxes in ``ANNOTATIONS/<class>_<n>.xml``.

Each image becomes one ``quality_inspections`` row of the shipped ``neu_det`` plant:
``product_id`` ``neu-<file stem>``, ``defect_type`` the file name's class (its *main* class;
a box may carry another class, as in the original annotation, and keeps it),
``machine_id`` :data:`STATION` (the source has no machines; one ``machines`` row names it),
``severity`` the share of the image area its boxes cover (sum of box areas, capped at 1: the
source has no severity, this is derived from its boxes), and ``image_uri`` the image in the
inspection image store. The image is stored byte for byte at
``neu_det/images/<stem>.jpg`` with its YOLO label at ``neu_det/labels/<stem>.txt`` (VOC → YOLO
per :mod:`.voc`), which is where the dataset builder looks for a local image's label.

**Inspection times.** The source has none. They are assigned so that *every time split is
stratified by class*: within each class the images are ordered by a hash of their file name
(a fixed shuffle), image *i* of *n* gets the rank ``(i + 0.5) / n``, and all images are then
ordered by rank (ties by class order) and spaced :data:`INTERVAL` apart from ``start``
(default: the first partition's day, 00:00 UTC; 1,800 images span 20 hours of one day). Any
prefix of that order, e.g. the platform's 70/15/15 train/validation/test time split, holds
each class in its overall share (±1 image).

**Refusals.** An image without annotation (or the reverse), a file name naming no class, an
unreadable/truncated image, malformed XML, a box outside the image or of an unknown class, or
an image whose size differs from its annotation's is refused (counted per reason, with
examples); good pairs are imported. Images are written to the store first (each file
atomically; a re-import rewrites the same bytes), then the rows in one transaction that
replaces the previous import: a failed import leaves the database as it was, and importing
twice gives the same tables. A file stem longer than :data:`MAX_STEM` is refused (product ids
are at most 48 characters).

:func:`import_folder` is the format-independent part (a :class:`FolderFormat` says the folders,
the plant and how an image's main class is chosen); :mod:`.voc_folder` uses it for any VOC folder.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from mfg_assets.plant.importers.landing import replace_plant
from mfg_assets.plant.importers.report import FileReport, ImportRefused, ImportReport
from mfg_assets.plant.importers.voc import AnnotationError, VocAnnotation, read_voc
from mfg_assets.plant.inspection_classes import InspectionClasses, plant_classes
from mfg_assets.plant.writer import PlantDB

if TYPE_CHECKING:
    from mfg_assets.storage.files import FileStore

PLANT = "neu_det"
IMAGES, ANNOTATIONS = "IMAGES", "ANNOTATIONS"
STATION = "NEU-DET"  # the one inspection station (machine_id) of the imported plant
INTERVAL = timedelta(seconds=40)
MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_STEM = 40  # product_id (prefix + stem) is at most 48 characters
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class Inspection:
    """One good image/annotation pair."""

    stem: str
    main_class: str
    image: Path
    annotation: VocAnnotation


def main_class(stem: str, classes: tuple[str, ...]) -> str | None:
    """The class a file name starts with (``rolled-in_scale_12`` → ``rolled-in_scale``)."""
    matches = [c for c in classes if stem.startswith(c + "_") and stem[len(c) + 1 :].isdigit()]
    return max(matches, key=len) if matches else None


def check_image(path: Path, width: int, height: int) -> None:
    """Refuse (AnnotationError) a file that is too large, unreadable, truncated or whose size
    is not the annotation's."""
    from PIL import Image, UnidentifiedImageError

    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise AnnotationError(f"image larger than {MAX_IMAGE_BYTES} bytes")
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.verify()
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            size = opened.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise AnnotationError(f"unreadable image ({type(exc).__name__})") from None
    if size != (width, height):
        raise AnnotationError(f"image is {size[0]} x {size[1]}, annotation says {width} x {height}")


MainClass = Callable[[str, VocAnnotation], str]  # (file stem, boxes) → class, or AnnotationError


def class_of_file_name(classes: InspectionClasses) -> MainClass:
    """NEU-DET's rule: the class the file name starts with."""

    def main_of(stem: str, annotation: VocAnnotation) -> str:
        cls = main_class(stem, classes.detector)
        if cls is None:
            raise AnnotationError("file name names no class")
        return cls

    return main_of


def read_pairs(
    source: Path,
    classes: InspectionClasses,
    report: FileReport,
    *,
    folders: tuple[str, str] = (IMAGES, ANNOTATIONS),
    main_of: MainClass | None = None,
) -> list[Inspection]:
    """Every good image/annotation pair of the ``folders`` (images, annotations); the others
    refused into ``report``. ``main_of``: an image's ``defect_type`` (default: the file name's
    class); annotations without boxes are allowed only when the plant has a normal class."""
    main_of = main_of or class_of_file_name(classes)
    images = {
        p.stem: p
        for p in sorted((source / folders[0]).iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    }
    annotations = {p.stem: p for p in sorted((source / folders[1]).glob("*.xml")) if p.is_file()}
    allow_empty = classes.normal is not None
    report.read = len(images.keys() | annotations.keys())
    refused: dict[str, list[str]] = {}
    good = []
    for stem in sorted(images.keys() | annotations.keys()):
        try:
            if len(stem) > MAX_STEM:
                raise AnnotationError(f"file name longer than {MAX_STEM} characters")
            if stem not in annotations:
                raise AnnotationError("image without annotation")
            if stem not in images:
                raise AnnotationError("annotation without image")
            annotation = read_voc(annotations[stem], classes.detector, allow_empty)
            cls = main_of(stem, annotation)
            check_image(images[stem], annotation.width, annotation.height)
        except AnnotationError as exc:
            refused.setdefault(str(exc), []).append(stem)
            continue
        good.append(Inspection(stem, cls, images[stem], annotation))
    for reason, stems in refused.items():
        report.refuse(reason, stems, len(stems))
    report.written = len(good)
    return good


def _rank_hash(stem: str) -> int:
    return int.from_bytes(hashlib.blake2b(stem.encode(), digest_size=8).digest(), "little")


def stratified_order(pairs: list[Inspection], classes: tuple[str, ...]) -> list[Inspection]:
    """The pairs in inspection order: classes interleaved by within-class rank (see module)."""
    keyed = []
    for index, cls in enumerate(classes):
        members = sorted(
            (p for p in pairs if p.main_class == cls), key=lambda p: _rank_hash(p.stem)
        )
        n = len(members)
        keyed += [((i + 0.5) / n, index, p.stem, p) for i, p in enumerate(members)]
    return [item[-1] for item in sorted(keyed, key=lambda k: k[:3])]


def severity(annotation: VocAnnotation) -> float:
    """Share of the image area the boxes cover (sum of areas, capped at 1)."""
    area = sum((b.xmax - b.xmin) * (b.ymax - b.ymin) for b in annotation.boxes)
    return round(min(1.0, area / (annotation.width * annotation.height)), 6)


def default_start() -> datetime:
    """The first partition's day, 00:00 UTC."""
    from mfg_assets.settings import partitions_start

    first = partitions_start()
    return datetime(first.year, first.month, first.day, tzinfo=UTC)


@dataclass(frozen=True)
class FolderFormat:
    """How a labelled image folder maps onto a plant's inspections."""

    name: str  # the import format, recorded in plant_meta
    plant: str | None  # the shipped plant whose classes the boxes carry; None: the active one
    folders: tuple[str, str]  # images, annotations (inside the source folder)
    product_prefix: str  # product_id = prefix + file stem
    station: str  # machine_id of every inspection (one machines row)
    main_of: Callable[[InspectionClasses], MainClass] = class_of_file_name


NEU_DET = FolderFormat("neu-det", PLANT, (IMAGES, ANNOTATIONS), "neu-", STATION)


def import_neu_det(
    source: Path,
    url: str,
    *,
    replace: bool = False,
    image_store: FileStore | None = None,
    start: datetime | None = None,
) -> ImportReport:
    """Import the NEU-DET folder ``source`` into the plant database at ``url`` and the image
    store (default: the ``inspection_images`` artifact store). See the module docstring."""
    return import_folder(
        source, url, NEU_DET, replace=replace, image_store=image_store, start=start
    )


def import_folder(
    source: Path,
    url: str,
    spec: FolderFormat,
    *,
    replace: bool = False,
    image_store: FileStore | None = None,
    start: datetime | None = None,
) -> ImportReport:
    """Import a folder of images with VOC annotations per ``spec`` (see the module docstring:
    refusals, stratified times, images first, then the rows in one transaction)."""
    started = time.perf_counter()
    classes = plant_classes(spec.plant)
    db = PlantDB(url)
    report = ImportReport(plant=classes.plant, source=str(source), db=db.display_url)
    try:
        missing = [d for d in spec.folders if not (source / d).is_dir()]
        if missing:
            raise ImportRefused(
                f"nothing imported: no {', '.join(missing)} folder in {source}", report
            )
        pairs_report = FileReport(file=" + ".join(spec.folders))
        report.files.append(pairs_report)
        pairs = read_pairs(
            source, classes, pairs_report, folders=spec.folders, main_of=spec.main_of(classes)
        )
        if not pairs:
            raise ImportRefused("nothing imported: no usable image/annotation pair", report)
        if image_store is None:
            from mfg_assets.models.defect.workflow import IMAGES_AREA
            from mfg_assets.storage.location import artifact_store

            image_store = artifact_store(IMAGES_AREA)
        ordered = stratified_order(pairs, classes.vocabulary)
        frame = _rows(ordered, classes, image_store, start, spec)
        first, last = frame["inspection_time"].min(), frame["inspection_time"].max()
        report.time_range = (first.isoformat(), last.isoformat())  # type: ignore[union-attr]
        summary = json.dumps(
            {
                "format": spec.name,
                "source": str(source),
                "images": {"read": pairs_report.read, "written": pairs_report.written},
                "refused": dict(pairs_report.refused),
                "boxes": sum(len(p.annotation.boxes) for p in pairs),
                "boxes_of_another_class": sum(
                    b.name != p.main_class for p in pairs for b in p.annotation.boxes
                ),
                "time_assignment": "stratified by class, 40 s apart",
            }
        )
        machines = pl.DataFrame(
            {"machine_id": [spec.station], "machine_type": ["inspection"], "line": [""]}
        )
        report.written_rows = replace_plant(
            db,
            classes.plant,
            {"quality_inspections": frame, "machines": machines},
            last + INTERVAL,  # type: ignore[operator]
            summary,
            replace_other=replace,
        )
        report.seconds = time.perf_counter() - started
        return report
    finally:
        db.close()


def _rows(
    ordered: list[Inspection],
    classes: InspectionClasses,
    store: FileStore,
    start: datetime | None,
    spec: FolderFormat,
) -> pl.DataFrame:
    """Store each image and label; the ``quality_inspections`` rows in inspection order."""
    first = start or default_start()
    prefix = classes.plant
    uris = []
    for pair in ordered:
        store.write_bytes(
            f"{prefix}/labels/{pair.stem}.txt",
            pair.annotation.yolo_lines(classes.detector).encode(),
        )
        image_rel = f"{prefix}/images/{pair.stem}{pair.image.suffix.lower()}"
        store.write_bytes(image_rel, pair.image.read_bytes())
        uris.append(store.uri(image_rel))
    return pl.DataFrame(
        {
            "inspection_time": [first + INTERVAL * i for i in range(len(ordered))],
            "product_id": [f"{spec.product_prefix}{p.stem}" for p in ordered],
            "machine_id": [spec.station] * len(ordered),
            "defect_type": [p.main_class for p in ordered],
            "severity": [severity(p.annotation) for p in ordered],
            "image_uri": uris,
        },
        schema_overrides={"inspection_time": pl.Datetime("us", "UTC")},
    )


def linked_subset(source: Path, per_class: int, out_dir: Path) -> Path:
    """A NEU-DET-shaped folder under ``out_dir`` with the first ``per_class`` images of each
    class (by file number), symlinked (nothing copied): for tests and smoke runs."""
    classes = plant_classes(PLANT).detector
    for folder in (IMAGES, ANNOTATIONS):
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
    for cls in classes:
        stems = sorted(
            (p.stem for p in (source / ANNOTATIONS).glob(f"{cls}_*.xml")),
            key=lambda s: int(s.rsplit("_", 1)[1]) if s.rsplit("_", 1)[1].isdigit() else 0,
        )
        for stem in [s for s in stems if main_class(s, classes) == cls][:per_class]:
            image = next(p for p in (source / IMAGES).glob(f"{stem}.*"))
            for target, origin in (
                (out_dir / IMAGES / image.name, image),
                (out_dir / ANNOTATIONS / f"{stem}.xml", source / ANNOTATIONS / f"{stem}.xml"),
            ):
                if not target.exists():
                    target.symlink_to(origin.resolve())
    return out_dir
