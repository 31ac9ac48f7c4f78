"""Synthetic surface images of inspected parts: machined-metal texture plus drawn defects.

Every image is a pure function of ``(seed, product_id, defect_type, severity, appearance)``:
the product id is hashed with BLAKE2b (stable across processes, unlike ``hash()``), and the
background and the defect draw from separate random streams. The same product rendered as
``normal`` therefore shows exactly the same surface, without the defect, which is what the tests
use to check that the YOLO boxes sit on the drawn defect.

Surface: a turned (concentric tool marks) or brushed (straight grinding lines) groove pattern,
low-frequency mottling, a lighting gradient with vignetting, a slight steel tint and per-channel
sensor noise. Defects (one per defective image, severity in (0, 1] scales size and contrast):

* ``scratch`` - a thin bright or dark line, straight or gently curved;
* ``dent`` - a shaded crater: one flank lit, the other in shadow, darker floor;
* ``crack`` - a jagged dark line with side branches;
* ``contamination`` - a cluster of irregular oil, rust or dust spots, boxed as one object.

The YOLO box of a defect is the bounding box of every pixel the defect changed (changes below a
visibility floor - 3 grey levels or 10 % of the defect's peak change - are dropped, so faint
tails neither inflate the box nor change pixels outside it): boxes are tight by construction.

Images are stored as PNG: lossless, so the thin one-pixel scratches and cracks are not smeared by
JPEG's 8x8 DCT blocks (JPEG artefacts look like exactly the fine structures being detected), the
dataset's pixels equal the rendered ones (tests and drift statistics compare exact values), and
``compress_level=1`` keeps writing fast (~3 ms for 320x320). The price is size (~250 kB per
320x320 image, the sensor noise does not compress), which is why the plant does not render images
eagerly: ``image_uris`` hands out ``synthetic://`` URIs and images are rendered when a dataset
or a drift report needs them (:func:`load_inspection_image`).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from statistics import NormalDist
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlparse

import numpy as np
import polars as pl
from PIL import Image, ImageDraw, ImageFilter

from mfg_assets.plant.catalog import DEFECT_CLASSES, DEFECT_TYPES

DEFAULT_SIZE = 320
IMAGE_SUFFIX = ".png"
URI_SCHEME = "synthetic"
VISIBILITY_FLOOR = 3.0  # grey levels; smaller defect changes are dropped (and not boxed)
RELATIVE_FLOOR = 0.1  # ... as are changes below this share of the defect's peak change

# Named surface looks. The plant's scenarios refer to these by name (``image_appearance``);
# callers may also pass a dict with the same keys.
APPEARANCES: dict[str, dict[str, Any]] = {
    "standard": {},
    # new raw-material supplier: brighter, rougher machining marks, warmer tint
    "supplier_b": {"brightness": 1.15, "texture": "coarse", "tint": (1.04, 1.0, 0.94)},
}
APPEARANCE_KEYS = ("brightness", "texture", "tint", "noise", "defect_contrast")
TEXTURES: dict[str, dict[str, float]] = {
    # groove: smoothing width (px at 320) of the groove noise; amp: groove amplitude (grey levels)
    # period: tool-mark period (px at 320); mottle: low-frequency blotch amplitude
    "fine": {"groove": 1.0, "amp": 5.0, "period": 3.0, "mottle": 3.0},
    "standard": {"groove": 1.5, "amp": 8.0, "period": 5.0, "mottle": 4.0},
    "coarse": {"groove": 3.5, "amp": 16.0, "period": 10.0, "mottle": 7.0},
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
_GAUSS_TABLE = np.array(  # standard normal quantiles at (k + 0.5) / 256
    [NormalDist().inv_cdf((k + 0.5) / 256) for k in range(256)], dtype=np.float32
)


@dataclass(frozen=True)
class Box:
    """One YOLO box: class index into ``DEFECT_CLASSES``, centre and size normalized to 0-1."""

    cls_index: int
    x_center: float
    y_center: float
    width: float
    height: float

    @property
    def cls_name(self) -> str:
        return DEFECT_CLASSES[self.cls_index]

    def to_yolo_line(self) -> str:
        """``cls xc yc w h`` as a YOLO label line."""
        return (
            f"{self.cls_index} {self.x_center:.6f} {self.y_center:.6f} "
            f"{self.width:.6f} {self.height:.6f}"
        )

    def to_xyxy(self, width: int, height: int) -> tuple[float, float, float, float]:
        """Pixel corners ``(x0, y0, x1, y1)`` in an image of the given size."""
        x0 = (self.x_center - self.width / 2) * width
        y0 = (self.y_center - self.height / 2) * height
        return x0, y0, x0 + self.width * width, y0 + self.height * height

    @classmethod
    def from_yolo_line(cls, line: str) -> Box:
        parts = line.split()
        return cls(int(parts[0]), *(float(p) for p in parts[1:5]))


@dataclass(frozen=True)
class RenderedImage:
    """An inspection image (H x W x 3 uint8) and the YOLO boxes of its drawn defects."""

    pixels: np.ndarray
    boxes: list[Box] = field(default_factory=list)

    def label_text(self) -> str:
        """The YOLO label file's content (empty for a normal part)."""
        return "".join(box.to_yolo_line() + "\n" for box in self.boxes)


