"""Benchmark: failure prediction on the Azure predictive-maintenance sample data, the reference
approach of Microsoft's modelling guide against the prior and the best single feature, over
rolling time folds of the imported slice.

    .venv/bin/python bench/azure_pdm.py [--source DIR] [--db URL] [--folds 3] [--test-days 10]
        [--horizon 24] [--trees 100] [--threshold 0.5] [--ablation] [--experiment NAME]
        [--validation-share 0.15] [--gate-min-machines 2] [--through-assets] [--smoke]

The data goes through the platform's importer first (``mfg-plant import azure-pdm`` into a
throwaway SQLite plant, or ``--db``) and is read back from the landing tables, so the benchmark
sees what the platform sees. One row per machine and hour:

- reference features (the guide's): 3 h and 24 h rolling mean and std of ``volt``, ``rotate``,
  ``pressure``, ``vibration``; count of each error type in the last 24 h; days since each
  component's last replacement (a failure counts as a replacement of its component; before the
  first one, days since 2014-01-01, where the maintenance records begin); machine model
  (one-hot) and age. Rows whose 24 h window is not yet full are dropped.
- label: any component fails within the next ``--horizon`` hours (``t < failure <= t + H``);
  rows whose label window runs past the end of the telemetry are dropped.
- folds: the last ``--folds`` × ``--test-days`` days, in consecutive test windows; each fold
  trains on every row before its window, less the ``H`` hours whose labels reach into it.
- models: scikit-learn ``GradientBoostingClassifier`` (seeded); the prior (training positive
  rate: PR AUC = the test positive rate); the single feature (and sign) with the best training
  PR AUC, thresholded at its best training F1; and the platform's maintenance model: the
  definition's window features (``features/windows.py``, what ``machine_window_features``
  computes) trained with the platform's training function (``train_maintenance_model``, the
  experiment ``--experiment``: by default the one the Azure plant trains with,
  ``maintenance_azure_pdm``; with ``MFG_PLANT=azure_pdm`` an experiment without a feature list
  takes the window features, screened for machine identity as in the assets; a listed one is
  replaced by them) on the same rows:
  each fold's training rows split by time into train and the last ``--validation-share`` for
  early stopping and the threshold (best validation F1), scored on the same test rows.
- the gate: the platform's maintenance gate (``models/maintenance/gate.py``, the experiment's
  promotion rule, as for a first champion) on each fold's frame, with its own reference
  (``HistGradientBoostingClassifier`` on the fold's train split, the validation rows left out),
  heuristic and prior, and ``MFG_GATE_MIN_TEST_MACHINES`` set to ``--gate-min-machines`` (a
  10-day fold holds failures on 3-6 machines, production's gate wants 10).

``--through-assets``: the platform's model also trained by the assets themselves on each fold
(``_azure_assets.py`` in a child process: import, backfill, labels, one
``maintenance_training_job`` per fold with the fold's window as the training set's test split),
with the folds aligned to midnight like the daily partitions.

Per component: how well the any-failure score ranks the rows before that component's failures
against the rows with no failure ahead (ROC / PR AUC). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from _smoke import parse_args
from sqlalchemy import text

from mfg_assets.features.splits import TEST, TRAIN, VALIDATION
from mfg_assets.features.windows import window_features, window_plan
from mfg_assets.models.config import ExperimentConfig
from mfg_assets.plant.definition import PlantDefinition, load_definition, shipped_definitions
from mfg_assets.plant.importers import run_import
from mfg_assets.plant.importers.datasets import dataset
from mfg_assets.plant.writer import PlantDB

MAINTENANCE_RECORDS_START = datetime(2014, 1, 1, tzinfo=UTC)
WINDOWS_H = (3, 24)
ERROR_WINDOW_H = 24
LABEL = "label"


@dataclass(frozen=True)
class Fold:
    index: int
    test_start: datetime
    test_end: datetime  # exclusive


@dataclass(frozen=True)
class Scores:
    """One model on one fold's test rows."""

    roc_auc: float
    pr_auc: float
    precision: float
    recall: float
    per_component: dict[str, tuple[float, float]]  # component → (ROC AUC, PR AUC)
    note: str = ""


