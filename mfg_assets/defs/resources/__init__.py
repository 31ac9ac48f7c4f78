"""Resources: the plant database and where partition files are kept."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import dagster as dg
import polars as pl

from mfg_assets.defs.resources.io_managers import PartitionedParquetIOManager
from mfg_assets.ingestion import extract
from mfg_assets.settings import data_dir, default_plant_db_url, env_name, get_settings
from mfg_assets.storage.files import parse_s3_uri
from mfg_assets.storage.location import artifact_uri, uses_s3
from mfg_assets.storage.partitions import warehouse_uri

if TYPE_CHECKING:
    from dagster_aws.s3 import S3Resource


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
    if get_settings().plant_db_url:
        return PlantDatabase(url=dg.EnvVar(env_name("plant_db_url")))
    return PlantDatabase(url=default_plant_db_url())


# S3Resource field ← the setting it comes from (shown in the UI as its variable, never a value).
_S3_ENV_FIELDS = {
    "endpoint_url": "aws_endpoint_url",
    "aws_access_key_id": "aws_access_key_id",
    "aws_secret_access_key": "aws_secret_access_key",
    "aws_session_token": "aws_session_token",
}


def s3_resource() -> S3Resource:
    """dagster-aws ``S3Resource`` for the ``AWS_*`` settings: endpoint and credentials as
    ``dg.EnvVar`` (the UI shows which variable each comes from, never a secret, and run workers
    read their own environment), and ``AWS_MAX_ATTEMPTS`` when set; the region as its value
    (it may come from ``AWS_REGION`` or ``AWS_DEFAULT_REGION``). Unset credentials are left to
    boto3's chain."""
    from dagster_aws.s3 import S3Resource

    settings = get_settings()
    fields: dict[str, object] = {
        field: dg.EnvVar(env_name(setting))
        for field, setting in _S3_ENV_FIELDS.items()
        if getattr(settings, setting)
    }
    if settings.aws_region:
        fields["region_name"] = settings.aws_region
    if "aws_max_attempts" in settings.model_fields_set:
        fields["max_attempts"] = dg.EnvVar.int(env_name("aws_max_attempts"))
    return S3Resource(**fields)


def parquet_io_manager() -> PartitionedParquetIOManager:
    """Partitions in the warehouse (:func:`~mfg_assets.storage.partitions.warehouse_uri`):
    local, or with ``MFG_STORAGE_URI=s3://bucket/prefix`` in S3 through dagster-aws."""
    if uses_s3():
        return PartitionedParquetIOManager(base_dir=warehouse_uri(), s3=s3_resource())
    return PartitionedParquetIOManager(base_dir=warehouse_uri())


def model_io_manager() -> dg.ConfigurableIOManager:
    """Pickled outputs (trained models, reports) under ``<storage>/model_io``: the local
    ``FilesystemIOManager``, or dagster-aws's ``S3PickleIOManager`` when ``MFG_STORAGE_URI`` is
    ``s3://bucket/prefix``."""
    if uses_s3():
        from dagster_aws.s3 import S3PickleIOManager

        bucket, prefix = parse_s3_uri(artifact_uri("model_io"))
        return S3PickleIOManager(s3_resource=s3_resource(), s3_bucket=bucket, s3_prefix=prefix)
    return dg.FilesystemIOManager(base_dir=str(data_dir() / "model_io"))