@dataclass(frozen=True)
class _Look:
    brightness: float
    texture: dict[str, float]
    tint: np.ndarray
    noise: float
    defect_contrast: float


def resolve_appearance(appearance: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """A named appearance (``APPEARANCES``) or a dict of its keys → a complete dict."""
    if appearance is None:
        raw: Mapping[str, Any] = {}
    elif isinstance(appearance, str):
        if appearance not in APPEARANCES:
            raise ValueError(
                f"unknown image appearance {appearance!r} (known: {sorted(APPEARANCES)})"
            )
        raw = APPEARANCES[appearance]
    else:
        raw = appearance
    unknown = sorted(set(raw) - set(APPEARANCE_KEYS))
    if unknown:
        raise ValueError(f"unknown appearance keys {unknown} (known: {list(APPEARANCE_KEYS)})")
    texture = raw.get("texture", "standard")
    if texture not in TEXTURES:
        raise ValueError(f"unknown texture {texture!r} (known: {sorted(TEXTURES)})")
    return {
        "brightness": float(raw.get("brightness", 1.0)),
        "texture": texture,
        "tint": tuple(float(t) for t in raw.get("tint", (1.0, 1.0, 1.0))),
        "noise": float(raw.get("noise", 1.0)),
        "defect_contrast": float(raw.get("defect_contrast", 1.0)),
    }


def _look(appearance: str | Mapping[str, Any] | None) -> _Look:
    spec = resolve_appearance(appearance)
    return _Look(
        brightness=spec["brightness"],
        texture=TEXTURES[spec["texture"]],
        tint=np.asarray(spec["tint"], dtype=np.float32),
        noise=spec["noise"],
        defect_contrast=spec["defect_contrast"],
    )


def product_key(seed: int, product_id: str) -> int:
    """Stable 64-bit key of (seed, product): BLAKE2b, the same in every process."""
    digest = hashlib.blake2b(f"{int(seed)}|{product_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def render_inspection(
    seed: int,
    product_id: str,
    defect_type: str,
    severity: float,
    size: int = DEFAULT_SIZE,
    appearance: str | Mapping[str, Any] | None = None,
) -> RenderedImage:
    """Render one inspection image and its YOLO boxes (none for ``normal``)."""
    if defect_type not in DEFECT_TYPES:
        raise ValueError(f"unknown defect_type {defect_type!r} (known: {list(DEFECT_TYPES)})")
    if size < 32:
        raise ValueError(f"size must be >= 32 (got {size})")
    look = _look(appearance)
    key = product_key(seed, product_id)
    bg_rng = np.random.default_rng([key, 0])
    surface = _surface(bg_rng, size, look)
    boxes: list[Box] = []
    if defect_type != "normal":
        sev = float(np.clip(severity if np.isfinite(severity) else 0.0, 0.0, 1.0))
        defect_rng = np.random.default_rng([key, 1 + DEFECT_TYPES.index(defect_type)])
        # the defect changes pixel (y, x) by strength[y, x] * color (per channel)
        strength, color = _DRAWERS[defect_type](defect_rng, size, sev, look.defect_contrast)
        magnitude = np.abs(strength) * float(np.abs(color).max())
        floor = max(VISIBILITY_FLOOR, RELATIVE_FLOOR * float(magnitude.max()))
        region = _bbox(magnitude >= floor)
        if region is not None:
            y0, y1, x0, x1 = region
            patch = strength[y0:y1, x0:x1]
            patch = np.where(magnitude[y0:y1, x0:x1] >= floor, patch, np.float32(0.0))
            surface[:, y0:y1, x0:x1] += patch[None] * color[:, None, None]
            boxes.append(
                Box(
                    DEFECT_CLASSES.index(defect_type),
                    (x0 + x1) / 2 / size,
                    (y0 + y1) / 2 / size,
                    (x1 - x0) / size,
                    (y1 - y0) / size,
                )
            )
    np.clip(surface, 0.0, 255.0, out=surface)
    surface += 0.5
    pixels = np.ascontiguousarray(surface.astype(np.uint8).transpose(1, 2, 0))
    return RenderedImage(pixels=pixels, boxes=boxes)


# --- surface ---------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel x and y coordinates and the squared distance from the centre (1 at the corners)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r2 = ((xx - size / 2) ** 2 + (yy - size / 2) ** 2) / np.float32(size * size / 2)
    for array in (xx, yy, r2):
        array.setflags(write=False)
    return xx, yy, r2


def _smooth(values: np.ndarray, width: float) -> np.ndarray:
    if width <= 0.5:
        return values
    radius = max(1, int(math.ceil(2.5 * width)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / width) ** 2).astype(np.float32)
    return np.convolve(values, taps / taps.sum(), mode="same")


def _surface(rng: np.random.Generator, size: int, look: _Look) -> np.ndarray:
    """Background with sensor noise, planar (3 x H x W float32: contiguous per channel)."""

    # every random scalar goes through float(): a NumPy float64 scalar would promote the
    # float32 image arithmetic to float64 (NEP 50) and double its cost
    def uniform(lo: float, hi: float) -> float:
        return float(rng.uniform(lo, hi))

    xx, yy, r2 = _grid(size)
    scale = size / DEFAULT_SIZE
    tex = look.texture
    base = uniform(118.0, 150.0) * look.brightness

    # groove profile along one coordinate: smoothed noise plus periodic tool marks
    if rng.random() < 0.5:  # turned: concentric marks around a centre, often off the image
        angle = uniform(0, 2 * math.pi)
        dist = size * uniform(0.3, 1.6)
        cx, cy = size / 2 + dist * math.cos(angle), size / 2 + dist * math.sin(angle)
        coord = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
    else:  # brushed: straight lines at a random angle
        theta = uniform(0, math.pi)
        coord = xx * math.cos(theta) + yy * math.sin(theta)
    coord -= coord.min()
    index = coord.astype(np.int32)
    length = int(index.max()) + 1
    groove = _smooth(rng.standard_normal(length).astype(np.float32), tex["groove"] * scale)
    groove *= tex["amp"] / max(float(groove.std()), 1e-6)
    period = max(2.0, tex["period"] * scale * uniform(0.8, 1.25))
    phase = uniform(0, 2 * math.pi)
    marks = np.sin(2 * math.pi * np.arange(length, dtype=np.float32) / period + phase)
    profile = base + groove + 0.35 * tex["amp"] * marks
    gray = profile.take(index)

    # low-frequency mottling: a small random grid, bilinearly upsampled
    cells = rng.standard_normal((6, 6)).astype(np.float32)
    mottle = Image.fromarray(cells, mode="F").resize((size, size), Image.Resampling.BILINEAR)
    gray += tex["mottle"] * np.asarray(mottle)

    # lighting: linear gradient in a random direction, vignetting, a soft specular band
    phi = uniform(0, 2 * math.pi)
    ramp = (xx - size / 2) * (math.cos(phi) / size) + (yy - size / 2) * (math.sin(phi) / size)
    light = 1.0 + uniform(0.05, 0.18) * ramp - uniform(0.08, 0.22) * r2
    band_pos, band_width = uniform(-0.3, 0.3), uniform(0.08, 0.2)
    band = np.exp(-np.square((ramp - band_pos) / band_width))
    gray *= light
    gray += uniform(4.0, 14.0) * look.brightness * band

    tint = look.tint * np.array([1.0, 1.005, 1.02], dtype=np.float32)  # cold steel
    tint = tint * (1.0 + rng.uniform(-0.015, 0.015, 3)).astype(np.float32)
    surface = gray[None] * tint.astype(np.float32)[:, None, None]  # planar: 3 x H x W
    # sensor noise: Gaussian quantiles looked up by random bytes (~10x faster than normal draws)
    sigma = np.float32(uniform(2.0, 3.5) * look.noise)
    noise = _GAUSS_TABLE.take(np.frombuffer(rng.bytes(surface.size), dtype=np.uint8))
    surface += noise.reshape(surface.shape) * sigma
    return surface


# --- defects ---------------------------------------------------------------------------------


def _mask_to_alpha(mask: Image.Image, blur: float) -> np.ndarray:
    if blur > 0:
        mask = mask.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(mask, dtype=np.float32) / 255.0


def _place(rng: np.random.Generator, size: int, margin: float) -> tuple[float, float]:
    margin = min(margin, size * 0.4)
    return rng.uniform(margin, size - margin), rng.uniform(margin, size - margin)


_GRAY = np.ones(3, dtype=np.float32)
_Strength = tuple[np.ndarray, np.ndarray]  # (H x W change, per-channel colour of the change)


def _scratch(rng: np.random.Generator, size: int, sev: float, contrast: float) -> _Strength:
    scale = size / DEFAULT_SIZE
    length = size * (0.2 + 0.4 * sev) * rng.uniform(0.85, 1.15)
    cx, cy = _place(rng, size, length * 0.3)
    theta = rng.uniform(0, math.pi)
    bend = rng.uniform(-0.18, 0.18) * length  # quadratic bow of the line
    t = np.linspace(-0.5, 0.5, 24)
    along = t * length
    across = bend * (1 - 4 * t**2)
    xs = cx + along * math.cos(theta) - across * math.sin(theta)
    ys = cy + along * math.sin(theta) + across * math.cos(theta)
    width = max(1, int(round((2.0 + 2.0 * sev) * scale)))
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).line(list(zip(xs.tolist(), ys.tolist(), strict=True)), 255, width)
    alpha = _mask_to_alpha(mask, 0.6 * scale)
    sign = 1.0 if rng.random() < 0.6 else -1.0  # most scratches catch the light
    return alpha * np.float32(sign * (55.0 + 55.0 * sev) * contrast), _GRAY


