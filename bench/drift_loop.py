"""Benchmark: how well the drift loop works - false alarms on a clean plant, hours from a plant
change to the first drifted report, whether the retrain ran, and the new champion against the
old one on post-change data.

    .venv/bin/python bench/drift_loop.py [--machines 20] [--train-days 7] [--clean-days 4]
        [--post-days 3] [--cooldown-hours 24] [--post-change-hours 12] [--seed 7]
        [--scenarios sensor_offset,supplier_change,fast_wear] [--recalibrate-hours 24]

The loop is replayed hour by hour with the functions the Dagster assets and the sensor call
(no Dagster, Feast or MLflow in between, so it runs in minutes on two cores):

* plant: the simulator (dirt included), hourly features from ``build_features``, labels from
  ``failure_labels``; every scenario shares the clean plant's history before its start (the
  simulator guarantees identical data before a scenario starts) and changes it from hour T on;
* champion v1: ``train_maintenance_model`` (experiment ``maintenance_default``) on the labels
  of the first ``--train-days`` days, split by time like ``maintenance_training_set``;
* every hour: ``compute_feature_drift`` on the trailing 24 h against the champion's training
  window (prepared once per champion, as ``feature_drift_report`` caches it), then
  ``retrain_plan.decide_plan`` exactly as ``drift_retraining_sensor`` runs it: the first drifted
  report opens an episode whose one retrain waits for the label horizon plus
  ``--post-change-hours`` of post-change labels (cool-down in plant hours);
* a retrain request for day D trains on the labels of the ``--window-days`` days before D that
  exist when it runs (a label needs its 24 h look-ahead), is scored with the champion on the
  challenger's test rows and promoted through the same gate (``decide_promotion``: threshold
  and margin of the experiment); a promoted model becomes the drift reference;
* post-change quality: the old champion (v1) and the final champion on the labelled hours of
  the last post-change day, which no retrain can have seen (labels of day D only enter the
  training sets of days after D), beside the plant's heuristic (``vibration_mean``) and the
  simulator's oracle (failure probability from the hidden wear and fault state, scenario
  included) on the same rows: the ceiling a retrain is read against; and, for each scenario,
  a post-change model: v1's recipe on a plant that ran under the scenario from its first hour
  (what a retrain could reach with enough post-change labels), with the served model's PR AUC
  minus its PR AUC (the issue's goal: within 0.05 within 48 plant hours).

Each retrain prints where the post-change rows of its frame landed (train / validation / test).
Variants for measuring what would make a retrain help (none is what the platform does):
``--post-change-split`` splits the rows since the episode's first drifted hour by machine (half
train, half test) instead of by time, ``--post-change-weight N`` repeats those training rows,
``--baseline-hours N`` replaces every sensor feature by its difference to the machine's median
of its previous N hours (model and drift reports), ``--recalibrate-hours N`` serves v1 with its
normalizer moved onto the drifted columns of the latest report N hours after an episode opens
(mean and standard deviation matched to the champion's window; no labels, ungated). The table
also gives each run's longest streak of consecutive drifted reports.

Clean days: drifted reports and retrain requests there are false alarms. "daily" columns say
what daily reports (one at the end of each day, 23:00) would have given: detection at a day
boundary at the earliest.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _smoke import parse_args  # noqa: E402
from train_maintenance import oracle_metrics  # noqa: E402

from mfg_assets.features.labels import LABEL_COLUMN, failure_labels  # noqa: E402
from mfg_assets.features.pipeline import build_features  # noqa: E402
from mfg_assets.features.schema import feature_columns  # noqa: E402
from mfg_assets.features.splits import time_ordered_split  # noqa: E402
from mfg_assets.monitoring.drift import (  # noqa: E402
    DriftReference,
    compute_feature_drift,
    prepare_reference,
)
from mfg_assets.monitoring.episodes import DriftObservation, hour_of  # noqa: E402
from mfg_assets.monitoring.retrain_plan import PlanConfig, PlanState, decide_plan  # noqa: E402
from mfg_assets.plant.config import DirtConfig, PlantConfig  # noqa: E402
from mfg_assets.plant.definition import load_definition, shipped_definitions  # noqa: E402
from mfg_assets.plant.scenarios import scenario_spec  # noqa: E402
from mfg_assets.plant.simulator import PlantSimulator  # noqa: E402

EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
HORIZON = timedelta(hours=24)
KEY = "%Y-%m-%d-%H:%M"


@dataclass
class Champion:
    version: int
    model: Any
    window: tuple[datetime, datetime]  # training hours [first, end)
    reference: DriftReference


@dataclass
class Outcome:
    name: str
    start: datetime | None
    reports: int = 0
    skipped: int = 0
    first_drift: datetime | None = None
    first_daily_drift: datetime | None = None
    retrains: list[str] = field(default_factory=list)
    episodes: int = 0
    first_promotion: datetime | None = None
    promoted: list[int] = field(default_factory=list)
    old: dict[str, float] = field(default_factory=dict)
    new: dict[str, float] = field(default_factory=dict)
    oracle: dict[str, float] = field(default_factory=dict)
    post_change: dict[str, float] = field(default_factory=dict)
    final_version: int = 1
    report_seconds: list[float] = field(default_factory=list)
    columns: dict[str, int] = field(default_factory=dict)
    drifted_hours: list[datetime] = field(default_factory=list)
    recalibrated: str | None = None  # "<hour> (<columns>)" when --recalibrate-hours acted

    @property
    def drifted(self) -> int:
        return len(self.drifted_hours)


def longest_streak(hours: list[datetime]) -> int:
    """The most consecutive hourly reports in ``hours`` (sorted) that drifted."""
    best = run = 0
    for i, hour in enumerate(hours):
        run = run + 1 if i and hour - hours[i - 1] == HOUR else 1
        best = max(best, run)
    return best


def simulate(config: PlantConfig, first_day: datetime, last_day: datetime) -> dict[str, Any]:
    """Hourly features of the days ``[first_day, last_day)`` and the events up to last_day."""
    sim = PlantSimulator(config)
    parts, day = [], first_day
    while day < last_day:
        readings = sim.readings(max(day - HOUR, config.epoch), day + DAY)
        inspections = sim.inspections(day, day + DAY)
        parts.append(
            build_features(readings, inspections, sim.machine_ids, day, day + DAY).features
        )
        day += DAY
    return {"features": pl.concat(parts), "events": sim.events(first_day, last_day), "sim": sim}


def relative_to_own_baseline(features: pl.DataFrame, hours: int) -> pl.DataFrame:
    """Every sensor feature minus the median of the same machine's previous ``hours`` rows
    (at least half of them; null before): features relative to each machine's recent
    baseline. ``hours`` 0 leaves the features as they are."""
    if hours <= 0:
        return features
    from mfg_assets.features.schema import sensor_feature_columns

    previous = [
        (
            pl.col(c) - pl.col(c).shift(1).rolling_median(window_size=hours, min_samples=hours // 2)
        ).over("machine_id")
        for c in sensor_feature_columns()
    ]
    return features.sort("machine_id", "hour").with_columns(previous).sort("hour", "machine_id")


def labels_for(features: pl.DataFrame, events: pl.DataFrame, until: datetime) -> pl.DataFrame:
    """Labels of every hour whose look-ahead ends by ``until``, joined with its features."""
    failure_types = load_definition(shipped_definitions()["simulator"]).label_failure_types
    labels = failure_labels(
        features.select("machine_id", "hour"), events, HORIZON, until, failure_types
    )
    return (
        labels.select("machine_id", "hour", "event_timestamp", LABEL_COLUMN)
        .join(features, on=["machine_id", "hour"], how="inner")
        .drop_nulls(feature_columns())
    )


def train(frame: pl.DataFrame, config: Any, since: datetime | None = None, weight: int = 1) -> Any:
    """Train on ``frame`` split by time. With ``since`` (``--post-change-split``) the rows from
    ``since`` on are split by machine instead - every other machine's rows train, the rest
    test - and the training rows among them count ``weight`` times (repeated)."""
    from mfg_assets.models.maintenance.training import train_maintenance_model

    before = frame if since is None else frame.filter(pl.col("hour") < since)
    split = time_ordered_split(
        before,
        "event_timestamp",
        config.data.validation_fraction,
        config.data.test_fraction,
    )
    if since is None:
        return train_maintenance_model(split, config), split
    after = frame.filter(pl.col("hour") >= since)
    machines = sorted(after["machine_id"].unique().to_list())
    held_out = machines[1::2]
    kind = (
        pl.when(pl.col("machine_id").is_in(held_out))
        .then(pl.lit("test"))
        .otherwise(pl.lit("train"))
    )
    after = after.with_columns(kind.cast(split.schema["split"]).alias("split"))
    split = pl.concat([split, after.select(split.columns)])
    extra = after.filter(pl.col("split") == "train").select(split.columns)
    weighted = pl.concat([split, *[extra] * (weight - 1)])
    return train_maintenance_model(weighted, config), split


def post_change_model(base: PlantConfig, name: str, args: argparse.Namespace, config: Any) -> Any:
    """What a retrain could reach with enough post-change labels: the v1 recipe (same plant
    seed, ``--train-days`` labelled days) on a plant that ran under the scenario from its
    first hour."""
    train_end = EPOCH + args.train_days * DAY
    plant = simulate(
        replace(base, scenarios=(scenario_spec(name, EPOCH),)), EPOCH, train_end + HORIZON
    )
    features = relative_to_own_baseline(plant["features"], args.baseline_hours)
    labelled = labels_for(features, plant["events"], train_end + HORIZON)
    model, _ = train(labelled.filter(pl.col("hour") < train_end), config)
    return model


def score(model: Any, frame: pl.DataFrame, baselines: bool = False) -> dict[str, float]:
    """The model's metrics on ``frame``; with ``baselines`` also the prior's and the plant's
    heuristic's (``baseline_*``) on the same rows."""
    from mfg_assets.models.maintenance.evaluation import evaluate, plant_baseline_feature

    feature = plant_baseline_feature() if baselines else None
    return evaluate(model.predict_proba, frame, model.threshold, baseline_feature=feature)


