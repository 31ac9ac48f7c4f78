"""Benchmark: alarms as a maintenance planner reads them, for the model, the best single-feature
heuristic and the simulator's oracle, on the same held-out rows of simulated plants; and what
the promotion gate would decide for that model as a first champion.

    .venv/bin/python bench/planner.py [--days 14] [--machines 20] [--seeds 7 8 9]
        [--test-days 3] [--epochs N] [--cache-dir /tmp/mfg_bench]

For each plant seed: the training set as in ``bench/train_maintenance.py`` with the last
``--test-days`` days held out, the MLP trained on the rest, the heuristic chosen on the train
rows (``models/maintenance/gate.py``), and the oracle: the simulator's probability of a
failure within the label horizon from the hidden wear and fault state
(``PlantSimulator.failure_probability``), which no model can see. Planner metrics
(``models/maintenance/planner.py``): at one false alarm per machine-week, the share of
failures warned at least 6 h ahead and the median lead time. ROC / PR AUC with 90 % intervals
from a bootstrap over machines, and the gate's verdict against prior and heuristic. The last
lines pool the seeds and give the model's warned share as a ratio of the oracle's, and the
issue's measure (goal ≥ 0.8): of the failures the oracle warns at least 6 h ahead, the share the
model warns as early, with a 90 % Wilson interval (failures pooled; those of one machine are
not independent, so read it as a lower bound on the uncertainty).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _smoke import parse_args
from train_maintenance import oracle_scores, plant_simulator, plant_training_set

from mfg_assets.features.splits import time_ordered_split
from mfg_assets.models.config import apply_overrides, load_experiment
from mfg_assets.models.lifecycle import Comparison, confident_gate
from mfg_assets.models.maintenance.confidence import machine_bootstrap
from mfg_assets.models.maintenance.dataset import model_features, select_split
from mfg_assets.models.maintenance.gate import best_single_feature
from mfg_assets.models.maintenance.planner import planner_metrics, share_also_warned
from mfg_assets.models.maintenance.training import train_maintenance_model
from mfg_assets.settings import gate_settings


def one_plant(args: argparse.Namespace, seed: int) -> dict[str, dict]:
    frame = plant_training_set(args.days, args.machines, seed, cache_dir=args.cache_dir)
    frame = time_ordered_split(frame.drop("split"), test_days=args.test_days)
    config = load_experiment("maintenance_default")
    if args.epochs is not None:
        config = apply_overrides(config, {"training.epochs": args.epochs})
    trained = train_maintenance_model(frame, config)
    test = select_split(frame, "test")
    heuristic = best_single_feature(
        select_split(frame, "train"), model_features(config), "failure_within_h", "train rows"
    )
    sim = plant_simulator(args.machines, seed)
    scores = {
        "model": np.asarray(trained.predict_proba(test), dtype=np.float64),
        "heuristic": heuristic.score(test),
        "oracle": oracle_scores(sim, test, float(config.data.horizon_hours)),
    }
    y = test["failure_within_h"].to_numpy().astype(float)
    machines = test["machine_id"].to_numpy()
    times = test["event_timestamp"].dt.replace_time_zone(None).to_numpy()
    prior = np.full(len(y), y.mean() if len(y) else 0.0)
    boot = machine_bootstrap(
        y, machines, {**scores, "prior": prior}, "model", resamples=args.resamples
    )
    results = {}
    for name, s in scores.items():
        planner = planner_metrics(machines, times, y, s)
        results[name] = {"planner": planner, "auc": boot.scores[name]}
    metric = config.promotion.metric
    min_machines, _, _ = gate_settings()
    decision = confident_gate(
        boot.scores["model"][metric].point,
        [
            Comparison(name, d.point, d.low, d.high)
            for name in ("prior", "heuristic")
            for d in [boot.differences[name][metric]]
        ],
        metric=metric,
        threshold=config.promotion.threshold,
        margin=config.promotion.champion_margin,
        failing_machines=boot.failing_machines,
        min_machines=min_machines,
    )
    results["gate"] = {"passed": decision.passed}
    print(
        f"seed {seed}: {test.height} test rows, {boot.machines} machines "
        f"({boot.failing_machines} with a failure), heuristic {heuristic.feature}"
    )
    for name, r in results.items():
        if name == "gate":
            continue
        p, auc = r["planner"], r["auc"]
        roc, pr = auc["roc_auc"], auc["pr_auc"]
        print(
            f"  {name:9s} ROC {roc.point:.3f} [{roc.low:.3f}, {roc.high:.3f}]  "
            f"PR {pr.point:.3f} [{pr.low:.3f}, {pr.high:.3f}]  "
            f"warned>=6h {p.warned_early}/{p.failures} ({p.share_warned_early:.2f})  "
            f"median lead {p.median_lead_hours:.1f} h  "
            f"false alarms/machine-week {p.false_alarms_per_machine_week:.2f}"
        )
    print(f"  gate as a first champion: {decision.reason}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--machines", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--test-days", type=float, default=3.0)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parse_args(parser, days=2, machines=4, seeds=[7], epochs=2, resamples=50)
    pooled: dict[str, list[int]] = {}
    promoted, both, oracle_early = 0, 0, 0
    for seed in args.seeds:
        plant = one_plant(args, seed)
        shared, reference = share_also_warned(plant["model"]["planner"], plant["oracle"]["planner"])
        both, oracle_early = both + shared, oracle_early + reference
        for name, r in plant.items():
            if name == "gate":
                promoted += r["passed"]
                continue
            warned, failures = pooled.setdefault(name, [0, 0])
            pooled[name] = [warned + r["planner"].warned_early, failures + r["planner"].failures]
    print("pooled over seeds: failures warned >= 6 h ahead at 1 false alarm per machine-week")
    for name, (warned, failures) in pooled.items():
        print(f"  {name:9s} {warned}/{failures}")
    oracle = pooled["oracle"][0]
    ratio = pooled["model"][0] / oracle if oracle else float("nan")
    print(f"model / oracle warned share: {ratio:.2f} (goal >= 0.80)")
    low, high = wilson_interval(both, oracle_early)
    print(
        f"of the failures the oracle warns >= 6 h ahead, the model warns as early: "
        f"{both}/{oracle_early} = {both / oracle_early if oracle_early else float('nan'):.2f} "
        f"[90 % Wilson interval {low:.2f}, {high:.2f}] (goal >= 0.80)"
    )
    print(f"gate would promote the model as a first champion on {promoted} of {len(args.seeds)}")


def wilson_interval(successes: int, trials: int, z: float = 1.645) -> tuple[float, float]:
    """Wilson score interval of a proportion (default 90 %); (nan, nan) without trials."""
    if trials == 0:
        return float("nan"), float("nan")
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return float(centre - half), float(centre + half)


if __name__ == "__main__":
    main()
