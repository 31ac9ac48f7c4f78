"""Experiments come only from the shipped folder or MFG_EXPERIMENTS_DIR (issue 18, finding 5).

Run config names the experiment, so a path elsewhere must be refused before it is opened, and no
error may quote a file's lines. Each refused file here holds a marker that would show up in the
error if the file had been read and parsed.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest
import yaml

from mfg_assets.defs.common.model_lifecycle import load_experiment_config
from mfg_assets.models.config import (
    EXPERIMENTS_DIR,
    ExperimentConfigError,
    experiment_path,
    load_experiment,
)

SECRET = "plant-secret-7f3a"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside every experiments folder, YAML-broken so parsing it would echo it."""
    path = tmp_path / "outside" / "secret.yaml"
    path.parent.mkdir()
    path.write_text(f"training: [{SECRET}\n")
    return path


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "experiments"
    folder.mkdir()
    monkeypatch.setenv("MFG_EXPERIMENTS_DIR", str(folder))
    return folder


def refused_message(name: str | Path) -> str:
    with pytest.raises(ExperimentConfigError) as caught:
        load_experiment(name)
    message = str(caught.value)
    assert "no experiment file" in message and "experiment must name" in message
    assert SECRET not in message
    return message


def test_paths_outside_the_experiments_folders_are_refused_unread(
    outside: Path, configured: Path
) -> None:
    relative = os.path.relpath(outside, EXPERIMENTS_DIR)
    for name in (
        outside,
        str(outside),
        str(EXPERIMENTS_DIR / relative),  # .. out of the shipped folder
        str(configured / ".." / "outside" / "secret.yaml"),
        "../../../../etc/passwd",
        "/etc/passwd",
        "~/.ssh/id_rsa",
    ):
        refused_message(name)


def test_symlinks_leading_out_of_a_folder_are_refused(outside: Path, configured: Path) -> None:
    (configured / "escape.yaml").symlink_to(outside)
    refused_message("escape")
    refused_message(configured / "escape.yaml")


def test_non_yaml_files_inside_a_folder_are_refused(configured: Path) -> None:
    (configured / "notes.txt").write_text(SECRET)
    refused_message(configured / "notes.txt")
    refused_message("notes.txt")


def test_configured_folder_serves_names_and_paths(configured: Path) -> None:
    raw = yaml.safe_load((EXPERIMENTS_DIR / "maintenance_default.yaml").read_text())
    raw["experiment"]["name"] = "line_7"
    (configured / "line_7.yaml").write_text(yaml.safe_dump(raw))
    assert load_experiment("line_7").experiment.name == "line_7"
    assert load_experiment(configured / "line_7.yaml").experiment.name == "line_7"
    assert experiment_path("maintenance_default") == EXPERIMENTS_DIR / "maintenance_default.yaml"


def test_yaml_errors_name_the_position_not_the_lines(configured: Path) -> None:
    (configured / "broken.yaml").write_text(f"training:\n  epochs: [{SECRET}\n")
    with pytest.raises(ExperimentConfigError, match="not valid YAML at line") as caught:
        load_experiment("broken")
    assert SECRET not in str(caught.value)


def test_run_config_failure_names_the_field_not_the_file(outside: Path) -> None:
    """What `{"experiment": "../../../../etc/passwd"}` on maintenance_model ends in."""
    for name in ("../../../../etc/passwd", str(outside)):
        with pytest.raises(dg.Failure) as caught:
            load_experiment_config(name, kind="maintenance")
        message = str(caught.value)
        assert "experiment must name" in message
        assert SECRET not in message and "root:" not in message
