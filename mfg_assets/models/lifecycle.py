"""Model lifecycle steps every registered model shares: register a challenger, gate it against
the champion on the same held-out data, promote it.

The model-specific workflows (``models.maintenance.workflow``, ``models.defect.workflow``) train
and score; these functions do the registry side. mlflow is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mfg_assets.models.config import PromotionConfig
from mfg_assets.models.registry import (
    CHALLENGER,
    ModelRegistry,
    PromotionDecision,
    decide_promotion,
)


@dataclass(frozen=True)
class Evaluation:
    """Challenger and champion scored on the same held-out data, and the promotion decision."""

    challenger: dict[str, float]
    champion: dict[str, float] | None
    champion_version: int | None
    decision: PromotionDecision
    plots: dict[str, str]  # name → PNG path


def register_challenger(model_uri: str, model_name: str, tags: Mapping[str, str]) -> int:
    """Register ``model_uri`` (``models:/m-...``) as a new version aliased ``challenger``."""
    registry = ModelRegistry()
    version = registry.register(model_uri, model_name, tags=tags)
    registry.set_alias(model_name, CHALLENGER, version)
    return version


def gate(
    challenger: Mapping[str, float],
    champion: Mapping[str, float] | None,
    promotion: PromotionConfig,
) -> PromotionDecision:
    """The experiment's promotion rule (absolute threshold, margin over the champion)."""
    return decide_promotion(
        challenger,
        champion,
        metric=promotion.metric,
        threshold=promotion.threshold,
        margin=promotion.champion_margin,
    )


def promote(model_name: str, version: int) -> int | None:
    """Move ``champion`` to ``version``; returns the previous champion."""
    return ModelRegistry().promote(model_name, version)
