"""``mfg-plant import voc DIR``: any folder of images with Pascal VOC annotations, for the
active plant (``MFG_PLANT``), so a plant can bring its own labelled inspection images.

The folder holds ``images/`` + ``annotations/`` (or ``IMAGES/`` + ``ANNOTATIONS/``, or the VOC
devkit's ``JPEGImages/`` + ``Annotations/``), paired by file stem. Box classes must be the
plant definition's ``inspections.classes``; an image's ``defect_type`` is the class covering
the largest box area, and an annotation without boxes is a good part (the plant's
``normal_class``; refused when it has none). Everything else is as for NEU-DET
(:mod:`.neu_det`): ``product_id`` is the file stem, images and YOLO labels go to the image
store under ``<plant>/``, times are stratified by class, bad pairs are refused with reasons.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mfg_assets.plant.importers.neu_det import FolderFormat, MainClass, import_folder
from mfg_assets.plant.importers.report import ImportReport
from mfg_assets.plant.importers.voc import AnnotationError, VocAnnotation
from mfg_assets.plant.inspection_classes import InspectionClasses

if TYPE_CHECKING:
    from mfg_assets.storage.files import FileStore

FOLDER_PAIRS = (("images", "annotations"), ("IMAGES", "ANNOTATIONS"), ("JPEGImages", "Annotations"))
STATION = "inspection"


def class_of_largest_area(classes: InspectionClasses) -> MainClass:
    """The class whose boxes cover the most area; no boxes: the plant's normal class."""

    def main_of(stem: str, annotation: VocAnnotation) -> str:
        if not annotation.boxes:
            if classes.normal is None:
                raise AnnotationError("no boxes, and the plant has no normal class")
            return classes.normal
        area: dict[str, float] = {}
        for box in annotation.boxes:
            area[box.name] = area.get(box.name, 0.0) + (box.xmax - box.xmin) * (box.ymax - box.ymin)
        return max(classes.detector, key=lambda c: area.get(c, -1.0))

    return main_of


def import_voc(
    source: Path,
    url: str,
    *,
    replace: bool = False,
    image_store: FileStore | None = None,
    start: datetime | None = None,
) -> ImportReport:
    """Import ``source`` for the active plant (see the module docstring)."""
    folders = next(
        (pair for pair in FOLDER_PAIRS if all((source / d).is_dir() for d in pair)),
        FOLDER_PAIRS[0],
    )
    spec = FolderFormat("voc", None, folders, "", STATION, class_of_largest_area)
    return import_folder(source, url, spec, replace=replace, image_store=image_store, start=start)
