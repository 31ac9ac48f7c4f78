"""The model's inputs follow the plant definition from one place (features/schema.py): the
Azure plant (rolling windows over hours) is modelled on its window features, the simulator on
its hourly summary, unchanged; the Feast view, training inputs and drift columns agree."""

from __future__ import annotations

import pytest

from mfg_assets.features.schema import (
    drift_feature_columns,
    feature_columns,
    feature_schema,
    model_feature_columns,
    model_feature_schema,
    model_features_asset,
    uses_window_features,
)
from mfg_assets.features.windows import window_plan
from mfg_assets.plant.definition import load_definition, shipped_definitions


def _plant(name: str):
    return load_definition(shipped_definitions()[name])


def test_simulator_keeps_its_hourly_features() -> None:
    plant = _plant("simulator")
    assert not uses_window_features(plant)
    assert model_features_asset(plant) == "machine_hourly_features"
    assert model_feature_columns(plant) == feature_columns(plant)
    assert model_feature_schema(plant) == feature_schema(plant)
    assert "vibration_slope" not in drift_feature_columns(plant)
    assert "vibration_std" in drift_feature_columns(plant)


def test_azure_is_modelled_on_its_window_features() -> None:
    plant = _plant("azure_pdm")
    assert uses_window_features(plant)
    assert model_features_asset(plant) == "machine_window_features"
    columns = model_feature_columns(plant)
    assert columns == window_plan(plant).feature_columns()
    assert {"volt_std_3h", "vibration_mean_24h", "error1_count_24h", "hours_since_comp4"} <= set(
        columns
    )
    # nothing the hourly summary leaves empty at one reading per hour
    assert not {"volt_std", "volt_slope", "n_readings"} & set(columns)
    schema = model_feature_schema(plant)
    assert all(schema[c].is_float() for c in columns)
    assert drift_feature_columns(plant) == [
        "volt_mean",
        "rotate_mean",
        "pressure_mean",
        "vibration_mean",
    ]


def test_feast_view_and_model_inputs_follow_the_active_plant(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from mfg_assets.feature_store.definitions import build_definitions
    from mfg_assets.feature_store.names import feature_refs, partitions_dir
    from mfg_assets.models.config import load_experiment
    from mfg_assets.models.maintenance.dataset import model_features

    monkeypatch.setenv("MFG_PLANT", "azure_pdm")
    monkeypatch.setenv("MFG_DATA_DIR", str(tmp_path))
    expected = window_plan(_plant("azure_pdm")).feature_columns()
    view = build_definitions(tmp_path / "offline").feature_view
    assert sorted(f.name for f in view.schema if f.name != "machine_id") == sorted(expected)
    # the view is named after the asset that feeds it: served lineage names the window features
    assert view.name == "machine_window_features"
    assert feature_refs() == [f"machine_window_features:{c}" for c in expected]
    assert partitions_dir().name == "machine_window_features"
    assert model_features(load_experiment("maintenance_default")) == expected


def test_null_share_ignores_what_the_cadence_leaves_empty() -> None:
    from mfg_assets.features.schema import fillable_feature_columns

    simulator, azure = _plant("simulator"), _plant("azure_pdm")
    assert fillable_feature_columns(simulator) == feature_columns(simulator)
    fillable = fillable_feature_columns(azure)
    assert "volt_mean" in fillable and "n_readings" in fillable
    assert not {"volt_std", "volt_slope", "vibration_std"} & set(fillable)
