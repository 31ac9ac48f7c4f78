"""Benchmark: one feature drift report (computation + HTML) for a day of a 1,000-machine plant,
Evidently out of the box vs the fast path of ``mfg_assets.monitoring.drift``, and agreement of
the fast path with the full computation on the plant simulator's scenarios.

    .venv/bin/python bench/drift_report.py [--reps 3] [--skip-scale] [--skip-scenarios]
    .venv/bin/python bench/drift_report.py --smoke   # a tiny run of every step (tests)

Scale: 24,000 current rows (1,000 machines x 24 h) x 30 sensor statistics against a 7-day
reference of 168,000 rows. Synthetic but feature-like: each machine has its own level per sensor,
a wear cycle that raises temperature, vibration and current until maintenance, per-hour noise
of the mean, a log-normal spread for ``std``, ``min``/``max`` a few stds out (with occasional
spikes), ``last`` one sample and a heavy-tailed ``slope``. The "shifted" current adds +2 degC to
the temperature level (mean/min/max/last) and 1.6x pressure noise (std, min, max).

Variants, each timed ``--reps`` times interleaved (best and median; the machine may be shared):
* ``out of the box``: ``Report([DataDriftPreset()]).run(current, reference)`` on pandas frames;
* ``full``: the same tests as the fast path (normed Wasserstein, 0.3) through DataDriftPreset
  on the whole reference - what the fast path must agree with;
* ``fast``: ``compute_feature_drift(current, reference)`` from polars frames, sampling included;
* ``fast, cached reference``: the reference prepared once (``prepare_reference``), as an asset
  keeps it per champion version;
* ``... widgets for all 30 columns``: ``report_columns="all"`` (the default draws widgets for the
  drifted columns and the 3 closest others only);
* ``... + DriftedColumnsCount``: with Evidently's dataset counter too (``dataset_summary=True``).

Scenarios: a 20-machine plant, 7 clean days as the reference, the 24 hours after each scenario's
start as the current window (``build_features`` on simulated readings). The fast path runs with
its defaults (a 3,360-row reference is below the 20,000-row sample, so it is not sampled) and
with a forced 1,000-row stratified sample, to show that sampling does not change the verdicts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _smoke import parse_args  # noqa: E402

from mfg_assets.features.schema import SENSOR_STATS, sensor_feature_columns  # noqa: E402
from mfg_assets.plant.catalog import SENSORS  # noqa: E402

# Between-machine spread of each sensor's hourly mean, measured on the simulator (20 machines).
MACHINE_SPREAD = {
    "temperature": 3.5,
    "vibration": 0.6,
    "pressure": 0.26,
    "current": 1.2,
    "spindle_speed": 62.0,
}
WEAR_EFFECT = {"temperature": 4.0, "vibration": 1.5, "current": 1.5}  # at full wear
SAMPLES_PER_HOUR = 360


def plant_features(
    machines: int, hours: int, seed: int, temperature_offset: float = 0.0, pressure_noise=1.0
) -> pl.DataFrame:
    """``machines x hours`` rows of the 30 sensor statistics plus ``machine_id``/``hour``."""
    rng = np.random.default_rng(seed)
    machine = np.repeat(np.arange(machines), hours)
    hour = np.tile(np.arange(hours), machines)
    # wear: a saw-tooth per machine (cycle 80-300 h, random phase), felt quadratically
    cycle = rng.uniform(80, 300, machines)[machine]
    phase = rng.uniform(0, 1, machines)[machine]
    wear = ((hour / cycle + phase) % 1.0) ** 2
    n = machine.size
    columns: dict[str, np.ndarray] = {}
    for spec in SENSORS:
        level = spec.nominal + rng.normal(0, MACHINE_SPREAD[spec.name], machines)[machine]
        level = level + WEAR_EFFECT.get(spec.name, 0.0) * wear
        noise = spec.noise * (1.0 + wear if spec.name == "vibration" else 1.0)
        if spec.name == "temperature":
            level = level + temperature_offset
        if spec.name == "pressure":
            noise = noise * pressure_noise
        std = noise * rng.lognormal(0.0, 0.2, n)
        mean = level + rng.normal(0, 1, n) * std / np.sqrt(SAMPLES_PER_HOUR)
        spike = np.where(rng.random(n) < 0.01, rng.uniform(2, 5, n), 1.0)
        values = {
            "mean": mean,
            "std": std,
            "min": mean - std * (2.6 + 0.3 * rng.standard_normal(n)),
            "max": mean + std * (2.6 + 0.3 * rng.standard_normal(n)) * spike,
            "last": level + std * rng.standard_normal(n),
            "slope": spec.noise * 0.01 * rng.standard_t(3, n),
        }
        for stat in SENSOR_STATS:
            columns[f"{spec.name}_{stat}"] = values[stat]
    return pl.DataFrame(
        {
            "machine_id": [f"M{m + 1:04d}" for m in machine],
            "hour": hour,
            **{c: columns[c] for c in sensor_feature_columns()},
        }
    )


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def timed_cpu(fn):
    """Wall-clock and CPU seconds of this process (CPU time is what a loaded machine distorts
    least: contention stretches wall time, not the work done)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def score_gap(a: dict[str, float], b: dict[str, float], threshold: float) -> tuple[float, float]:
    """Largest |score difference| over all columns, and over those within 2x the threshold of
    the first (the only ones whose verdict a difference could flip). Both must score the same
    columns: comparing a 30-column report with a 25-column one is a bench bug."""
    if a.keys() != b.keys():
        raise ValueError(f"reports score different columns: {sorted(a.keys() ^ b.keys())}")
    gaps = {c: abs(a[c] - b[c]) for c in a}
    near = [gaps[c] for c in a if a[c] < 2 * threshold]
    return max(gaps.values(), default=0.0), max(near, default=0.0)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def flagged(columns: list[str]) -> str:
    return ", ".join(columns) if columns else "-"