def recalibrated(model: Any, reference: pl.DataFrame, current: pl.DataFrame, columns: list[str]):
    """``--recalibrate-hours``: the model with its input normalizer moved onto the current
    plant for the drifted ``columns``: a current value maps to the reference's scale by
    matching mean and standard deviation (``(x - mean_now) * sd_ref / sd_now + mean_ref``),
    folded into the normalizer's mean and scale. The weights and threshold are unchanged; no
    label is needed, only the drift report's two windows."""
    normalizer = model.predictor.normalizer
    mean, scale = list(normalizer.mean), list(normalizer.scale)
    for column in columns:
        if column not in normalizer.feature_names:
            continue
        i = normalizer.feature_names.index(column)
        ref, now = reference[column].drop_nulls(), current[column].drop_nulls()
        ref_sd, now_sd = float(ref.std() or 0.0), float(now.std() or 0.0)
        ratio = now_sd / ref_sd if ref_sd > 1e-12 and now_sd > 1e-12 else 1.0
        mean[i] = float(now.mean()) + (normalizer.mean[i] - float(ref.mean())) * ratio
        scale[i] = normalizer.scale[i] * ratio
    moved = replace(normalizer, mean=tuple(mean), scale=tuple(scale))
    return replace(model, predictor=replace(model.predictor, normalizer=moved))


