from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from mfg_assets.models.cli import main
from mfg_assets.models.maintenance.dataset import select_split
from mfg_assets.models.maintenance.evaluation import evaluate
from mfg_assets.models.maintenance.packaging import (
    load_maintenance_predict_proba,
    log_maintenance_model,
)
from mfg_assets.models.registry import (
    CHALLENGER,
    CHAMPION,
    ModelRegistry,
    NoPreviousChampionError,
    decide_promotion,
)

NAME = "maintenance_model"


@pytest.mark.parametrize(
    ("challenger", "champion", "passed", "reason"),
    [
        ({"roc_auc": 0.80}, None, True, "first model"),
        ({"roc_auc": 0.70}, None, False, "below the threshold"),
        ({"roc_auc": 0.90}, {"roc_auc": 0.85}, True, "beats champion"),
        ({"roc_auc": 0.86}, {"roc_auc": 0.85}, True, "beats champion"),  # exactly the margin
        ({"roc_auc": 0.855}, {"roc_auc": 0.85}, False, "does not beat"),
        ({"roc_auc": 0.80}, {"roc_auc": 0.85}, False, "does not beat"),
        ({"roc_auc": 0.70}, {"roc_auc": 0.60}, False, "below the threshold"),
        ({"pr_auc": 0.9}, None, False, "no roc_auc"),
        ({"roc_auc": float("nan")}, None, False, "no roc_auc"),
        ({"roc_auc": 0.9}, {"pr_auc": 0.5}, False, "champion has no roc_auc"),
    ],
)
def test_promotion_gate(challenger, champion, passed, reason) -> None:
    decision = decide_promotion(challenger, champion, "roc_auc", threshold=0.75, margin=0.01)
    assert decision.passed is passed
    assert reason in decision.reason


@pytest.fixture
def registry(mlflow_store) -> ModelRegistry:
    return ModelRegistry()


@pytest.fixture
def versions(registry, trained) -> list[int]:
    """Three registered versions of the same trained model (v1, v2, v3)."""
    uri = log_maintenance_model(trained, trained.config).model_uri
    return [registry.register(uri, NAME, {"attempt": str(i)}) for i in range(1, 4)]


def test_register_promote_gate_and_rollback(registry, trained, versions, signal_frame) -> None:
    assert versions == [1, 2, 3]
    assert registry.get_alias_version(NAME, CHAMPION) is None
    assert registry.get_alias_version("no_such_model", CHAMPION) is None

    first = decide_promotion({"roc_auc": 0.80}, None, "roc_auc", 0.75, 0.01)
    assert first.passed
    assert registry.promote(NAME, 1) is None

    registry.set_alias(NAME, CHALLENGER, 2)
    worse = decide_promotion({"roc_auc": 0.78}, {"roc_auc": 0.80}, "roc_auc", 0.75, 0.01)
    assert not worse.passed  # the asset does not call promote: champion stays
    assert registry.get_alias_version(NAME, CHAMPION) == 1
    assert registry.get_alias_version(NAME, CHALLENGER) == 2

    registry.set_alias(NAME, CHALLENGER, 3)
    assert decide_promotion({"roc_auc": 0.85}, {"roc_auc": 0.80}, "roc_auc", 0.75, 0.01).passed
    assert registry.promote(NAME, 3) == 1
    assert registry.get_alias_version(NAME, CHAMPION) == 3
    assert registry.get_alias_version(NAME, CHALLENGER) is None  # the challenger became champion
    status = registry.status(NAME)
    assert status[CHAMPION]["tags"]["previous_champion"] == "1"
    assert status[CHAMPION]["metrics"]["best_epoch"] == trained.best_epoch

    # the champion can be re-scored on the challenger's held-out rows
    champion = load_maintenance_predict_proba(registry.alias_uri(NAME, CHAMPION))
    test = select_split(signal_frame, "test")
    rescored = evaluate(champion, test, trained.threshold)
    assert rescored["roc_auc"] == pytest.approx(
        evaluate(trained.predict_proba, test, 0.5)["roc_auc"]
    )

    assert registry.rollback(NAME) == (3, 1)
    assert registry.get_alias_version(NAME, CHAMPION) == 1
    with pytest.raises(NoPreviousChampionError):
        registry.rollback(NAME)
    assert registry.get_alias_version(NAME, CHAMPION) == 1


def test_rollback_walks_history_back_and_never_ping_pongs(registry, versions) -> None:
    for version in versions:
        registry.promote(NAME, version)
    assert registry.rollback(NAME) == (3, 2)
    assert registry.rollback(NAME) == (2, 1)
    with pytest.raises(NoPreviousChampionError):
        registry.rollback(NAME)

    registry.promote(NAME, 2)  # re-promoting clears its rolled_back mark
    registry.promote(NAME, 1)  # 1 now records 2 as its predecessor, 2 records 1
    assert registry.rollback(NAME) == (1, 2)
    with pytest.raises(NoPreviousChampionError):  # not back to 1: it was rolled back from
        registry.rollback(NAME)


def test_cli_status_and_rollback(registry, versions, capsys) -> None:
    registry.promote(NAME, 1)
    assert main(["rollback", "maintenance"]) == 2
    assert "no previous champion" in capsys.readouterr().err

    registry.promote(NAME, 2)
    registry.set_alias(NAME, CHALLENGER, 3)
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "champion   v2  previous_champion=1" in out
    assert "challenger v3" in out
    assert "defect_detector: not registered" in out

    assert main(["rollback", "maintenance"]) == 0
    assert "from v2 to v1" in capsys.readouterr().out
    assert registry.get_alias_version(NAME, CHAMPION) == 1


def test_cli_exits_2_without_a_champion_and_is_the_console_script(mlflow_store, capsys) -> None:
    assert main(["rollback", "defect"]) == 2
    assert "defect_detector has no champion to roll back" in capsys.readouterr().err
    (script,) = entry_points(group="console_scripts", name="mfg-models")
    assert script.load() is main