def bench_scale(reps: int, out_dir: Path, results: dict, machines: int = 1000) -> None:
    from mfg_assets.monitoring.drift import (
        DriftConfig,
        compute_feature_drift,
        import_evidently,
        prepare_reference,
    )
    from mfg_assets.monitoring.drift.evidently_report import column_verdicts

    import_s, _ = timed(import_evidently)
    from evidently import Report
    from evidently.presets import DataDriftPreset

    columns = sensor_feature_columns()
    reference = plant_features(machines, 168, seed=1)
    currents = {
        "clean": plant_features(machines, 24, seed=2),
        "shifted": plant_features(machines, 24, seed=3, temperature_offset=2.0, pressure_noise=1.6),
    }
    print(
        f"reference {reference.height:,} x {len(columns)}, current "
        f"{currents['clean'].height:,} x {len(columns)}; evidently import {import_s:.2f} s"
    )
    ref_pd = reference.select(columns).to_pandas()
    cur_pd = {k: v.select(columns).to_pandas() for k, v in currents.items()}
    # warm-up (plotly/pydantic first-use costs), not counted for any variant
    compute_feature_drift(currents["clean"].head(500), reference.head(2000), columns)

    prepare_s, prepared = timed(lambda: prepare_reference(reference, columns, DriftConfig()))
    html = out_dir / "report.html"

    def out_of_the_box(current: str):
        return Report([DataDriftPreset()]).run(cur_pd[current], ref_pd)

    variants = {
        "out of the box": lambda c: out_of_the_box(c),
        "full (same tests, whole reference, preset)": lambda c: (
            compute_feature_drift(currents[c], reference, columns, DriftConfig.full()).snapshot
        ),
        "fast (sampling included)": lambda c: (
            compute_feature_drift(currents[c], reference, columns).snapshot
        ),
        "fast, cached reference": lambda c: (
            compute_feature_drift(currents[c], prepared, columns).snapshot
        ),
        "fast, cached reference, widgets for all 30 columns": lambda c: (
            compute_feature_drift(
                currents[c], prepared, columns, DriftConfig(report_columns="all")
            ).snapshot
        ),
        "fast, cached reference, + DriftedColumnsCount": lambda c: (
            compute_feature_drift(
                currents[c], prepared, columns, DriftConfig(dataset_summary=True)
            ).snapshot
        ),
    }
    runs: dict[str, list[float]] = {name: [] for name in variants}
    cpus: dict[str, list[float]] = {name: [] for name in variants}
    htmls: dict[str, list[float]] = {name: [] for name in variants}
    loads = []
    for rep in range(reps):
        for name, fn in variants.items():
            run_s, cpu_s, snapshot = timed_cpu(lambda fn=fn: fn("shifted"))
            html_s, html_cpu, _ = timed_cpu(lambda snapshot=snapshot: snapshot.save_html(str(html)))
            runs[name].append(run_s)
            cpus[name].append(cpu_s + html_cpu)
            htmls[name].append(html_s)
            loads.append(os.getloadavg()[0])
            print(
                f"  rep {rep + 1}: {name}: run {run_s:.2f} s, html {html_s:.2f} s, "
                f"cpu {cpu_s + html_cpu:.2f} s",
                flush=True,
            )

    def total(name: str) -> float:
        return min(runs[name]) + min(htmls[name])

    rows = []
    for name in variants:
        rows.append(
            [
                name,
                f"{min(runs[name]):.2f} ({statistics.median(runs[name]):.2f})",
                f"{min(htmls[name]):.2f}",
                f"{total(name):.2f}",
                f"{min(cpus[name]):.2f}",
                f"{total('out of the box') / total(name):.1f}x",
                f"{min(cpus['out of the box']) / min(cpus[name]):.1f}x",
            ]
        )
    print()
    print(
        f"Drift report (computation + HTML), {currents['shifted'].height:,} x {len(columns)} vs "
        f"{reference.height:,} x {len(columns)}, best of {reps} "
        f"(median); load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} CPUs"
    )
    header = [
        "variant",
        "run s (median)",
        "html s",
        "total s",
        "total CPU s",
        "speed-up (wall)",
        "speed-up (CPU)",
    ]
    print(table(header, rows))
    print(
        f"one-off per reference: prepare_reference (stratified sample to "
        f"{prepared.rows_used:,} rows) {prepare_s:.2f} s; per process: evidently import "
        f"{import_s:.2f} s"
    )
    results["scale"] = {
        "import_s": import_s,
        "prepare_s": prepare_s,
        "runs": runs,
        "cpus": cpus,
        "htmls": htmls,
        "load_average": loads,
    }

    # detection on the synthetic data: out of the box (its own defaults), full, fast
    rows = []
    for current in currents:
        oob = Report([DataDriftPreset()], include_tests=True).run(cur_pd[current], ref_pd)
        oob_flags = [c.column for c in column_verdicts(oob, columns) if c.drifted]
        full = compute_feature_drift(currents[current], reference, columns, DriftConfig.full())
        fast = compute_feature_drift(currents[current], prepared, columns)
        gap, near = score_gap(full.scores, fast.scores, 0.3)
        rows.append(
            [
                current,
                flagged(oob_flags),
                flagged(full.drifted_columns),
                flagged(fast.drifted_columns),
                "yes" if full.drifted_columns == fast.drifted_columns else "NO",
                f"{gap:.3f} / {near:.3f}",
            ]
        )
    print()
    print("Flagged columns at scale (out of the box: Wasserstein at Evidently's 0.1)")
    print(
        table(
            [
                "current",
                "out of the box",
                "full",
                "fast",
                "full = fast",
                "max |score diff| all / near threshold",
            ],
            rows,
        )
    )
    results["scale_detection"] = rows


