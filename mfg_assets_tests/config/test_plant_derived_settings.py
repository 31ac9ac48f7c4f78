"""Settings the active plant definition supplies when the environment does not: where the
hourly partitions start and the label horizon."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mfg_assets.plant.definition import SHIPPED_DIR, DefinitionError, load_definition
from mfg_assets.settings import label_horizon_hours, partitions_start


def test_azure_plant_partitions_start_where_its_data_starts(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MFG_PARTITIONS_START", raising=False)
    monkeypatch.setenv("MFG_PLANT", "azure_pdm")
    assert partitions_start() == datetime(2015, 1, 1, 6, tzinfo=UTC)
    monkeypatch.setenv("MFG_PARTITIONS_START", "2015-02-01")  # the setting wins
    assert partitions_start() == datetime(2015, 2, 1, tzinfo=UTC)
    monkeypatch.delenv("MFG_PARTITIONS_START")
    monkeypatch.setenv("MFG_PLANT", "simulator")  # declares none: the default
    assert partitions_start() == datetime(2026, 11, 1, tzinfo=UTC)


def test_label_horizon_comes_from_the_definition_unless_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    text = (
        (SHIPPED_DIR / "azure_pdm.yaml")
        .read_text()
        .replace("horizon_hours: 24", "horizon_hours: 12")
    )
    (tmp_path / "short.yaml").write_text(text.replace("name: azure_pdm", "name: short"))
    monkeypatch.setenv("MFG_PLANT_DEFINITIONS_DIR", str(tmp_path))
    monkeypatch.setenv("MFG_PLANT", "short")
    monkeypatch.delenv("MFG_LABEL_HORIZON_HOURS", raising=False)
    assert label_horizon_hours() == 12
    monkeypatch.setenv("MFG_LABEL_HORIZON_HOURS", "36")
    assert label_horizon_hours() == 36


def test_a_bad_partitions_start_names_the_file_and_field(tmp_path: Path):
    text = (SHIPPED_DIR / "azure_pdm.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("partitions_start: 2015-01-01-06:00", "partitions_start: soon"))
    with pytest.raises(DefinitionError, match=r"bad.yaml: partitions_start: 'soon' is not a date"):
        load_definition(bad)
