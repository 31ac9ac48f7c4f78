"""The maintenance gate with bootstrap intervals over machines: metrics equal scikit-learn's,
a barely-better challenger on few machines is kept, a clearly better one is promoted, one that
loses to the best single-feature heuristic never is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from mfg_assets.features.schema import feature_columns
from mfg_assets.models.config import apply_overrides, load_experiment
from mfg_assets.models.lifecycle import Scored
from mfg_assets.models.maintenance.confidence import machine_bootstrap, pr_auc, roc_auc
from mfg_assets.models.maintenance.gate import SCORES_DETAIL, decide

HOURS = 72


def test_metrics_match_scikit_learn_with_ties() -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.2).astype(float)
    s = np.round(y * 0.4 + rng.random(500), 1)  # many ties
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert pr_auc(y, s) == pytest.approx(average_precision_score(y, s))
    assert np.isnan(roc_auc(np.zeros(5), np.arange(5.0)))


def test_bootstrap_resamples_machines_and_pairs_the_difference() -> None:
    rng = np.random.default_rng(1)
    machines = np.repeat(np.arange(30), 50)
    y = (rng.random(1500) < 0.1).astype(float)
    good, same = y + rng.normal(0, 0.5, 1500), y + rng.normal(0, 0.5, 1500)
    boot = machine_bootstrap(y, machines, {"a": good, "b": same, "c": good}, "a", resamples=200)
    assert boot.machines == 30 and boot.valid_resamples == 200
    assert boot.differences["c"]["roc_auc"].low == boot.differences["c"]["roc_auc"].high == 0
    interval = boot.scores["a"]["roc_auc"]
    assert interval.low < interval.point < interval.high


def frame(machines: int, seed: int, heuristic_signal: float) -> pl.DataFrame:
    """Test rows: each machine fails once, at a random hour (positive rows the 24 before)."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 11, 10, tzinfo=UTC)
    rows = []
    for m in range(machines):
        failure = int(rng.integers(30, HOURS))
        for h in range(HOURS):
            rows.append(
                {
                    "machine_id": f"M{m:03d}",
                    "event_timestamp": start + timedelta(hours=h),
                    "failure_within_h": int(failure - 23 <= h <= failure),
                }
            )
    out = pl.DataFrame(rows)
    noise = {c: rng.normal(0, 1, out.height) for c in feature_columns()}
    out = out.with_columns(pl.Series(c, v) for c, v in noise.items())
    y = out["failure_within_h"].to_numpy()
    return out.with_columns(
        pl.Series("vibration_mean", heuristic_signal * y + rng.normal(0, 1, out.height)),
        pl.lit("test").alias("split"),
    )


def scored(values: np.ndarray) -> Scored:
    y_free = {"roc_auc": 0.0}  # decide reads only the gate metric of the challenger
    return Scored(y_free, details={SCORES_DETAIL: values})


def run_gate(test: pl.DataFrame, challenger_signal: float, champion_signal: float, seed: int):
    config = load_experiment("maintenance_default")
    config = apply_overrides(config, {"promotion.threshold": 0.5})
    rng = np.random.default_rng(seed + 100)
    y = test["failure_within_h"].to_numpy().astype(float)
    heuristic = test["vibration_mean"].to_numpy()
    challenger = heuristic + challenger_signal * y + rng.normal(0, 0.2, len(y))
    champion = champion_signal * y + rng.normal(0, 1, len(y))
    ch = Scored({"roc_auc": roc_auc(y, challenger)}, details={SCORES_DETAIL: challenger})
    return decide(ch, scored(champion), test, config)


