"""`make demo-azure`: the whole graph on the imported Azure predictive-maintenance slice.

Stages (each timed and printed, like `make demo`): import the slice from
``MFG_DATASETS_DIR/azure_pdm`` into the plant database (``mfg-plant import azure-pdm``,
idempotent) → backfill every hourly partition of the slice through ``machine_hourly_features``
and ``machine_window_features`` (ranged runs of a week) → failure labels (every hour whose 24 h
look-ahead lies in the slice) and the Feast online store → train, evaluate, gate, promote and
package (bento) the maintenance model on the window features → drift and performance reports →
``POST /predict`` to the served bento for real machine ids → summary. The plant has no quality
inspections, so there is no defect stage. It always stops after the summary (no UI: the slice
ends in 2015, so there is no live plant to follow; `MFG_PLANT=azure_pdm dagster dev` shows the
materialized graph afterwards).

Sizes: ``MFG_DEMO_AZURE_DAYS`` days from the slice's start (unset: all 90). The training window
is the whole run (``MFG_TRAINING_WINDOW_DAYS``), its second half the test window
(``MFG_EVALUATION_WINDOW_DAYS``; the gate needs failures on 10 test machines, and the slice's
20 machines reach that only over weeks) unless those are set. The maintenance model trains with
the plant's experiment, ``maintenance_azure_pdm`` (gated on PR AUC: it must not lose to the
gradient-boosted trees reference fitted on the same train rows, nor to the best single feature),
unless ``MFG_DEMO_EXPERIMENT`` is set.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mfg_assets import demo
from mfg_assets.settings import export_env, get_settings, subprocess_env
from mfg_assets.storage.partitions import hour_key

PLANT = "azure_pdm"
HOUR = timedelta(hours=1)
CHUNK_HOURS = 7 * 24  # hours per backfill run


def source_dir() -> Path:
    """The Azure slice, or SystemExit saying where to put it."""
    from mfg_assets.plant.importers.datasets import dataset, datasets_dir

    source = dataset(PLANT)
    if source is None:
        raise SystemExit(
            f"the Azure PdM data is not in {datasets_dir() / PLANT}: set MFG_DATASETS_DIR to "
            "the folder holding azure_pdm/ (see README, 'The Azure predictive-maintenance data')"
        )
    return source


def prepare_environment() -> None:
    """The Azure plant, its own data directory and DAGSTER_HOME (unless set), the dagster.yaml."""
    import shutil

    from mfg_assets.settings import dagster_home

    export_env({"MFG_PLANT": PLANT}, override=True)
    export_env(
        {
            "DAGSTER_HOME": str(demo.ROOT / ".dagster_home" / PLANT),
            "MFG_DATA_DIR": str(demo.ROOT / "data" / PLANT),
            "DAGSTER_DISABLE_TELEMETRY": "1",
            "DO_NOT_TRACK": "1",
            "BENTOML_DO_NOT_TRACK": "true",
        }
    )
    shutil.copyfile(demo.ROOT / "dagster.yaml", dagster_home() / "dagster.yaml")


def import_slice(source: Path) -> tuple[datetime, datetime]:
    """Import (replacing any earlier import); returns the first and last telemetry hour."""
    from mfg_assets.plant.importers import run_import
    from mfg_assets.settings import plant_db_url

    report = run_import("azure-pdm", source, plant_db_url(), replace=True)
    for line in report.lines():
        print(f"   {line}")
    if report.time_range is None:
        raise SystemExit("the import wrote no telemetry")
    first, last = (datetime.fromisoformat(t) for t in report.time_range)
    return first, last


def plan_for(first: datetime, last: datetime, days: int | None) -> demo.DemoPlan:
    """The hours the demo runs: ``days`` from ``first`` (all of the slice when None); the
    partitions, the training window and the test window follow from them (unless set)."""
    end = last + HOUR if days is None else min(last + HOUR, first + timedelta(days=days))
    span_days = max(1, (end - first) // timedelta(days=1))
    export_env({"MFG_PARTITIONS_START": hour_key(first)}, override=True)
    export_env(
        {
            "MFG_TRAINING_WINDOW_DAYS": str(span_days),
            "MFG_EVALUATION_WINDOW_DAYS": str(max(1.0, span_days / 2)),
        }
    )
    s = get_settings()
    return demo.DemoPlan(
        days=span_days,
        machines=s.mfg_demo_machines,
        headless=True,
        service_port=s.mfg_demo_service_port,
        maintenance_experiment=demo_experiment(),
        end=end,
    )


def demo_experiment() -> str:
    """``MFG_DEMO_EXPERIMENT`` where set, else the active plant's maintenance experiment."""
    from mfg_assets.defs.maintenance import default_experiment

    settings = get_settings()
    if "mfg_demo_experiment" in settings.model_fields_set:
        return settings.mfg_demo_experiment
    return default_experiment()


