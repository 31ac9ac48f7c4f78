"""A trained maintenance network with everything needed to score raw feature rows.

Saved as two files, ``weights.pt`` (state dict) and ``predictor.json`` (feature names,
normalizer, architecture, decision threshold). torch is imported only when scoring or saving.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mfg_assets.models.maintenance.dataset import finite_feature_matrix
from mfg_assets.models.maintenance.normalization import Standardizer

PREDICTOR_ARTIFACT = "predictor"  # artifact key of the saved predictor in the MLflow model
WEIGHTS_FILE = "weights.pt"
META_FILE = "predictor.json"


@dataclass
class MaintenancePredictor:
    """Network weights + train-split normalizer + the threshold chosen on validation."""

    state_dict: dict[str, Any]  # CPU tensors
    normalizer: Standardizer
    hidden_sizes: tuple[int, ...]
    dropout: float
    threshold: float
    _network: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def feature_names(self) -> list[str]:
        return list(self.normalizer.feature_names)

    def network(self) -> Any:
        """The ``MaintenanceMLP`` in eval mode with these weights (built once)."""
        if self._network is None:
            from mfg_assets.models.maintenance.network import MaintenanceMLP

            net = MaintenanceMLP(len(self.feature_names), self.hidden_sizes, self.dropout)
            net.load_state_dict(self.state_dict)
            self._network = net.eval()
        return self._network

    def predict_proba(self, frame: Any) -> np.ndarray:
        """P(failure within the horizon) per row of a pandas/polars frame of raw features."""
        return self.predict_proba_array(finite_feature_matrix(frame, self.feature_names))

    def predict_proba_array(self, x: np.ndarray) -> np.ndarray:
        """Like :meth:`predict_proba` for a raw rows × features array in feature order."""
        import torch

        with torch.inference_mode():
            logits = self.network()(torch.from_numpy(self.normalizer.transform(x)))
            return torch.sigmoid(logits).numpy().astype(np.float64)

    def save(self, directory: str | Path) -> Path:
        """Write ``weights.pt`` and ``predictor.json`` into ``directory``."""
        import torch

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(self.state_dict, directory / WEIGHTS_FILE)
        meta = {
            "normalizer": self.normalizer.to_dict(),
            "hidden_sizes": list(self.hidden_sizes),
            "dropout": self.dropout,
            "threshold": self.threshold,
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> MaintenancePredictor:
        """Inverse of :meth:`save`."""
        import torch

        directory = Path(directory)
        meta = json.loads((directory / META_FILE).read_text())
        state = torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        return cls(
            state_dict=state,
            normalizer=Standardizer.from_dict(meta["normalizer"]),
            hidden_sizes=tuple(meta["hidden_sizes"]),
            dropout=float(meta["dropout"]),
            threshold=float(meta["threshold"]),
        )
