"""End-of-line inspection outcome: defect probability and defect mix as a function of wear.

A healthy machine makes ~3 % defective parts; near failure it is many times that, with more
cracks. Scenarios may reshape the draft before the outcome is decided.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mfg_assets.plant.catalog import DEFECT_CLASSES, DEFECT_TYPES

BASE_DEFECT_PROB = 0.03
DEFECT_MIX = np.array([0.35, 0.25, 0.15, 0.25])  # in DEFECT_CLASSES order
CRACK = DEFECT_CLASSES.index("crack")
NORMAL = DEFECT_TYPES.index("normal")
STANDARD_APPEARANCE = "standard"


@dataclass
class QualityDraft:
    """Per inspection: defect probability, unnormalised defect mix, surface appearance."""

    defect_prob: np.ndarray  # (n,)
    type_weights: np.ndarray  # (n, len(DEFECT_CLASSES))
    appearance: np.ndarray  # (n,) object: what the image renderer draws the surface like


def draft_quality(wear: np.ndarray, fault_progress: np.ndarray) -> QualityDraft:
    """The draft for parts made at the given wear and fault progress (0 none .. 1 failure)."""
    w = np.clip(wear, 0.0, 1.5)
    precursor = fault_progress**2
    prob = np.minimum(BASE_DEFECT_PROB + 0.45 * w**4 + 0.15 * precursor, 0.95)
    weights = np.tile(DEFECT_MIX, (len(w), 1))
    weights[:, CRACK] += 0.5 * w**2
    appearance = np.full(len(w), STANDARD_APPEARANCE, dtype=object)
    return QualityDraft(defect_prob=prob, type_weights=weights, appearance=appearance)


def decide_defects(
    draft: QualityDraft, draws: np.ndarray, severity_draw: np.ndarray, wear: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Defect type codes (index into DEFECT_TYPES) and severities (0.0 for normal parts).

    ``draws`` holds two uniforms per inspection (defect or not, which type); ``severity_draw``
    is in [0, 1).
    """
    defective = draws[:, 0] < draft.defect_prob
    cumulative = np.cumsum(draft.type_weights, axis=1)
    pick = draws[:, 1:2] * cumulative[:, -1:]
    kind = np.minimum((cumulative <= pick).sum(axis=1), len(DEFECT_CLASSES) - 1)
    codes = np.where(defective, kind, NORMAL)
    severity = np.clip(severity_draw + 0.3 * np.clip(wear, 0.0, 1.0), 0.01, 1.0)
    return codes, np.where(defective, severity, 0.0)
