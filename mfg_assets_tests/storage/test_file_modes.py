"""Partition files are created with the process umask, like any file (not mkstemp's 0600)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mfg_assets.storage.files import LocalFileStore


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_follow_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    previous = os.umask(umask)
    try:
        written = Path(LocalFileStore(tmp_path).write_bytes("hour=00/part.parquet", b"rows"))
    finally:
        os.umask(previous)
    assert written.read_bytes() == b"rows"
    assert stat.S_IMODE(written.stat().st_mode) == mode
    assert [p.name for p in written.parent.iterdir()] == ["part.parquet"]  # no temp file left
