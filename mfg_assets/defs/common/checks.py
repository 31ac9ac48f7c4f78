"""Turning plain quality results into Dagster asset check results."""

from __future__ import annotations

import dagster as dg

from mfg_assets.features.quality import QualityResult


def check_result(name: str, asset: str, result: QualityResult) -> dg.AssetCheckResult:
    """An ``AssetCheckResult`` carrying the rule's severity, description and metadata."""
    return dg.AssetCheckResult(
        check_name=name,
        asset_key=dg.AssetKey(asset),
        passed=result.passed,
        severity=dg.AssetCheckSeverity[result.severity],
        description=result.description,
        metadata=result.metadata,
    )


def specs(asset: str, descriptions: dict[str, str]) -> list[dg.AssetCheckSpec]:
    """Check specs for ``asset`` from ``{name: description}``."""
    return [
        dg.AssetCheckSpec(name, asset=asset, description=text)
        for name, text in descriptions.items()
    ]
