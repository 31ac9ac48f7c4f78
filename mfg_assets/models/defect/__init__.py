"""Surface-defect detection: inspection images → YOLO dataset → Ultralytics detector → exports.

Plain Python, no Dagster. torch, ultralytics and onnxruntime are imported inside functions;
every function that touches ultralytics first calls :func:`runtime.configure_ultralytics`
(offline, no integrations, config under ``<MFG_DATA_DIR>/ultralytics``).

* :mod:`.dataset` - ``build_yolo_dataset``, ``preview_grid``, ``sample_inspections``
* :mod:`.training` - ``train_detector``, ``DetectorSettings``
* :mod:`.evaluation` - ``evaluate_detector``
* :mod:`.export` - ``export_detector`` (TorchScript, ONNX)
* :mod:`.runtime` - ``configure_ultralytics``, ``load_detector``, ``predict``
* :mod:`.workflow` - the lifecycle behind the Dagster assets (dataset, train + ONNX export +
  register, evaluate vs champion, promote) and ``download_champion_export`` for serving
"""

from mfg_assets.models.defect.dataset import (
    DatasetError,
    DefectDataset,
    build_yolo_dataset,
    preview_grid,
    sample_inspections,
)
from mfg_assets.models.defect.evaluation import evaluate_detector
from mfg_assets.models.defect.export import export_detector
from mfg_assets.models.defect.runtime import (
    Detection,
    LoadedDetector,
    configure_ultralytics,
    load_detector,
    predict,
)
from mfg_assets.models.defect.training import DetectorSettings, TrainedDetector, train_detector

__all__ = [
    "DatasetError",
    "DefectDataset",
    "Detection",
    "DetectorSettings",
    "LoadedDetector",
    "TrainedDetector",
    "build_yolo_dataset",
    "configure_ultralytics",
    "evaluate_detector",
    "export_detector",
    "load_detector",
    "predict",
    "preview_grid",
    "sample_inspections",
    "train_detector",
]
