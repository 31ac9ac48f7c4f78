"""A plant written only as YAML, with sensors the package has never seen, runs through the real
assets: plant DB → ingestion → hourly features → labels → Feast (offline, online store
materialized and read back) → training set → maintenance model → evaluation → gate.

Not a line of Python is added for the plant: the definition file below is written into a
temporary MFG_PLANT_DEFINITIONS_DIR, MFG_PLANT names it, and readings land in a throwaway
SQLite plant database's landing tables. Two channels (``spindle_load`` in %, ``coolant_flow``
in L/min) every 10 s; a failure type called ``spindle_crash`` and maintenance ``overhaul``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import numpy as np
import polars as pl
import pytest
import yaml
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

# A service serves one plant: its request model is built when the module is first imported.
# Import it now, under the suite's default plant, so the tests after this module see that one.
import mfg_assets.serving.maintenance  # noqa: F401, E402

PLANT_YAML = """\
name: lathe_line
description: A lathe line nobody here has seen, described only in this YAML file.
sensors:
  spindle_load: {unit: "%", range: [0, 150], nominal: 40, cadence: 10s}
  coolant_flow: {unit: L/min, range: [0, 60], nominal: 20, cadence: 10s}
machines:
  source: table
  attributes:
    - {name: machine_type, kind: categorical, values: [lathe]}
    - {name: line, kind: categorical}
events:
  - {name: spindle_crash, kind: failure}
  - {name: overhaul, kind: maintenance}
label:
  horizon_hours: 24
  baseline_feature: spindle_load_mean
features:
  rolling:
    - {hours: 1, stats: [mean, std, min, max, slope, last]}
"""
SENSORS = ("spindle_load", "coolant_flow")
STATS = ("mean", "std", "min", "max", "last", "slope")
EPOCH = datetime(2026, 11, 2, tzinfo=UTC)
DAYS = 4
CADENCE_S = 10
# hours after EPOCH at which each machine's spindle crashes (None: runs the whole window)
FAILURES = {"L01": 28, "L02": 45, "L03": 60, "L04": 70, "L05": 86, "L06": None}
WEAR_HOURS = 30  # load climbs and coolant flow falls over the hours before a crash
KEY = "%Y-%m-%d-%H:%M"
MODEL_DAY = (EPOCH + timedelta(days=DAYS - 1)).strftime("%Y-%m-%d")


def readings_and_events(seed: int = 5) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Long-format readings and machine events of the lathe line (a wear ramp before each
    crash, reset by the overhaul two hours after it)."""
    rng = np.random.default_rng(seed)
    seconds = np.arange(0, DAYS * 86400, CADENCE_S)
    hours = seconds / 3600
    ts = pl.Series(
        [EPOCH + timedelta(seconds=int(s)) for s in seconds], dtype=pl.Datetime("us", "UTC")
    )
    frames, events = [], []
    for machine, crash in FAILURES.items():
        wear = np.zeros_like(hours)
        if crash is not None:
            ramp = (hours > crash - WEAR_HOURS) & (hours <= crash)
            wear[ramp] = (hours[ramp] - (crash - WEAR_HOURS)) / WEAR_HOURS
            events += [
                (EPOCH + timedelta(hours=crash), machine, "spindle_crash"),
                (EPOCH + timedelta(hours=crash + 2), machine, "overhaul"),
            ]
        load = 40 + 35 * wear + rng.normal(0, 1.5, len(hours))
        flow = 20 - 8 * wear + rng.normal(0, 0.5, len(hours))
        for sensor, values in (("spindle_load", load), ("coolant_flow", flow)):
            frames.append(
                pl.DataFrame(
                    {"ts": ts, "machine_id": machine, "sensor_type": sensor, "value": values}
                )
            )
    # what the definition makes dirt: a load above the instrument's 150 %, and a channel this
    # plant does not have (the simulator's temperature)
    odd = [
        (EPOCH + timedelta(hours=5, seconds=1), "L02", "spindle_load", 170.0),
        (EPOCH + timedelta(hours=50, seconds=1), "L06", "coolant_flow", -3.0),
        (EPOCH + timedelta(hours=7, seconds=1), "L03", "temperature", 65.0),
    ]
    frames.append(pl.DataFrame(odd, schema=frames[0].schema, orient="row"))
    readings = pl.concat(frames).sort("ts", "machine_id", "sensor_type")
    machine_events = pl.DataFrame(
        events,
        schema={"ts": pl.Datetime("us", "UTC"), "machine_id": pl.String, "event_type": pl.String},
        orient="row",
    ).sort("ts")
    return readings, machine_events