# -- data -------------------------------------------------------------------------------------


def load_landing(url: str) -> dict[str, pl.DataFrame]:
    """The imported plant's landing tables as frames (timestamps UTC)."""
    db = PlantDB(url)
    try:
        with db.engine.connect() as conn:
            frames = {
                name: pl.read_database(text(f"SELECT * FROM {name}"), conn)
                for name in ("sensor_readings", "machine_events", "machines", "machine_attributes")
            }
    finally:
        db.close()
    for name in ("sensor_readings", "machine_events"):
        ts = pl.col("ts")
        frame = frames[name]
        if frame.schema["ts"] == pl.String:  # SQLite keeps UTC text
            ts = ts.str.to_datetime(time_unit="us")
        frames[name] = frame.with_columns(
            ts.dt.replace_time_zone(None).dt.replace_time_zone("UTC").alias("ts")
        )
    return frames


def hourly_rows(plant: PlantDefinition, landing: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per machine and hour with the reference features and the label columns."""
    sensors = list(plant.sensor_names)
    wide = (
        landing["sensor_readings"]
        .with_columns(pl.col("ts").dt.truncate("1h"))
        .pivot(
            on="sensor_type", index=["machine_id", "ts"], values="value", aggregate_function="mean"
        )
        .sort("machine_id", "ts")
    )
    rolling = [
        getattr(pl.col(s), f"rolling_{stat}_by")("ts", window_size=f"{h}h")
        .over("machine_id")
        .alias(f"{s}_{stat}_{h}h")
        for h in WINDOWS_H
        for s in sensors
        for stat in ("mean", "std")
    ]
    history = pl.col("ts") - pl.col("ts").min().over("machine_id")
    rows = wide.with_columns(*rolling, history.alias("_history"))

    events = landing["machine_events"].with_columns(pl.col("ts").dt.truncate("1h"))
    errors = plant.event_names("error")
    counts = (
        events.filter(pl.col("event_type").is_in(errors))
        .with_columns(pl.lit(1).alias("n"))
        .pivot(on="event_type", index=["machine_id", "ts"], values="n", aggregate_function="sum")
    )
    for name in errors:
        if name not in counts.columns:
            counts = counts.with_columns(pl.lit(0).alias(name))
    rows = rows.join(counts, on=["machine_id", "ts"], how="left").with_columns(
        pl.col(errors).fill_null(0)
    )
    rows = rows.sort("machine_id", "ts").with_columns(
        pl.col(e)
        .rolling_sum_by("ts", window_size=f"{ERROR_WINDOW_H}h")
        .over("machine_id")
        .alias(f"{e}_count_{ERROR_WINDOW_H}h")
        for e in errors
    )

    component_of = {e.name: e.component for e in plant.events if e.component is not None}
    replacements = events.filter(
        pl.col("event_type").is_in(
            [e.name for e in plant.events if e.kind in ("failure", "maintenance") and e.component]
        )
    ).with_columns(pl.col("event_type").replace_strict(component_of).alias("component"))
    for component in plant.components:
        last = (
            replacements.filter(pl.col("component") == component)
            .select("machine_id", pl.col("ts").alias("_replaced"))
            .unique()
            .sort("_replaced")
        )
        rows = rows.sort("ts").join_asof(
            last,
            left_on="ts",
            right_on="_replaced",
            by="machine_id",
            strategy="backward",
            check_sortedness=False,  # sorted by ts; polars cannot verify it within groups
        )
        since = pl.col("ts") - pl.col("_replaced").fill_null(pl.lit(MAINTENANCE_RECORDS_START))
        rows = rows.with_columns(
            (since.dt.total_seconds() / 86_400).alias(f"days_since_{component}")
        ).drop("_replaced")

    machines = landing["machine_attributes"].pivot(
        on="attribute", index="machine_id", values="value"
    )
    rows = rows.join(machines, on="machine_id", how="left").with_columns(
        pl.col("age").cast(pl.Float64)
    )
    models = next(a.values for a in plant.machines.attributes if a.name == "model") or ()
    rows = rows.with_columns(
        (pl.col("model") == m).cast(pl.Float64).alias(f"model_{m}") for m in models
    )
    return rows.drop(errors).sort("machine_id", "ts")


def add_labels(
    rows: pl.DataFrame, plant: PlantDefinition, events: pl.DataFrame, horizon_h: int
) -> pl.DataFrame:
    """``label`` (any failure in (t, t+H]) and ``label_<component>``; drops rows whose label
    window passes the end of the telemetry."""
    failures = events.filter(pl.col("event_type").is_in(plant.label_failure_types))
    component_of = {e.name: e.component for e in plant.events}
    horizon = timedelta(hours=horizon_h)
    end = rows["ts"].max()

    def labelled(subset: pl.DataFrame, name: str) -> pl.DataFrame:
        ahead = subset.select("machine_id", pl.col("ts").alias("_fail")).unique().sort("_fail")
        joined = (
            rows.select("machine_id", "ts")
            .sort("ts")
            .join_asof(
                ahead,
                left_on="ts",
                right_on="_fail",
                by="machine_id",
                strategy="forward",
                allow_exact_matches=False,
                check_sortedness=False,
            )
        )
        flag = (pl.col("_fail") - pl.col("ts") <= horizon).fill_null(False).cast(pl.Int8)
        return joined.select("machine_id", "ts", flag.alias(name))

    out = rows.join(labelled(failures, LABEL), on=["machine_id", "ts"])
    for component in plant.components:
        names = [n for n in plant.label_failure_types if component_of.get(n) == component]
        subset = failures.filter(pl.col("event_type").is_in(names))
        out = out.join(labelled(subset, f"{LABEL}_{component}"), on=["machine_id", "ts"])
    full_window = pl.col("_history") >= timedelta(hours=max(WINDOWS_H) - 1)
    return out.filter(full_window & (pl.col("ts") + horizon <= end)).drop("_history")


def rolling_folds(
    rows: pl.DataFrame, folds: int, test_days: int, whole_days: bool = False
) -> list[Fold]:
    """Consecutive test windows covering the last ``folds × test_days`` days of rows; with
    ``whole_days`` they end at midnight, as the daily training partitions' test windows do."""
    end = rows["ts"].max() + timedelta(hours=1)
    if whole_days:
        end = end.replace(hour=0, minute=0, second=0, microsecond=0)
    span = timedelta(days=test_days)
    return [
        Fold(i + 1, end - (folds - i) * span, end - (folds - i - 1) * span) for i in range(folds)
    ]


# -- metrics ----------------------------------------------------------------------------------


def _f(value: float) -> str:
    return "—" if np.isnan(value) else f"{value:.3f}"


def _auc(y: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    if y.min() == y.max():
        return float("nan"), float("nan")
    return float(roc_auc_score(y, score)), float(average_precision_score(y, score))


def _precision_recall(y: np.ndarray, flagged: np.ndarray) -> tuple[float, float]:
    tp = float((flagged & (y == 1)).sum())
    precision = tp / flagged.sum() if flagged.sum() else float("nan")
    recall = tp / (y == 1).sum() if (y == 1).sum() else float("nan")
    return precision, recall


def score(
    test: pl.DataFrame, values: np.ndarray, threshold: float, components: tuple[str, ...]
) -> Scores:
    y = test[LABEL].to_numpy()
    roc, pr = _auc(y, values)
    precision, recall = _precision_recall(y, values >= threshold)
    per_component = {}
    for component in components:
        positive = test[f"{LABEL}_{component}"].to_numpy() == 1
        keep = positive | (y == 0)
        per_component[component] = _auc(positive[keep].astype(int), values[keep])
    return Scores(roc, pr, precision, recall, per_component)


def best_single_feature(train: pl.DataFrame, columns: list[str]) -> tuple[str, float, float]:
    """The feature (and sign) with the best training PR AUC, and its best-F1 threshold."""
    from sklearn.metrics import precision_recall_curve

    y = train[LABEL].to_numpy()
    best = ("", 1.0, -1.0)
    for column in columns:
        x = train[column].to_numpy().astype(float)
        for sign in (1.0, -1.0):
            _, pr = _auc(y, sign * x)
            if pr > best[2]:
                best = (column, sign, pr)
    column, sign, _ = best
    precision, recall, thresholds = precision_recall_curve(y, sign * train[column].to_numpy())
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    threshold = float(thresholds[int(np.argmax(f1[:-1]))])
    return column, sign, threshold


# -- the platform's model ---------------------------------------------------------------------

PLATFORM_LABEL = "failure_within_h"


def platform_rows(plant: PlantDefinition, landing: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The definition's window features of every machine-hour, from the landing tables: the
    hourly summary of an hourly plant is the reading itself (mean = min = max = last)."""
    hourly = (
        landing["sensor_readings"]
        .with_columns(pl.col("ts").dt.truncate("1h").alias("hour"))
        .pivot(
            on="sensor_type",
            index=["machine_id", "hour"],
            values="value",
            aggregate_function="mean",
        )
        .select(
            "machine_id",
            "hour",
            *[
                pl.col(s).alias(f"{s}_{stat}")
                for s in plant.sensor_names
                for stat in ("mean", "min", "max", "last")
            ],
        )
    )
    machines = landing["machine_attributes"].pivot(
        on="attribute", index="machine_id", values="value"
    )
    start, end = hourly["hour"].min(), hourly["hour"].max() + timedelta(hours=1)
    return window_features(
        plant,
        hourly,
        landing["machine_events"],
        machines,
        start,
        end,
        history_start=MAINTENANCE_RECORDS_START,
    ).rename({"hour": "ts"})


@dataclass(frozen=True)
class GateVerdict:
    """The platform's gate on one fold (the challenger as a first champion)."""

    passed: bool
    reason: str
    comparisons: dict[str, tuple[float, float, float, str]]  # name → (diff, low, high, must)
    reference_pr_auc: float  # the gate's own reference on the test rows


def platform_model(
    train: pl.DataFrame,
    test: pl.DataFrame,
    features: list[str],
    args: argparse.Namespace,
    components: tuple[str, ...],
) -> tuple[Scores, float, int, GateVerdict]:
    """Train the platform's maintenance model on ``train`` (time-ordered train | validation)
    and score it on ``test``; returns the scores, the fit time, the best epoch and what the
    platform's gate decided."""
    from mfg_assets.models.config import apply_overrides, load_experiment
    from mfg_assets.models.maintenance.dataset import model_features
    from mfg_assets.models.maintenance.training import train_maintenance_model

    overrides: dict[str, object] = {"data.horizon_hours": args.horizon}
    if args.epochs is not None:
        overrides["training.epochs"] = args.epochs
    config = load_experiment(args.experiment)
    if config.data.feature_columns is not None:  # an explicit list: the window features instead
        overrides["data.feature_columns"] = features
    config = apply_overrides(config, overrides)
    if model_features(config) != features:
        raise SystemExit(f"{args.experiment}'s features are not the plant's window features")
    times = train["ts"].unique().sort()
    cut = times[int(len(times) * (1 - args.validation_share))]
    frame = pl.concat(
        [
            train.with_columns(
                pl.when(pl.col("ts") < cut)
                .then(pl.lit(TRAIN))
                .otherwise(pl.lit(VALIDATION))
                .alias("split")
            ),
            test.select(train.columns).with_columns(pl.lit(TEST).alias("split")),
        ]
    ).with_columns(pl.col(LABEL).alias(PLATFORM_LABEL))
    began = time.perf_counter()
    trained = train_maintenance_model(frame, config)
    fit_s = time.perf_counter() - began
    proba = trained.predict_proba(test.select(features))
    verdict = platform_gate(frame, proba, config)
    return score(test, proba, trained.threshold, components), fit_s, trained.best_epoch, verdict


def platform_gate(frame: pl.DataFrame, proba: np.ndarray, config: ExperimentConfig) -> GateVerdict:
    """The maintenance gate's decision on ``frame`` (its test rows scored ``proba``), with no
    champion: the experiment's comparators, the reference fitted on the train split."""
    from mfg_assets.models.lifecycle import Scored
    from mfg_assets.models.maintenance.confidence import pr_auc, roc_auc
    from mfg_assets.models.maintenance.gate import SCORES_DETAIL, decide

    gate_frame = frame.rename({"ts": "event_timestamp"})
    y = gate_frame.filter(pl.col("split") == TEST)[PLATFORM_LABEL].to_numpy().astype(float)
    metrics = {"roc_auc": roc_auc(y, proba), "pr_auc": pr_auc(y, proba)}
    decision, evidence = decide(
        Scored(metrics, details={SCORES_DETAIL: proba}), None, gate_frame, config
    )
    reference = evidence["bootstrap"]["scores"].get("reference", {})
    return GateVerdict(
        decision.passed,
        decision.reason,
        {
            c["against"]: (c["difference"], c["low"], c["high"], c["must"])
            for c in evidence["comparisons"]
        },
        reference.get("pr_auc", {}).get("point", float("nan")),
    )


# -- run --------------------------------------------------------------------------------------


def through_assets(args: argparse.Namespace, folds: list[Fold], reference: list[float]) -> None:
    """The platform's model trained by the assets on each fold (``_azure_assets.py`` in a child
    process: its own Dagster home, data folder and settings), against the reference's PR AUC
    on the same test window."""
    import json
    import re
    import subprocess
    import sys

    days = [f"{fold.test_end:%Y-%m-%d}" for fold in folds]
    with tempfile.TemporaryDirectory(prefix="azure_assets_") as work:
        command = [
            sys.executable,
            str(Path(__file__).with_name("_azure_assets.py")),
            str(args.source),
            work,
            args.experiment,
            str(args.test_days),
            *days,
        ]
        began = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - began
    records = [
        json.loads(line[5:]) for line in proc.stdout.splitlines() if line.startswith("FOLD ")
    ]
    if proc.returncode != 0 or len(records) != len(folds):
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise SystemExit(f"training through the assets failed ({proc.returncode}):\n{tail}")
    print(
        f"\nthrough the assets (import, backfill, labels, one maintenance_training_job per "
        f"fold; {seconds:.0f} s):"
    )
    print(
        "| fold | partition | test window | test rows / positive | test machines (failing) "
        "| ROC AUC | PR AUC | reference PR AUC | difference | gate |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for fold, record, ref in zip(folds, records, reference, strict=True):
        stamps = re.findall(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}", str(record.get("test_window")))
        window = " … ".join(stamps)
        pr = float(record.get("pr_auc") or float("nan"))
        print(
            f"| {fold.index} | {record['day']} | {window} | {int(record['n_rows'] or 0):,} / "
            f"{int(record['n_positive'] or 0)} | {record['test_machines']} "
            f"({record['test_failing_machines']}) | {_f(float(record['roc_auc']))} | {_f(pr)} "
            f"| {_f(ref)} | {pr - ref:+.4f} | {record['decision']} |"
        )
    mean = float(np.mean([float(r["pr_auc"]) for r in records]))
    print(
        f"| mean | | | | | | {mean:.4f} | {float(np.mean(reference)):.4f} "
        f"| {mean - float(np.mean(reference)):+.4f} | |"
    )
    for fold, record in zip(folds, records, strict=True):
        print(f"assets gate, fold {fold.index}: {record['decision_reason']}")


def run(args: argparse.Namespace) -> None:
    from sklearn.ensemble import GradientBoostingClassifier

    plant = load_definition(shipped_definitions()["azure_pdm"])
    started = time.perf_counter()
    report = run_import("azure-pdm", args.source, args.db, replace=True)
    print(f"imported {args.source} in {report.seconds:.1f} s: {report.written_rows}")
    landing = load_landing(args.db)
    reference_rows = hourly_rows(plant, landing)
    features = [
        c
        for c in reference_rows.columns
        if c not in ("machine_id", "ts", "model", "_history") and not c.startswith(LABEL)
    ]
    platform_features = window_plan(plant).feature_columns()
    # the same labelled rows for every model: the platform's columns joined beside the
    # reference's (prefixed, as some names coincide)
    platform = platform_rows(plant, landing).select(
        "machine_id", "ts", *[pl.col(c).alias(f"p_{c}") for c in platform_features]
    )
    merged = reference_rows.join(platform, on=["machine_id", "ts"], how="left")
    rows = add_labels(merged, plant, landing["machine_events"], args.horizon)
    platform_cols = [f"p_{c}" for c in platform_features]
    missing = rows.select(pl.col(platform_cols).null_count()).sum_horizontal().item()
    if missing:
        raise SystemExit(f"{missing} platform feature cells are empty on labelled rows")
    print(
        f"{rows.height:,} labelled machine-hours, {len(features)} features, "
        f"{int(rows[LABEL].sum()):,} positive rows; built in {time.perf_counter() - started:.1f} s"
    )
    os.environ["MFG_GATE_MIN_TEST_MACHINES"] = str(args.gate_min_machines)
    verdicts: list[GateVerdict] = []
    results: dict[str, list[Scores]] = {
        "reference (GBC)": [],
        "platform maintenance model": [],
        "best single feature": [],
        "prior": [],
    }
    fold_lines = []
    folds = rolling_folds(rows, args.folds, args.test_days, whole_days=args.through_assets)
    for fold in folds:
        horizon = timedelta(hours=args.horizon)
        train = rows.filter(pl.col("ts") + horizon < fold.test_start)
        test = rows.filter((pl.col("ts") >= fold.test_start) & (pl.col("ts") < fold.test_end))
        test_failures = (
            landing["machine_events"]
            .filter(
                pl.col("event_type").is_in(plant.label_failure_types)
                & (pl.col("ts") > fold.test_start)
                & (pl.col("ts") <= fold.test_end - timedelta(hours=1) + horizon)
            )
            .select("machine_id", "ts")
            .unique()
            .height
        )
        began = time.perf_counter()
        model = GradientBoostingClassifier(n_estimators=args.trees, random_state=0)
        model.fit(train.select(features).to_numpy(), train[LABEL].to_numpy())
        fit_s = time.perf_counter() - began
        proba = model.predict_proba(test.select(features).to_numpy())[:, 1]
        results["reference (GBC)"].append(score(test, proba, args.threshold, plant.components))
        if args.ablation:  # the same trees on the telemetry features alone
            telemetry = [f for f in features if f.split("_")[0] in plant.sensor_names]
            alone = GradientBoostingClassifier(n_estimators=args.trees, random_state=0)
            alone.fit(train.select(telemetry).to_numpy(), train[LABEL].to_numpy())
            proba = alone.predict_proba(test.select(telemetry).to_numpy())[:, 1]
            results.setdefault("GBC, telemetry only", []).append(
                score(test, proba, args.threshold, plant.components)
            )

        column, sign, threshold = best_single_feature(train, features)
        values = sign * test[column].to_numpy().astype(float)
        single = score(test, values, threshold, plant.components)
        results["best single feature"].append(
            Scores(**{**single.__dict__, "note": f"{'-' if sign < 0 else ''}{column}"})
        )
        prior = np.full(test.height, float(train[LABEL].mean()))
        results["prior"].append(score(test, prior, 1.0 + 1e-9, plant.components))
        platform_scores, platform_s, best_epoch, verdict = platform_model(
            train.select("machine_id", "ts", LABEL, *platform_cols).rename(
                dict(zip(platform_cols, platform_features, strict=True))
            ),
            test.select(
                "machine_id",
                "ts",
                *[c for c in test.columns if c.startswith(LABEL)],
                *platform_cols,
            ).rename(dict(zip(platform_cols, platform_features, strict=True))),
            platform_features,
            args,
            plant.components,
        )
        results["platform maintenance model"].append(
            Scores(**{**platform_scores.__dict__, "note": f"best epoch {best_epoch}"})
        )
        verdicts.append(verdict)
        fold_lines.append(
            f"| {fold.index} | {fold.test_start:%Y-%m-%d %H:%M} … {fold.test_end:%Y-%m-%d %H:%M} "
            f"| {train.height:,} | {test.height:,} | {int(test[LABEL].sum())} | {test_failures} "
            f"| {fit_s:.1f} | {platform_s:.1f} |"
        )

    print()
    print(
        "| fold | test window (UTC) | train rows | test rows | positive rows | failures ahead "
        "| GBC fit (s) | platform fit (s) |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(fold_lines))
    print()
    print(
        f"| model | fold | ROC AUC | PR AUC | precision | recall | "
        f"{' | '.join(f'{c} ROC / PR' for c in plant.components)} | note |"
    )
    print(
        "| --- | --- | ---: | ---: | ---: | ---: | " + " ---: |" * len(plant.components) + " --- |"
    )
    for name, per_fold in results.items():
        for i, s in enumerate(per_fold, start=1):
            comps = " | ".join(f"{_f(roc)} / {_f(pr)}" for roc, pr in s.per_component.values())
            print(
                f"| {name} | {i} | {_f(s.roc_auc)} | {_f(s.pr_auc)} | {_f(s.precision)} | "
                f"{_f(s.recall)} | {comps} | {s.note} |"
            )
        mean = [np.nanmean([getattr(s, m) for s in per_fold]) for m in ("roc_auc", "pr_auc")]
        print(
            f"| {name} | mean | {mean[0]:.3f} | {mean[1]:.3f} | | |"
            + " |" * len(plant.components)
            + " |"
        )
    print()
    names = list(verdicts[0].comparisons) if verdicts else []
    print(
        "| fold | gate (first champion) | gate's reference PR AUC | "
        + " | ".join(f"vs {n} ({verdicts[0].comparisons[n][3]}) [90 % interval]" for n in names)
        + " |"
    )
    print("| --- | --- | ---: |" + " --- |" * len(names))
    for i, v in enumerate(verdicts, start=1):
        cells = " | ".join(
            f"{v.comparisons[n][0]:+.3f} [{v.comparisons[n][1]:+.3f}, {v.comparisons[n][2]:+.3f}]"
            for n in names
        )
        print(
            f"| {i} | {'promoted' if v.passed else 'kept out'} | {_f(v.reference_pr_auc)} "
            f"| {cells} |"
        )
    for i, v in enumerate(verdicts, start=1):
        print(f"gate, fold {i}: {v.reason}")
    if args.through_assets:
        reference = [s.pr_auc for s in results["reference (GBC)"]]
        through_assets(args, folds, reference)
    print(
        f"\nthresholds: GBC {args.threshold}; single feature: best training F1; platform: "
        f"best validation F1 ({args.experiment}, {len(platform_features)} window features); total "
        f"{time.perf_counter() - started:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=dataset("azure_pdm"))
    parser.add_argument("--db", help="plant database to import into (default: a temp SQLite)")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--test-days", type=int, default=10)
    parser.add_argument("--horizon", type=int, default=24, help="label horizon (hours)")
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--threshold", type=float, default=0.5, help="GBC decision threshold")
    parser.add_argument(
        "--ablation", action="store_true", help="also GBC on the telemetry features alone"
    )
    parser.add_argument(
        "--experiment", default="maintenance_azure_pdm", help="platform model's experiment"
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="platform model's epoch cap (unset: its own)"
    )
    parser.add_argument("--validation-share", type=float, default=0.15)
    parser.add_argument(
        "--gate-min-machines", type=int, default=2, help="MFG_GATE_MIN_TEST_MACHINES of the gate"
    )
    parser.add_argument(
        "--through-assets",
        action="store_true",
        help="also train the platform's model through the assets on each fold (day-aligned)",
    )
    args = parse_args(parser, folds=1, test_days=5, trees=5, ablation=False, epochs=2)
    if args.source is None:
        message = "no Azure PdM data: pass --source DIR or set MFG_DATASETS_DIR"
        if args.smoke:  # a machine without the shared datasets: nothing to check
            print(f"skipped: {message}")
            return
        parser.error(message)
    # the Azure plant is the active one: an experiment without a feature list takes its window
    # features (screened for machine identity, as in training through the assets)
    os.environ["MFG_PLANT"] = "azure_pdm"
    with tempfile.TemporaryDirectory() as tmp:
        args.db = args.db or f"sqlite:///{Path(tmp) / 'azure_pdm.db'}"
        run(args)


if __name__ == "__main__":
    main()
