"""Every benchmark in bench/ runs to completion at a tiny size, so a bench cannot break unseen.

Each script runs in its own process with ``--smoke`` (``bench/_smoke.py``: tiny sizes, one
repeat) or, for a bench without that flag, the tiny options listed in :data:`TINY`. Nothing is
timed or compared: a smoke run proves the bench still runs end to end against the current code.
A new script in bench/ (a ``.py`` with a ``__main__`` block, not starting with ``_``) is picked up
on its own. Benches that start Feast, train a model or start servers are marked ``slow``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mfg_assets.plant.importers.datasets import dataset

BENCH = Path(__file__).resolve().parents[2] / "bench"
ROOT = BENCH.parent
# Benches that take tiny sizes through their own options instead of --smoke.
TINY: dict[str, list[str]] = {
    "cleaning_quality.py": ["--days", "1", "--machines", "2", "--scenarios", "sensor_offset"],
    "serving.py": [
        *("--duration", "1", "--clients", "1", "--defect-clients", "1"),
        *("--variants", "batched", "--defect-imgsz", "64"),
    ],
}
# External programs a bench cannot run without (it says so itself when one is missing).
NEEDS: dict[str, tuple[str, ...]] = {"serving.py": ("wrk",)}
# Public datasets a bench reads (``../shared/datasets``; absent on a user's machine).
NEEDS_DATASET: dict[str, str] = {"neu_det.py": "neu_det"}
QUICK = {"feature_etl.py", "offline_mirror_s3.py"}  # seconds, not tens of seconds
# The defect benches' real-image path: a detector of the NEU plant on NEU-DET's images.
NEU: dict[str, list[str]] = {
    "defect_inference.py": ["--smoke", "--plant", "neu_det"],
    "serving.py": [
        *TINY["serving.py"],
        *("--skip-maintenance", "--defect-plant", "neu_det", "--defect-bodies", "3"),
        *("--defect-epochs", "1", "--defect-train-per-class", "3"),
    ],
}
NEU_CLASSES = ["crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches"]
TIMEOUT_S = 600


def bench_scripts() -> list[str]:
    """Runnable scripts in bench/: helpers start with ``_``, apps have no ``__main__`` block."""
    return sorted(
        path.name
        for path in BENCH.glob("*.py")
        if not path.name.startswith("_") and 'if __name__ == "__main__":' in path.read_text()
    )


def test_benches_import_no_test_code() -> None:
    offenders = [
        f"{path.name}:{number}"
        for path in sorted(BENCH.glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.match(r"\s*(from|import)\s+mfg_assets_tests\b", line)
    ]
    assert offenders == [], (
        "benches must not import test code (move shared code into bench/ or mfg_assets)"
    )


def test_every_bench_is_smoke_tested() -> None:
    scripts = bench_scripts()
    assert {"drift_report.py", "feature_etl.py", "train_maintenance.py"} <= set(scripts)
    assert set(TINY) <= set(scripts), "TINY names a bench that no longer exists"


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(name, marks=() if name in QUICK else pytest.mark.slow)
        for name in bench_scripts()
    ],
)
def test_bench_runs_at_smoke_size(script: str, tmp_path: Path) -> None:
    _run_bench(script, TINY.get(script, ["--smoke"]), tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(
    dataset("neu_det") is None,
    reason="NEU-DET not found (MFG_DATASETS_DIR or ../shared/datasets/neu_det)",
)
@pytest.mark.parametrize("script", sorted(NEU))
def test_defect_bench_runs_on_real_neu_images(script: str, tmp_path: Path) -> None:
    stdout = _run_bench(script, NEU[script], tmp_path)
    assert "real images from" in stdout and "200x200 grey JPEG" in stdout, stdout[-2000:]
    if script == "serving.py":  # each server answered a real image with the NEU classes
        checks = [line for line in stdout.splitlines() if "POST /detect checked" in line]
        assert checks and all(str(NEU_CLASSES) in line for line in checks), stdout[-2000:]
        assert "200x200 px" in checks[0]


def _run_bench(script: str, args: list[str], tmp_path: Path) -> str:
    """Run ``bench/<script> <args>`` in its own process on a throwaway data dir; its stdout."""
    missing = [tool for tool in NEEDS.get(script, ()) if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{script} needs {', '.join(missing)} (apt-get install {' '.join(missing)})")
    name = NEEDS_DATASET.get(script)
    if name and dataset(name) is None:
        pytest.skip(f"{script} needs the {name} dataset (MFG_DATASETS_DIR or ../shared/datasets)")
    env = {
        **os.environ,
        "MFG_DATA_DIR": str(tmp_path / "data"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "BENTOML_HOME": str(tmp_path / "bentoml"),
        "YOLO_CONFIG_DIR": str(tmp_path / "ultralytics"),
        "DO_NOT_TRACK": "1",
        "BENTOML_DO_NOT_TRACK": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "YOLO_OFFLINE": "1",
    }
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    output = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, f"{script} {' '.join(args)} failed:\n{output}"
    assert proc.stdout.strip(), f"{script} printed no results"
    return proc.stdout
