"""Resources: the plant database and where partition files are kept."""

from __future__ import annotations

import os
from datetime import datetime

import dagster as dg
import polars as pl

from mfg_assets.defs.io_managers import PartitionedParquetIOManager
from mfg_assets.ingestion import extract
from mfg_assets.settings import data_dir, default_plant_db_url
from mfg_assets.storage.files import parse_s3_uri
from mfg_assets.storage.location import artifact_uri, s3_resource, uses_s3, warehouse_uri


class PlantDatabase(dg.ConfigurableResource):
    """The plant's SQL database (time-series readings and MES tables), any SQLAlchemy URL."""

    url: str

    @property
    def masked_url(self) -> str:
        return extract.masked(self.url)

    def sensor_readings(self, start: datetime, end: datetime) -> pl.DataFrame:
        return extract.extract_sensor_readings(self.url, start, end)

    def quality_inspections(self, start: datetime, end: datetime) -> pl.DataFrame:
        return extract.extract_quality_inspections(self.url, start, end)

    def machine_events(self, start: datetime, end: datetime) -> pl.DataFrame:
        return extract.extract_machine_events(self.url, start, end)

    def known_machines(self) -> list[str]:
        return extract.extract_machines(self.url)["machine_id"].to_list()


def plant_database() -> PlantDatabase:
    """``PLANT_DB_URL`` (shown as an env var in the UI) or the embedded SQLite plant."""
    if os.environ.get("PLANT_DB_URL"):
        return PlantDatabase(url=dg.EnvVar("PLANT_DB_URL"))
    return PlantDatabase(url=default_plant_db_url())


def warehouse_dir() -> str:
    """Local directory of the parquet partitions (embedded profile)."""
    return str(data_dir() / "warehouse")


def parquet_io_manager() -> PartitionedParquetIOManager:
    """Partitions under ``MFG_STORAGE_URI`` (``s3://bucket/prefix``: S3 through dagster-aws,
    endpoint and credentials from ``AWS_*`` env vars) or, unset, the local warehouse."""
    if uses_s3():
        return PartitionedParquetIOManager(base_dir=warehouse_uri(), s3=s3_resource(env_vars=True))
    return PartitionedParquetIOManager(base_dir=warehouse_dir())


def model_io_manager() -> dg.ConfigurableIOManager:
    """Pickled outputs (trained models, reports) under ``<storage>/model_io``: the local
    ``FilesystemIOManager``, or dagster-aws's ``S3PickleIOManager`` when ``MFG_STORAGE_URI`` is
    ``s3://bucket/prefix``."""
    if uses_s3():
        from dagster_aws.s3 import S3PickleIOManager

        bucket, prefix = parse_s3_uri(artifact_uri("model_io"))
        return S3PickleIOManager(
            s3_resource=s3_resource(env_vars=True), s3_bucket=bucket, s3_prefix=prefix
        )
    return dg.FilesystemIOManager(base_dir=str(data_dir() / "model_io"))