def gate_lines(result: Any) -> list[str]:
    """What the maintenance gate decided in a training run, and which reference it fitted."""
    lines = []
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() != "maintenance_model_evaluation":
            continue
        metadata = event.materialization.metadata
        for key, label in (("reference_model", "reference"), ("decision_reason", "gate")):
            if key in metadata:
                lines.append(f"{label}: {getattr(metadata[key], 'value', metadata[key])}")
    return lines


def backfill(plan: demo.DemoPlan, chunk_hours: int = CHUNK_HOURS) -> list[Any]:
    """Every hourly partition through the window features, one ranged run per ``chunk_hours``
    in time order (a window reads the hours before it from the earlier runs' partitions; one
    run over all 2,160 hours would exceed SQLite's compound-SELECT limit in the extract)."""
    import dagster as dg

    from mfg_assets.definitions import defs
    from mfg_assets.runs import materialize_range

    results = []
    with dg.DagsterInstance.get() as instance:
        start = plan.start
        while start < plan.end:
            stop = min(plan.end, start + chunk_hours * HOUR)
            print(f"   partitions {hour_key(start)} … {hour_key(stop - HOUR)}", flush=True)
            results.append(
                materialize_range(
                    defs,
                    "hourly_plant_job",
                    hour_key(start),
                    hour_key(stop - HOUR),
                    instance,
                    tags={"mfg/trigger": "demo"},
                )
            )
            start = stop
    return results


def machine_ids(count: int = 2) -> list[str]:
    """The first ``count`` imported machine ids (real ids of the data set)."""
    from mfg_assets.defs.resources import PlantDatabase
    from mfg_assets.settings import plant_db_url

    ids = PlantDatabase(url=plant_db_url()).known_machines()
    return sorted(ids, key=lambda m: (len(m), m))[:count]


def main() -> int:
    source = source_dir()
    prepare_environment()
    clock = demo.StageClock()
    print(f"mfg_assets Azure demo: plant {PLANT} from {source}")
    with clock.stage("import the Azure slice into the plant database"):
        first, last = import_slice(source)
    plan = plan_for(first, last, get_settings().mfg_demo_azure_days)
    print(f"   running {hour_key(plan.start)} … {hour_key(plan.end - HOUR)} ({plan.days} days)")
    with clock.stage("backfill hourly partitions (ingestion → hourly → window features)"):
        backfills = backfill(plan)
    with clock.stage("failure labels and online feature store"):
        feature_runs = demo.build_feature_store_and_labels(plan)
    with clock.stage("maintenance model: train, evaluate, gate, promote, build the bento"):
        training = demo.train_maintenance_model(plan)
        for line in gate_lines(training):
            print(f"   {line}")
    with clock.stage("drift and performance reports"):
        reports = demo.monitoring_reports(plan)
    runs: list[Any] = [*backfills, *feature_runs, training, *reports]
    answer: dict | None = None
    if training.success:
        with clock.stage("serve the maintenance bento and ask it for a prediction"):
            service = demo.start_maintenance_service(plan, subprocess_env())
            try:
                answer = demo.served_prediction(plan, service, machines=machine_ids())
            except Exception as exc:  # reported below; the demo then fails
                print(f"   no prediction: {exc}", file=sys.stderr)
            finally:
                demo._terminate(service)
    with clock.stage("summary"):
        summary = demo.summarize_runs(runs)
        champions = demo.champion_summary()
        bentos = demo.bento_summary()
    print("\n" + clock.table())
    ok = (
        all(r.success for r in runs)
        and "maintenance_model" in champions
        and "maintenance" in bentos
        and answer is not None
        and bool(summary["materialized"])
    )
    if not ok:
        print("Azure demo pipeline FAILED", file=sys.stderr)
        return 1
    print("\nAzure demo finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
