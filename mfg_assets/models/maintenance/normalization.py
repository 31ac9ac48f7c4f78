"""Per-feature standardisation, fitted on the train split only and shipped with the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Standardizer:
    """``(x - mean) / scale`` per feature; constant features get scale 1 (they map to 0)."""

    feature_names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    @classmethod
    def fit(cls, x: np.ndarray, feature_names: list[str] | tuple[str, ...]) -> Standardizer:
        """Statistics of ``x`` (rows × features, finite values)."""
        if x.ndim != 2 or x.shape[1] != len(feature_names) or len(x) == 0:
            raise ValueError(f"expected a non-empty (n, {len(feature_names)}) array, got {x.shape}")
        x = x.astype(np.float64)
        std = x.std(axis=0)
        scale = np.where(std > 1e-12, std, 1.0)
        mean = tuple(map(float, x.mean(axis=0)))
        return cls(tuple(feature_names), mean, tuple(map(float, scale)))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Standardised float32 copy of ``x`` (columns in ``feature_names`` order)."""
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise ValueError(f"expected (n, {len(self.feature_names)}) array, got {x.shape}")
        mean = np.asarray(self.mean, dtype=np.float64)
        scale = np.asarray(self.scale, dtype=np.float64)
        return ((x.astype(np.float64) - mean) / scale).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (floats round-trip exactly through ``json``)."""
        return {
            "feature_names": list(self.feature_names),
            "mean": list(self.mean),
            "scale": list(self.scale),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Standardizer:
        """Inverse of :meth:`to_dict`."""
        names, mean, scale = data["feature_names"], data["mean"], data["scale"]
        if not len(names) == len(mean) == len(scale):
            raise ValueError("normalizer feature_names, mean and scale differ in length")
        return cls(tuple(names), tuple(map(float, mean)), tuple(map(float, scale)))
