"""The Q-network: an MLP from the state vector to one value per action."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True, kw_only=True)
class QNetConfig:
    """Shape of the Q-network.

    Attributes:
        dim: Length of the state vector (``FeatureConfig.dim``).
        actions: Number of actions (``FeatureConfig.actions``).
        hidden: Width of the hidden layers.
        layers: Hidden layers.
        members: Independently initialised MLPs whose values are averaged (an ensemble lowers the
            variance of values regressed on noisy returns; 1 = a single MLP).
    """

    dim: int
    actions: int
    hidden: int = 128
    layers: int = 2
    members: int = 1

    def __post_init__(self) -> None:
        if min(self.dim, self.actions, self.hidden, self.layers, self.members) < 1:
            raise ValueError("dim, actions, hidden, layers and members must be >= 1")


def _mlp(config: QNetConfig) -> nn.Sequential:
    widths = [config.dim] + [config.hidden] * config.layers
    blocks: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        blocks += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*blocks, nn.Linear(widths[-1], config.actions))


class QNet(nn.Module):
    """``(B, dim) -> (B, actions)`` action values: the mean of ``config.members`` MLPs."""

    def __init__(self, config: QNetConfig) -> None:
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(_mlp(config) for _ in range(config.members))

    def member_values(self, x: torch.Tensor) -> torch.Tensor:
        """Every member's Q-values, (members, B, actions) (each member is fitted on its own)."""
        return torch.stack([m(x) for m in self.members])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Q-values of every action, (B, actions)."""
        return self.member_values(x).mean(dim=0)

    def values(self, x: np.ndarray) -> np.ndarray:
        """``forward`` of one state vector in numpy, with the same (CPU) weights.

        One decision must take well under 2 ms; torch's per-module overhead alone is ~0.3 ms for
        an ensemble of five 3-layer MLPs, the numpy products a tenth of that.
        """
        total = np.zeros(self.config.actions, np.float32)
        for member in self.members:
            linears = [m for m in member if isinstance(m, nn.Linear)]
            h = x.astype(np.float32, copy=False)
            for i, layer in enumerate(linears):
                h = h @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()
                if i < len(linears) - 1:
                    h = np.maximum(h, 0.0)
            total += h
        return total / len(self.members)


def masked_argmax(q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Best legal action per row: ``q`` (B, A), ``mask`` (B, A) bool -> (B,)."""
    return q.masked_fill(~mask, float("-inf")).argmax(dim=1)
