"""Failures follow the hidden wear: sensors and defects rise before them, counts hit the targets."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from mfg_assets.plant import DirtConfig, PlantConfig, PlantSimulator
from mfg_assets_tests.plant.plants import DAY, EPOCH, HOUR, small_config


def within_hours_before_failure(frame: pl.DataFrame, ts: str, failures: pl.DataFrame, hours: int):
    """Rows of ``frame`` in the ``hours`` before a failure of the same machine."""
    window = failures.select(
        "machine_id", (pl.col("ts") - timedelta(hours=hours)).alias("lo"), pl.col("ts").alias("hi")
    )
    joined = frame.join(window, on="machine_id").filter(pl.col(ts).is_between("lo", "hi", "left"))
    return joined.select(frame.columns).unique(maintain_order=True)


def hourly_labels(sim: PlantSimulator, end, horizon: timedelta = timedelta(hours=24)):
    """Per running machine-hour: does a failure follow within ``horizon`` after the hour ends?"""
    events = sim.events(EPOCH, end + horizon)
    rows = []
    for machine in sim.machine_ids:
        mine = events.filter(pl.col("machine_id") == machine)
        failures = mine.filter(pl.col("event_type") == "failure")["ts"].to_list()
        repairs = mine.filter(pl.col("event_type") == "maintenance")["ts"].to_list()
        down = [(f, min((r for r in repairs if r > f), default=end + horizon)) for f in failures]
        hour = EPOCH
        while hour < end:
            if not any(lo <= hour and hour + HOUR <= hi for lo, hi in down):
                label = any(hour + HOUR < f <= hour + HOUR + horizon for f in failures)
                rows.append((machine, hour, label))
            hour += HOUR
    return pl.DataFrame(rows, schema=["machine_id", "hour", "label"], orient="row")


def auc(score: np.ndarray, label: np.ndarray) -> float:
    ranks = np.empty(len(score))
    ranks[np.argsort(score)] = np.arange(1, len(score) + 1)
    positives = label.sum()
    negatives = len(label) - positives
    return float((ranks[label].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def test_vibration_and_defects_rise_before_failures() -> None:
    config = small_config(
        machines=6, sample_interval_s=60, dirt=DirtConfig.clean(), inspections_per_machine_hour=40
    )
    sim = PlantSimulator(config)
    batch = sim.generate(EPOCH, EPOCH + 4 * DAY)
    failures = batch.events.filter(pl.col("event_type") == "failure")
    assert failures.height >= 3

    vibration = batch.readings.filter(pl.col("sensor_type") == "vibration")
    before = within_hours_before_failure(vibration, "ts", failures, hours=6)
    assert before["value"].mean() > vibration["value"].mean() + 1.0

    checks = batch.inspections.with_columns(defect=pl.col("defect_type") != "normal")
    checks_before = within_hours_before_failure(checks, "inspection_time", failures, hours=6)
    assert checks_before["defect"].mean() > 2 * checks["defect"].mean()


def test_failure_risk_is_learnable_but_no_clean_threshold() -> None:
    config = small_config(machines=8, sample_interval_s=60, dirt=DirtConfig.clean())
    sim = PlantSimulator(config)
    end = EPOCH + 6 * DAY
    readings = sim.readings(EPOCH, end).filter(pl.col("sensor_type") == "vibration")
    hourly = readings.group_by("machine_id", hour=pl.col("ts").dt.truncate("1h")).agg(
        mean=pl.col("value").mean()
    )
    data = hourly.join(hourly_labels(sim, end), on=["machine_id", "hour"])
    score = auc(data["mean"].to_numpy(), data["label"].to_numpy())
    assert 0.7 < score < 0.97


@pytest.mark.parametrize("seed", [7, 1, 2, 3])
def test_default_plant_hits_failure_targets(seed: int) -> None:
    """20 machines × 7 days: 20–60 failures, 8–30 % of machine-hours fail within 24 h."""
    sim = PlantSimulator(PlantConfig(seed=seed, epoch=EPOCH))
    end = EPOCH + 7 * DAY
    events = sim.events(EPOCH, end)
    failures = events.filter(pl.col("event_type") == "failure").height
    assert 20 <= failures <= 60
    assert events.filter(pl.col("event_type") == "maintenance").height >= failures - 20
    positive_rate = hourly_labels(sim, end)["label"].mean()
    assert 0.08 <= positive_rate <= 0.30
