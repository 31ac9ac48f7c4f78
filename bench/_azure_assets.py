"""The platform's maintenance model on the Azure slice trained through the assets, one training
run per fold (``bench/azure_pdm.py --through-assets`` runs this in a child process, so the
settings the Dagster definitions read at import are this run's).

    .venv/bin/python bench/_azure_assets.py SOURCE WORK_DIR EXPERIMENT TEST_DAYS DAY [DAY ...]

What ``make demo-azure`` does up to training: import the slice, backfill every hour through
``machine_window_features``, ``failure_labels`` and the online store; then for each ``DAY``
(``YYYY-MM-DD``, the day after a fold's test window) ``maintenance_training_job`` for that
daily partition: ``maintenance_training_set`` (labels of every day before ``DAY``, the last
``TEST_DAYS`` days held out as test) → ``maintenance_model`` (``EXPERIMENT``) →
``maintenance_model_evaluation`` (gate) → champion → bento. Prints one ``FOLD {json}`` line per
day with the evaluation's test metrics, window, rows and the gate's decision.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

METRICS = ("roc_auc", "pr_auc", "precision", "recall", "threshold", "n_rows", "n_positive")


def _value(entry: Any) -> Any:
    return getattr(entry, "value", entry)


def evaluation_of(result: Any) -> dict[str, Any]:
    """The gate's record of one training run (its evaluation's metadata)."""
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == "maintenance_model_evaluation":
            meta = event.materialization.metadata
            out = {m: _value(meta.get(f"challenger_{m}")) for m in METRICS}
            for key in ("decision", "decision_reason", "test_window", "test_machines"):
                out[key] = _value(meta.get(key))
            out["test_failing_machines"] = _value(meta.get("test_failing_machines"))
            return out
    return {}


def main(argv: list[str]) -> int:
    source, work, experiment, test_days, *days = argv
    work_dir = Path(work)
    os.environ.update(
        {
            "MFG_PLANT": "azure_pdm",
            "DAGSTER_HOME": str(work_dir / "dagster_home"),
            "MFG_DATA_DIR": str(work_dir / "data"),
            "MFG_TRAINING_WINDOW_DAYS": "120",  # every labelled day before a fold's test window
        }
    )
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("PLANT_DB_URL", None)
    (work_dir / "dagster_home").mkdir(parents=True, exist_ok=True)

    import dagster as dg

    from mfg_assets import demo, demo_azure

    demo_azure.prepare_environment()
    began = time.perf_counter()
    first, last = demo_azure.import_slice(Path(source))
    plan = demo_azure.plan_for(first, last, None)
    demo_azure.backfill(plan)
    demo.build_feature_store_and_labels(plan)
    print(f"assets built ({time.perf_counter() - began:.0f} s)", flush=True)

    from mfg_assets.definitions import defs

    job = defs.resolve_job_def("maintenance_training_job")
    for day in days:
        began = time.perf_counter()
        with dg.DagsterInstance.get() as instance:
            result = job.execute_in_process(
                instance=instance,
                partition_key=day,
                run_config={
                    **demo.QUIET,
                    "ops": {
                        "maintenance_training_set": {"config": {"test_days": float(test_days)}},
                        "maintenance_model": {"config": {"experiment": experiment}},
                    },
                },
                tags={"mfg/trigger": "bench"},
                raise_on_error=False,
            )
        record = {
            "day": day,
            "success": result.success,
            "seconds": round(time.perf_counter() - began, 1),
            **evaluation_of(result),
        }
        print("FOLD " + json.dumps(record, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
