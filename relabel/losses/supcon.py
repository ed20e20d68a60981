"""Supervised contrastive loss (Khosla et al., 2020): every same-label example is a peer.

    w_ip = [y_i = y_p]

with y the hard (given) labels; see :mod:`relabel.losses._base` for the objective.
"""

from __future__ import annotations

import torch
from torch import nn

from relabel.losses._base import DEFAULT_TEMPERATURE, same_label, weighted_contrastive


class SupConLoss(nn.Module):
    """Plain supervised contrastive loss on hard labels.

    Parameters
    ----------
    temperature : float
        Softmax temperature T.
    """

    def __init__(self, temperature: float = DEFAULT_TEMPERATURE) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, z: torch.Tensor, labels: torch.Tensor, **_: torch.Tensor) -> torch.Tensor:
        """``z (B, P)``, ``labels (B,)`` -> scalar loss; other batch fields are ignored."""
        return weighted_contrastive(z, same_label(labels), self.temperature)
