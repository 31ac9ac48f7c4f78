"""Plant → features → labels → Feast → training set → model → evaluation → gate → champion,
materialized for real (SQLite plant, Feast embedded store, MLflow SQLite store, torch)."""

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

from mfg_assets_tests.integration.plant_fixtures import EPOCH, seed_small_plant

DAYS = 4
MODEL_DAY = (EPOCH + timedelta(days=DAYS - 1)).strftime("%Y-%m-%d")
KEY = "%Y-%m-%d-%H:%M"


def ranged(first, last) -> dict[str, str]:
    return {
        ASSET_PARTITION_RANGE_START_TAG: first.strftime(KEY),
        ASSET_PARTITION_RANGE_END_TAG: last.strftime(KEY),
    }


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory):
    """A 4-day plant with features, labels and a fresh online store, in its own data dir."""
    root = tmp_path_factory.mktemp("model_pipeline")
    mp = pytest.MonkeyPatch()
    mp.setenv("MFG_DATA_DIR", str(root / "data"))
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mp.setenv("MFG_EXPERIMENTS_DIR", str(root))  # the tests' experiment YAMLs
    from mfg_assets.defs.feature_store import FeatureStoreResource
    from mfg_assets.defs.features import machine_hourly_features
    from mfg_assets.defs.ingestion import machine_events, quality_inspections, sensor_readings
    from mfg_assets.defs.labels import failure_labels_asset
    from mfg_assets.defs.resources import PlantDatabase
    from mfg_assets.defs.resources.io_managers import PartitionedParquetIOManager
    from mfg_assets.defs.resources.mlflow import mlflow_tracking

    url = f"sqlite:///{root / 'data' / 'plant.db'}"
    (root / "data").mkdir()
    seed_small_plant(url, days=DAYS, machines=8, dirt=True)
    resources = {
        "plant_db": PlantDatabase(url=url),
        "parquet_io_manager": PartitionedParquetIOManager(base_dir=str(root / "data/warehouse")),
        "model_io_manager": dg.FilesystemIOManager(base_dir=str(root / "model_io")),
        "feature_store": FeatureStoreResource(profile="embedded"),
        "mlflow": mlflow_tracking.configured({"experiment_name": "test_maintenance"}),
    }
    last_hour = EPOCH + timedelta(days=DAYS, hours=-1)
    instance = dg.DagsterInstance.ephemeral()
    plant_assets = [sensor_readings, quality_inspections, machine_events, machine_hourly_features]
    assert dg.materialize(
        plant_assets, instance=instance, resources=resources, tags=ranged(EPOCH, last_hour)
    ).success
    assert dg.materialize(
        [failure_labels_asset, *plant_assets],
        selection=[failure_labels_asset],
        instance=instance,
        resources=resources,
        tags=ranged(EPOCH, last_hour - timedelta(hours=24)),
    ).success
    yield {"root": root, "resources": resources, "instance": instance, "url": url}
    mp.undo()


def experiment_file(root: Path, **promotion) -> str:
    from mfg_assets.models.config import experiment_path

    config = yaml.safe_load(experiment_path("maintenance_default").read_text())
    config["experiment"]["name"] = "maintenance_test"
    config["training"]["epochs"] = 25
    config["training"]["scheduler"]["T_max"] = 25
    # an 8-machine plant has too few test machines for interval comparisons with baselines:
    # the first model needs the threshold, later ones must beat the champion
    config["promotion"].update({"threshold": 0.6, "must_beat": ["champion"], **promotion})
    path = root / "maintenance_test.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def model_assets():
    from mfg_assets.defs.feature_store import maintenance_training_set, online_features
    from mfg_assets.defs.maintenance import (
        maintenance_champion,
        maintenance_model,
        maintenance_model_evaluation,
    )

    return [
        online_features,
        maintenance_training_set,
        maintenance_model,
        maintenance_model_evaluation,
        maintenance_champion,
    ]


