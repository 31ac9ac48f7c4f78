"""Inspection drift on real images (NEU-DET): the image-statistics and defect-mix drift that
``inspection_drift_report`` computes stay quiet on an unshifted held-out batch and flag the
same batch darkened or blurred, and a batch where one class's share is tripled."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from PIL import Image, ImageFilter

from mfg_assets.plant.importers.datasets import dataset

SOURCE = dataset("neu_det")
pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.skipif(
        SOURCE is None, reason="NEU-DET not found (MFG_DATASETS_DIR or ../shared/datasets/neu_det)"
    ),
]


@pytest.fixture(scope="module")
def batches() -> dict[str, pl.DataFrame]:
    """The 1,800 inspections in the importer's (class-stratified) time order: the first 70 %
    are the reference, the last 15 % the held-out batch; the 30 % after the reference feed the
    tripled-share batch."""
    from mfg_assets.plant.importers.neu_det import read_pairs, severity, stratified_order
    from mfg_assets.plant.importers.report import FileReport
    from mfg_assets.plant.inspection_classes import plant_classes

    classes = plant_classes("neu_det")
    ordered = stratified_order(read_pairs(SOURCE, classes, FileReport("neu")), classes.detector)  # type: ignore[arg-type]
    frame = pl.DataFrame(
        {
            "product_id": [f"neu-{p.stem}" for p in ordered],
            "defect_type": [p.main_class for p in ordered],
            "severity": [severity(p.annotation) for p in ordered],
            "image_uri": [str(p.image) for p in ordered],
        }
    )
    n = frame.height
    rest = frame.slice(int(n * 0.7))
    tripled = pl.concat(
        [
            rest.filter(pl.col("defect_type") == "scratches"),  # 90 of 90
            *(
                rest.filter(pl.col("defect_type") == c).head(18)
                for c in classes.detector
                if c != "scratches"
            ),
        ]
    )
    return {
        "reference": frame.head(int(n * 0.7)),
        "held_out": frame.slice(int(n * 0.85)),
        "tripled": tripled,
    }


def _pixels(frame: pl.DataFrame) -> list[np.ndarray]:
    out = []
    for uri in frame["image_uri"]:
        with Image.open(uri) as image:
            out.append(np.asarray(image.convert("RGB")))
    return out


def test_image_drift_quiet_on_held_out_and_flags_darkened_or_blurred(batches) -> None:
    from mfg_assets.monitoring.images import image_drift, image_stats, inspection_image_stats

    reference = inspection_image_stats(batches["reference"], max_images=300, seed=1)
    held_out = batches["held_out"]
    quiet = image_drift(inspection_image_stats(held_out, max_images=300), reference)
    assert quiet.ok and quiet.current_rows == 270
    assert quiet.dataset_drift is False, quiet.drifted_columns
    pixels = _pixels(held_out)
    darker = image_drift(
        image_stats([(p.astype(np.float32) * 0.6).astype(np.uint8) for p in pixels]), reference
    )
    assert darker.dataset_drift is True
    assert {"brightness", "red_mean", "green_mean", "blue_mean"} <= set(darker.drifted_columns)
    blurred = image_drift(
        image_stats(
            np.asarray(Image.fromarray(p).filter(ImageFilter.GaussianBlur(2))) for p in pixels
        ),
        reference,
    )
    assert blurred.dataset_drift is True
    assert {"edge_density", "high_freq_energy"} <= set(blurred.drifted_columns)


def test_defect_mix_drift_flags_a_tripled_class_share(batches) -> None:
    from mfg_assets.monitoring.images import defect_mix, defect_mix_drift

    quiet = defect_mix_drift(batches["held_out"], batches["reference"])
    assert quiet.dataset_drift is False
    tripled = defect_mix_drift(batches["tripled"], batches["reference"])
    assert defect_mix(batches["tripled"])["scratches"] == pytest.approx(0.5)
    assert tripled.dataset_drift is True
    assert tripled.columns[0].score > quiet.columns[0].score