def _dent(rng: np.random.Generator, size: int, sev: float, contrast: float) -> _Strength:
    sigma = size * (0.035 + 0.045 * sev) * rng.uniform(0.85, 1.15)
    cx, cy = _place(rng, size, 2.5 * sigma)
    aspect = rng.uniform(0.6, 1.0)
    rot = rng.uniform(0, math.pi)
    light = rng.uniform(0, 2 * math.pi)
    reach = int(math.ceil(3.2 * sigma))
    x0, x1 = max(0, int(cx) - reach), min(size, int(cx) + reach + 1)
    y0, y1 = max(0, int(cy) - reach), min(size, int(cy) + reach + 1)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xx - cx, yy - cy
    u = (dx * math.cos(rot) + dy * math.sin(rot)) / sigma
    v = (-dx * math.sin(rot) + dy * math.cos(rot)) / (sigma * aspect)
    bowl = np.exp(-0.5 * (u * u + v * v))
    # slope of the crater wall towards the light: lit flank bright, far flank in shadow
    facing = (dx * math.cos(light) + dy * math.sin(light)) / sigma
    amp = (45.0 + 50.0 * sev) * contrast
    local = amp * (1.2 * facing - 0.5) * bowl
    strength = np.zeros((size, size), dtype=np.float32)
    strength[y0:y1, x0:x1] = local
    return strength, _GRAY


