"""A minimal file store for partition outputs: local directory today, S3 by configuration.

Writes are atomic from a reader's point of view (local: write a temporary file then rename;
S3: a single PUT), so a failed run never leaves a half-written partition visible.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol


class FileStore(Protocol):
    """Bytes in and out by relative path."""

    def write_bytes(self, relpath: str, data: bytes) -> str: ...

    def read_bytes(self, relpath: str) -> bytes: ...

    def exists(self, relpath: str) -> bool: ...

    def uri(self, relpath: str) -> str: ...


class LocalFileStore:
    """Files under a local root directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def _path(self, relpath: str) -> Path:
        return self.root / relpath

    def write_bytes(self, relpath: str, data: bytes) -> str:
        path = self._path(relpath)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