def make_champion(version: int, model: Any, train_frame: pl.DataFrame, features: pl.DataFrame):
    first, last = train_frame["hour"].min(), train_frame["hour"].max() + HOUR
    rows = features.filter((pl.col("hour") >= first) & (pl.col("hour") < last))
    reference = prepare_reference(rows, reference_id=f"v{version}", window=(first, last))
    return Champion(version, model, (first, last), reference)


def run_loop(
    name: str,
    features: pl.DataFrame,
    events: pl.DataFrame,
    champion: Champion,
    hours: list[datetime],
    args: argparse.Namespace,
    config: Any,
    start: datetime | None,
    eval_day: datetime | None,
    sim: PlantSimulator | None = None,
    reference_model: Any = None,
) -> Outcome:
    """Hourly reports over ``hours``, sensor decisions, retrains; metrics on ``eval_day``."""
    from mfg_assets.models.registry import decide_promotion

    outcome = Outcome(name, start)
    first_champion = champion
    state, next_version = PlanState(), 2
    plan = PlanConfig(
        horizon=HORIZON,
        post_change=timedelta(hours=args.post_change_hours),
        cooldown=timedelta(hours=args.cooldown_hours),
    )
    for n, hour in enumerate(hours, start=1):
        window = (hour + HOUR - 24 * HOUR, hour + HOUR)
        current = features.filter((pl.col("hour") >= window[0]) & (pl.col("hour") < window[1]))
        began = time.perf_counter()
        result = compute_feature_drift(current, champion.reference, window=window)
        outcome.report_seconds.append(time.perf_counter() - began)
        outcome.reports += 1
        meta = {**result.as_metadata(), "champion_version": champion.version}
        if not result.ok:
            outcome.skipped += 1
        elif result.dataset_drift:
            outcome.drifted_hours.append(hour)
            for column in result.drifted_columns:
                outcome.columns[column] = outcome.columns.get(column, 0) + 1
            if outcome.first_drift is None and (start is None or hour >= start):
                outcome.first_drift = hour
            daily = hour.hour == 23 and (start is None or hour >= start)
            if outcome.first_daily_drift is None and daily:
                outcome.first_daily_drift = hour
        report = DriftObservation.from_metadata(n, f"bench-{n}", hour.strftime(KEY), meta)
        state, decision = decide_plan(state, report, plan)
        opened = hour_of(state.episode_start) if state.episode_start else None
        if (
            args.recalibrate_hours
            and result.ok
            and result.dataset_drift
            and opened
            and hour >= opened + args.recalibrate_hours * HOUR
            and champion.version == first_champion.version
            and outcome.recalibrated is None
        ):
            columns = result.drifted_columns
            model = recalibrated(champion.model, champion.reference.frame, current, columns)
            champion = replace(champion, model=model)
            outcome.recalibrated = f"{fmt_hours(hour, start or hours[0])} ({', '.join(columns)})"
            print(f"  {name}: recalibrated at {hour:%m-%d %H:%M} on {columns}", flush=True)
        if decision.action == "planned":
            outcome.episodes += 1
        if not decision.retrain or decision.planned_partition is None:
            continue
        day = datetime.strptime(decision.planned_partition, "%Y-%m-%d").replace(tzinfo=UTC)
        ran_at = hour + HOUR  # the report of an hour is materialized once it ends
        known = labels_for(features, events, ran_at)
        frame = known.filter(
            (pl.col("hour") >= day - args.window_days * DAY) & (pl.col("hour") < day)
        )
        since = hour_of(state.episode_start)
        if args.post_change_split:
            model, split = train(frame, config, since, args.post_change_weight)
        else:
            model, split = train(frame, config)
        test = split.filter(pl.col("split") == "test")
        gate = decide_promotion(
            score(model, test),
            score(champion.model, test),
            metric=config.promotion.metric,
            threshold=config.promotion.threshold,
            margin=config.promotion.champion_margin,
        )
        outcome.retrains.append(f"{report.partition} ({'promoted' if gate.passed else 'kept'})")
        post = split.filter(pl.col("hour") >= (start or window[1]))
        where = {
            k: post.filter(pl.col("split") == k).height for k in ("train", "validation", "test")
        }
        print(
            f"  {name}: retrain for {decision.planned_partition} at report {report.partition} "
            f"(post-change rows train/validation/test {where['train']}/{where['validation']}/"
            f"{where['test']} of {split.height}): {gate.reason}",
            flush=True,
        )
        if gate.passed:
            champion = make_champion(next_version, model, frame, features)
            outcome.promoted.append(next_version)
            if outcome.first_promotion is None:
                outcome.first_promotion = ran_at
        next_version += 1
    outcome.final_version = champion.version
    if eval_day is not None:
        holdout = labels_for(features, events, eval_day + DAY + HORIZON).filter(
            (pl.col("hour") >= eval_day) & (pl.col("hour") < eval_day + DAY)
        )
        outcome.old = score(first_champion.model, holdout, baselines=True)
        outcome.new = score(champion.model, holdout)
        if reference_model is not None:
            outcome.post_change = score(reference_model, holdout)
        if sim is not None:
            outcome.oracle = oracle_metrics(sim, holdout, HORIZON.total_seconds() / 3600)
    return outcome


