"""Soft (continuously weighted) contrastive loss: peers weighted by soft-label agreement.

    w_ip = q_i . q_p

with q the soft labels (METHOD.md §3), so two examples pull together as much as their label
distributions overlap, whatever their given labels; see :mod:`relabel.losses._base`.
"""

from __future__ import annotations

import torch
from torch import nn

from relabel.losses._base import DEFAULT_TEMPERATURE, weighted_contrastive


class SoftContrastiveLoss(nn.Module):
    """Contrastive loss with pair weights ``q_i . q_p``.

    Parameters
    ----------
    temperature : float
        Softmax temperature T.
    """

    def __init__(self, temperature: float = DEFAULT_TEMPERATURE) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, z: torch.Tensor, labels: torch.Tensor, *, soft: torch.Tensor,
                **_: torch.Tensor) -> torch.Tensor:
        """``z (B, P)``, ``labels (B,)``, ``soft (B, K)`` -> scalar loss."""
        soft = soft.float()
        return weighted_contrastive(z, soft @ soft.T, self.temperature)
