"""Plant → quality_inspections → defect_dataset → defect_detector (+ ONNX export) →
evaluation + promotion gate → champion, materialized for real (SQLite plant, MLflow SQLite store,
Ultralytics on CPU, onnxruntime), then the serving contract and rollback.

Sized to be quick: 2 days × 4 machines, a 48-image dataset at 64 px, 2 epochs.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from mfg_assets.plant.catalog import DEFECT_CLASSES
from mfg_assets_tests.integration.plant_fixtures import EPOCH, seed_small_plant

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]
DAYS = 2
MODEL_DAY = (EPOCH + timedelta(days=DAYS - 1)).strftime("%Y-%m-%d")
KEY = "%Y-%m-%d-%H:%M"
MODEL = "defect_detector"


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory):
    """A 2-day plant with its hourly inspections extracted, in its own data dir and MLflow."""
    root = tmp_path_factory.mktemp("defect_lifecycle")
    mp = pytest.MonkeyPatch()
    mp.setenv("MFG_DATA_DIR", str(root / "data"))
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.setenv("MFG_EXPERIMENTS_DIR", str(root))  # the tests' experiment YAMLs
    mp.delenv("MFG_STORAGE_URI", raising=False)
    from mfg_assets.defs.defect import MLFLOW_RESOURCE, defect_mlflow_experiment
    from mfg_assets.defs.ingestion import quality_inspections
    from mfg_assets.defs.resources import PlantDatabase
    from mfg_assets.defs.resources.io_managers import PartitionedParquetIOManager
    from mfg_assets.defs.resources.mlflow import mlflow_tracking

    (root / "data").mkdir()
    url = f"sqlite:///{root / 'data' / 'plant.db'}"
    seed_small_plant(url, days=DAYS, machines=4)
    resources = {
        "plant_db": PlantDatabase(url=url),
        "parquet_io_manager": PartitionedParquetIOManager(base_dir=str(root / "data/warehouse")),
        "model_io_manager": dg.FilesystemIOManager(base_dir=str(root / "model_io")),
        MLFLOW_RESOURCE: mlflow_tracking.configured(
            {"experiment_name": defect_mlflow_experiment()}
        ),
    }
    instance = dg.DagsterInstance.ephemeral()
    last_hour = EPOCH + timedelta(days=DAYS, hours=-1)
    assert dg.materialize(
        [quality_inspections],
        instance=instance,
        resources=resources,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: EPOCH.strftime(KEY),
            ASSET_PARTITION_RANGE_END_TAG: last_hour.strftime(KEY),
        },
    ).success
    yield {"root": root, "resources": resources, "instance": instance}
    mp.undo()


def experiment_file(root: Path, name: str, threshold: float) -> str:
    from mfg_assets.models.config import experiment_path

    config = yaml.safe_load(experiment_path("defect_default").read_text())
    config["experiment"]["name"] = name
    config["data"].update({"image_size": 64, "max_images": 48})
    config["training"].update({"epochs": 2, "batch_size": 8})
    config["training"]["scheduler"]["T_max"] = 2
    config["promotion"].update({"threshold": threshold, "champion_margin": 0.0})
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def defect_assets():
    from mfg_assets.defs.defect import (
        defect_champion,
        defect_dataset,
        defect_detector,
        defect_detector_evaluation,
    )

    return [defect_dataset, defect_detector, defect_detector_evaluation, defect_champion]


def run(plant, experiment: str, with_dataset: bool = True) -> dg.ExecuteInProcessResult:
    from mfg_assets.defs.ingestion import quality_inspections

    assets = defect_assets()
    ops = {"defect_detector": {"config": {"experiment": experiment}}}
    if with_dataset:
        ops["defect_dataset"] = {"config": {"experiment": experiment}}
    return dg.materialize(
        [*assets, quality_inspections],
        selection=assets if with_dataset else assets[1:],
        partition_key=MODEL_DAY,
        instance=plant["instance"],
        resources=plant["resources"],
        run_config={"ops": ops},
        raise_on_error=False,
    )


def materialization(result: dg.ExecuteInProcessResult, asset: str):
    events = [
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(asset)
    ]
    return events[0] if events else None


@pytest.fixture(scope="module")
def first(plant):
    """The first model: threshold 0, so it is promoted."""
    result = run(plant, experiment_file(plant["root"], "defect_tiny", threshold=0.0))
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


@pytest.fixture(scope="module")
def rejected(plant, first):
    """A second model held to mAP50 >= 0.99: the gate fails and the champion stays."""
    strict = experiment_file(plant["root"], "defect_strict", threshold=0.99)
    return run(plant, strict, with_dataset=False)


def test_dataset_splits_by_time_with_counts_and_preview(plant, first) -> None:
    info = first.output_for_node("defect_dataset")
    meta = materialization(first, "defect_dataset").metadata
    assert meta["train_images"].value > 0 and meta["validation_images"].value > 0
    assert meta["test_images"].value > 0
    total = sum(meta[f"{s}_images"].value for s in ("train", "validation", "test"))
    assert abs(total - 48) <= 2  # data.max_images (each split's share rounded)
    assert meta["dropped"].value["over_max_images"] > 0
    counts = meta["class_counts"].value
    assert sum(counts.values()) == total
    assert any(counts[f"train_{c}"] for c in DEFECT_CLASSES)
    assert "data:image/png;base64," in meta["preview"].value
    ranges = info["time_ranges"]
    assert (
        ranges["train"][1] < ranges["validation"][0] <= ranges["validation"][1] < ranges["test"][0]
    )
    # images are real files in the data directory's image store, recorded by URI
    manifest = pl.read_parquet(Path(info["root"]) / "inspections.parquet")
    store = plant["root"] / "data" / "inspection_images" / "images"
    for uri in manifest["source_uri"]:
        assert Path(uri).is_file() and Path(uri).is_relative_to(store)
    assert meta["images_rendered_and_stored"].value == total


def test_training_registers_an_onnx_exported_challenger(plant, first) -> None:
    import mlflow

    from mfg_assets.models.registry import ModelRegistry

    trained = first.output_for_node("defect_detector")
    assert trained["version"] == 1 and trained["image_size"] == 64
    registry = ModelRegistry()
    version = registry.client.get_model_version(MODEL, "1")
    tags = version.tags
    assert tags["export_format"] == "onnx"
    assert tags["export_artifact"] == "export/defect_detector.onnx"
    assert tags["image_size"] == "64"
    assert tags["classes"] == ",".join(DEFECT_CLASSES)
    assert tags["dagster_run_id"] == first.run_id
    dataset = first.output_for_node("defect_dataset")
    assert tags["training_window_start"] == dataset["time_ranges"]["train"][0]
    assert tags["training_window_end"] == dataset["time_ranges"]["test"][1]
    client = registry.client
    run = client.get_run(version.run_id)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "defect_detection"  # the experiment YAML's logging section
    assert run.data.params["training.epochs"] == "2"
    assert run.data.params["ultralytics.imgsz"] == "64"
    history = client.get_metric_history(run.info.run_id, "map50")
    assert [m.step for m in history] == [1, 2]  # per-epoch metrics
    files = {f.path for f in client.list_artifacts(run.info.run_id, "export")}
    assert "export/defect_detector.onnx" in files
    assert {f.path for f in client.list_artifacts(run.info.run_id, "weights")} == {
        "weights/best.pt"
    }
    # the registered version itself is the ONNX model, loadable through MLflow
    model = mlflow.onnx.load_model(f"models:/{MODEL}/1")
    meta = {prop.key: prop.value for prop in model.metadata_props}
    assert meta["imgsz"] == "[64, 64]" and "scratch" in meta["names"]


def test_evaluation_scores_per_class_and_first_model_is_promoted(plant, first) -> None:
    from mfg_assets.models.registry import CHALLENGER, CHAMPION, ModelRegistry

    evaluation = first.output_for_node("defect_detector_evaluation")
    metrics = evaluation["challenger"]
    assert {"map50", "map50_95", "precision", "recall"} <= set(metrics)
    assert any(f"map50/{c}" in metrics for c in DEFECT_CLASSES)
    assert evaluation["champion"] is None and evaluation["passed"]
    meta = materialization(first, "defect_detector_evaluation").metadata
    assert "confusion_matrix" in meta["plots"].value and "| class |" in meta["per_class"].value
    gate = {e.check_name: e for e in first.get_asset_check_evaluations()}["promotion_gate"]
    assert gate.passed and "first model" in gate.description
    registry = ModelRegistry()
    assert registry.get_alias_version(MODEL, CHAMPION) == 1
    assert registry.get_alias_version(MODEL, CHALLENGER) is None
    run_metrics = registry.version_info(MODEL, 1)["metrics"]
    assert run_metrics["test_map50"] == pytest.approx(metrics["map50"])


def test_gate_rejects_a_model_below_threshold_and_champion_does_not_run(plant, rejected) -> None:
    from mfg_assets.models.registry import CHALLENGER, CHAMPION, ModelRegistry

    gate = {e.check_name: e for e in rejected.get_asset_check_evaluations()}["promotion_gate"]
    assert not gate.passed and "below the threshold 0.99" in gate.description
    assert materialization(rejected, "defect_champion") is None
    evaluation = rejected.output_for_node("defect_detector_evaluation")
    assert evaluation["champion_version"] == 1 and evaluation["champion"] is not None
    registry = ModelRegistry()
    assert registry.get_alias_version(MODEL, CHAMPION) == 1
    assert registry.get_alias_version(MODEL, CHALLENGER) == 2


def test_download_champion_export_round_trip(plant, first, rejected, tmp_path: Path) -> None:
    from mfg_assets.models.defect.runtime import load_detector, predict
    from mfg_assets.models.defect.workflow import ExportedDetector, download_champion_export
    from mfg_assets.plant.images import render_inspection

    exported = download_champion_export(tmp_path / "serving")
    assert isinstance(exported, ExportedDetector)
    assert exported.path == tmp_path / "serving" / "defect_detector.onnx"
    assert exported.version == 1 and exported.model_name == MODEL
    assert exported.classes == DEFECT_CLASSES and exported.image_size == 64
    evaluation = first.output_for_node("defect_detector_evaluation")
    assert exported.metrics["map50"] == pytest.approx(evaluation["challenger"]["map50"])
    dataset = first.output_for_node("defect_dataset")
    assert exported.training_window == {
        "start": dataset["time_ranges"]["train"][0],
        "end": dataset["time_ranges"]["test"][1],
    }
    assert exported.run_id == first.output_for_node("defect_detector")["run_id"]
    detector = load_detector(exported.path)
    assert detector.imgsz == 64 and detector.names == DEFECT_CLASSES
    image = render_inspection(1, "P-1", "scratch", 0.8).pixels
    assert isinstance(predict(detector, [image, image]), list)
    # the challenger by alias, and a second download replaces the file in place
    challenger = download_champion_export(tmp_path / "serving", alias="challenger")
    assert challenger.version == 2 and challenger.path == exported.path
    assert challenger.metrics["map50"] < 0.99


def test_no_champion_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mfg_assets.models.defect.workflow import NoChampionError, download_champion_export

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(NoChampionError, match="defect_detector has no 'champion' version"):
        download_champion_export(tmp_path / "serving")
    assert not (tmp_path / "serving" / "defect_detector.onnx").exists()


def test_rollback_and_status_for_defect(plant, rejected, tmp_path: Path, capsys) -> None:
    from mfg_assets.models.cli import main
    from mfg_assets.models.defect.workflow import download_champion_export, promote
    from mfg_assets.models.registry import CHAMPION, ModelRegistry

    assert promote(2) == 1  # e.g. promoted by hand despite the gate
    assert download_champion_export(tmp_path).version == 2
    assert main(["status", "defect"]) == 0
    out = capsys.readouterr().out
    assert "defect_detector" in out and "champion   v2" in out and "test_map50=" in out
    assert main(["rollback", "defect"]) == 0
    assert "champion rolled back from v2 to v1" in capsys.readouterr().out
    assert ModelRegistry().get_alias_version(MODEL, CHAMPION) == 1
    assert download_champion_export(tmp_path).version == 1
    assert main(["rollback", "defect"]) == 2  # v1 was the first champion: nothing before it
