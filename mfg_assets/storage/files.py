"""A minimal file store for partition outputs and artifacts: a local directory or an S3 bucket.

Writes are atomic from a reader's point of view (local: write a temporary file then rename;
S3: a single PUT, which S3 only makes visible once the whole body has arrived), so a failed
run never leaves a half-written partition visible.

Which store is used is configuration, never code: :func:`file_store_from_uri` maps a plain path
(or ``file://``) to :class:`LocalFileStore` and ``s3://bucket/prefix`` to :class:`S3FileStore`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse


class FileStoreError(RuntimeError):
    """A store could not be reached or refused an operation; the message names where."""


@dataclass(frozen=True)
class FileEntry:
    """A stored file: its relative path, size and a version token that changes whenever the
    file is replaced (local: mtime + inode; S3: ETag + last-modified)."""

    relpath: str
    size: int
    version: str

    @property
    def name(self) -> str:
        return self.relpath.rsplit("/", 1)[-1]


class FileStore(Protocol):
    """Bytes in and out by relative path (``/``-separated)."""

    def write_bytes(self, relpath: str, data: bytes) -> str: ...

    def read_bytes(self, relpath: str) -> bytes: ...

    def exists(self, relpath: str) -> bool: ...

    def uri(self, relpath: str) -> str: ...

    def list_files(self, prefix: str = "") -> list[str]: ...

    def list_entries(self, prefix: str = "") -> list[FileEntry]: ...


class LocalFileStore:
    """Files under a local root directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def _path(self, relpath: str) -> Path:
        return self.root / relpath

    def write_bytes(self, relpath: str, data: bytes) -> str:
        path = self._path(relpath)
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL on a random name, mode 0666 less the umask (mkstemp would force 0600)
        tmp = str(path.parent / f".{path.name}.{os.urandom(6).hex()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return str(path)

    def read_bytes(self, relpath: str) -> bytes:
        return self._path(relpath).read_bytes()

    def exists(self, relpath: str) -> bool:
        return self._path(relpath).is_file()

    def uri(self, relpath: str) -> str:
        return str(self._path(relpath))

    def list_files(self, prefix: str = "") -> list[str]:
        """Relative paths of the finished files under ``prefix`` (temporary files excluded)."""
        return [entry.relpath for entry in self.list_entries(prefix)]

    def list_entries(self, prefix: str = "") -> list[FileEntry]:
        """:meth:`list_files` with each file's size and version (mtime + inode)."""
        base = self._path(prefix) if prefix else self.root
        skip = len(str(self.root).rstrip("/")) + 1  # "<root>/" before every relative path
        entries: list[FileEntry] = []
        pending = [str(base)]
        while pending:
            folder = pending.pop()
            try:
                scan = os.scandir(folder)
            except (FileNotFoundError, NotADirectoryError):
                continue
            with scan:
                for item in scan:
                    if item.is_dir(follow_symlinks=False):
                        pending.append(item.path)
                    elif item.is_file() and not item.name.endswith(".tmp"):
                        try:
                            st = item.stat()
                        except FileNotFoundError:  # replaced or removed since the listing
                            continue
                        version = f"{st.st_mtime_ns}:{st.st_ino}"
                        entries.append(FileEntry(item.path[skip:], st.st_size, version))
        return sorted(entries, key=lambda entry: entry.relpath)


class S3FileStore:
    """Objects under ``s3://bucket/prefix``, through a boto3 client.

    ``client`` is a boto3 S3 client, or anything with a ``get_client()`` (an
    :class:`~mfg_assets.storage.s3.S3ClientConfig`, a dagster-aws ``S3Resource``) called on
    first use (so building the store never opens a connection). Every failure is
    raised as :class:`FileStoreError` naming the endpoint and the object, e.g. ``S3 endpoint
    http://minio:9000 unreachable writing s3://plant/warehouse/x.parquet: ...``.
    """

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        if not bucket:
            raise ValueError("an S3 file store needs a bucket")
        self._client_or_resource = client
        self._client: Any = None if hasattr(client, "get_client") else client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._client_or_resource.get_client()
        return self._client

    @property
    def endpoint(self) -> str:
        return str(getattr(self.client.meta, "endpoint_url", None) or "default AWS endpoint")

    def key(self, relpath: str) -> str:
        relpath = relpath.lstrip("/")
        return f"{self.prefix}/{relpath}" if self.prefix else relpath

    def uri(self, relpath: str) -> str:
        return f"s3://{self.bucket}/{self.key(relpath)}"

    def _error(self, action: str, relpath: str, exc: Exception) -> FileStoreError:
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "?")
            what = f"S3 endpoint {self.endpoint} refused {action} {self.uri(relpath)} ({code})"
        else:
            what = f"S3 endpoint {self.endpoint} unreachable {action} {self.uri(relpath)}"
        return FileStoreError(f"{what}: {exc}")

    def write_bytes(self, relpath: str, data: bytes) -> str:
        # One PUT with the body's MD5: S3 stores the object whole or not at all, and rejects a
        # body that arrived damaged, so readers never see a partial partition.
        import base64
        import hashlib

        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self.key(relpath), Body=data, ContentMD5=md5
            )
        except Exception as exc:
            raise self._error("writing", relpath, exc) from exc
        return self.uri(relpath)

    def read_bytes(self, relpath: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key(relpath))
            return response["Body"].read()
        except Exception as exc:
            raise self._error("reading", relpath, exc) from exc

    def exists(self, relpath: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(relpath))
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404 or exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return False
            raise self._error("checking", relpath, exc) from exc
        except Exception as exc:
            raise self._error("checking", relpath, exc) from exc
        return True

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.key(prefix)):
            yield from page.get("Contents", [])

    def list_files(self, prefix: str = "") -> list[str]:
        """Relative paths of the objects under ``prefix``."""
        return [entry.relpath for entry in self.list_entries(prefix)]

    def list_entries(self, prefix: str = "") -> list[FileEntry]:
        """The objects under ``prefix`` with size and version (ETag + last-modified), from
        the listing alone (no request per object)."""
        start = len(self.prefix) + 1 if self.prefix else 0
        try:
            return sorted(
                (
                    FileEntry(item["Key"][start:], int(item["Size"]), _object_version(item))
                    for item in self._objects(prefix)
                ),
                key=lambda entry: entry.relpath,
            )
        except Exception as exc:
            raise self._error("listing", prefix, exc) from exc


