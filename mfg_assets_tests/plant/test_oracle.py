"""The simulator's oracle: the failure probability within the horizon from the hidden wear and
fault state. Faults start at random, so even the oracle does not rank labels perfectly (the
issue measured its test ROC AUC between 0.86 and 0.98 across splits)."""

from __future__ import annotations

import numpy as np

from mfg_assets.models.maintenance.confidence import roc_auc
from mfg_assets.plant import PlantConfig, PlantSimulator
from mfg_assets.plant.wear import HAZARD_BASE, failure_probability
from mfg_assets_tests.plant.plants import DAY, EPOCH, HOUR
from mfg_assets_tests.plant.test_wear import hourly_labels


def test_probability_rises_with_wear_and_is_certain_during_a_fault() -> None:
    wear = np.array([0.0, 0.5, 0.9, 1.2, 0.1])
    p = failure_probability(wear, np.full(5, 0.005), np.array([0, 0, 0, 0, 1]), 24.0)
    assert np.all(np.diff(p[:4]) > 0) and p[4] == 1.0
    # no wear: only the base hazard, over the hours whose 2-10 h fault still ends in time
    assert HAZARD_BASE * 14 < p[0] < HAZARD_BASE * 22
    assert p[3] > 0.95
    # a 6 h horizon cannot hold every developing fault: no certainty then
    assert failure_probability(wear[4:], np.full(1, 0.005), np.ones(1), 6.0)[0] < 1.0


def test_oracle_ranks_the_labels_of_a_simulated_plant() -> None:
    sim = PlantSimulator(PlantConfig(machines=6, seed=3, epoch=EPOCH))
    labels = hourly_labels(sim, EPOCH + 10 * DAY)
    scores = np.concatenate(
        [
            sim.failure_probability(
                machine,
                [h + HOUR for h in labels.filter(labels["machine_id"] == machine)["hour"]],
                24.0,
            )
            for machine in sim.machine_ids
        ]
    )
    y = np.concatenate(
        [
            labels.filter(labels["machine_id"] == m)["label"].to_numpy().astype(float)
            for m in sim.machine_ids
        ]
    )
    assert y.sum() > 20
    assert roc_auc(y, scores) > 0.8
    # every hour with a fault already developing fails within the horizon: certain, and right
    certain = scores == 1.0
    assert certain.any() and y[certain].all()
    assert scores.min() >= 0 and scores.max() <= 1
