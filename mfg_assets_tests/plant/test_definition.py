"""Plant definitions: the shipped files load, the simulator's agrees with the catalog, every
kind of mistake is a clear error naming the file and the field, and MFG_PLANT reads nothing
outside the shipped folder and MFG_PLANT_DEFINITIONS_DIR."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from mfg_assets.plant import catalog
from mfg_assets.plant.config import PlantConfig
from mfg_assets.plant.definition import (
    SHIPPED_DIR,
    DefinitionError,
    active_plant,
    check_source,
    load_definition,
    parse_definition,
    resolve_definition,
    shipped_definitions,
    source_problems,
)
from mfg_assets.plant.writer import PlantDB
from mfg_assets.settings import Settings
from mfg_assets_tests.plant.plants import small_config

AZURE = "plants/azure_pdm.yaml"


def azure_data() -> dict[str, Any]:
    return yaml.safe_load((SHIPPED_DIR / "azure_pdm.yaml").read_text())


def test_shipped_definitions_load() -> None:
    shipped = shipped_definitions()
    assert set(shipped) == {"simulator", "azure_pdm", "neu_det"}
    azure = load_definition(shipped["azure_pdm"])
    assert azure.sensor_names == ("volt", "rotate", "pressure", "vibration")
    assert {s.cadence_s for s in azure.sensors} == {3600}
    assert azure.label_failure_types == tuple(f"failure_comp{i}" for i in range(1, 5))
    assert azure.event_names("error") == tuple(f"error{i}" for i in range(1, 6))
    assert azure.event_names("maintenance") == tuple(f"maint_comp{i}" for i in range(1, 5))
    assert not azure.inspections.enabled
    neu = load_definition(shipped["neu_det"])
    assert neu.sensors == ()
    assert neu.inspections.classes == (
        "crazing",
        "inclusion",
        "patches",
        "pitted_surface",
        "rolled-in_scale",
        "scratches",
    )


def test_simulator_definition_agrees_with_catalog() -> None:
    plant = load_definition(shipped_definitions()["simulator"])
    assert [(s.name, s.unit, s.range, s.nominal) for s in plant.sensors] == [
        (s.name, s.unit, (s.physical_min, s.physical_max), s.nominal) for s in catalog.SENSORS
    ]
    default_interval = next(f for f in fields(PlantConfig) if f.name == "sample_interval_s").default
    assert {s.cadence_s for s in plant.sensors} == {default_interval}
    assert plant.inspections.enabled
    assert plant.inspections.classes == catalog.DEFECT_TYPES
    assert plant.inspections.normal_class == "normal"
    assert tuple(c for c in plant.inspections.classes if c != "normal") == catalog.DEFECT_CLASSES
    assert tuple(e.name for e in plant.events) == catalog.EVENT_TYPES
    assert plant.label_failure_types == ("failure",)
    assert plant.event_names("maintenance") == ("maintenance",)
    machine_type = next(a for a in plant.machines.attributes if a.name == "machine_type")
    assert machine_type.values == catalog.MACHINE_TYPES
    assert plant.label.horizon_hours == Settings.model_fields["mfg_label_horizon_hours"].default


def test_active_plant_follows_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MFG_PLANT", raising=False)
    assert active_plant().name == "simulator"
    monkeypatch.setenv("MFG_PLANT", "azure_pdm")
    assert active_plant().name == "azure_pdm"
    own = azure_data() | {"name": "line_b"}
    (tmp_path / "line_b.yaml").write_text(yaml.safe_dump(own))
    monkeypatch.setenv("MFG_PLANT_DEFINITIONS_DIR", str(tmp_path))
    monkeypatch.setenv("MFG_PLANT", "line_b")
    assert active_plant().name == "line_b"
    monkeypatch.setenv("MFG_PLANT", str(tmp_path / "line_b.yaml"))
    assert active_plant().name == "line_b"


def test_plant_paths_are_confined(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text((SHIPPED_DIR / "azure_pdm.yaml").read_text())
    folder = tmp_path / "plants"
    folder.mkdir()
    for ref, extra in (
        (str(outside), None),
        (str(outside), folder),
        ("../outside.yaml", folder),
        ("../../../../etc/passwd", None),
    ):
        with pytest.raises(DefinitionError, match="only shipped definitions"):
            resolve_definition(ref, extra)
    with pytest.raises(DefinitionError, match="no such definition"):
        resolve_definition("no_such_plant", folder)
    assert resolve_definition("azure_pdm.yaml") == SHIPPED_DIR / "azure_pdm.yaml"
    assert resolve_definition("azure_pdm.yaml", folder) == SHIPPED_DIR / "azure_pdm.yaml"
    (folder / "sneaky.yaml").symlink_to(outside)  # a link out of the folder is outside too
    with pytest.raises(DefinitionError, match="only shipped definitions"):
        resolve_definition("sneaky", folder)


def _error(mutate: Any) -> str:
    data = azure_data()
    mutate(data)
    with pytest.raises(DefinitionError) as caught:
        parse_definition(data, AZURE)
    return str(caught.value)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["sensors"]["volt"].update(range=[300, 250]),
            f"{AZURE}: sensors.volt.range: lower bound 300 above upper bound 250",
        ),
        (
            lambda d: d["sensors"]["rotate"].update(range=[10, 10]),
            f"{AZURE}: sensors.rotate.range: lower bound 10 equals upper bound",
        ),
        (
            lambda d: d["sensors"]["volt"].update(unit="volts"),
            f"{AZURE}: sensors.volt.unit: unknown unit 'volts'",
        ),
        (
            lambda d: d["sensors"]["volt"].update(unit=""),
            f"{AZURE}: sensors.volt.unit: unknown unit ''",
        ),
        (
            lambda d: d["sensors"]["volt"].update(nominal=500),
            f"{AZURE}: sensors.volt: nominal 500 outside the range [0, 400]",
        ),
        (
            lambda d: d["sensors"]["volt"].update(cadence="often"),
            f"{AZURE}: sensors.volt: 'often' is not a cadence",
        ),
        (
            lambda d: d["features"]["event_counts"][0]["event_types"].append("error9"),
            f"{AZURE}: features.event_counts.0.event_types: unknown event type 'error9'",
        ),
        (
            lambda d: d["events"].append(
                {"name": "failure_x", "kind": "failure", "component": "x"}
            ),
            f"{AZURE}: events.failure_x.component: unknown component 'x'",
        ),
        (
            lambda d: d["label"].update(failure_types=["error1"]),
            f"{AZURE}: label.failure_types: 'error1' is not a failure event type",
        ),
        (
            lambda d: d["events"].append({"name": "maintenance_comp1", "kind": "maintenance"}),
            f"{AZURE}: events.maintenance_comp1.name: String should have at most 16 characters",
        ),
        (
            lambda d: d["events"].append({"name": "error1", "kind": "error"}),
            f"{AZURE}: events: duplicate names ['error1']",
        ),
        (
            lambda d: d["events"][0].update(kind="breakdown"),
            f"{AZURE}: events.failure_comp1.kind: Input should be",
        ),
        (
            lambda d: (
                d["features"]["rolling"].append({"hours": 1, "stats": ["mean"]})
                or d["sensors"]["volt"].update(cadence="2h")
            ),
            f"{AZURE}: features.rolling.0.hours: 3 h is not a multiple of sensor volt's "
            "cadence (7200 s)",
        ),
        (
            lambda d: d["features"]["rolling"].append(
                {"hours": 6, "stats": ["mean"], "sensors": ["temperature"]}
            ),
            f"{AZURE}: features.rolling.2.sensors: unknown sensor 'temperature'",
        ),
        (
            lambda d: d["features"]["rolling"][0].update(stats=["median"]),
            f"{AZURE}: features.rolling.0.stats.0: Input should be",
        ),
        (
            lambda d: d["features"].update(machine_attributes=["colour"]),
            f"{AZURE}: features.machine_attributes: unknown attribute 'colour'",
        ),
        (
            lambda d: d.update(events=[e for e in d["events"] if e["kind"] != "failure"]),
            f"{AZURE}: events: a plant with sensors declares at least one failure type",
        ),
        (
            lambda d: d.update(
                sensors=[{"name": "volt", "unit": "V", "range": [0, 1], "cadence": "1h"}] * 2
            ),
            f"{AZURE}: sensors: duplicate names ['volt']",
        ),
        (
            lambda d: d.update(
                inspections={"enabled": True, "classes": ["a", "b"], "normal_class": "ok"}
            ),
            f"{AZURE}: inspections: normal_class 'ok' is not one of the classes",
        ),
        (
            lambda d: d["machines"].update(
                source="inline", inline=[{"machine_id": "1", "model": "model9", "age": 3}]
            ),
            f"{AZURE}: machines: machine 1: model 'model9' not in",
        ),
        (
            lambda d: d["machines"].update(source="inline", inline=[{"machine_id": "1"}]),
            f"{AZURE}: machines: machine 1: missing attribute model",
        ),
        (
            lambda d: d["machines"]["attributes"][1].update(unit="decades"),
            f"{AZURE}: machines.attributes.age: unknown unit 'decades'",
        ),
        (lambda d: d.update(colour="red"), f"{AZURE}: colour: Extra inputs are not permitted"),
        (
            lambda d: d["sensors"]["volt"].update(range=[float("nan"), 250]),
            f"{AZURE}: sensors.volt.range: bounds must be finite numbers, got [nan, 250]",
        ),
        (
            lambda d: d["sensors"]["pressure"].update(range=[0, float("inf")]),
            f"{AZURE}: sensors.pressure.range: bounds must be finite numbers, got [0, inf]",
        ),
        (
            lambda d: d["label"].update(baseline_feature="temperature_mean"),
            f"{AZURE}: label.baseline_feature: 'temperature_mean' is not <sensor>_<stat>",
        ),
        (
            lambda d: d["label"].update(baseline_feature="volt_median"),
            f"{AZURE}: label.baseline_feature: 'volt_median' is not <sensor>_<stat>",
        ),
    ],
)
def test_invalid_definitions_name_file_and_field(mutate: Any, expected: str) -> None:
    assert _error(mutate).startswith(expected)


def test_repeated_yaml_key_is_an_error(tmp_path: Path) -> None:
    text = (SHIPPED_DIR / "azure_pdm.yaml").read_text()
    path = tmp_path / "twice.yaml"
    path.write_text(text.replace("  rotate:", "  volt:"))
    with pytest.raises(DefinitionError, match=r"twice\.yaml: line \d+: duplicate key 'volt'"):
        load_definition(path)
    path.write_text("name: [unclosed")
    with pytest.raises(DefinitionError, match=r"twice\.yaml: line"):
        load_definition(path)


def test_valid_inline_machines_and_custom_plant() -> None:
    data = azure_data()
    data["machines"].update(
        source="inline",
        inline=[{"machine_id": "A1", "model": "model2", "age": 4}],
    )
    plant = parse_definition(data, AZURE)
    assert plant.machines.inline[0]["model"] == "model2"
    assert source_problems(plant, "sqlite://") == []


def test_missing_source_columns_are_named(tmp_path: Path) -> None:
    azure = load_definition(shipped_definitions()["azure_pdm"])
    url = f"sqlite:///{tmp_path / 'plant.db'}"
    with pytest.raises(
        DefinitionError, match="azure_pdm.yaml: machines.table: no table 'machines'"
    ):
        check_source(azure, url, "azure_pdm.yaml")
    db = PlantDB(url)
    db.create(small_config())  # the simulator's machine master: no model/age attribute rows
    db.close()
    simulator = load_definition(shipped_definitions()["simulator"])
    assert source_problems(simulator, url) == []
    with pytest.raises(DefinitionError, match="machine_attributes"):
        check_source(azure, url, "azure_pdm.yaml")
    data = azure_data()
    data["machines"]["attributes"][0]["column"] = "line"
    data["machines"]["table"] = "machines"
    renamed = parse_definition(data, AZURE)
    assert renamed.machines.attributes[0].stored_in == "machines.line"
    data["machines"]["table"] = "plant_meta"  # a table without the machine columns
    problems = source_problems(parse_definition(data, AZURE), url)
    assert problems == [
        "machines.table: 'plant_meta' has no column 'machine_id'",
        "machines.table: 'plant_meta' has no column 'line'",
    ]


def test_plant_check_command_names_the_file_and_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mfg_assets.plant.cli import main

    url = f"sqlite:///{tmp_path / 'plant.db'}"
    db = PlantDB(url)
    db.create(small_config())  # the simulator's machine master
    db.close()
    assert main(["check", "--db", url, "--plant", "simulator"]) == 0
    assert "plant simulator" in capsys.readouterr().out
    assert main(["check", "--db", url, "--plant", "azure_pdm"]) == 2
    err = capsys.readouterr().err
    assert "azure_pdm.yaml: machines.attributes" in err and "machine_attributes" in err
    assert main(["check", "--db", url, "--plant", "../../etc/passwd"]) == 2
    assert "plant '../../etc/passwd'" in capsys.readouterr().err
