"""The Dagster UI shows which plant definition is active: code location metadata, and ``plant``
metadata plus a closing line in the description of every asset."""

from __future__ import annotations

import dagster as dg
import pytest


def test_every_asset_names_the_active_plant(monkeypatch: pytest.MonkeyPatch) -> None:
    from mfg_assets.definitions import build_definitions

    monkeypatch.delenv("MFG_PLANT", raising=False)
    defs = build_definitions()
    assert defs.metadata["plant"].value == "simulator"
    assert "scratch" in defs.metadata["plant_inspections"].value
    graph = defs.resolve_asset_graph()
    keys = [k for k in graph.get_all_asset_keys() if not graph.get(k).is_external]
    assert len(keys) > 10
    for key in keys:
        node = graph.get(key)
        assert node.metadata["plant"] == "simulator", key
        assert "Plant **simulator** (the definition MFG_PLANT selects)" in (
            node.description or ""
        ), key
    features = graph.get(dg.AssetKey("machine_hourly_features"))
    assert "vibration [mm/s, 0…50, every 10 s]" in features.metadata["plant_sensors"]
    # the asset's own description still leads
    assert features.description.startswith("One row per machine and hour")
