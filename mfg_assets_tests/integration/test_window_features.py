"""``machine_window_features`` materialized in-process: the simulator plant, and the imported
Azure slice (import → ingestion → hourly features → windows)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from mfg_assets.plant.importers.datasets import dataset, datasets_dir
from mfg_assets.storage.partitions import partition_file
from mfg_assets_tests.integration.plant_fixtures import (
    HOUR,
    HOUR_KEY,
    plant_assets,
    resources,
    seed_small_plant,
)


def test_window_features_of_the_simulator_plant(tmp_path: Path):
    from mfg_assets.defs.windows import PLAN, machine_window_features

    url = f"sqlite:///{tmp_path / 'plant.db'}"
    seed_small_plant(url)
    warehouse = tmp_path / "warehouse"
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [*plant_assets(), machine_window_features],
            partition_key=HOUR_KEY,
            instance=instance,
            resources=resources(url, warehouse),
        )
        assert result.success
    hourly = pl.read_parquet(warehouse / partition_file(["machine_hourly_features"], HOUR_KEY))
    windows = pl.read_parquet(warehouse / partition_file(["machine_window_features"], HOUR_KEY))
    assert windows.height == hourly.height == 4
    assert set(PLAN.feature_columns()) <= set(windows.columns)
    assert windows["hour"].unique().to_list() == [HOUR]
    joined = windows.join(hourly, on=["machine_id", "hour"])
    # the simulator's one-hour window is its hourly statistics of the raw readings
    for column in ("temperature_mean", "vibration_slope", "spindle_speed_last"):
        assert (joined[f"{column}_1h"] == joined[column]).all()
    since = windows["hours_since_maintenance"]
    assert since.null_count() == 0 and (since > 0).all()


def error_messages(error) -> str:
    """Every message of a step's serialized error and its causes and contexts."""
    parts = []
    while error is not None:
        parts.append(error.message)
        error = error.cause or error.context
    return "\n".join(parts)


def test_window_features_refuse_a_plant_database_the_definition_does_not_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A plant database that lacks what the definition reads fails the step with the
    definition file and the field named, and writes no partition."""
    import importlib

    from sqlalchemy import create_engine, text

    import mfg_assets.defs.windows

    # the asset module binds the active plant at import: bind it to the simulator's here,
    # whichever plant an earlier test in this process imported it under
    monkeypatch.delenv("MFG_PLANT", raising=False)
    machine_window_features = importlib.reload(mfg_assets.defs.windows).machine_window_features

    url = f"sqlite:///{tmp_path / 'plant.db'}"
    seed_small_plant(url)
    warehouse = tmp_path / "warehouse"
    with dg.instance_for_test() as instance:
        upstream = dg.materialize(
            plant_assets(),
            partition_key=HOUR_KEY,
            instance=instance,
            resources=resources(url, warehouse),
        )
        assert upstream.success
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE machines RENAME TO machine_master"))
        engine.dispose()
        result = dg.materialize(
            [*plant_assets(), machine_window_features],
            selection=[machine_window_features],
            partition_key=HOUR_KEY,
            instance=instance,
            resources=resources(url, warehouse),
            raise_on_error=False,
        )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = error_messages(failure.step_failure_data.error)
    assert "simulator.yaml: machines.table: no table 'machines'" in message
    assert not (warehouse / partition_file(["machine_window_features"], HOUR_KEY)).exists()


AZURE_RUN = """
import sys
from pathlib import Path

import dagster as dg

from mfg_assets.defs.features import machine_hourly_features
from mfg_assets.defs.labels import failure_labels_asset
from mfg_assets.defs.ingestion import machine_events, quality_inspections, sensor_readings
from mfg_assets.defs.resources import PlantDatabase
from mfg_assets.defs.resources.io_managers import PartitionedParquetIOManager
from mfg_assets.defs.windows import machine_window_features
from mfg_assets.plant.importers import run_import