def ranged(first: datetime, last: datetime) -> dict[str, str]:
    return {
        ASSET_PARTITION_RANGE_START_TAG: first.strftime(KEY),
        ASSET_PARTITION_RANGE_END_TAG: last.strftime(KEY),
    }


@pytest.fixture(scope="module")
def lathe_line(tmp_path_factory: pytest.TempPathFactory):
    """The YAML plant active, its readings in a throwaway plant DB, ingested and featurized."""
    from mfg_assets.defs.feature_store import FeatureStoreResource
    from mfg_assets.defs.features import machine_hourly_features
    from mfg_assets.defs.ingestion import machine_events, quality_inspections, sensor_readings
    from mfg_assets.defs.labels import failure_labels_asset
    from mfg_assets.defs.resources import PlantDatabase
    from mfg_assets.defs.resources.io_managers import PartitionedParquetIOManager
    from mfg_assets.defs.resources.mlflow import mlflow_tracking
    from mfg_assets.models.config import experiment_path
    from mfg_assets.plant.importers.landing import replace_plant
    from mfg_assets.plant.writer import PlantDB

    root = tmp_path_factory.mktemp("yaml_only_plant")
    plants = root / "plants"
    plants.mkdir()
    (plants / "lathe_line.yaml").write_text(PLANT_YAML)
    config = yaml.safe_load(experiment_path("maintenance_default").read_text())
    config["experiment"]["name"] = "lathe_line_test"
    config["training"].update(epochs=30)
    config["training"]["scheduler"]["T_max"] = 30
    (root / "lathe_line_test.yaml").write_text(yaml.safe_dump(config))

    mp = pytest.MonkeyPatch()
    mp.setenv("MFG_PLANT_DEFINITIONS_DIR", str(plants))
    mp.setenv("MFG_PLANT", "lathe_line")
    mp.setenv("MFG_DATA_DIR", str(root / "data"))
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.setenv("MFG_EXPERIMENTS_DIR", str(root))
    (root / "data").mkdir()
    url = f"sqlite:///{root / 'data' / 'plant.db'}"
    readings, events = readings_and_events()
    machines = pl.DataFrame({"machine_id": list(FAILURES), "machine_type": "lathe", "line": "B"})
    db = PlantDB(url)
    written = replace_plant(
        db,
        "lathe_line",
        {"sensor_readings": readings, "machine_events": events, "machines": machines},
        written_until=EPOCH + timedelta(days=DAYS),
        summary="test plant",
    )
    db.engine.dispose()
    assert written["sensor_readings"] == readings.height

    resources = {
        "plant_db": PlantDatabase(url=url),
        "parquet_io_manager": PartitionedParquetIOManager(base_dir=str(root / "data/warehouse")),
        "model_io_manager": dg.FilesystemIOManager(base_dir=str(root / "model_io")),
        "feature_store": FeatureStoreResource(profile="embedded"),
        "mlflow": mlflow_tracking.configured({"experiment_name": "lathe_line_test"}),
    }
    instance = dg.DagsterInstance.ephemeral()
    last_hour = EPOCH + timedelta(days=DAYS, hours=-1)
    plant_assets = [sensor_readings, quality_inspections, machine_events, machine_hourly_features]
    ingested = dg.materialize(
        plant_assets, instance=instance, resources=resources, tags=ranged(EPOCH, last_hour)
    )
    assert ingested.success
    labelled = dg.materialize(
        [failure_labels_asset, *plant_assets],
        selection=[failure_labels_asset],
        instance=instance,
        resources=resources,
        tags=ranged(EPOCH, last_hour - timedelta(hours=24)),
    )
    assert labelled.success
    yield {
        "root": root,
        "resources": resources,
        "instance": instance,
        "ingested": ingested,
        "labelled": labelled,
        "plant_assets": plant_assets,
        "readings": readings,
    }
    mp.undo()


def feature_names() -> list[str]:
    return [f"{s}_{stat}" for s in SENSORS for stat in STATS] + ["n_readings"]


