"""Where the platform's files live, chosen by the environment: the same code runs both profiles.

============================  ==============================================================
env                           meaning
============================  ==============================================================
``MFG_STORAGE_URI``           root of every stored file: unset → the local data directory
                              (``MFG_DATA_DIR``, embedded profile); ``s3://bucket/prefix`` →
                              an S3 bucket through dagster-aws (production; MinIO in compose)
``AWS_ENDPOINT_URL``          S3 API endpoint (MinIO, a loopback test server); unset → AWS
``AWS_REGION``                region (``AWS_DEFAULT_REGION`` also read)
``AWS_ACCESS_KEY_ID``         credentials (secret: set in the environment, never in the repo);
``AWS_SECRET_ACCESS_KEY``     unset → boto3's usual chain (instance profile, IRSA, ~/.aws)
``AWS_SESSION_TOKEN``
``AWS_MAX_ATTEMPTS``          attempts per S3 call including the first (default 5)
============================  ==============================================================

Layout under the root: ``warehouse/<asset>/<partition>.parquet`` (the parquet IO manager) and
``<area>/...`` for other artifacts (:func:`artifact_store`, e.g. ``reports``, ``models``,
``inspection_images``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from mfg_assets.settings import data_dir
from mfg_assets.storage.files import (
    FileStore,
    LocalFileStore,
    file_store_from_uri,
    is_s3_uri,
    join_uri,
)

if TYPE_CHECKING:
    from dagster_aws.s3 import S3Resource

STORAGE_URI_ENV = "MFG_STORAGE_URI"

# S3Resource field ← environment variable (the standard AWS names).
S3_ENV_FIELDS: dict[str, tuple[str, ...]] = {
    "endpoint_url": ("AWS_ENDPOINT_URL",),
    "region_name": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "aws_access_key_id": ("AWS_ACCESS_KEY_ID",),
    "aws_secret_access_key": ("AWS_SECRET_ACCESS_KEY",),
    "aws_session_token": ("AWS_SESSION_TOKEN",),
}
MAX_ATTEMPTS_ENV = "AWS_MAX_ATTEMPTS"


def storage_uri() -> str:
    """``MFG_STORAGE_URI`` if set, else the local data directory."""
    value = os.environ.get(STORAGE_URI_ENV, "").strip()
    if value and "://" in value and not value.startswith(("s3://", "file://")):
        raise ValueError(f"{STORAGE_URI_ENV}={value!r}: use s3://bucket[/prefix] or a local path")
    return value.rstrip("/") if value else str(data_dir())


def uses_s3() -> bool:
    """True when files go to S3 (production profile)."""
    return is_s3_uri(storage_uri())


def warehouse_uri() -> str:
    """Root of the parquet partitions: ``<storage>/warehouse``."""
    return join_uri(storage_uri(), "warehouse")


def s3_resource(env_vars: bool = False) -> S3Resource:
    """A dagster-aws ``S3Resource`` configured from the standard AWS environment variables.

    ``env_vars=True`` gives fields as ``dg.EnvVar`` (for ``Definitions``: the UI shows which
    variable each comes from and never the secret, and run workers read their own environment).
    The default reads the values now, for code that uses the client outside a Dagster run.
    """
    import dagster as dg
    from dagster_aws.s3 import S3Resource

    fields: dict[str, object] = {}
    for field, names in S3_ENV_FIELDS.items():
        name = next((n for n in names if os.environ.get(n, "").strip()), None)
        if name is not None:
            fields[field] = dg.EnvVar(name) if env_vars else os.environ[name].strip()
    if os.environ.get(MAX_ATTEMPTS_ENV, "").strip():
        fields["max_attempts"] = (
            dg.EnvVar.int(MAX_ATTEMPTS_ENV) if env_vars else int(os.environ[MAX_ATTEMPTS_ENV])
        )
    return S3Resource(**fields)


def artifact_uri(area: str) -> str:
    """``<storage>/<area>``: where one kind of artifact lives (local path or s3:// URI)."""
    if not area or area.strip("/") != area or ".." in area.split("/"):
        raise ValueError(f"artifact area must be a plain relative name, got {area!r}")
    return join_uri(storage_uri(), area)


def artifact_store(area: str) -> FileStore:
    """A :class:`FileStore` for one kind of artifact (``reports``, ``models``,
    ``inspection_images``...), in the same place as the partitions: local files in the
    embedded profile, the S3 bucket in production.

        store = artifact_store("reports")
        uri = store.write_bytes("drift/2026-11-20.html", html.encode())  # atomic
    """
    uri = artifact_uri(area)
    return file_store_from_uri(uri, s3_resource() if is_s3_uri(uri) else None)


def warehouse_store() -> FileStore:
    """The parquet partitions' store (the IO manager's layout: ``<asset>/<partition>.parquet``)."""
    uri = warehouse_uri()
    return file_store_from_uri(uri, s3_resource() if is_s3_uri(uri) else None)


def publish_folder(local_dir: str | Path, area: str, relprefix: str) -> str:
    """Copy the files under ``local_dir`` to ``<storage>/<area>/<relprefix>/`` and return that
    folder's URI (``s3://…`` in production), e.g. evaluation plots a step wrote to local scratch.

    In the embedded profile the local folder usually *is* that folder (``<data>/reports/…``):
    then nothing is copied and its path is returned. Each file is written atomically.
    """
    store = artifact_store(area)
    local = Path(local_dir).resolve()
    relprefix = relprefix.strip("/")
    if isinstance(store, LocalFileStore) and (store.root / relprefix).resolve() == local:
        return str(local)
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        store.write_bytes(f"{relprefix}/{path.relative_to(local).as_posix()}", path.read_bytes())
    return join_uri(artifact_uri(area), relprefix)