def _object_version(item: dict[str, Any]) -> str:
    etag = str(item.get("ETag", "")).strip('"')
    return f"{etag}@{item['LastModified'].isoformat()}"


def is_s3_uri(uri: str) -> bool:
    return str(uri).startswith("s3://")


def join_uri(base: str, *parts: str) -> str:
    """``base`` (a path or ``s3://bucket/prefix``) with ``/``-joined ``parts``."""
    base = str(base)
    if is_s3_uri(base):
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts if p)])
    return str(Path(base, *parts))


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → ``("bucket", "some/prefix")``."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"{uri!r} is not an s3://bucket[/prefix] URI")
    return parsed.netloc, parsed.path.strip("/")


def file_store_from_uri(uri: str | Path, s3: Any = None) -> FileStore:
    """The store a URI names: ``s3://bucket/prefix`` or a local path / ``file://`` URI.

    For S3 the client comes from ``s3`` (a boto3 client or anything with ``get_client()``, see
    :class:`S3FileStore`); without one, from the ``AWS_*`` settings
    (:class:`~mfg_assets.storage.s3.S3ClientConfig`).
    """
    text = str(uri)
    if is_s3_uri(text):
        bucket, prefix = parse_s3_uri(text)
        if s3 is None:
            from mfg_assets.storage.s3 import S3ClientConfig

            s3 = S3ClientConfig.from_settings()
        return S3FileStore(s3, bucket, prefix)
    if text.startswith("file://"):
        text = urlparse(text).path
    elif "://" in text:
        raise ValueError(f"unsupported storage URI {text!r}: use a local path or s3://bucket/…")
    return LocalFileStore(text)
