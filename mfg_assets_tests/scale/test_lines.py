"""A plant split by production line: the split itself, and the hour it builds equals the
single-step build (in this process; test_celery_workers.py runs it on Celery workers)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mfg_assets.defs.ingestion import machine_events, quality_inspections, sensor_readings
from mfg_assets.defs.lines import features_of, hourly_feature_assets, line_feature_assets
from mfg_assets.scale.lines import REST, machines_by_group, parse_lines, rows_of_group
from mfg_assets_tests.integration.plant_fixtures import HOUR_KEY, resources
from mfg_assets_tests.scale.plant import (
    LINES,
    OUTPUTS,
    read_output,
    seed_lines_plant,
    single_process_reference,
    stray_files,
)


def test_parse_lines():
    assert parse_lines(None) == () and parse_lines(" ") == ()
    assert parse_lines("L1, L2") == ("L1", "L2")
    for bad in ("L1,L1", "L-1", f"L1,{REST}", "L1,,L2"):
        with pytest.raises(ValueError, match="MFG_PLANT_LINES"):
            parse_lines(bad)


def test_every_row_goes_to_exactly_one_group():
    machines = pl.DataFrame(
        {"machine_id": ["M1", "M2", "M3", "M4"], "line": ["L1", "L1", "L2", "L3"]}
    )
    groups = machines_by_group(machines, ("L1", "L2"))
    assert groups == {"L1": ["M1", "M2"], "L2": ["M3"], REST: ["M4"]}
    rows = pl.DataFrame({"machine_id": ["M1", "M3", "M4", "M9", None, "M2"], "i": range(6)})
    parts = {g: rows_of_group(rows, g, groups)["i"].to_list() for g in groups}
    assert parts == {"L1": [0, 5], "L2": [1], REST: [2, 3, 4]}


def test_default_graph_is_unchanged_without_lines():
    from mfg_assets.defs.features import machine_hourly_features

    assert hourly_feature_assets(()) == [machine_hourly_features]
    keys = {k.to_user_string() for a in hourly_feature_assets(LINES) for k in a.keys}
    assert {features_of(g) for g in (*LINES, REST)} <= keys
    assert {"machine_hourly_features", "quarantined_readings"} <= keys


def test_line_split_equals_single_step(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'plant.db'}"
    seed_lines_plant(url)
    single_process_reference(url, tmp_path / "reference")
    warehouse = tmp_path / "lines"
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [
                sensor_readings,
                quality_inspections,
                machine_events,
                *line_feature_assets(LINES),
            ],
            partition_key=HOUR_KEY,
            instance=instance,
            resources=resources(url, warehouse),
        )
    assert result.success
    for asset in OUTPUTS:
        assert_frame_equal(
            read_output(warehouse, asset), read_output(tmp_path / "reference", asset)
        )
    rows = {g: read_output(warehouse, features_of(g)).height for g in (*LINES, REST)}
    assert rows == {"L1": 5, "L2": 5, REST: 10}  # 5 machines a line; L3 and L4 are the rest
    assert stray_files(warehouse) == []
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [e.check_name for e in failed if e.severity == dg.AssetCheckSeverity.ERROR] == []