def _crack(rng: np.random.Generator, size: int, sev: float, contrast: float) -> _Strength:
    scale = size / DEFAULT_SIZE
    length = size * (0.2 + 0.4 * sev) * rng.uniform(0.85, 1.15)
    step = max(1.5, 3.0 * scale)
    cx, cy = _place(rng, size, length * 0.35)
    theta = rng.uniform(0, 2 * math.pi)
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)

    def walk(x: float, y: float, heading: float, n: int, width: int, depth: int) -> None:
        points = [(x, y)]
        for i in range(n):
            heading += rng.normal(0.0, 0.35)
            x, y = x + step * math.cos(heading), y + step * math.sin(heading)
            points.append((x, y))
            if depth < 2 and i > 2 and rng.random() < 0.12:
                turn = rng.choice([-1.0, 1.0]) * rng.uniform(0.4, 1.1)
                branch = int((n - i) * rng.uniform(0.25, 0.6))
                walk(x, y, heading + turn, branch, max(1, width - 1), depth + 1)
        draw.line(points, 255, width)

    n = max(4, int(length / step / 2))  # two arms grow from the start point
    width = max(1, int(round((2.0 + 1.5 * sev) * scale)))
    walk(cx, cy, theta, n, width, 0)
    walk(cx, cy, theta + math.pi, n, width, 0)
    alpha = _mask_to_alpha(mask, 0.5 * scale)
    return alpha * np.float32(-(65.0 + 55.0 * sev) * contrast), _GRAY


