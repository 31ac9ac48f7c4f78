"""Benchmark: how truthful is cleaning? Scored against the simulator's ground truth.

    .venv/bin/python bench/cleaning_quality.py [--days 7] [--machines 20]

For a clean plant and under each scenario (sensor_offset, supplier_change, fast_wear, a unit
change °C → °F, a stuck sensor), every day is built with the asset code
(:func:`mfg_assets.features.pipeline.build_features`) and compared with
``PlantSimulator.ground_truth`` (what was dirtied and how) and with features computed from the
undirtied signal (the same plant without dirt):

- per dirt kind, the share of delivered rows cleaning caught (quarantined, any reason);
- for clean readings, the share cleaning modified (quarantined; nothing is clipped any more);
- per feature column, the mean absolute error against the undirtied features, in units of the
  column's own standard deviation;
- whether the level shift of a scenario is preserved in the features of the hour it starts
  (``<sensor>_mean`` within 3 standard errors of the truth on every affected machine) and
  whether the ``level_shift`` / ``stuck_sensor`` checks named it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mfg_assets.features.hourly import hourly_features  # noqa: E402
from mfg_assets.features.pipeline import build_features  # noqa: E402
from mfg_assets.plant import DirtConfig, PlantConfig, PlantSimulator, scenario_spec  # noqa: E402
from mfg_assets.plant.catalog import SENSOR_TYPES  # noqa: E402
from mfg_assets.plant.dirt import DIRT_KINDS  # noqa: E402

EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
KEY = ["ts", "machine_id", "sensor_type", "_copy"]
STATS = ("mean", "std", "min", "max", "last", "slope")

# name → (scenario, params, the sensor whose level changes at the switch, or None)
SCENARIOS: dict[str, tuple[str | None, dict, str | None]] = {
    "clean": (None, {}, None),
    "sensor_offset": ("sensor_offset", {}, "temperature"),
    "supplier_change": ("supplier_change", {}, "vibration"),
    "fast_wear": ("fast_wear", {}, None),
    "unit_change": ("unit_change", {}, "temperature"),
    "stuck_sensor": ("stuck_sensor", {}, "pressure"),
}


def with_copy(frame: pl.DataFrame) -> pl.DataFrame:
    """Number repeated (ts, machine, sensor) keys 0, 1, … in order, to match rows exactly."""
    return frame.with_columns(
        pl.int_range(pl.len()).over("ts", "machine_id", "sensor_type").alias("_copy")
    )


def score_day(sim: PlantSimulator, truth_sim: PlantSimulator, day: datetime) -> dict:
    """One day built by the asset code and scored row by row and feature by feature."""
    readings = sim.readings(day - HOUR, day + DAY)
    inspections = sim.inspections(day, day + DAY)
    build = build_features(readings, inspections, sim.machine_ids, day, day + DAY)
    truth = with_copy(sim.ground_truth(day, day + DAY))
    # A duplicate keeps its first copy: the quarantined one is the second.
    quarantined = build.quarantined.filter(pl.col("ts").is_not_null())
    quarantined = with_copy(quarantined).with_columns(
        pl.when(pl.col("reason") == "duplicate")
        .then(pl.col("_copy") + 1)
        .otherwise(pl.col("_copy"))
        .alias("_copy")
    )
    scored = truth.join(quarantined.select(*KEY, "reason"), on=KEY, how="left")
    by_kind = scored.group_by("dirt").agg(
        pl.len().alias("rows"), pl.col("reason").is_not_null().sum().alias("caught")
    )
    undirtied = truth_sim.readings(day, day + DAY)
    true_features = hourly_features(undirtied, inspections)
    return {
        "by_kind": by_kind,
        "features": build.features,
        "true_features": true_features,
        "shifts": build.level_shifts,
        "stuck": build.stuck_sensors,
        "modified": build.values_modified,
        "usable": sum(build.usable_by_sensor.values()),
    }


def feature_errors(features: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float]:
    """Mean absolute error per feature column, in units of the truth column's std."""
    joined = features.join(truth, on=["machine_id", "hour"], suffix="_true")
    out = {}
    for sensor in SENSOR_TYPES:
        for stat in STATS:
            column = f"{sensor}_{stat}"
            err = (joined[column] - joined[f"{column}_true"]).abs().mean()
            spread = joined[f"{column}_true"].std()
            out[column] = float(err / spread) if spread else float("nan")
    return out


def shift_preserved(
    result: dict, sensor: str, switch: datetime, machines: list[str]
) -> tuple[bool, float]:
    """Is ``<sensor>_mean`` in the switch hour within 3 standard errors of the truth on every
    machine? Returns the verdict and the worst error in standard errors."""
    col = f"{sensor}_mean"
    at = pl.col("hour") == switch
    got = result["features"].filter(at & pl.col("machine_id").is_in(machines))
    true = (
        result["true_features"]
        .filter(at)
        .select(
            "machine_id",
            pl.col(col).alias("true"),
            pl.col(f"{sensor}_std").alias("sd"),
            "n_readings",
        )
    )
    joined = got.join(true, on="machine_id")
    error = (joined[col] - joined["true"]).abs()
    standard_error = joined["sd"] / joined["n_readings"].sqrt()
    # A stuck sensor has no spread: then only an exact match is within noise.
    z = (
        joined.select(
            pl.when(standard_error > 0)
            .then(error / standard_error)
            .otherwise(pl.when(error < 1e-9).then(0.0).otherwise(float("inf")))
        )
        .to_series()
        .max()
    )
    return bool(z is not None and z <= 3.0), float(z or 0.0)


