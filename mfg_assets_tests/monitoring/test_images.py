"""Image-statistics drift (supplier_change's new surface look) and defect class mix drift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from mfg_assets.monitoring.images import (
    IMAGE_STAT_COLUMNS,
    defect_mix,
    defect_mix_drift,
    image_drift,
    image_statistics,
    image_stats,
    inspection_image_stats,
)

EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_statistics_of_hand_made_images() -> None:
    flat = np.full((32, 32, 3), 100, dtype=np.uint8)
    stats = image_statistics(flat)
    assert stats["brightness"] == pytest.approx(100.0, abs=1e-3)
    assert stats["contrast"] == pytest.approx(0.0, abs=1e-3)
    assert stats["edge_density"] == stats["high_freq_energy"] == stats["dark_fraction"] == 0.0
    assert stats["warmth"] == pytest.approx(1.0)

    checker = (np.indices((32, 32)).sum(axis=0) % 2 * 200).astype(np.uint8)  # grey, 2-D
    busy = image_statistics(checker)
    assert busy["high_freq_energy"] > 500 and busy["dark_fraction"] == pytest.approx(0.5)
    stripes = np.zeros((32, 32), dtype=np.uint8)
    stripes[:, ::4] = 200  # a vertical line every 4 px: gradient on both sides of each line
    assert image_statistics(stripes)["edge_density"] == pytest.approx(0.5, abs=0.05)

    warm = np.zeros((16, 16, 3), dtype=np.uint8)
    warm[..., 0], warm[..., 1], warm[..., 2] = 120, 100, 80
    stats = image_statistics(warm)
    assert (stats["red_mean"], stats["green_mean"], stats["blue_mean"]) == (120, 100, 80)
    assert stats["warmth"] == pytest.approx(1.5)

    frame = image_stats(np.stack([flat, warm[:16, :16].repeat(2, 0).repeat(2, 1)]))
    assert frame.columns == list(IMAGE_STAT_COLUMNS) and frame.height == 2
    with pytest.raises(ValueError, match="H x W x 3"):
        image_statistics(np.zeros((4, 4, 2)))


@pytest.fixture(scope="module")
def plant_images() -> dict[str, pl.DataFrame]:
    """Image statistics of a 5-machine plant (60 inspections an hour): 6 clean hours as the
    reference (360 images), 5 more clean hours and the first 5 hours of ``supplier_change``
    (300 images each) - the same plant, so the only difference after the start is the
    scenario."""
    from mfg_assets.plant.config import DirtConfig, PlantConfig
    from mfg_assets.plant.scenarios import scenario_spec
    from mfg_assets.plant.simulator import PlantSimulator

    clean = PlantConfig(machines=5, seed=5, sample_interval_s=60, epoch=EPOCH, dirt=DirtConfig())
    start = EPOCH + 11 * HOUR
    changed = PlantSimulator(clean.with_scenario(scenario_spec("supplier_change", start)))
    windows = {
        "reference": (changed.inspections(EPOCH, EPOCH + 6 * HOUR), 360),
        "clean": (changed.inspections(EPOCH + 6 * HOUR, start), 300),
        "supplier_change": (changed.inspections(start, start + 5 * HOUR), 300),
    }
    assert windows["supplier_change"][0]["image_uri"][0].startswith("synthetic://supplier_b/")
    assert windows["clean"][0]["image_uri"][0].startswith("synthetic://standard/")
    return {
        name: inspection_image_stats(rows, max_images=n, seed=i, plant_seed=clean.seed, size=128)
        for i, (name, (rows, n)) in enumerate(windows.items())
    }


def test_supplier_change_images_drift_and_clean_images_do_not(
    evidently: object, plant_images: dict[str, pl.DataFrame]
) -> None:
    reference = plant_images["reference"]
    assert (reference.height, plant_images["clean"].height) == (360, 300)
    assert {"product_id", "machine_id", "defect_type"} <= set(reference.columns)
    clean = image_drift(plant_images["clean"], reference)
    changed = image_drift(plant_images["supplier_change"], reference)
    assert clean.ok and clean.dataset_drift is False and clean.drifted_columns == []
    assert changed.ok and changed.dataset_drift is True
    # supplier_b: 15 % brighter, warm tint, coarse machining marks
    assert {"brightness", "warmth", "red_mean", "contrast"} <= set(changed.drifted_columns)
    assert changed.scores["brightness"] > 1.0 and changed.scores["warmth"] > 1.0
    assert max(clean.scores.values()) < 0.3  # the 0.5 threshold is not a near miss
    assert changed.as_metadata()["kind"] == "image_stats"


def test_too_few_images_are_skipped(plant_images: dict[str, pl.DataFrame]) -> None:
    result = image_drift(plant_images["clean"].head(60), plant_images["reference"])
    assert result.status == "skipped" and "60 rows; at least 100" in (result.reason or "")


def _inspections(n: int, seed: int, shares: dict[str, float]) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    kinds = list(shares)
    p = np.array([shares[k] for k in kinds])
    return pl.DataFrame(
        {
            "machine_id": [f"M{m:03d}" for m in rng.integers(1, 21, n)],
            "defect_type": rng.choice(kinds, size=n, p=p / p.sum()),
        }
    )


BASE_MIX = {
    "normal": 0.947,
    "scratch": 0.018,
    "dent": 0.011,
    "crack": 0.009,
    "contamination": 0.015,
}
# supplier_change: defect probability x2.5, contamination x3 among defects
SUPPLIER_MIX = {
    "normal": 0.87,
    "scratch": 0.028,
    "dent": 0.017,
    "crack": 0.014,
    "contamination": 0.071,
}


def test_defect_mix_drift(evidently: object) -> None:
    """A week of inspections (40,000) against a day (5,000), as on a 20-machine plant."""
    reference = _inspections(40_000, 1, BASE_MIX)
    same = defect_mix_drift(_inspections(5000, 2, BASE_MIX), reference)
    shifted = defect_mix_drift(_inspections(5000, 3, SUPPLIER_MIX), reference)
    assert same.ok and same.dataset_drift is False and same.scores["defect_type"] < 0.035
    assert shifted.ok and shifted.dataset_drift is True
    assert shifted.drifted_columns == ["defect_type"]
    assert shifted.columns[0].method == "jensenshannon" and shifted.columns[0].threshold == 0.07
    meta = shifted.as_metadata()
    assert meta["kind"] == "defect_mix"
    assert meta["current_mix"]["contamination"] == pytest.approx(0.071, abs=0.01)
    assert list(meta["reference_mix"])[0] == "normal"


def test_defect_mix_bad_input() -> None:
    reference = _inspections(1000, 1, BASE_MIX)
    assert defect_mix_drift(reference.head(0), reference).reason == (
        "current window is empty (0 rows)"
    )
    missing = defect_mix_drift(reference.drop("defect_type"), reference)
    assert missing.status == "skipped"
    assert missing.reason == "columns missing from the current window: defect_type"
    assert defect_mix_drift(reference, None).status == "skipped"
    assert defect_mix(reference.head(0)) == {}
