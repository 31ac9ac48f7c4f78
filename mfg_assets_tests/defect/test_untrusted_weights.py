"""Model files from MLflow or a user never run code: a crafted ``.pt`` whose unpickling would
write a marker file is refused by evaluation, ``model.init_weights`` and the detector loader,
and a file that does not match its registered digest is refused before it is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from mfg_assets.models.artifacts import (
    ArtifactIntegrityError,
    required_digest,
    sha256_file,
    sha256_tree,
    verify_sha256,
)

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning")]


class _WritesMarker:
    """Unpickling this calls ``exec`` (what a hostile checkpoint does with ``os.system``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def crafted_checkpoint(folder: Path) -> tuple[Path, Path]:
    """A ``.pt`` shaped like an Ultralytics checkpoint whose unpickling writes ``marker``."""
    import torch

    marker = folder / "PWNED"
    path = folder / "best.pt"
    torch.save({"model": _WritesMarker(marker), "train_args": {"imgsz": 64}}, path)
    return path, marker


def test_the_crafted_checkpoint_really_runs_code_when_unpickled(tmp_path: Path) -> None:
    """The probe is live: a plain ``torch.load(weights_only=False)`` runs it."""
    import torch

    path, marker = crafted_checkpoint(tmp_path)
    torch.load(path, weights_only=False)
    assert marker.read_text() == "pwned"


def test_evaluation_refuses_a_crafted_checkpoint(tmp_path: Path) -> None:
    from mfg_assets.models.defect.evaluation import evaluate_detector

    path, marker = crafted_checkpoint(tmp_path)
    data_yaml = tmp_path / "data.yaml"
    data_yaml.write_text(f"path: {tmp_path}\ntrain: images\nval: images\nnames: [scratch]\n")
    with pytest.raises(TypeError, match="outside the supported"):
        evaluate_detector(path, data_yaml)
    assert not marker.exists()


def test_detector_loader_refuses_a_crafted_checkpoint(tmp_path: Path) -> None:
    from mfg_assets.models.defect.runtime import load_detector

    path, marker = crafted_checkpoint(tmp_path)
    with pytest.raises(TypeError):
        load_detector(path)
    assert not marker.exists()


def test_safe_loading_holds_even_if_ultralytics_was_imported_first(tmp_path: Path) -> None:
    """``YOLO(path)`` anywhere in the process is safe once the runtime is configured."""
    from mfg_assets.models.defect.runtime import configure_ultralytics

    configure_ultralytics()
    import ultralytics.nn.tasks as tasks
    from ultralytics import YOLO

    assert tasks.SAFE_LOAD is True
    path, marker = crafted_checkpoint(tmp_path)
    with pytest.raises(TypeError):
        YOLO(str(path), task="detect")
    assert not marker.exists()


@pytest.fixture(scope="module")
def genuine_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Ultralytics checkpoint of the platform's 5-class detector, saved by Ultralytics."""
    from mfg_assets.models.defect.runtime import configure_ultralytics
    from mfg_assets.models.defect.training import DetectorSettings

    configure_ultralytics()
    from ultralytics import YOLO

    folder = tmp_path_factory.mktemp("genuine")
    settings = DetectorSettings()
    model = YOLO(settings.model_source(folder), task="detect")
    path = folder / "init.pt"
    model.save(str(path))
    return path


def test_genuine_checkpoint_loads_and_is_checked_against_its_digest(
    genuine_checkpoint: Path, tmp_path: Path
) -> None:
    from mfg_assets.models.defect.runtime import load_checkpoint_safely

    digest = sha256_file(genuine_checkpoint)
    model = load_checkpoint_safely(genuine_checkpoint, digest)
    assert len(model.names) > 0
    tampered = tmp_path / "tampered.pt"
    tampered.write_bytes(genuine_checkpoint.read_bytes() + b"\0")
    with pytest.raises(ArtifactIntegrityError, match="does not match the digest"):
        load_checkpoint_safely(tampered, digest)


def test_init_weights_never_unpickles_a_crafted_file(tmp_path: Path) -> None:
    from mfg_assets.models.defect.dataset import build_yolo_dataset, sample_inspections
    from mfg_assets.models.defect.training import DetectorSettings, train_detector

    dataset = build_yolo_dataset(
        sample_inspections(8, seed=3, defect_share=0.9),
        tmp_path / "ds",
        image_size=64,
        max_normal_fraction=None,
    )
    path, marker = crafted_checkpoint(tmp_path)
    settings = DetectorSettings(init_weights=path, epochs=1, imgsz=64, batch=4, cache=False)
    with pytest.raises(TypeError):
        train_detector(dataset.data_yaml, settings, tmp_path / "run")
    assert not marker.exists()


def test_digests_of_files_and_folders(tmp_path: Path) -> None:
    (tmp_path / "m" / "artifacts").mkdir(parents=True)
    (tmp_path / "m" / "MLmodel").write_text("flavors: {}\n")
    (tmp_path / "m" / "artifacts" / "w.bin").write_bytes(b"\x00\x01")
    tree = sha256_tree(tmp_path / "m")
    assert verify_sha256(tmp_path / "m", tree.upper()) == tmp_path / "m"
    (tmp_path / "m" / "artifacts" / "extra.py").write_text("print('hi')\n")  # an added file
    with pytest.raises(ArtifactIntegrityError):
        verify_sha256(tmp_path / "m", tree)
    with pytest.raises(ArtifactIntegrityError, match="no 'weights_sha256' tag"):
        required_digest(None, "weights_sha256", "defect_detector v3")
    assert required_digest(" ab ", "weights_sha256", "x") == "ab"
