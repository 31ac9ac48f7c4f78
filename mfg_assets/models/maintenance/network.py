"""The maintenance network: an MLP over standardised tabular features, one failure logit out.

Imports torch at module level: import this module only inside functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class MaintenanceMLP(nn.Module):
    """``Linear → ReLU → Dropout`` blocks, then a single logit (``sigmoid`` = P(failure))."""

    def __init__(self, n_features: int, hidden_sizes: Sequence[int], dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Failure logits, shape ``(n,)``."""
        return self.layers(x).squeeze(-1)
