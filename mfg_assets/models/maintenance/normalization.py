"""Per-feature standardisation, fitted on the train split only and shipped with the model.

Fitting also decides which features the network sees. A feature that mostly tells machines apart
is set to 0 (``unused``). Machines have their own sensor baselines: between machines, pressure,
current and spindle speed levels differ by about as much as a lifetime of wear moves them. In a
window of 20 machines and a handful of failures, such features line up with "which machines
happened to fail". The network learns that, and it does not carry over to the next day (test ROC
AUC fell below the single-feature vibration_mean heuristic). The input contract does not change:
unused columns must still be present and finite, they just do not reach the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# A feature whose train-split variance is more than this share between machines (machine means)
# rather than within them is a machine fingerprint and is not used.
MAX_MACHINE_SHARE = 0.5


@dataclass(frozen=True)
class Standardizer:
    """``(x - mean) / scale`` per feature; constant features get scale 1 (they map to 0).

    Features named in ``unused`` always map to 0.
    """

    feature_names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    unused: tuple[str, ...] = ()

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        feature_names: list[str] | tuple[str, ...],
        groups: np.ndarray | None = None,
        max_machine_share: float = MAX_MACHINE_SHARE,
    ) -> Standardizer:
        """Statistics of ``x`` (rows × features, finite values).

        ``groups`` holds the machine of each row. When it is given, features with more than
        ``max_machine_share`` of their variance between machines become ``unused``. See
        :func:`machine_share`.
        """
        if x.ndim != 2 or x.shape[1] != len(feature_names) or len(x) == 0:
            raise ValueError(f"expected a non-empty (n, {len(feature_names)}) array, got {x.shape}")
        x = x.astype(np.float64)
        std = x.std(axis=0)
        scale = np.where(std > 1e-12, std, 1.0)
        mean = tuple(map(float, x.mean(axis=0)))
        unused: tuple[str, ...] = ()
        if groups is not None:
            share = machine_share(x, groups)
            fingerprint = share > max_machine_share
            if not fingerprint.all():  # never screen out everything
                unused = tuple(np.asarray(feature_names)[fingerprint].tolist())
        return cls(tuple(feature_names), mean, tuple(map(float, scale)), unused)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Standardised float32 copy of ``x`` (columns in ``feature_names`` order)."""
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise ValueError(f"expected (n, {len(self.feature_names)}) array, got {x.shape}")
        mean = np.asarray(self.mean, dtype=np.float64)
        scale = np.asarray(self.scale, dtype=np.float64)
        z = (x.astype(np.float64) - mean) / scale
        if self.unused:
            z[:, np.isin(self.feature_names, self.unused)] = 0.0
        return z.astype(np.float32)

    @property
    def used_features(self) -> list[str]:
        """The features that reach the network."""
        return [n for n in self.feature_names if n not in self.unused]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (floats round-trip exactly through ``json``)."""
        return {
            "feature_names": list(self.feature_names),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "unused": list(self.unused),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Standardizer:
        """Inverse of :meth:`to_dict` (older dicts without ``unused`` use every feature)."""
        names, mean, scale = data["feature_names"], data["mean"], data["scale"]
        if not len(names) == len(mean) == len(scale):
            raise ValueError("normalizer feature_names, mean and scale differ in length")
        unused = tuple(data.get("unused") or ())
        if not set(unused) <= set(names):
            raise ValueError(f"normalizer unused features not in feature_names: {unused}")
        return cls(tuple(names), tuple(map(float, mean)), tuple(map(float, scale)), unused)


def machine_share(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Per column of ``x``: the share of its variance that lies between the ``groups`` means.

    For example, pressure_mean is about 0.95 (mostly the machine's baseline). vibration_mean
    is about 0.3 (mostly wear). Returns zeros when a group share cannot be measured: fewer than
    2 groups, or on average fewer than 2 rows per group.
    """
    _, index, counts = np.unique(groups, return_inverse=True, return_counts=True)
    n_groups = len(counts)
    if n_groups < 2 or len(x) < 2 * n_groups:
        return np.zeros(x.shape[1])
    x = x.astype(np.float64)
    centred = x - x.mean(axis=0)
    sums = np.zeros((n_groups, x.shape[1]))
    np.add.at(sums, index, centred)
    between = (sums**2 / counts[:, None]).sum(axis=0)
    total = (centred**2).sum(axis=0)
    return np.divide(between, total, out=np.zeros_like(total), where=total > 1e-12)