def test_barely_better_challenger_on_few_machines_is_kept(monkeypatch) -> None:
    test = frame(machines=5, seed=3, heuristic_signal=1.0)
    decision, evidence = run_gate(test, challenger_signal=0.05, champion_signal=0.0, seed=3)
    assert not decision.passed and "too few" in decision.reason
    assert evidence["test_failing_machines"] == 5 and evidence["min_test_machines"] == 10
    # even with the minimum lowered, the interval against the heuristic includes zero
    monkeypatch.setenv("MFG_GATE_MIN_TEST_MACHINES", "2")
    decision, evidence = run_gate(test, challenger_signal=0.05, champion_signal=0.0, seed=3)
    vs = {c["against"]: c for c in evidence["comparisons"]}
    assert not decision.passed and decision.reason.endswith("does not beat heuristic")
    assert vs["heuristic"]["low"] <= 0 < vs["heuristic"]["high"]


def test_clearly_better_challenger_is_promoted_with_its_evidence() -> None:
    test = frame(machines=30, seed=4, heuristic_signal=0.7)
    decision, evidence = run_gate(test, challenger_signal=2.0, champion_signal=0.7, seed=4)
    assert decision.passed, decision.reason
    assert {c["against"] for c in evidence["comparisons"]} == {"champion", "prior", "heuristic"}
    assert all(c["low"] > 0 for c in evidence["comparisons"])
    assert evidence["heuristic"]["feature"] == "vibration_mean"
    assert evidence["test_machines"] == 30 and evidence["test_rows"] == 30 * HOURS
    assert set(evidence["planner"]) == {"challenger", "champion", "heuristic"}
    planner = evidence["planner"]
    assert planner["challenger"]["share_warned_early"] >= planner["heuristic"]["share_warned_early"]


def test_challenger_that_loses_to_the_heuristic_is_never_promoted() -> None:
    # better than the champion and the prior, worse than vibration_mean alone, on 30 machines
    for seed in (5, 6, 7):
        test = frame(machines=30, seed=seed, heuristic_signal=2.0)
        y = test["failure_within_h"].to_numpy().astype(float)
        rng = np.random.default_rng(seed)
        challenger = 1.0 * y + rng.normal(0, 1, len(y))
        ch = Scored({"roc_auc": roc_auc(y, challenger)}, details={SCORES_DETAIL: challenger})
        champion = scored(0.3 * y + rng.normal(0, 1, len(y)))
        config = apply_overrides(load_experiment("maintenance_default"), {"promotion.threshold": 0})
        decision, evidence = decide(ch, champion, test, config)
        vs = {c["against"]: c for c in evidence["comparisons"]}
        assert not decision.passed and "does not beat heuristic" in decision.reason
        assert vs["heuristic"]["high"] < 0 and vs["champion"]["low"] > 0


def first_model(test: pl.DataFrame, signal: float, seed: int) -> Scored:
    """A challenger built on the heuristic plus ``signal`` × label (no champion exists)."""
    rng = np.random.default_rng(seed + 200)
    y = test["failure_within_h"].to_numpy().astype(float)
    values = test["vibration_mean"].to_numpy() + signal * y + rng.normal(0, 0.2, len(y))
    return Scored({"roc_auc": roc_auc(y, values)}, details={SCORES_DETAIL: values})


def test_first_champion_that_ties_the_heuristic_is_promoted_later_ones_are_not() -> None:
    """With nothing served, a first model that beats the prior and whose interval does not say
    it loses to the heuristic is promoted; the same scores against a champion are kept."""
    test = frame(machines=30, seed=8, heuristic_signal=1.0)
    config = apply_overrides(load_experiment("maintenance_default"), {"promotion.threshold": 0.5})
    assert config.promotion.first_champion_must_not_lose_to == ("heuristic",)
    challenger = first_model(test, signal=0.02, seed=8)
    decision, evidence = decide(challenger, None, test, config)
    vs = {c["against"]: c for c in evidence["comparisons"]}
    assert vs["heuristic"]["must"] == "not_lose" and vs["prior"]["must"] == "beat"
    assert vs["heuristic"]["low"] <= 0 < vs["heuristic"]["high"], vs["heuristic"]
    assert decision.passed, decision.reason
    assert "does not lose (first champion: must not lose)" in decision.reason
    # a later challenger with the same scores must beat the heuristic, and does not
    y = test["failure_within_h"].to_numpy().astype(float)
    champion = scored(0.1 * y + np.random.default_rng(9).normal(0, 1, len(y)))
    decision, evidence = decide(challenger, champion, test, config)
    assert not decision.passed and "does not beat heuristic" in decision.reason
    # and without the rule, the first model is kept too
    strict = apply_overrides(config, {"promotion.first_champion_must_not_lose_to": []})
    assert not decide(challenger, None, test, strict)[0].passed


