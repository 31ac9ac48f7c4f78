"""The defect side's assets materialized in-process, in order (benches, tests, a demo):
``quality_inspections`` (the day's hours) → ``defect_dataset`` → ``defect_detector`` →
``defect_detector_evaluation`` (+ blocking promotion gate) → ``defect_champion`` →
``defect_bento``, on one daily partition, with the embedded profile's resources.

The caller sets the environment first (``MFG_DATA_DIR``, ``MLFLOW_TRACKING_URI``,
``BENTOML_HOME``, ``MFG_PLANT``; :func:`mfg_assets.serving.samples.serving_environment`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HOUR_KEY = "%Y-%m-%d-%H:%M"
CHAIN = (
    "defect_dataset",
    "defect_detector",
    "defect_detector_evaluation",
    "defect_champion",
    "defect_bento",
)


@dataclass
class ChainResult:
    """What the run materialized and the challenger's evaluation."""

    success: bool
    seconds: dict[str, float]  # step → wall seconds (quality_inspections, chain)
    materialized: list[str]
    metadata: dict[str, dict[str, Any]]  # asset → its materialization metadata (plain values)
    evaluation: dict[str, Any] = field(default_factory=dict)  # evaluation.json of the challenger
    failures: list[str] = field(default_factory=list)


def _plain(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def run_defect_chain(
    plant_url: str, day: datetime, hours: int, experiment: str, work_dir: Path
) -> ChainResult:
    """Extract ``hours`` hourly partitions of ``quality_inspections`` from ``day`` 00:00, then
    materialize :data:`CHAIN` for ``day`` with ``experiment`` (a name or a path)."""
    import dagster as dg

    from mfg_assets.defs.defect import (
        MLFLOW_RESOURCE,
        defect_champion,
        defect_dataset,
        defect_detector,
        defect_detector_evaluation,
        defect_mlflow_experiment,
    )
    from mfg_assets.defs.ingestion import quality_inspections
    from mfg_assets.defs.resources import PlantDatabase
    from mfg_assets.defs.resources.io_managers import PartitionedParquetIOManager
    from mfg_assets.defs.resources.mlflow import mlflow_tracking
    from mfg_assets.defs.serving import defect_bento
    from mfg_assets.runs import partition_range_tags
    from mfg_assets.settings import data_dir

    resources = {
        "plant_db": PlantDatabase(url=plant_url),
        "parquet_io_manager": PartitionedParquetIOManager(base_dir=str(work_dir / "warehouse")),
        "model_io_manager": dg.FilesystemIOManager(base_dir=str(work_dir / "model_io")),
        MLFLOW_RESOURCE: mlflow_tracking.configured(
            {"experiment_name": defect_mlflow_experiment()}
        ),
    }
    instance = dg.DagsterInstance.ephemeral()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    extracted = dg.materialize(
        [quality_inspections],
        instance=instance,
        resources=resources,
        tags=partition_range_tags(
            day.strftime(HOUR_KEY), (day + timedelta(hours=hours - 1)).strftime(HOUR_KEY)
        ),
        raise_on_error=False,
    )
    seconds["quality_inspections"] = time.perf_counter() - started
    if not extracted.success:
        return ChainResult(False, seconds, [], {}, failures=_failures(extracted))
    assets = [defect_dataset, defect_detector, defect_detector_evaluation, defect_champion]
    ops = {name: {"config": {"experiment": experiment}} for name in CHAIN[:2]}
    started = time.perf_counter()
    result = dg.materialize(
        [*assets, defect_bento, quality_inspections],
        selection=[*assets, defect_bento],
        partition_key=day.strftime("%Y-%m-%d"),
        instance=instance,
        resources=resources,
        run_config={"ops": ops},
        raise_on_error=False,
    )
    seconds["chain"] = time.perf_counter() - started
    metadata = {
        e.asset_key.to_user_string(): _plain(e.materialization.metadata)
        for e in result.get_asset_materialization_events()
    }
    report = data_dir() / "reports" / "defect" / day.strftime("%Y-%m-%d") / "challenger"
    evaluation = report / "evaluation.json"
    return ChainResult(
        success=result.success,
        seconds=seconds,
        materialized=list(metadata),
        metadata=metadata,
        evaluation=json.loads(evaluation.read_text()) if evaluation.is_file() else {},
        failures=_failures(result),
    )


def _failures(result: Any) -> list[str]:
    return [str(e.message) for e in result.all_events if e.is_failure]
