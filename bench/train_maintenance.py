"""Benchmark: the maintenance MLP on a realistic training set from the plant simulator, against
the trivial baselines on the same held-out test rows.

    .venv/bin/python bench/train_maintenance.py [--days 14] [--machines 20] [--seed 7]
        [--experiment maintenance_default] [--cache-dir /tmp/mfg_bench]

The training set is built like ``maintenance_training_set``, without Dagster. The simulator runs
(dirt included) for ``--days`` labelled days plus the 24 h look-ahead of the last label. Hourly
features come from ``build_features``, a day at a time, and labels from ``failure_labels``. Each
label row gets the features of its own hour (point in time), then ``time_ordered_split``
applies. Production trains on 14 labelled days. The 7-day demo plant has 6 (``--days 6``).

The script prints training time per epoch and rows/s on CPU (and on CUDA when available), and
test ROC AUC, PR AUC and F1 for the model, the vibration_mean heuristic, the prior-rate
baseline and the simulator's oracle (``PlantSimulator.failure_probability``: the probability
of a failure within the horizon from the hidden wear and fault state, which no model sees; F1
at probability 0.5), all on the same test rows: the ceiling every model change is read
against. With no explicit feature list, it also shows the same model without the
machine-fingerprint screening (every schema feature), which is how it trained before.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from _smoke import parse_args

from mfg_assets.features.labels import LABEL_COLUMN, failure_labels
from mfg_assets.features.pipeline import build_features
from mfg_assets.features.schema import feature_columns
from mfg_assets.features.splits import time_ordered_split
from mfg_assets.models.config import ExperimentConfig, apply_overrides, load_experiment
from mfg_assets.models.maintenance.dataset import select_split
from mfg_assets.models.maintenance.evaluation import evaluate
from mfg_assets.models.maintenance.training import train_maintenance_model
from mfg_assets.plant.config import DirtConfig, PlantConfig
from mfg_assets.plant.definition import load_definition, shipped_definitions
from mfg_assets.plant.simulator import PlantSimulator

EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def plant_training_set(
    days: int,
    machines: int = 20,
    seed: int = 7,
    horizon_hours: int = 24,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    cache_dir: Path | None = None,
) -> pl.DataFrame:
    """Labelled, split training frame for ``days`` days of labels of a simulated plant."""
    cache = None
    if cache_dir is not None:
        name = f"train_d{days}_m{machines}_s{seed}_h{horizon_hours}.parquet"
        cache = Path(cache_dir) / name
        if cache.is_file():
            frame = pl.read_parquet(cache)
            return time_ordered_split(frame, "event_timestamp", validation_fraction, test_fraction)
    horizon = timedelta(hours=horizon_hours)
    sim = plant_simulator(machines, seed)
    label_end = EPOCH + days * DAY
    events_until = label_end + horizon
    parts = []
    day = EPOCH
    while day < label_end:
        readings = sim.readings(max(day - HOUR, EPOCH), day + DAY)
        inspections = sim.inspections(day, day + DAY)
        parts.append(
            build_features(readings, inspections, sim.machine_ids, day, day + DAY).features
        )
        day += DAY
    features = pl.concat(parts)
    labels = failure_labels(
        features.select("machine_id", "hour"),
        sim.events(EPOCH, events_until),
        horizon,
        events_until=events_until,
        failure_types=load_definition(shipped_definitions()["simulator"]).label_failure_types,
    )
    frame = (
        labels.select("machine_id", "hour", LABEL_COLUMN)
        .join(features, on=["machine_id", "hour"], how="inner")
        .drop_nulls(feature_columns())
    )
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(cache)
    return time_ordered_split(frame, "event_timestamp", validation_fraction, test_fraction)


def plant_simulator(machines: int, seed: int) -> PlantSimulator:
    """The simulated plant :func:`plant_training_set` builds its rows from."""
    return PlantSimulator(PlantConfig(machines=machines, seed=seed, epoch=EPOCH, dirt=DirtConfig()))


def oracle_scores(sim: PlantSimulator, rows: pl.DataFrame, horizon_hours: float) -> np.ndarray:
    """The simulator's failure probability within the horizon at each row's
    ``event_timestamp`` (the end of its hour, when its features are known)."""
    out = np.zeros(rows.height)
    for machine in rows["machine_id"].unique().to_list():
        index = np.flatnonzero((rows["machine_id"] == machine).to_numpy())
        times = rows["event_timestamp"].gather(index).to_list()
        out[index] = sim.failure_probability(machine, times, horizon_hours)
    return out


def oracle_metrics(sim: PlantSimulator, rows: pl.DataFrame, horizon_hours: float) -> dict:
    """ROC / PR AUC and F1 (at probability 0.5) of the oracle on ``rows``."""
    from mfg_assets.models.maintenance.evaluation import ranking_metrics, threshold_metrics

    y = rows[LABEL_COLUMN].to_numpy().astype(float)
    proba = oracle_scores(sim, rows, horizon_hours)
    return {**ranking_metrics(y, proba), **threshold_metrics(y, proba, 0.5)}


def run_experiment(frame: pl.DataFrame, config: ExperimentConfig) -> dict[str, float]:
    """Train on ``frame`` and score the test split; timings and test metrics in one dict."""
    started = time.perf_counter()
    trained = train_maintenance_model(frame, config)
    seconds = time.perf_counter() - started
    used = trained.normalizer.used_features
    test = select_split(frame, "test")
    metrics = evaluate(trained.predict_proba, test, trained.threshold)
    train_rows = int((frame["split"] == "train").sum())
    per_epoch = [r.seconds for r in trained.history]
    return {
        **metrics,
        "train_rows": float(train_rows),
        "seconds": seconds,
        "epochs_run": float(len(trained.history)),
        "best_epoch": float(trained.best_epoch),
        # median: the first epoch also pays one-off imports and allocations
        "seconds_per_epoch": float(np.median(per_epoch)),
        "rows_per_second": train_rows / float(np.median(per_epoch)),
        "features_used": float(len(used)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=14, help="labelled days (demo plant: 6)")
    parser.add_argument("--machines", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7, help="plant seed")
    parser.add_argument("--experiment", default="maintenance_default")
    parser.add_argument("--cache-dir", type=Path, default=None, help="reuse built frames")
    parser.add_argument("--epochs", type=int, default=None, help="override training.epochs")
    args = parse_args(parser, days=2, machines=4, epochs=2)

    config = load_experiment(args.experiment)
    if args.epochs is not None:
        config = apply_overrides(config, {"training.epochs": args.epochs})
    started = time.perf_counter()
    frame = plant_training_set(
        args.days,
        args.machines,
        args.seed,
        horizon_hours=config.data.horizon_hours,
        validation_fraction=config.data.validation_fraction,
        test_fraction=config.data.test_fraction,
        cache_dir=args.cache_dir,
    )
    built = time.perf_counter() - started
    counts = {
        r["split"]: (r["len"], r["positive"])
        for r in frame.group_by("split")
        .agg(pl.len(), pl.col(LABEL_COLUMN).sum().alias("positive"))
        .iter_rows(named=True)
    }
    print(
        f"plant: seed {args.seed}, {args.machines} machines, {args.days} labelled days "
        f"({frame.height:,} rows, built in {built:.1f} s); experiment {args.experiment}"
    )
    print("  " + ", ".join(f"{s} {n:,} rows / {p} positive" for s, (n, p) in counts.items()))

    import sklearn.metrics  # noqa: F401  (imported by the first epoch otherwise: not training time)
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    results = {
        d: run_experiment(frame, apply_overrides(config, {"training.device": d})) for d in devices
    }
    first = results["cpu"]
    print()
    print(f"{'':26}" + "".join(f"{d:>12}" for d in devices))
    for key, label, fmt in [
        ("seconds", "training time (s)", "{:12.2f}"),
        ("epochs_run", "epochs run", "{:12.0f}"),
        ("best_epoch", "best epoch", "{:12.0f}"),
        ("seconds_per_epoch", "time per epoch (ms)", "{:12.1f}"),
        ("rows_per_second", "train rows/s", "{:12,.0f}"),
        ("features_used", "features used", "{:12.0f}"),
    ]:
        scale = 1000.0 if key == "seconds_per_epoch" else 1.0
        print(f"{label:26}" + "".join(fmt.format(results[d][key] * scale) for d in devices))
    print()
    print(f"test split: {first['n_rows']:.0f} rows, prevalence {first['prevalence']:.3f}")
    print(f"{'':26}{'ROC AUC':>10}{'PR AUC':>10}{'F1':>10}")
    rows = [(f"model ({d})", results[d], "") for d in devices]
    if config.data.feature_columns is None:
        every = apply_overrides(config, {"data.feature_columns": feature_columns()})
        rows += [("model, no screening (cpu)", run_experiment(frame, every), "")]
    rows += [("heuristic vibration_mean", first, "baseline_heuristic_")]
    rows += [("prior rate", first, "baseline_prior_")]
    oracle = oracle_metrics(
        plant_simulator(args.machines, args.seed),
        select_split(frame, "test"),
        float(config.data.horizon_hours),
    )
    rows += [("oracle (hidden state)", oracle, "")]
    for label, metrics, prefix in rows:
        print(
            f"{label:26}{metrics[prefix + 'roc_auc']:10.3f}{metrics[prefix + 'pr_auc']:10.3f}"
            f"{metrics[prefix + 'f1']:10.3f}"
        )


if __name__ == "__main__":
    main()