def run_scenario(name: str, machines: int, days: int, switch: datetime) -> dict:
    scenario, params, sensor = SCENARIOS[name]
    specs = () if scenario is None else (scenario_spec(scenario, switch, params),)
    config = PlantConfig(machines=machines, seed=7, epoch=EPOCH, scenarios=specs)
    sim = PlantSimulator(config)
    truth_sim = PlantSimulator(replace(config, dirt=DirtConfig.clean()))
    results = [score_day(sim, truth_sim, EPOCH + d * DAY) for d in range(days)]
    by_kind = (
        pl.concat([r["by_kind"] for r in results])
        .group_by("dirt")
        .agg(pl.col("rows", "caught").sum())
    )
    merged = {
        key: pl.concat([r[key] for r in results])
        for key in ("features", "true_features", "shifts", "stuck")
    }
    out = {
        "by_kind": dict(
            (k, (int(n), int(c))) for k, n, c in by_kind.select("dirt", "rows", "caught").rows()
        ),
        "errors": feature_errors(merged["features"], merged["true_features"]),
        "shifts": merged["shifts"],
        "stuck": merged["stuck"],
        "modified": sum(r["modified"] for r in results),
        "usable": sum(r["usable"] for r in results),
    }
    if sensor is not None:
        affected = sim.machine_ids if scenario != "stuck_sensor" else ["M002"]
        ok, z = shift_preserved(merged, sensor, switch, affected)
        at_switch = merged["shifts"].filter(
            (pl.col("hour") == switch) & (pl.col("sensor_type") == sensor)
        )
        stuck = merged["stuck"].filter(pl.col("hour") == switch)
        out["shift"] = {
            "sensor": sensor,
            "preserved": ok,
            "worst_z": z,
            "named_machines": at_switch["machine_id"].n_unique(),
            "affected": len(affected),
            "stuck_named": stuck.height,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--machines", type=int, default=20)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args()
    switch = EPOCH + (args.days // 2) * DAY + 9 * HOUR  # 09:00 on the middle day
    names = [n for n in args.scenarios.split(",") if n]
    t0 = time.perf_counter()
    results = {name: run_scenario(name, args.machines, args.days, switch) for name in names}
    elapsed = time.perf_counter() - t0
    print(
        f"{args.machines} machines × {args.days} days × {len(names)} runs, "
        f"switch at {switch:%Y-%m-%d %H:%M}; {elapsed:.0f} s, "
        f"load average {os.getloadavg()[0]:.2f}"
    )

    print(
        "\n## Dirt caught (share of delivered rows of each kind quarantined; late rows carry "
        "intact values and should be kept)"
    )
    kinds = [k for k in DIRT_KINDS if k != "clean"]
    print("| run | " + " | ".join(kinds) + " | clean rows modified |")
    print("|---|" + "---:|" * (len(kinds) + 1))
    for name, r in results.items():
        cells = []
        for kind in kinds:
            n, c = r["by_kind"].get(kind, (0, 0))
            cells.append(f"{c / n:.1%} of {n:,}" if n else "—")
        n, c = r["by_kind"].get("clean", (0, 0))
        print(f"| {name} | " + " | ".join(cells) + f" | {c / n:.3%} ({c:,} of {n:,}) |")

    print("\n## Feature error vs the undirtied signal (MAE / std of the true column), worst run")
    print("| sensor | " + " | ".join(STATS) + " |")
    print("|---|" + "---:|" * len(STATS))
    for sensor in SENSOR_TYPES:
        worst = [max(r["errors"][f"{sensor}_{stat}"] for r in results.values()) for stat in STATS]
        print(f"| {sensor} | " + " | ".join(f"{w:.3f}" for w in worst) + " |")

    print("\n## Level shifts at the switch hour")
    print(
        "| run | sensor | preserved (worst \\|Δ\\| in std errors) | named by level_shift "
        "| stuck_sensor |"
    )
    print("|---|---|---|---:|---:|")
    for name, r in results.items():
        if "shift" in r:
            s = r["shift"]
            verdict = "yes" if s["preserved"] else "NO"
            print(
                f"| {name} | {s['sensor']} | {verdict} ({s['worst_z']:.2f}) | "
                f"{s['named_machines']} of {s['affected']} | {s['stuck_named']} |"
            )
    print("\n## level_shift warnings outside switch hours (false alarms, machine-sensor-hours)")
    print("| run | shifts flagged | of which at the switch | stuck flagged |")
    print("|---|---:|---:|---:|")
    for name, r in results.items():
        at = r["shifts"].filter(pl.col("hour") == switch).height
        print(f"| {name} | {r['shifts'].height} | {at} | {r['stuck'].height} |")


if __name__ == "__main__":
    main()
