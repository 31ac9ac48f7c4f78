"""Artifact digests: what a model version's files hashed to when it was registered.

A registered version carries ``artifact_sha256`` (the file serving loads: the detector's ONNX
export, or the tree digest of the logged model's files, :func:`logged_model_sha256`) and, for
the detector, ``weights_sha256`` (the ``.pt`` evaluation re-scores); see
:class:`mfg_assets.models.lifecycle.VersionTags`. Whatever downloads such a file checks it with
:func:`verify_sha256` before loading it, so an artifact replaced in the artifact store after
registration is refused (:class:`ArtifactIntegrityError`) instead of loaded. A version without
the digest is refused too (:func:`required_digest`): nothing unverified is loaded.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from mfg_assets.models.registry import RegistryError

CHUNK = 1 << 20
# written by MLflow itself into a downloaded model folder (registry name/version): not content
MLFLOW_WRITTEN = frozenset({"registered_model_meta"})


class ArtifactIntegrityError(RegistryError):
    """A downloaded artifact does not match the digest recorded at registration (or has none)."""


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(folder: str | Path) -> str:
    """One digest over every file under ``folder``: SHA-256 of the sorted ``path\\0digest\\n``
    lines (relative POSIX paths), so a changed, added or removed file changes it. The file
    MLflow writes into every downloaded model (``registered_model_meta``) is left out."""
    folder = Path(folder)
    lines = sorted(
        f"{p.relative_to(folder).as_posix()}\0{sha256_file(p)}\n"
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).as_posix() not in MLFLOW_WRITTEN
    )
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def logged_model_sha256(model_uri: str) -> str:
    """:func:`sha256_tree` of a logged MLflow model's files (``models:/m-...``), downloaded."""
    import tempfile

    import mlflow

    from mfg_assets.models.tracking import configure_mlflow

    uri = configure_mlflow()
    with tempfile.TemporaryDirectory(prefix="model_digest_") as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=model_uri, dst_path=tmp, tracking_uri=uri
        )
        return sha256_tree(local)


def required_digest(value: str | None, tag: str, where: str) -> str:
    """A version's digest tag ``tag`` (``artifact_sha256``/``weights_sha256``) value; refused
    when the version has none (registered before digests, or not by this lifecycle)."""
    value = (value or "").strip()
    if not value:
        raise ArtifactIntegrityError(
            f"{where} has no {tag!r} tag: its artifact cannot be verified, so it is not "
            "loaded (re-register it through the lifecycle)"
        )
    return value


def verify_sha256(path: str | Path, expected: str) -> Path:
    """``path`` if its SHA-256 (a folder's :func:`sha256_tree`) is ``expected``; else
    :class:`ArtifactIntegrityError` (nothing of the file is loaded)."""
    path = Path(path)
    actual = sha256_tree(path) if path.is_dir() else sha256_file(path)
    if not hmac.compare_digest(actual, expected.strip().lower()):
        raise ArtifactIntegrityError(
            f"{path.name} does not match the digest recorded at registration "
            f"(sha256 {actual[:12]}…, expected {expected[:12]}…): refusing to load it"
        )
    return path