_STAINS = (  # per-channel change at full opacity: oil, rust, dust
    np.array([-70.0, -66.0, -52.0], dtype=np.float32),
    np.array([-20.0, -55.0, -85.0], dtype=np.float32),
    np.array([-55.0, -55.0, -55.0], dtype=np.float32),
)


def _contamination(rng: np.random.Generator, size: int, sev: float, contrast: float) -> _Strength:
    spread = size * (0.055 + 0.07 * sev) * rng.uniform(0.85, 1.15)
    cx, cy = _place(rng, size, spread * 1.4)
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    for _ in range(2 + int(5 * sev) + int(rng.integers(0, 3))):
        bx, by = cx + rng.normal(0, 0.5) * spread, cy + rng.normal(0, 0.5) * spread
        radius = spread * rng.uniform(0.15, 0.45)
        k = int(rng.integers(7, 12))
        angles = np.sort(rng.uniform(0, 2 * math.pi, k))
        radii = radius * rng.uniform(0.55, 1.0, k)
        polygon = list(
            zip(
                (bx + radii * np.cos(angles)).tolist(),
                (by + radii * np.sin(angles)).tolist(),
                strict=True,
            )
        )
        draw.polygon(polygon, fill=int(255 * rng.uniform(0.6, 1.0)))
    alpha = _mask_to_alpha(mask, max(0.8, 1.2 * size / DEFAULT_SIZE))
    stain = _STAINS[int(rng.integers(0, len(_STAINS)))] * (0.9 + 0.4 * sev) * contrast
    return alpha, stain


_DRAWERS = {
    "scratch": _scratch,
    "dent": _dent,
    "crack": _crack,
    "contamination": _contamination,
}


def _bbox(changed: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(y0, y1, x0, x1)`` (end-exclusive) of the True pixels; None when there are none."""
    rows = np.flatnonzero(changed.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(changed.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


# --- files and URIs --------------------------------------------------------------------------


def safe_name(product_id: str) -> str:
    """A file-name-safe form of a product id."""
    return _SAFE_NAME.sub("_", product_id)


def save_png(pixels: np.ndarray, path: Path) -> Path:
    """Write pixels as PNG (lossless, fast compression)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="PNG", compress_level=1)
    return path