def train(plant, experiment: str, selection=None) -> dg.ExecuteInProcessResult:
    from mfg_assets.defs.labels import failure_labels_asset
    from mfg_assets_tests.integration.plant_fixtures import plant_assets

    assets = model_assets()
    return dg.materialize(
        [*assets, failure_labels_asset, *plant_assets()],
        selection=selection or assets[1:],
        partition_key=MODEL_DAY,
        instance=plant["instance"],
        resources=plant["resources"],
        run_config={"ops": {"maintenance_model": {"config": {"experiment": experiment}}}},
        raise_on_error=False,
    )


def test_online_features_load_the_hour_and_match_offline(plant):
    from mfg_assets.defs.feature_store import online_features

    hour = (EPOCH + timedelta(days=DAYS, hours=-1)).strftime(KEY)
    result = dg.materialize(
        [online_features],
        partition_key=hour,
        instance=plant["instance"],
        resources=plant["resources"],
    )
    assert result.success
    evaluation = result.get_asset_check_evaluations()[0]
    assert evaluation.check_name == "training_serving_consistency" and evaluation.passed
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["online_rows_written"].value == 8
    assert meta["entities"].value == [f"M{i:03d}" for i in range(1, 9)]
    # Same window again: nothing changes in the online store.
    again = dg.materialize(
        [online_features],
        partition_key=hour,
        instance=plant["instance"],
        resources=plant["resources"],
    )
    assert again.get_asset_check_evaluations()[0].passed


def test_training_registers_promotes_and_is_reproducible(plant):
    from mfg_assets.models.registry import CHAMPION, ModelRegistry

    experiment = experiment_file(plant["root"])
    first = train(plant, experiment)
    assert first.success, [e.message for e in first.all_events if e.is_failure]
    gate = {e.check_name: e for e in first.get_asset_check_evaluations()}["promotion_gate"]
    assert gate.passed, gate.description
    registry = ModelRegistry()
    assert registry.get_alias_version("maintenance_model", CHAMPION) == 1
    training = first.output_for_node("maintenance_training_set")
    assert set(training["split"].unique()) == {"train", "validation", "test"}
    # time-ordered split: every train row precedes every validation row precedes every test row
    by_split = training.group_by("split").agg(
        pl.col("event_timestamp").min().alias("lo"), pl.col("event_timestamp").max().alias("hi")
    )
    b = {r["split"]: r for r in by_split.iter_rows(named=True)}
    assert b["train"]["hi"] < b["validation"]["lo"] and b["validation"]["hi"] < b["test"]["lo"]
    metrics_1 = first.output_for_node("maintenance_model_evaluation")["challenger"]
    assert metrics_1["roc_auc"] > metrics_1["baseline_prior_roc_auc"] + 0.1

    second = train(plant, experiment)
    assert second.success  # a kept champion is a successful run, see below
    metrics_2 = second.output_for_node("maintenance_model_evaluation")["challenger"]
    assert metrics_2 == metrics_1  # same config + same data → same metrics
    # The identical challenger does not beat the champion by the margin: champion stays v1.
    gate_2 = {e.check_name: e for e in second.get_asset_check_evaluations()}["promotion_gate"]
    assert not gate_2.passed
    assert registry.get_alias_version("maintenance_model", CHAMPION) == 1
    assert registry.get_alias_version("maintenance_model", "challenger") == 2