source, url, warehouse, first, last, last_label = sys.argv[1:]
run_import("azure-pdm", Path(source), url, replace=True)
assets = [sensor_readings, quality_inspections, machine_events, machine_hourly_features]
resources = {
    "plant_db": PlantDatabase(url=url),
    "parquet_io_manager": PartitionedParquetIOManager(base_dir=warehouse),
}
with dg.instance_for_test() as instance:
    for selection, end in ((None, last), ([failure_labels_asset], last_label)):
        result = dg.materialize(
            [*assets, machine_window_features, failure_labels_asset],
            selection=selection or [*assets, machine_window_features],
            instance=instance,
            resources=resources,
            tags={
                "dagster/asset_partition_range_start": first,
                "dagster/asset_partition_range_end": end,
            },
        )
        assert result.success
"""


def test_window_features_of_the_imported_azure_plant(tmp_path: Path):
    """Import → ingestion → hourly features → window features for 30 hours of the Azure
    slice, then failure labels of its first 6 hours, with ``MFG_PLANT=azure_pdm`` (its own
    process: the active plant is read at import)."""

    source = dataset("azure_pdm")
    if source is None:
        pytest.skip(f"Azure PdM slice not found in {datasets_dir()} (MFG_DATASETS_DIR)")
    warehouse = tmp_path / "warehouse"
    env = {**os.environ, "MFG_PLANT": "azure_pdm", "MFG_DATA_DIR": str(tmp_path / "data")}
    env.pop("MFG_PARTITIONS_START", None)
    hours = ["2015-01-01-06:00", "2015-01-02-11:00", "2015-01-01-11:00"]  # first, last, labels
    args = [source, f"sqlite:///{tmp_path / 'plant.db'}", warehouse, *hours]
    subprocess.run(
        [
            sys.executable,
            "-c",
            AZURE_RUN,
            *map(str, args),
        ],
        env=env,
        check=True,
        timeout=300,
    )
    frames = sorted((warehouse / "machine_window_features").glob("*.parquet"))
    windows = pl.concat([pl.read_parquet(f) for f in frames])
    assert len(frames) == 30 and windows.height == 30 * 20
    # the partitions start where the data does: the first hour's window holds one hour
    first = windows.filter(pl.col("hour") == windows["hour"].min())
    assert first["hours_present_24h"].unique().to_list() == [1]
    assert windows["hours_present_24h"].max() == 24
    # for an hourly plant, a window is the plain rolling statistic of the readings
    telemetry = (
        pl.read_csv(source / "PdM_telemetry.csv")
        .select(
            pl.col("machineID").cast(pl.String).alias("machine_id"),
            pl.col("datetime").str.to_datetime().dt.replace_time_zone("UTC").alias("hour"),
            "volt",
        )
        .sort("machine_id", "hour")
        .with_columns(pl.col("volt").rolling_mean_by("hour", "24h").over("machine_id").alias("m"))
    )
    joined = windows.join(telemetry, on=["machine_id", "hour"])
    assert joined.height == windows.height
    assert (joined["volt_mean_24h"] - joined["m"]).abs().max() < 1e-9
    assert windows["hours_since_comp1"].null_count() == 0
    assert windows["volt_std_3h"].null_count() == 20  # only the first hour of each machine
    # labels: the definition's failure types (failure_comp1…4); machines 16 and 17 fail at
    # 2015-01-02 03:00, within 24 h of the end of each labelled hour 06:00 … 11:00
    labels = pl.concat(
        [pl.read_parquet(f) for f in sorted((warehouse / "failure_labels").glob("*.parquet"))]
    )
    assert labels.height == 6 * 20
    positives = labels.filter(pl.col("failure_within_h") == 1)
    assert sorted(positives["machine_id"].unique().to_list()) == ["16", "17"]
    assert positives.height == 12
    assert positives["hours_to_failure"].max() == 20.0  # hour 06:00 ends 07:00; 03:00 next day
