"""The one model lifecycle: tag schema, trained-version type and champion re-scoring, run with
the maintenance model against a real MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest

from mfg_assets.features.splits import TEST
from mfg_assets.models.config import apply_overrides
from mfg_assets.models.lifecycle import (
    LINEAGE_TAGS,
    TrainedVersion,
    VersionTags,
    evaluate_against_champion,
)
from mfg_assets.models.maintenance.synthetic import training_frame

LINEAGE = {
    "dagster_run_id": "run-1",
    "dagster_partition": "2026-11-01",
    "model_day": "2026-11-01",
    "training_window_start": "2026-10-18 01:00:00+00:00",
    "training_window_end": "2026-11-01 00:00:00+00:00",
}


def test_version_tags_round_trip_through_mlflow_strings() -> None:
    tags = VersionTags.build(
        "defect", "defect_default", LINEAGE, image_size=64, classes=("dent", "crack")
    )
    written = tags.as_tags()
    assert written["classes"] == "dent,crack" and written["image_size"] == "64"
    assert "artifact_sha256" not in written and "export_format" not in written  # empty: omitted
    assert set(LINEAGE_TAGS) <= set(written)
    # registry bookkeeping tags on the same version are ignored when parsing
    assert VersionTags.from_tags({**written, "promoted_at": "x", "previous_champion": "1"}) == tags
    assert tags.training_window == {k: v for k, v in LINEAGE.items() if "window" in k}


def test_version_tags_refuse_unknown_lineage() -> None:
    with pytest.raises(ValueError, match="unknown lineage tags"):
        VersionTags.build("maintenance", "maintenance_default", {"trigger": "test"})


def test_trained_version_round_trips_and_reads_older_dicts() -> None:
    version = TrainedVersion(
        model_kind="defect",
        model_name="defect_detector",
        version=3,
        model_uri="models:/defect_detector/3",
        run_id="abc",
        experiment="defect_default",
        best_epoch=None,
        epochs_run=2,
        stopped_early=False,
        seconds=1.5,
        image_size=64,
        classes=("dent",),
    )
    assert TrainedVersion.from_dict(version.as_dict()) == version
    older = {k: v for k, v in version.as_dict().items() if k != "model_kind"}
    assert TrainedVersion.from_dict(older) == version


@pytest.fixture
def two_versions(mlflow_store, quick_config, tmp_path: Path):
    """v1 (champion) and v2 (challenger) of the maintenance model, trained on different data."""
    from mfg_assets.models.maintenance.workflow import MAINTENANCE, promote

    # no absolute threshold: the gate is decided by the comparison with the champion
    config = apply_overrides(quick_config, {"training.epochs": 2, "promotion.threshold": 0.0})
    trained = [
        MAINTENANCE.train_and_register(
            training_frame(n_machines=6, hours=120, signal=3.0, seed=seed),
            config,
            LINEAGE,
            experiment="maintenance_default",
            out_dir=tmp_path / f"checkpoints{seed}",
        )
        for seed in (0, 1)
    ]
    promote(trained[0].version)
    return config, trained


def test_challenger_and_champion_are_scored_on_the_same_rows(two_versions, tmp_path) -> None:
    from mfg_assets.models.maintenance.evaluation import evaluate
    from mfg_assets.models.maintenance.packaging import load_maintenance_model
    from mfg_assets.models.maintenance.workflow import MAINTENANCE
    from mfg_assets.models.registry import ModelRegistry

    config, (v1, v2) = two_versions
    assert (v1.version, v2.version) == (1, 2) and v2.model_kind == "maintenance"
    assert (
        v2.threshold is not None
        and v2.training_window == VersionTags.build("maintenance", "x", LINEAGE).training_window
    )
    frame = training_frame(n_machines=6, hours=120, signal=3.0, seed=2)
    test = frame[frame["split"] == TEST]
    result = evaluate_against_champion(MAINTENANCE, v2, test, config, tmp_path / "plots")
    assert result.champion_version == 1 and result.champion is not None
    champion = load_maintenance_model("models:/maintenance_model/1")
    expected = evaluate(champion.predict_proba, test, champion.threshold, baseline_feature=None)
    assert result.champion == expected  # the champion re-scored on the challenger's rows
    assert result.challenger["n_rows"] == result.champion["n_rows"] == len(test)
    assert result.plots and all(Path(p).is_file() for p in result.plots.values())
    assert result.decision.challenger_value == result.challenger[config.promotion.metric]
    assert result.decision.champion_value == result.champion[config.promotion.metric]

    # the champion evaluated as the challenger has nothing to be compared with
    alone = evaluate_against_champion(MAINTENANCE, v1, test, config, tmp_path / "alone")
    assert alone.champion is None and alone.champion_version == 1

    # one tag schema on the registered version and on its run
    registry = ModelRegistry()
    tags = registry.version_info("maintenance_model", 2)["tags"]
    parsed = VersionTags.from_tags(tags)
    assert parsed.model_kind == "maintenance" and parsed.experiment == config.experiment.name
    assert {k: tags[k] for k in LINEAGE} == LINEAGE
    run_tags = registry.client.get_run(v2.run_id).data.tags
    schema = {k: v for k, v in parsed.as_tags().items() if k != "artifact_sha256"}
    assert {k: run_tags.get(k) for k in schema} == schema