def bench_reference_cache(features: pl.DataFrame, window: tuple[datetime, datetime]) -> str:
    """Load the champion's reference as ``feature_drift_report`` does - read the window's hourly
    parquet partitions from a file store and sample them (first report of a champion) - and
    from the per-champion cache (every later report), with the plant scaled to 1,000 machines
    by copying machines under new ids."""
    import io
    import tempfile

    from mfg_assets.monitoring.reference import ChampionReference, hour_keys, load_reference
    from mfg_assets.storage.files import LocalFileStore

    copies = max(1, 1000 // features["machine_id"].n_unique())
    rows = features.filter((pl.col("hour") >= window[0]) & (pl.col("hour") < window[1]))
    scaled = pl.concat([rows.with_columns(pl.col("machine_id") + f"-{i}") for i in range(copies)])
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = LocalFileStore(Path(tmp) / "warehouse")
        for key in hour_keys(*window):
            hour = datetime.strptime(key, KEY).replace(tzinfo=UTC)
            buffer = io.BytesIO()
            scaled.filter(pl.col("hour") == hour).write_parquet(buffer)
            warehouse.write_bytes(f"{key.replace(':', '')}.parquet", buffer.getvalue())

        def read(key: str) -> pl.DataFrame | None:
            path = f"{key.replace(':', '')}.parquet"
            return (
                pl.read_parquet(io.BytesIO(warehouse.read_bytes(path)))
                if warehouse.exists(path)
                else None
            )

        champion = ChampionReference("maintenance_model", 1, *window)
        cache = LocalFileStore(Path(tmp) / "cache")
        began = time.perf_counter()
        cold = load_reference(champion, read, cache)
        cold_s = time.perf_counter() - began
        began = time.perf_counter()
        hit = load_reference(champion, read, cache)
        hit_s = time.perf_counter() - began
    assert hit.cache_hit and not cold.cache_hit
    return (
        f"reference for {scaled.height:,} rows ({len(hour_keys(*window))} hourly partitions, "
        f"{scaled['machine_id'].n_unique():,} machines): read + sample {cold_s:.2f} s, "
        f"from the per-champion cache {hit_s:.3f} s ({cold_s / hit_s:.0f}x)"
    )


def fmt(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--machines", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sample-interval", type=int, default=30, help="seconds per reading")
    parser.add_argument("--train-days", type=int, default=7, help="labelled days of champion v1")
    parser.add_argument("--clean-days", type=int, default=4, help="clean days watched")
    parser.add_argument("--post-days", type=int, default=3, help="days after each change")
    parser.add_argument("--window-days", type=int, default=14, help="training window of retrains")
    parser.add_argument("--cooldown-hours", type=float, default=24.0)
    parser.add_argument(
        "--post-change-split",
        action="store_true",
        help="retrains split the rows since the episode's first drifted hour by machine "
        "(half train, half test) instead of by time",
    )
    parser.add_argument(
        "--post-change-weight", type=int, default=1, help="repeat post-change training rows"
    )
    parser.add_argument(
        "--baseline-hours",
        type=int,
        default=0,
        help="model and drift on features minus each machine's median of its previous N "
        "hours (0: the platform's raw features)",
    )
    parser.add_argument(
        "--post-change-hours",
        type=float,
        default=12.0,
        help="labelled post-change hours a retrain waits for (after the label horizon)",
    )
    parser.add_argument(
        "--recalibrate-hours",
        type=float,
        default=0.0,
        help="N h after an episode opens, serve v1 with its normalizer moved onto the drifted "
        "columns of the latest report (mean and sd matched, no labels, ungated; 0: off)",
    )
    parser.add_argument("--start-hour", type=int, default=6, help="scenario start hour of day")
    parser.add_argument("--scenarios", default="sensor_offset,supplier_change,fast_wear")
    parser.add_argument("--experiment", default="maintenance_default")
    parser.add_argument("--epochs", type=int, default=None, help="override training.epochs")
    parser.add_argument(
        "--watch-hours", type=int, default=None, help="report only the first N hours of each run"
    )
    args = parse_args(
        parser,
        machines=3,
        sample_interval=120,
        train_days=2,
        clean_days=1,
        post_days=1,
        window_days=3,
        scenarios="sensor_offset",
        epochs=2,
        watch_hours=8,
        recalibrate_hours=1,  # the recalibration path runs in the smoke test too
    )

    from mfg_assets.models.config import apply_overrides, load_experiment
    from mfg_assets.monitoring.drift import import_evidently

    config = load_experiment(args.experiment)
    if args.epochs is not None:
        config = apply_overrides(config, {"training.epochs": args.epochs})
    began = time.perf_counter()
    import_evidently()
    import_s = time.perf_counter() - began
    base = PlantConfig(
        machines=args.machines,
        seed=args.seed,
        sample_interval_s=args.sample_interval,
        epoch=EPOCH,
        dirt=DirtConfig(),
    )
    watch_start = EPOCH + args.train_days * DAY
    change = watch_start + args.clean_days * DAY + args.start_hour * HOUR
    change_day = change.replace(hour=0)
    end = change_day + (args.post_days + 1) * DAY  # + the look-ahead of the last day's labels

    began = time.perf_counter()
    clean = simulate(base, EPOCH, end)
    raw_clean = clean["features"]
    clean["features"] = relative_to_own_baseline(raw_clean, args.baseline_hours)
    print(
        f"clean plant: {clean['features'].height:,} feature rows "
        f"({time.perf_counter() - began:.0f} s)",
        flush=True,
    )
    labelled = labels_for(clean["features"], clean["events"], watch_start + HORIZON)
    began = time.perf_counter()
    model, split = train(labelled.filter(pl.col("hour") < watch_start), config)
    v1 = make_champion(1, model, split, clean["features"])
    train_s = time.perf_counter() - began
    print(f"champion v1 on {split.height:,} rows ({train_s:.0f} s)", flush=True)

    outcomes = []
    watch = [watch_start + i * HOUR for i in range(args.clean_days * 24)][: args.watch_hours]
    outcomes.append(
        run_loop("clean", clean["features"], clean["events"], v1, watch, args, config, None, None)
    )
    post_hours = [change_day + i * HOUR for i in range(args.post_days * 24)][: args.watch_hours]
    eval_day = change_day + (args.post_days - 1) * DAY
    outcomes.append(
        run_loop(
            "no change",
            clean["features"],
            clean["events"],
            v1,
            post_hours,
            args,
            config,
            change,
            eval_day,
            clean["sim"],
        )
    )
    for name in [s for s in args.scenarios.split(",") if s]:
        began = time.perf_counter()
        spec = scenario_spec(name, change)
        changed = simulate(replace(base, scenarios=(spec,)), change_day, end)
        features = pl.concat([raw_clean.filter(pl.col("hour") < change_day), changed["features"]])
        features = relative_to_own_baseline(features, args.baseline_hours)
        events = pl.concat([clean["events"].filter(pl.col("ts") < change_day), changed["events"]])
        reference_model = post_change_model(base, name, args, config)
        print(
            f"{name}: simulated, post-change model trained ({time.perf_counter() - began:.0f} s)",
            flush=True,
        )
        outcomes.append(
            run_loop(
                name,
                features,
                events,
                v1,
                post_hours,
                args,
                config,
                change,
                eval_day,
                changed["sim"],
                reference_model,
            )
        )

    cache_line = bench_reference_cache(raw_clean, v1.window)
    seconds = [s for o in outcomes for s in o.report_seconds]
    print(
        f"\n{args.machines} machines, champion v1 trained on {args.train_days} days, scenarios "
        f"start {change:%Y-%m-%d %H:%M} (after {args.clean_days} watched clean days), "
        f"cool-down {args.cooldown_hours:g} h, retrain window {args.window_days} days, "
        f"retrain {HORIZON.total_seconds() / 3600:g} h label horizon + "
        f"{args.post_change_hours:g} h after the first drifted report; features "
        + (
            f"relative to each machine's median of its previous {args.baseline_hours} h"
            if args.baseline_hours
            else "as the platform computes them"
        )
    )
    print(
        f"one report (24 h x {args.machines} machines vs the champion's window): median "
        f"{statistics.median(seconds):.2f} s, max {max(seconds):.2f} s; {len(seconds)} reports; "
        f"Evidently import {import_s:.1f} s once"
    )
    print(cache_line)
    header = (
        "| run | reports | drifted | hours to first drifted (hourly / daily) | episodes "
        "| retrains | hours to a promoted retrain | champion after "
        "| old champion ROC AUC / PR AUC / F1 | new champion ROC AUC / PR AUC / F1 "
        "| heuristic ROC AUC / PR AUC | oracle ROC AUC / PR AUC / F1 "
        "| post-change model ROC AUC / PR AUC | served - post-change model PR AUC "
        "| longest drifted streak (h) | recalibrated (h after change) |"
    )
    print("\n" + header + "\n|" + "---|" * 16)
    for o in outcomes:
        if o.start is None:
            latency = "-"
        else:
            hourly = fmt_hours(o.first_drift, o.start)
            daily = fmt_hours(o.first_daily_drift, o.start)
            latency = f"{hourly} / {daily}"
        retrains = "; ".join(o.retrains) or "none"
        promoted = "-" if o.start is None else fmt_hours(o.first_promotion, o.start + HOUR)
        old = " / ".join(fmt(o.old.get(k)) for k in ("roc_auc", "pr_auc", "f1")) if o.old else "-"
        new = " / ".join(fmt(o.new.get(k)) for k in ("roc_auc", "pr_auc", "f1")) if o.new else "-"
        keys = ("baseline_heuristic_roc_auc", "baseline_heuristic_pr_auc")
        heuristic = " / ".join(fmt(o.old.get(k)) for k in keys) if o.old else "-"
        ceiling = " / ".join(fmt(o.oracle.get(k)) for k in ("roc_auc", "pr_auc", "f1"))
        post = " / ".join(fmt(o.post_change.get(k)) for k in ("roc_auc", "pr_auc"))
        served = o.new or o.old
        gap = (
            f"{served['pr_auc'] - o.post_change['pr_auc']:+.3f}"
            if o.post_change and served
            else "-"
        )
        print(
            f"| {o.name} | {o.reports} | {o.drifted} | {latency} | {o.episodes} | {retrains} | "
            f"{promoted} | "
            f"v{o.final_version} | {old} | {new} | {heuristic} | {ceiling if o.oracle else '-'} | "
            f"{post if o.post_change else '-'} | {gap} | {longest_streak(o.drifted_hours)} | "
            f"{o.recalibrated or '-'} |"
        )
    print("\nmost often drifted columns:")
    for o in outcomes:
        top = sorted(o.columns.items(), key=lambda kv: -kv[1])[:6]
        print(f"  {o.name}: " + (", ".join(f"{c} {n}" for c, n in top) or "none"))


def fmt_hours(found: datetime | None, start: datetime) -> str:
    if found is None:
        return "never"
    return f"{(found + HOUR - start).total_seconds() / 3600:.0f} h"


if __name__ == "__main__":
    main()