SCENARIOS = ("sensor_offset", "supplier_change", "fast_wear")


def scenario_features(
    machines: int, days: int, scenarios: tuple[str, ...] = SCENARIOS
) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """Reference (``days`` clean days) and the first 24 h of each scenario (and of no scenario)."""
    from mfg_assets.features.pipeline import build_features
    from mfg_assets.plant.config import PlantConfig
    from mfg_assets.plant.scenarios import scenario_spec
    from mfg_assets.plant.simulator import PlantSimulator

    base = PlantConfig(machines=machines)
    epoch = base.epoch
    start = epoch + timedelta(days=days)

    def features(config: PlantConfig, first: object, last: object) -> pl.DataFrame:
        sim = PlantSimulator(config)
        parts, t = [], first
        while t < last:
            u = min(t + timedelta(days=1), last)
            readings = sim.readings(t - timedelta(hours=1) if t > epoch else t, u)
            parts.append(build_features(readings, sim.inspections(t, u), sim.machine_ids, t, u))
            t = u
        return pl.concat([p.features for p in parts])

    reference = features(base, epoch, start)
    currents = {"clean": features(base, start, start + timedelta(days=1))}
    for name in scenarios:
        config = base.with_scenario(scenario_spec(name, start))
        currents[name] = features(config, start, start + timedelta(days=1))
    return reference, currents