def test_features_are_named_after_the_new_sensors(lathe_line) -> None:
    from mfg_assets.features.schema import feature_columns

    assert feature_columns() == feature_names()  # no inspections: no inspection columns
    features = lathe_line["ingested"].output_for_node(
        "machine_hourly_features", "machine_hourly_features"
    )
    frame = pl.concat(list(features.values()))
    assert frame.columns == ["machine_id", "hour", "event_timestamp", *feature_names()]
    assert frame.height == DAYS * 24 * len(FAILURES)
    assert frame["n_readings"].unique().to_list() == [3600 // CADENCE_S * len(SENSORS)]
    # the hour before L01's crash: load well above the healthy 40 %
    crash = frame.filter(
        (pl.col("machine_id") == "L01") & (pl.col("hour") == EPOCH + timedelta(hours=27))
    )
    assert crash["spindle_load_mean"].item() > 70
    assert crash["coolant_flow_mean"].item() < 14
    # nothing lost: every reading clean or quarantined by the definition's rules
    meta = [
        m.metadata
        for m in lathe_line["ingested"].asset_materializations_for_node("machine_hourly_features")
        if m.asset_key == dg.AssetKey("machine_hourly_features")
    ]
    assert len(meta) == DAYS * 24
    assert sum(m["rows_in"].value for m in meta) == lathe_line["readings"].height
    assert sum(m["rows_quarantined"].value for m in meta) == 3
    quarantined = pl.concat(
        list(
            lathe_line["ingested"]
            .output_for_node("machine_hourly_features", "quarantined_readings")
            .values()
        )
    )
    assert sorted(zip(quarantined["sensor_type"], quarantined["reason"], strict=True)) == [
        ("coolant_flow", "out_of_range"),
        ("spindle_load", "out_of_range"),
        ("temperature", "unknown_sensor"),
    ]


def test_checks_follow_the_definition(lathe_line) -> None:
    """Physical ranges, event types and 'no inspections expected' come from the YAML."""
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in lathe_line["ingested"].get_asset_check_evaluations()
    }
    for key in (
        ("machine_hourly_features", "schema"),
        ("machine_hourly_features", "physical_ranges"),
        ("machine_hourly_features", "null_share"),
        ("machine_events", "known_values"),
        ("quality_inspections", "non_empty"),
    ):
        assert checks[key].passed, (key, checks[key].description)
    assert (
        "expects no quality_inspections rows"
        in checks[("quality_inspections", "non_empty")].description
    )


def test_labels_use_the_definitions_failure_type(lathe_line) -> None:
    labels = pl.concat(list(lathe_line["labelled"].output_for_node("failure_labels").values()))
    positives = labels.filter(pl.col("failure_within_h") == 1)
    assert set(positives["machine_id"].unique()) == {"L01", "L02", "L03", "L04", "L05"}
    l01 = positives.filter(pl.col("machine_id") == "L01")
    assert l01["hour"].max() == EPOCH + timedelta(hours=27)


def test_feast_view_and_online_store_carry_the_new_sensors(lathe_line) -> None:
    from mfg_assets.defs.feature_store import online_features
    from mfg_assets.feature_store.names import feature_view_name
    from mfg_assets.feature_store.online import online_features as read_online

    hour = EPOCH + timedelta(days=DAYS, hours=-1)
    result = dg.materialize(
        [online_features],
        partition_key=hour.strftime(KEY),
        instance=lathe_line["instance"],
        resources=lathe_line["resources"],
    )
    assert result.success
    consistency = result.get_asset_check_evaluations()[0]
    assert consistency.passed, consistency.description
    store = lathe_line["resources"]["feature_store"].open()
    view = store.get_feature_view(feature_view_name())
    assert [f.name for f in view.features] == feature_names()
    online = read_online(store, list(FAILURES))
    offline = pl.concat(
        list(
            lathe_line["ingested"]
            .output_for_node("machine_hourly_features", "machine_hourly_features")
            .values()
        )
    ).filter(pl.col("hour") == hour)
    expected = offline.sort("machine_id")
    got = online.sort("machine_id")
    assert got["machine_id"].to_list() == list(FAILURES)
    for column in feature_names():
        assert got[column].to_list() == pytest.approx(expected[column].to_list()), column


