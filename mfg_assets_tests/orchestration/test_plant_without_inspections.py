"""A plant without quality inspections has no defect assets: the Azure definition
(``inspections.enabled: false``) loads without the defect model, its bento, inspection drift
and the defect training job; the simulator keeps all of them."""

from __future__ import annotations

import dagster as dg
import pytest

DEFECT_ASSETS = {
    "defect_dataset",
    "defect_detector",
    "defect_detector_evaluation",
    "defect_champion",
    "defect_bento",
    "inspection_drift_report",
}


def _loaded(monkeypatch: pytest.MonkeyPatch, plant: str | None) -> dg.Definitions:
    from mfg_assets.definitions import build_definitions

    if plant is None:
        monkeypatch.delenv("MFG_PLANT", raising=False)
    else:
        monkeypatch.setenv("MFG_PLANT", plant)
    return build_definitions()


def _asset_names(defs: dg.Definitions) -> set[str]:
    return {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}


def test_plant_without_inspections_has_no_defect_assets(monkeypatch: pytest.MonkeyPatch) -> None:
    defs = _loaded(monkeypatch, "azure_pdm")
    names = _asset_names(defs)
    assert not names & DEFECT_ASSETS
    assert {"failure_labels", "maintenance_model", "maintenance_bento"} <= names
    jobs = {j.name for j in defs.get_repository_def().get_all_jobs()}
    assert "defect_training_job" not in jobs
    assert "maintenance_training_job" in jobs
    groups = {defs.resolve_asset_graph().get(dg.AssetKey(n)).group_name for n in names}
    assert "defect_model" not in groups


def test_simulator_keeps_its_defect_assets(monkeypatch: pytest.MonkeyPatch) -> None:
    defs = _loaded(monkeypatch, None)
    assert _asset_names(defs) >= DEFECT_ASSETS
    assert "defect_training_job" in {j.name for j in defs.get_repository_def().get_all_jobs()}