def bench_scenarios(
    machines: int, days: int, out_dir: Path, results: dict, scenarios: tuple[str, ...] = SCENARIOS
) -> None:
    from mfg_assets.monitoring.drift import DriftConfig, compute_feature_drift

    elapsed, (reference, currents) = timed(lambda: scenario_features(machines, days, scenarios))
    print(
        f"\nsimulated {machines} machines: reference {reference.height:,} rows ({days} days), "
        f"current ~{currents['clean'].height:,} rows (24 h) in {elapsed:.1f} s"
    )
    rows, timing = [], {"full": [], "fast": []}
    for name, current in currents.items():
        full = compute_feature_drift(current, reference, config=DriftConfig.full())
        fast = compute_feature_drift(current, reference)
        sampled = compute_feature_drift(
            current, reference, config=DriftConfig(reference_sample_rows=1000)
        )
        for label, result in (("full", full), ("fast", fast)):
            path = out_dir / f"{name}-{label}.html"
            html_s, _ = timed(lambda result=result, path=path: result.save_html(path))
            timing[label].append(sum(result.timings.values()) + html_s)
        gap, near = score_gap(full.scores, sampled.scores, 0.3)
        same = full.drifted_columns == fast.drifted_columns == sampled.drifted_columns
        rows.append(
            [
                name,
                f"{flagged(full.drifted_columns)} ({'drift' if full.dataset_drift else 'no'})",
                f"{flagged(fast.drifted_columns)} ({'drift' if fast.dataset_drift else 'no'})",
                f"{flagged(sampled.drifted_columns)} "
                f"({'drift' if sampled.dataset_drift else 'no'}, {sampled.reference_rows_used:,})",
                "yes" if same else "NO",
                f"{gap:.3f} / {near:.3f}",
            ]
        )
    print(
        f"Scenarios: flagged columns (dataset verdict), full vs fast; report + HTML per window: "
        f"full {statistics.median(timing['full']):.2f} s, fast "
        f"{statistics.median(timing['fast']):.2f} s (median)"
    )
    print(
        table(
            [
                "scenario",
                "full",
                "fast (default)",
                "fast, 1,000-row sample (rows)",
                "agree",
                "max |score diff| full vs sample: all / near threshold",
            ],
            rows,
        )
    )
    results["scenarios"] = rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-scenarios", action="store_true")
    parser.add_argument("--machines", type=int, default=20, help="scenario plant size")
    parser.add_argument("--days", type=int, default=7, help="scenario reference days")
    parser.add_argument("--out", type=Path, help="folder for the HTML reports (default: temp)")
    parser.add_argument("--json", type=Path, help="write the measurements here")
    parser.add_argument(
        "--scale-machines", type=int, default=1000, help="plant size of the scale part"
    )
    args = parse_args(parser, reps=1, scale_machines=5, machines=5, days=1)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.out or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        if not args.skip_scale:
            bench_scale(args.reps, out_dir, results, args.scale_machines)
        if not args.skip_scenarios:
            scenarios = SCENARIOS[:1] if args.smoke else SCENARIOS
            bench_scenarios(args.machines, args.days, out_dir, results, scenarios)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
