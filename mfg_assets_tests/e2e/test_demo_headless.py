"""The headless `make demo` path, end to end in a subprocess, on a small plant."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def small_experiment(tmp_path: Path) -> Path:
    """The default experiment, shorter, with a gate a 3-day plant can meet."""
    import yaml

    from mfg_assets.models.config import experiment_path

    config = yaml.safe_load(experiment_path("maintenance_default").read_text())
    config["experiment"]["name"] = "maintenance_demo_test"
    config["training"]["epochs"] = 20
    config["training"]["scheduler"]["T_max"] = 20
    config["promotion"]["threshold"] = 0.5
    path = tmp_path / "maintenance_demo_test.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_headless_demo_runs_the_pipeline_and_exits_zero(tmp_path: Path):
    env = {
        **os.environ,
        "MFG_DEMO_HEADLESS": "1",
        "MFG_DEMO_DAYS": "4",
        "MFG_DEMO_MACHINES": "8",
        "MFG_DEMO_EXPERIMENT": str(small_experiment(tmp_path)),
        "MFG_DATA_DIR": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    env.pop("MFG_PARTITIONS_START", None)
    proc = subprocess.run(
        [sys.executable, "-m", "mfg_assets.demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "headless demo finished" in out
    assert "machine_hourly_features      96" in out
    assert "maintenance_champion         1" in out
    assert "maintenance_model champion: version 1" in out
    assert "failed" not in out.split("checks:")[1].split("| stage")[0]

    # The runs are recorded in the demo's instance, as the UI will show them.
    import dagster as dg

    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    try:
        with dg.DagsterInstance.get() as instance:
            keys = instance.get_materialized_partitions(dg.AssetKey("machine_hourly_features"))
            assert len(keys) == 96
    finally:
        os.environ.pop("DAGSTER_HOME", None)
    assert (tmp_path / "data" / "plant.db").exists()
    assert (tmp_path / "dagster_home" / "dagster.yaml").exists()
