"""Pascal VOC annotation files → YOLO boxes, refusing what is malformed (with a reason).

A VOC ``<annotation>`` has the image ``<size>`` (``width``, ``height``) and one ``<object>``
per box (``<name>`` and ``<bndbox>`` with ``xmin, ymin, xmax, ymax`` in pixels, 1-based as
the VOC devkit writes them). The YOLO line of a box is ``cls cx cy w h``, normalized to 0-1,
with the conversion Ultralytics' own VOC script uses::

    cx = ((xmin + xmax) / 2 - 1) / width      w = (xmax - xmin) / width
    cy = ((ymin + ymax) / 2 - 1) / height     h = (ymax - ymin) / height

(e.g. NEU-DET ``crazing_1.xml``: box 2, 2, 193, 194 in 200 × 200 → ``0.4825 0.485 0.955
0.96``). The XML is parsed with the standard library's expat parser, which expands no external
entities; files over :data:`MAX_XML_BYTES` and documents with a DTD are refused outright.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

MAX_XML_BYTES = 256 * 1024  # a VOC file with hundreds of boxes is a few tens of kB


class AnnotationError(ValueError):
    """An annotation file cannot be used; the message is the refusal reason."""


@dataclass(frozen=True)
class VocBox:
    """One box in pixels (VOC's 1-based corners) and its class name."""

    name: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float

    def yolo(self, width: int, height: int) -> tuple[float, float, float, float]:
        """Centre and size normalized to 0-1 (see the module docstring)."""
        cx = ((self.xmin + self.xmax) / 2 - 1) / width
        cy = ((self.ymin + self.ymax) / 2 - 1) / height
        return cx, cy, (self.xmax - self.xmin) / width, (self.ymax - self.ymin) / height


@dataclass(frozen=True)
class VocAnnotation:
    """An annotation file's image size and boxes."""

    width: int
    height: int
    boxes: tuple[VocBox, ...]

    def yolo_lines(self, classes: tuple[str, ...]) -> str:
        """The YOLO label text (class index into ``classes``), one line per box."""
        lines = []
        for box in self.boxes:
            cx, cy, w, h = box.yolo(self.width, self.height)
            lines.append(f"{classes.index(box.name)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
        return "".join(line + "\n" for line in lines)


def _number(node: ET.Element, tag: str) -> float:
    text = node.findtext(tag)
    if text is None or not text.strip():
        raise AnnotationError(f"no <{tag}>")
    try:
        return float(text)
    except ValueError:
        raise AnnotationError(f"<{tag}> {text.strip()!r} is not a number") from None


def parse_voc(data: bytes, classes: tuple[str, ...], allow_empty: bool = False) -> VocAnnotation:
    """Parse and check one annotation; :class:`AnnotationError` names what is wrong.
    ``allow_empty``: an annotation without boxes is a good part, not an error."""
    if len(data) > MAX_XML_BYTES:
        raise AnnotationError(f"annotation larger than {MAX_XML_BYTES} bytes")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise AnnotationError("annotation has a DTD (refused)")
    try:
        root = ET.fromstring(data)  # noqa: S314 - size-capped, DTD refused above
    except ET.ParseError as exc:
        raise AnnotationError(f"malformed XML ({exc})") from None
    if root.tag != "annotation":
        raise AnnotationError(f"root element is <{root.tag}>, not <annotation>")
    size = root.find("size")
    if size is None:
        raise AnnotationError("no <size>")
    width, height = _number(size, "width"), _number(size, "height")
    if width <= 0 or height <= 0 or not width.is_integer() or not height.is_integer():
        raise AnnotationError(f"bad image size {width:g} x {height:g}")
    boxes = []
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        if name not in classes:
            raise AnnotationError(f"unknown class {name!r}")
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise AnnotationError(f"{name} object without <bndbox>")
        box = VocBox(name, *(_number(bndbox, t) for t in ("xmin", "ymin", "xmax", "ymax")))
        inside = 0 <= box.xmin < box.xmax <= width + 1 and 0 <= box.ymin < box.ymax <= height + 1
        if not inside:
            raise AnnotationError(
                f"box {box.xmin:g},{box.ymin:g},{box.xmax:g},{box.ymax:g} outside "
                f"{width:g} x {height:g} or empty"
            )
        boxes.append(box)
    if not boxes and not allow_empty:
        raise AnnotationError("no <object> boxes")
    return VocAnnotation(int(width), int(height), tuple(boxes))


def read_voc(path: Path, classes: tuple[str, ...], allow_empty: bool = False) -> VocAnnotation:
    """:func:`parse_voc` of a file (its size checked before reading it whole)."""
    if path.stat().st_size > MAX_XML_BYTES:
        raise AnnotationError(f"annotation larger than {MAX_XML_BYTES} bytes")
    return parse_voc(path.read_bytes(), classes, allow_empty)
