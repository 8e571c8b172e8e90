"""The Q-network: an MLP from the state vector to one value per action."""

from __future__ import annotations

from dataclasses import dataclass

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
    """

    dim: int
    actions: int
    hidden: int = 128
    layers: int = 2

    def __post_init__(self) -> None:
        if min(self.dim, self.actions, self.hidden, self.layers) < 1:
            raise ValueError("dim, actions, hidden and layers must be >= 1")


class QNet(nn.Module):
    """``(B, dim) -> (B, actions)`` action values."""

    def __init__(self, config: QNetConfig) -> None:
        super().__init__()
        self.config = config
        widths = [config.dim] + [config.hidden] * config.layers
        blocks: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            blocks += [nn.Linear(a, b), nn.ReLU()]
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(widths[-1], config.actions)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Q-values of every action, (B, actions)."""
        return self.head(self.body(x))


def masked_argmax(q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Best legal action per row: ``q`` (B, A), ``mask`` (B, A) bool -> (B,)."""
    return q.masked_fill(~mask, float("-inf")).argmax(dim=1)
