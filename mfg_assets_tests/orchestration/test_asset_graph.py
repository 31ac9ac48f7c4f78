"""Snapshot of the asset graph: every change to keys, deps, partitions, checks or policies is
deliberate. Regenerate with ``UPDATE_SNAPSHOTS=1 make test`` and review the diff."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mfg_assets.definitions import defs
from mfg_assets_tests.graph_snapshot import describe

SNAPSHOT = Path(__file__).parent / "asset_graph.snapshot.json"


def test_asset_graph_matches_snapshot():
    current = json.loads(json.dumps(describe(defs), default=str))
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert SNAPSHOT.exists(), f"no snapshot at {SNAPSHOT}: run with UPDATE_SNAPSHOTS=1"
    assert current == json.loads(SNAPSHOT.read_text()), (
        "asset graph changed: review, then UPDATE_SNAPSHOTS=1 to accept"
    )


def test_every_asset_has_partitions_and_freshness():
    for key, node in describe(defs)["assets"].items():
        assert node["partitions"] is not None, f"{key} has no partitions"
        assert node["freshness"] is not None, f"{key} has no freshness policy"
