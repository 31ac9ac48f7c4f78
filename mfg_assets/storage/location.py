"""Where the platform's files live, chosen by the settings: the same code runs both profiles.

``MFG_STORAGE_URI`` is the root of every stored file: unset → the local data directory
(``MFG_DATA_DIR``, embedded profile); ``s3://bucket/prefix`` → an S3 bucket (production; MinIO
in compose), reached with the ``AWS_*`` settings (:mod:`.s3`). Layout under the root:
``warehouse/<asset>/<partition>.parquet`` (the partitions, :mod:`.partitions`) and
``<area>/...`` for other artifacts (:func:`artifact_store`, e.g. ``reports``, ``models``,
``inspection_images``).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from mfg_assets.settings import data_dir, get_settings
from mfg_assets.storage.files import (
    FileStore,
    LocalFileStore,
    file_store_from_uri,
    is_s3_uri,
    join_uri,
)


def storage_uri() -> str:
    """``MFG_STORAGE_URI`` (``s3://…`` or a local path; ``file://`` is read as its path), else
    the local data directory."""
    value = get_settings().mfg_storage_uri
    if not value:
        return str(data_dir())
    return urlparse(value).path.rstrip("/") if value.startswith("file://") else value


def uses_s3() -> bool:
    """True when files go to S3 (production profile)."""
    return is_s3_uri(storage_uri())


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
    return file_store_from_uri(artifact_uri(area))


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