def test_first_champion_that_loses_to_the_heuristic_is_never_promoted() -> None:
    test = frame(machines=30, seed=10, heuristic_signal=2.0)
    y = test["failure_within_h"].to_numpy().astype(float)
    values = 1.0 * y + np.random.default_rng(10).normal(0, 1, len(y))
    challenger = Scored({"roc_auc": roc_auc(y, values)}, details={SCORES_DETAIL: values})
    config = apply_overrides(load_experiment("maintenance_default"), {"promotion.threshold": 0})
    decision, evidence = decide(challenger, None, test, config)
    vs = {c["against"]: c for c in evidence["comparisons"]}
    assert vs["heuristic"]["high"] < 0
    assert not decision.passed and "loses (first champion: must not lose)" in decision.reason


# --- the reference: gradient-boosted trees fitted on the same frame's train rows ---------------


def train_and_test(machines: int, seed: int, signal: float) -> pl.DataFrame:
    """72 train hours then 72 test hours per machine (``frame``'s shape): the label shows in
    temperature_mean and in vibration_mean (each ``signal`` × label + noise), so trees fitted on
    the train rows rank the test rows better than either feature alone."""
    train = frame(machines, seed, heuristic_signal=0.0).with_columns(pl.lit("train").alias("split"))
    test = frame(machines, seed + 1, heuristic_signal=0.0).with_columns(
        pl.col("event_timestamp") + timedelta(hours=HOURS)
    )
    both = pl.concat([train, test])
    rng = np.random.default_rng(seed + 300)
    y = both["failure_within_h"].to_numpy()
    return both.with_columns(
        pl.Series(name, signal * y + rng.normal(0, 1, both.height))
        for name in ("temperature_mean", "vibration_mean")
    )


def gate_config(**promotion: object):
    return apply_overrides(
        load_experiment("maintenance_default"),
        {"promotion.threshold": 0.5, **{f"promotion.{k}": v for k, v in promotion.items()}},
    )


def test_challenger_that_loses_to_the_reference_is_never_promoted() -> None:
    """Better than the champion and the prior, clearly worse than the trees fitted on the train
    rows: kept, first champion or not, whether the reference must be beaten or not lost to."""
    frame_ = train_and_test(machines=30, seed=11, signal=1.5)
    test = frame_.filter(pl.col("split") == "test")
    y = test["failure_within_h"].to_numpy().astype(float)
    rng = np.random.default_rng(12)
    values = 0.6 * y + rng.normal(0, 1, len(y))
    challenger = Scored({"roc_auc": roc_auc(y, values)}, details={SCORES_DETAIL: values})
    champion = scored(0.05 * y + rng.normal(0, 1, len(y)))
    for promotion in (
        {"must_beat": ["champion", "prior"], "must_not_lose_to": ["reference"]},
        {"must_beat": ["champion", "prior", "reference"]},
    ):
        config = gate_config(**promotion)
        for current in (champion, None):
            decision, evidence = decide(challenger, current, frame_, config)
            vs = {c["against"]: c for c in evidence["comparisons"]}
            assert not decision.passed and "reference" in decision.reason.split("→")[1]
            assert vs["reference"]["high"] < 0 and vs["prior"]["low"] > 0
            if current is not None:
                assert vs["champion"]["low"] > 0
            assert evidence["reference"]["fitted_on"] == "train rows"
            assert evidence["reference"]["train_rows"] == 30 * HOURS
    # the same challenger with the default comparators (no reference) is not stopped by it
    decision, evidence = decide(challenger, champion, frame_, gate_config())
    assert "reference" not in evidence and "reference" not in decision.reason


