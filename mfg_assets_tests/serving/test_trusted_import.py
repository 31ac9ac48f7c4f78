"""Importing a registered maintenance model into the BentoML store runs nothing from the
artifact store: files changed after registration are refused by their digest, a version
without a digest is refused, and weights that would unpickle code are refused even when an
attacker also rewrote the digest tag."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mfg_assets.models.artifacts import ArtifactIntegrityError, sha256_tree

pytestmark = pytest.mark.slow


class _WritesMarker:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def _model_folder(version: int) -> Path:
    """The logged model's folder in the (local) artifact store, as the registry points to it."""
    from urllib.parse import urlparse

    from mfg_assets.models.registry import ModelRegistry

    client = ModelRegistry().client
    source = client.get_model_version("maintenance_model", str(version)).source
    location = client.get_logged_model(source.removeprefix("models:/")).artifact_location
    return Path(urlparse(location).path if location.startswith("file:") else location)


def _predictor_folder(model: Path) -> Path:
    return next(p.parent for p in model.rglob("weights.pt"))


def test_registered_version_imports_and_matches_its_digest(registered, tmp_path: Path) -> None:
    from mfg_assets.models.registry import ModelRegistry
    from mfg_assets.serving.model_store import import_maintenance_model

    tags = ModelRegistry().version_info("maintenance_model", 1)["tags"]
    assert tags["artifact_sha256"] == sha256_tree(_model_folder(1))
    imported = import_maintenance_model(1, home=tmp_path / "store")
    assert imported.created and imported.metadata["experiment"] == "maintenance_default"


def test_a_replaced_code_file_is_refused_and_never_runs(registered, tmp_path: Path) -> None:
    from mfg_assets.serving.model_store import import_maintenance_model

    marker = tmp_path / "PWNED"
    model = _model_folder(2)
    original = (model / "pyfunc.py").read_text()
    (model / "pyfunc.py").write_text(f"open({str(marker)!r}, 'w').write('pwned')\n" + original)
    try:
        with pytest.raises(ArtifactIntegrityError, match="does not match the digest"):
            import_maintenance_model(2, alias="challenger", home=tmp_path / "store")
    finally:
        (model / "pyfunc.py").write_text(original)
    assert not marker.exists()


def test_crafted_weights_never_unpickle_even_with_a_forged_digest(
    registered, tmp_path: Path
) -> None:
    import torch

    from mfg_assets.models.registry import ModelRegistry
    from mfg_assets.serving.model_store import import_maintenance_model

    marker = tmp_path / "PWNED"
    model = _model_folder(2)
    weights = _predictor_folder(model) / "weights.pt"
    backup = tmp_path / "weights.pt"
    shutil.copyfile(weights, backup)
    client = ModelRegistry().client
    recorded = client.get_model_version("maintenance_model", "2").tags["artifact_sha256"]
    torch.save({"net.0.weight": _WritesMarker(marker)}, weights)
    client.set_model_version_tag("maintenance_model", "2", "artifact_sha256", sha256_tree(model))
    try:
        with pytest.raises(ArtifactIntegrityError, match="more than tensors"):
            import_maintenance_model(2, alias="challenger", home=tmp_path / "store")
    finally:
        shutil.copyfile(backup, weights)
        client.set_model_version_tag("maintenance_model", "2", "artifact_sha256", recorded)
    assert not marker.exists()


def test_a_version_without_a_digest_is_refused(registered, tmp_path: Path) -> None:
    from mfg_assets.models.registry import ModelRegistry
    from mfg_assets.serving.model_store import import_maintenance_model

    client = ModelRegistry().client
    recorded = client.get_model_version("maintenance_model", "2").tags["artifact_sha256"]
    client.delete_model_version_tag("maintenance_model", "2", "artifact_sha256")
    try:
        with pytest.raises(ArtifactIntegrityError, match="no 'artifact_sha256' tag"):
            import_maintenance_model(2, alias="challenger", home=tmp_path / "store")
    finally:
        client.set_model_version_tag("maintenance_model", "2", "artifact_sha256", recorded)


def test_rescoring_loads_data_only_even_with_a_forged_digest(registered, tmp_path: Path) -> None:
    """The champion re-scoring and the performance report load registered versions through
    ``load_maintenance_model``: a code file planted in the store (digest forged to match) is
    never executed, and without the forged digest the version is refused."""
    from mfg_assets.models.maintenance.packaging import load_maintenance_model
    from mfg_assets.models.registry import ModelRegistry

    marker = tmp_path / "PWNED"
    model = _model_folder(2)
    original = (model / "pyfunc.py").read_text()
    client = ModelRegistry().client
    recorded = client.get_model_version("maintenance_model", "2").tags["artifact_sha256"]
    (model / "pyfunc.py").write_text(f"open({str(marker)!r}, 'w').write('pwned')\n" + original)
    try:
        with pytest.raises(ArtifactIntegrityError, match="does not match the digest"):
            load_maintenance_model("models:/maintenance_model/2")
        client.set_model_version_tag(
            "maintenance_model", "2", "artifact_sha256", sha256_tree(model)
        )
        loaded = load_maintenance_model("models:/maintenance_model@challenger")
        assert 0.0 < loaded.threshold < 1.0 and loaded.metadata["experiment"]
    finally:
        (model / "pyfunc.py").write_text(original)
        client.set_model_version_tag("maintenance_model", "2", "artifact_sha256", recorded)
    assert not marker.exists()