def test_the_maintenance_model_trains_on_the_new_sensors(lathe_line) -> None:
    from mfg_assets.defs.feature_store import maintenance_training_set, online_features
    from mfg_assets.defs.labels import failure_labels_asset
    from mfg_assets.defs.maintenance import (
        maintenance_champion,
        maintenance_model,
        maintenance_model_evaluation,
    )
    from mfg_assets.models.maintenance.packaging import load_maintenance_model
    from mfg_assets.models.registry import ModelRegistry

    assets = [
        online_features,
        maintenance_training_set,
        maintenance_model,
        maintenance_model_evaluation,
        maintenance_champion,
    ]
    experiment = str(lathe_line["root"] / "lathe_line_test.yaml")
    result = dg.materialize(
        [*assets, failure_labels_asset, *lathe_line["plant_assets"]],
        selection=assets[1:],
        partition_key=MODEL_DAY,
        instance=lathe_line["instance"],
        resources=lathe_line["resources"],
        run_config={"ops": {"maintenance_model": {"config": {"experiment": experiment}}}},
        raise_on_error=False,
    )
    failed = [e.step_key for e in result.all_events if e.is_step_failure]
    # a promotion gate may keep the (absent) champion on so small a plant: the evaluation step
    # is then stopped by its blocking check, after the model was trained and scored
    assert set(failed) <= {"maintenance_model_evaluation"}, failed
    training = result.output_for_node("maintenance_training_set")
    assert set(feature_names()) <= set(training.columns)
    assert not {"temperature_mean", "n_inspections"} & set(training.columns)
    metrics = result.output_for_node("maintenance_model_evaluation")["challenger"]
    assert metrics["n_positive"] > 0
    assert metrics["roc_auc"] > 0.9, metrics
    # the single-feature baseline the definition names was scored
    assert metrics["baseline_heuristic_roc_auc"] > 0.5
    version = ModelRegistry().get_alias_version("maintenance_model", "challenger")
    assert version == 1
    model = load_maintenance_model(f"models:/maintenance_model/{version}")
    test_rows = training.filter(pl.col("split") == "test")
    proba = model.predict_proba(test_rows)
    assert len(proba) == test_rows.height


def test_serving_schema_follows_the_definition(lathe_line) -> None:
    """The request row of a service started for this plant: its sensors, units and ranges."""
    from mfg_assets.serving.maintenance import _feature_row_model, feature_limits

    limits = feature_limits()
    assert list(limits) == feature_names()
    assert limits["spindle_load_max"] == (0.0, 150.0, float)
    assert limits["coolant_flow_std"] == (0.0, 60.0, float)
    schema = _feature_row_model().model_json_schema()
    assert list(schema["properties"]) == feature_names()
    assert "[L/min/min]" in schema["properties"]["coolant_flow_slope"]["description"]


def test_the_dagster_ui_names_the_plant(lathe_line) -> None:
    """The assets this plant runs carry its name and sensors (``build_definitions`` applies
    the same :func:`with_plant` to every asset: see orchestration/test_plant_in_ui.py)."""
    from mfg_assets.defs.common.plant import plant_metadata, with_plant
    from mfg_assets.plant.definition import active_plant

    plant = active_plant()
    assert plant_metadata(plant)["plant"] == "lathe_line"
    for asset in with_plant(lathe_line["plant_assets"], plant):
        for spec in asset.specs:
            assert spec.metadata["plant"] == "lathe_line", spec.key
            assert "Plant **lathe_line**" in (spec.description or ""), spec.key
            assert "spindle_load [%, 0…150, every 10 s]" in spec.metadata["plant_sensors"]
            assert spec.metadata["plant_inspections"] == "none"


def test_drift_columns_follow_the_definition(lathe_line) -> None:
    from mfg_assets.monitoring.drift.config import default_drift_columns

    assert default_drift_columns() == [
        f"{s}_{stat}" for s in SENSORS for stat in STATS if stat != "slope"
    ]


def test_a_service_started_for_the_plant_documents_its_features(lathe_line) -> None:
    """The OpenAPI request schema of a maintenance service process started with this plant
    active (a fresh interpreter: the request model is built at import)."""
    import json
    import subprocess
    import sys

    from mfg_assets.settings import subprocess_env

    code = (
        "import json; from mfg_assets.serving.maintenance import PredictRequest as R; "
        "s = R.model_json_schema(); print(json.dumps(s['$defs']['FeatureRow']['properties']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    properties = json.loads(out.stdout.strip().splitlines()[-1])
    assert list(properties) == feature_names()
    assert properties["spindle_load_max"]["maximum"] == 150
    assert "[%]" in properties["spindle_load_mean"]["description"]