def test_kept_champion_is_a_successful_run_that_is_not_retried(plant):
    """With the repository's run-retry settings (dagster.yaml) on a real instance, a retrain
    that keeps the champion ends SUCCESS, says why in its metadata and run tags, skips the
    champion step with the reason, and starts no retry run."""
    from dagster._core.execution.retries import auto_reexecution_should_retry_run
    from dagster._core.storage.dagster_run import DagsterRunStatus

    from mfg_assets.defs.common.model_lifecycle import DECISION_TAG
    from mfg_assets.models.registry import CHAMPION, ModelRegistry

    repo = yaml.safe_load((Path(__file__).resolve().parents[2] / "dagster.yaml").read_text())
    assert repo["run_retries"]["retry_on_asset_or_op_failure"] is False
    champion = ModelRegistry().get_alias_version("maintenance_model", CHAMPION)
    with dg.instance_for_test(overrides={"run_retries": repo["run_retries"]}) as instance:
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        result = train({**plant, "instance": instance}, experiment_file(plant["root"]))
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        run = instance.get_run_by_id(result.run_id)
        assert run.status == DagsterRunStatus.SUCCESS
        assert run.tags[DECISION_TAG] == "keep_champion"
        evaluation = {
            e.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()
        }["maintenance_model_evaluation"]
        assert evaluation["decision"].value == "keep_champion"
        reason = evaluation["decision_reason"].value
        assert "champion" in reason and "test machines" in reason
        assert evaluation["test_machines"].value == 8
        assert "| challenger |" in evaluation["planner"].value
        assert "champion" in evaluation["gate_comparisons"].value
        gate = {e.check_name: e for e in result.get_asset_check_evaluations()}["promotion_gate"]
        assert not gate.passed and gate.severity == dg.AssetCheckSeverity.WARN
        skipped = [
            e.asset_observation_data.asset_observation
            for e in result.all_events
            if e.is_asset_observation
        ]
        assert [o.asset_key for o in skipped] == [dg.AssetKey("maintenance_champion")]
        assert skipped[0].metadata["skip_reason"].value == reason
        assert not [
            e
            for e in result.get_asset_materialization_events()
            if e.asset_key == dg.AssetKey("maintenance_champion")
        ]
        # nothing to retry: the run succeeded, and it is alone in its run group
        assert not auto_reexecution_should_retry_run(instance, run, None)
        assert [r.run_id for r in instance.get_runs()] == [run.run_id]
    assert ModelRegistry().get_alias_version("maintenance_model", CHAMPION) == champion


def test_promotion_refuses_a_version_the_gate_kept(plant):
    """Materializing the champion step alone cannot promote a rejected challenger."""
    from mfg_assets.models.lifecycle import promote_evaluated
    from mfg_assets.models.registry import CHALLENGER, CHAMPION, ModelRegistry

    registry = ModelRegistry()
    champion = registry.get_alias_version("maintenance_model", CHAMPION)
    kept = registry.get_alias_version("maintenance_model", CHALLENGER)
    assert kept is not None and kept != champion
    outcome = promote_evaluated("maintenance_model", kept)
    assert not outcome.promoted and outcome.previous == champion
    assert registry.get_alias_version("maintenance_model", CHAMPION) == champion


def test_worse_challenger_fails_gate_and_champion_stays(plant):
    from mfg_assets.models.registry import CHAMPION, ModelRegistry
    from mfg_assets.storage.partitions import partition_file

    registry = ModelRegistry()
    champion_before = registry.get_alias_version("maintenance_model", CHAMPION)
    assert champion_before is not None
    # Shuffle the labels of the stored training set: a model trained on it is no better than chance.
    path = (
        plant["root"] / "data/warehouse" / partition_file(["maintenance_training_set"], MODEL_DAY)
    )
    frame = pl.read_parquet(path)
    shuffled = frame.with_columns(pl.col("failure_within_h").shuffle(seed=3))
    test_rows = frame["split"] == "test"
    shuffled = shuffled.with_columns(  # keep the true labels on the held-out rows
        pl.when(pl.Series(test_rows))
        .then(frame["failure_within_h"])
        .otherwise(pl.col("failure_within_h"))
        .alias("failure_within_h")
    )
    shuffled.write_parquet(path)
    assets = model_assets()
    result = train(plant, experiment_file(plant["root"], threshold=0.5), selection=assets[2:])
    gate = {e.check_name: e for e in result.get_asset_check_evaluations()}["promotion_gate"]
    assert not gate.passed
    assert "champion" in gate.description.lower() or "threshold" in gate.description.lower()
    assert registry.get_alias_version("maintenance_model", CHAMPION) == champion_before
    promoted = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("maintenance_champion")
    ]
    assert not promoted  # the blocking gate stopped the promotion step
