"""The one settings object: typed, read at use, documented in the README."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mfg_assets import settings as settings_module
from mfg_assets.settings import SettingsError, get_settings, markdown_table

ROOT = Path(__file__).resolve().parents[2]


def test_readme_configuration_table_is_generated_from_settings() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- settings:begin -->\n(.*?)\n<!-- settings:end -->", readme, re.S)
    assert block, "README lost its settings markers"
    assert block.group(1) == markdown_table(), "run `python -m mfg_assets.settings` into README"


def test_settings_are_read_at_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MFG_LABEL_HORIZON_HOURS", "12")
    assert get_settings().mfg_label_horizon_hours == 12
    assert get_settings() is get_settings()  # unchanged environment: the validated read is reused
    monkeypatch.setenv("MFG_LABEL_HORIZON_HOURS", "36")
    assert settings_module.label_horizon_hours() == 36
    monkeypatch.setenv("MFG_LABEL_HORIZON_HOURS", "")  # empty = unset
    assert get_settings().mfg_label_horizon_hours == 24


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("MFG_LABEL_HORIZON_HOURS", "0", "greater than or equal to 1"),
        ("MFG_SERVING_BATCHING", "maybe", "valid boolean"),
        ("MFG_STORAGE_URI", "gs://bucket", "s3://"),
        ("MFG_PARTITIONS_START", "yesterday", "not a date"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name) as info:
        get_settings()
    assert problem in str(info.value)


def test_region_falls_back_to_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    assert get_settings().aws_region == "eu-central-1"


def test_no_module_reads_the_environment_outside_settings() -> None:
    """Settings have one home: nothing else in the package or the bentos reads os.environ."""
    offenders = []
    pattern = re.compile(r"os\.environ|os\.getenv|getenv\(")
    for folder in ("mfg_assets", "bentos"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == ROOT / "mfg_assets" / "settings.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_code_location_imports_no_heavy_library() -> None:
    code = (
        "import sys, mfg_assets.definitions\n"
        "heavy = {'torch', 'ultralytics', 'evidently', 'feast', 'mlflow', 'bentoml'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_experiment_horizon_must_match_the_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    """The YAML's data.horizon_hours is what the model predicts, so it must be the labels'."""
    import dagster as dg

    from mfg_assets.defs.maintenance import MaintenanceTrainingConfig, _load_config

    config = MaintenanceTrainingConfig(experiment="maintenance_default")
    monkeypatch.setenv("MFG_LABEL_HORIZON_HOURS", "24")
    assert _load_config(config).data.horizon_hours == 24
    monkeypatch.setenv("MFG_LABEL_HORIZON_HOURS", "12")
    with pytest.raises(dg.Failure, match="data.horizon_hours is 24 but failure_labels look 12 h"):
        _load_config(config)