def encode_png(pixels: np.ndarray) -> bytes:
    """The PNG bytes :func:`save_png` writes (deterministic for the same pixels)."""
    import io

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def write_inspection_image(
    root: Path, product_id: str, rendered: RenderedImage
) -> tuple[Path, Path]:
    """Write ``root/images/<id>.png`` and the YOLO label ``root/labels/<id>.txt``.

    The ``images``/``labels`` sibling folders are YOLO's convention, so ``root`` can be used as
    a dataset split folder directly. A normal part gets an empty label file.
    """
    root = Path(root)
    name = safe_name(product_id)
    image_path = save_png(rendered.pixels, root / "images" / f"{name}{IMAGE_SUFFIX}")
    label_path = root / "labels" / f"{name}.txt"
    label_path.parent.mkdir(parents=True, exist_ok=True)
    label_path.write_text(rendered.label_text())
    return image_path, label_path


@dataclass(frozen=True)
class SyntheticImageRef:
    """What a ``synthetic://<appearance>/<product_id>?seed=N`` URI names."""

    product_id: str
    appearance: str
    seed: int

    def render(self, defect_type: str, severity: float, size: int = DEFAULT_SIZE) -> RenderedImage:
        return render_inspection(
            self.seed, self.product_id, defect_type, severity, size, self.appearance
        )


def synthetic_uri(product_id: str, appearance: str = "standard", seed: int = 0) -> str:
    """The URI of a not-yet-rendered synthetic image."""
    return (
        f"{URI_SCHEME}://{quote(appearance, safe='')}/{quote(product_id, safe='')}"
        f"?{urlencode({'seed': int(seed)})}"
    )


def parse_synthetic_uri(uri: str) -> SyntheticImageRef | None:
    """The reference a ``synthetic://`` URI holds; None for any other URI."""
    parsed = urlparse(uri)
    if parsed.scheme != URI_SCHEME:
        return None
    seed = int(parse_qs(parsed.query).get("seed", ["0"])[0])
    return SyntheticImageRef(unquote(parsed.path.lstrip("/")), unquote(parsed.netloc), seed)


def image_uris(inspections: pl.DataFrame, seed: int = 0) -> pl.Series:
    """``image_uri`` for each inspection row, in order: ``synthetic://`` references.

    The frame has ``product_id`` and, optionally, ``image_appearance`` (set by scenarios;
    missing or null means ``standard``). Nothing is rendered here: seeding weeks of plant history
    would mean hundreds of thousands of images nobody looks at. The URI holds everything the
    inspection row does not (appearance, seed), so :func:`load_inspection_image` and the defect
    dataset builder render the image on demand, identically every time.
    """
    if "image_appearance" in inspections.columns:
        appearance = inspections["image_appearance"].fill_null("standard").to_list()
    else:
        appearance = ["standard"] * inspections.height
    uris = [
        synthetic_uri(pid, look, seed)
        for pid, look in zip(inspections["product_id"].to_list(), appearance, strict=True)
    ]
    return pl.Series("image_uri", uris, dtype=pl.String)


def local_path(uri: str) -> Path | None:
    """The local file a plain path or ``file://`` URI names; None for other schemes."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and uri[1:3] in (":\\", ":/")):
        return Path(uri)
    return None


def load_inspection_image(
    uri: str | None,
    product_id: str,
    defect_type: str,
    severity: float,
    seed: int = 0,
    size: int = DEFAULT_SIZE,
) -> np.ndarray:
    """Pixels (H x W x 3 uint8) of one inspection: read a local file, or render a synthetic one.

    A missing URI renders the standard appearance with ``seed``.
    """
    if uri is None:
        return render_inspection(seed, product_id, defect_type, severity, size).pixels
    ref = parse_synthetic_uri(uri)
    if ref is not None:
        return ref.render(defect_type, severity, size).pixels
    path = local_path(uri)
    if path is None:
        raise ValueError(f"cannot load image {uri!r}: only local paths and synthetic:// URIs")
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))
