"""Defect-detector monitoring: drift of simple image statistics and of the defect class mix.

A detector trained on one surface look degrades when the look changes (new supplier, new
lighting, a dirty lens) long before labels say so. Cheap per-image statistics catch that:

* ``brightness`` (mean grey level) and ``contrast`` (grey standard deviation);
* ``red_mean``/``green_mean``/``blue_mean`` and ``warmth`` (red/blue mean ratio: tint, independent
  of brightness);
* ``edge_density`` (share of pixels whose grey gradient exceeds ``EDGE_THRESHOLD`` grey levels)
  and ``high_freq_energy`` (mean absolute 4-neighbour Laplacian: fine texture and sensor noise);
* ``dark_fraction`` (share of pixels darker than 0.6 x the image median: cracks, stains, dents).

``image_stats`` computes them with numpy (a few ms per 320 x 320 image; rendering a synthetic image
costs more than its statistics), and :func:`image_drift` compares a recent set with a reference
set through the same Evidently computation as the features (:func:`compute_drift`), with its own
defaults (:data:`IMAGE_DRIFT_CONFIG`): image sets are hundreds of images, not tens of thousands of
rows, and per-image statistics vary a lot from image to image (random base brightness, lighting,
turned or brushed marks). Measured on standard-look renders, 150 images against 450 of the same
look score 0.11 on average and up to 0.36 (40 resamples); hence a 0.5 column threshold, at least
100 images a side (300 by default, noise ~0.07) and a 20 % dataset share (2 of 9 statistics:
brightness and the channel means move together, so one lighting change is already 4 columns, a
tint change alone 2). ``supplier_change`` (``supplier_b``: 15 % brighter, warm tint, coarse
machining marks) scores 0.56-9.4 on every statistic (300 images against 360).

:func:`defect_mix_drift` compares the ``defect_type`` mix of inspections (``normal`` included, so a
higher defect rate counts as well as a new mix) with Evidently's Jensen-Shannon distance. Its
threshold 0.07 comes from the 20-machine simulator: clean days score at most 0.028 against the
week before, a ``supplier_change`` day 0.130. Chi-square p-values (Evidently's choice below 1,000
reference rows) were rejected: at 5,000+ inspections a day they flag the ordinary wear-driven
wobble of the mix (p < 0.05 on 5 of 7 clean days).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import polars as pl

from mfg_assets.monitoring.drift import DriftConfig, DriftReference, DriftResult, Window
from mfg_assets.monitoring.drift import compute_drift as _compute_drift

IMAGE_STAT_COLUMNS: tuple[str, ...] = (
    "brightness",
    "contrast",
    "red_mean",
    "green_mean",
    "blue_mean",
    "warmth",
    "edge_density",
    "high_freq_energy",
    "dark_fraction",
)
EDGE_THRESHOLD = 10.0  # grey levels of gradient magnitude: above sensor noise, grooves count
DARK_RATIO = 0.6
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

# Image sets are a few hundred images: no sampling, a wider threshold (see the module docstring).
IMAGE_DRIFT_CONFIG = DriftConfig(
    num_threshold=0.5,
    drift_share=0.2,
    reference_sample_rows=None,
    min_current_rows=100,
    min_reference_rows=100,
)
DEFECT_MIX_COLUMN = "defect_type"
DEFECT_MIX_CONFIG = DriftConfig(
    cat_method="jensenshannon",
    cat_threshold=0.07,
    drift_share=1.0,
    reference_sample_rows=None,
    min_current_rows=100,
    min_reference_rows=100,
)


def image_statistics(pixels: np.ndarray) -> dict[str, float]:
    """The :data:`IMAGE_STAT_COLUMNS` of one image (H x W grey, or H x W x 3/4 RGB(A), 0-255)."""
    image = np.asarray(pixels)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or min(image.shape[:2]) < 3:
        raise ValueError(f"expected an H x W x 3 image (at least 3 x 3), got shape {image.shape}")
    rgb = image[:, :, :3].astype(np.float32)
    channel_means = rgb.mean(axis=(0, 1))
    gray = rgb @ _LUMA
    gx = gray[1:-1, 2:] - gray[1:-1, :-2]
    gy = gray[2:, 1:-1] - gray[:-2, 1:-1]
    gradient = np.sqrt(gx * gx + gy * gy) * 0.5
    laplacian = (
        4.0 * gray[1:-1, 1:-1] - gray[:-2, 1:-1] - gray[2:, 1:-1] - gray[1:-1, :-2] - gray[1:-1, 2:]
    )
    median = float(np.median(gray))
    return {
        "brightness": float(gray.mean()),
        "contrast": float(gray.std()),
        "red_mean": float(channel_means[0]),
        "green_mean": float(channel_means[1]),
        "blue_mean": float(channel_means[2]),
        "warmth": float(channel_means[0] / max(float(channel_means[2]), 1e-6)),
        "edge_density": float(np.mean(gradient > EDGE_THRESHOLD)),
        "high_freq_energy": float(np.abs(laplacian).mean()),
        "dark_fraction": float(np.mean(gray < DARK_RATIO * median)),
    }


def image_stats(images: Iterable[np.ndarray] | np.ndarray) -> pl.DataFrame:
    """One row of :data:`IMAGE_STAT_COLUMNS` per image (a sequence, or an N x H x W x 3 array)."""
    rows = [image_statistics(image) for image in images]
    return pl.DataFrame(
        {c: [row[c] for row in rows] for c in IMAGE_STAT_COLUMNS},
        schema={c: pl.Float64 for c in IMAGE_STAT_COLUMNS},
    )


def inspection_image_stats(
    inspections: pl.DataFrame,
    *,
    max_images: int | None = 300,
    seed: int = 0,
    plant_seed: int = 0,
    size: int = 160,
) -> pl.DataFrame:
    """Statistics of the images of (a seeded sample of at most ``max_images``) inspections.

    Images are read through :func:`mfg_assets.plant.images.load_inspection_image` (local files,
    or synthetic URIs rendered on demand at ``size`` pixels - compare sets of the same size).
    The frame keeps ``product_id``, ``machine_id`` and ``defect_type`` next to the statistics.
    """
    from mfg_assets.plant.images import load_inspection_image

    rows = inspections
    if max_images is not None and rows.height > max_images:
        rows = rows.sample(n=max_images, shuffle=True, seed=seed)
    keys = [c for c in ("product_id", "machine_id", "defect_type") if c in rows.columns]
    uris = rows["image_uri"] if "image_uri" in rows.columns else [None] * rows.height
    pixels = (
        load_inspection_image(uri, pid, defect, float(sev or 0.0), seed=plant_seed, size=size)
        for uri, pid, defect, sev in zip(
            uris, rows["product_id"], rows["defect_type"], rows["severity"], strict=True
        )
    )
    return pl.concat([rows.select(keys), image_stats(pixels)], how="horizontal")


def image_drift(
    current_stats: pl.DataFrame | None,
    reference_stats: pl.DataFrame | DriftReference | None,
    config: DriftConfig = IMAGE_DRIFT_CONFIG,
    *,
    columns: Sequence[str] = IMAGE_STAT_COLUMNS,
    window: Window | None = None,
    reference_window: Window | None = None,
    reference_id: str | None = None,
) -> DriftResult:
    """Drift of image statistics (:func:`image_stats` frames): the feature-drift computation."""
    return _compute_drift(
        current_stats,
        reference_stats,
        numerical_columns=list(columns),
        config=config,
        window=window,
        reference_window=reference_window,
        reference_id=reference_id,
        extra={"kind": "image_stats"},
    )


def defect_mix(inspections: pl.DataFrame) -> dict[str, float]:
    """Share of each ``defect_type`` (``normal`` included), largest first."""
    if inspections.height == 0:
        return {}
    counts = inspections.group_by(DEFECT_MIX_COLUMN).len().sort("len", descending=True)
    total = counts["len"].sum()
    return {str(k): round(n / total, 5) for k, n in counts.iter_rows()}


def defect_mix_drift(
    current_inspections: pl.DataFrame | None,
    reference_inspections: pl.DataFrame | None,
    config: DriftConfig = DEFECT_MIX_CONFIG,
    *,
    window: Window | None = None,
    reference_window: Window | None = None,
    reference_id: str | None = None,
) -> DriftResult:
    """Drift of the defect class mix of inspections (categorical ``defect_type``).

    The result has one column, ``defect_type``; ``extra`` carries both mixes
    (``current_mix``/``reference_mix``) for the metadata.
    """
    extra: dict[str, Any] = {"kind": "defect_mix"}
    for key, frame in (
        ("current_mix", current_inspections),
        ("reference_mix", reference_inspections),
    ):
        if frame is not None and DEFECT_MIX_COLUMN in frame.columns:
            extra[key] = defect_mix(frame)
    return _compute_drift(
        current_inspections,
        reference_inspections,
        categorical_columns=[DEFECT_MIX_COLUMN],
        config=config,
        window=window,
        reference_window=reference_window,
        reference_id=reference_id,
        extra=extra,
    )