def test_challenger_that_beats_the_reference_is_promoted() -> None:
    frame_ = train_and_test(machines=30, seed=13, signal=1.0)
    test = frame_.filter(pl.col("split") == "test")
    y = test["failure_within_h"].to_numpy().astype(float)
    values = 3.0 * y + np.random.default_rng(14).normal(0, 0.5, len(y))
    challenger = Scored({"roc_auc": roc_auc(y, values)}, details={SCORES_DETAIL: values})
    champion = scored(0.5 * y + np.random.default_rng(15).normal(0, 1, len(y)))
    config = gate_config(must_beat=["champion", "prior", "heuristic", "reference"])
    decision, evidence = decide(challenger, champion, frame_, config)
    assert decision.passed, decision.reason
    vs = {c["against"]: c for c in evidence["comparisons"]}
    assert set(vs) == {"champion", "prior", "heuristic", "reference"}
    assert vs["reference"]["must"] == "beat" and vs["reference"]["low"] > 0
    reference = evidence["bootstrap"]["scores"]["reference"]["roc_auc"]["point"]
    heuristic = evidence["bootstrap"]["scores"]["heuristic"]["roc_auc"]["point"]
    assert reference > heuristic  # the trees combine the two informative features
    assert "reference" in evidence["planner"]


def test_a_required_reference_without_train_rows_blocks_promotion() -> None:
    test = frame(machines=30, seed=4, heuristic_signal=0.7)  # test rows only
    y = test["failure_within_h"].to_numpy().astype(float)
    values = 3.0 * y + np.random.default_rng(16).normal(0, 0.5, len(y))
    challenger = Scored({"roc_auc": roc_auc(y, values)}, details={SCORES_DETAIL: values})
    config = gate_config(must_beat=["prior"], must_not_lose_to=["reference"])
    decision, evidence = decide(challenger, None, test, config)
    assert not decision.passed and "reference" in decision.reason.split("→")[1]
    assert "no train rows" in evidence["reference"]["skipped"]


def test_the_azure_plant_trains_with_an_experiment_gated_by_the_reference(monkeypatch) -> None:
    from mfg_assets.defs.maintenance import default_experiment

    monkeypatch.setenv("MFG_PLANT", "simulator")
    assert default_experiment() == "maintenance_default"
    assert "reference" not in load_experiment("maintenance_default").promotion.comparators(
        "maintenance"
    )
    monkeypatch.setenv("MFG_PLANT", "azure_pdm")
    assert default_experiment() == "maintenance_azure_pdm"
    from mfg_assets.features.schema import model_feature_columns
    from mfg_assets.models.maintenance.dataset import model_features

    config = load_experiment("maintenance_azure_pdm")
    promotion = config.promotion
    assert model_features(config) == model_feature_columns()  # the plant's window features
    assert "hours_since_comp1" in model_features(config)
    assert promotion.metric == "pr_auc"
    assert promotion.comparators("maintenance") == ("champion", "prior", "heuristic", "reference")
    assert set(promotion.first_champion_must_not_lose_to) == {"heuristic", "reference"}
    assert promotion.must_not_lose_to == ("reference",)


def test_reference_is_a_maintenance_comparator_only() -> None:
    from mfg_assets.models.config import ExperimentConfigError

    with pytest.raises(ExperimentConfigError, match="must_beat"):
        gate_config(must_beat=["champion", "referee"])
    defect = load_experiment("defect_default")
    with pytest.raises(ExperimentConfigError, match="needs interval metrics"):
        apply_overrides(defect, {"promotion.must_not_lose_to": ["reference"]})
