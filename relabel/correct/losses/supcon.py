"""Supervised contrastive loss (Khosla et al., 2020): every same-label example is a peer.

    w_ip = [y_i = y_p]

with y the hard (given) labels; see :mod:`relabel.correct.losses._base` for the objective.
"""

from __future__ import annotations

import torch

from relabel.correct.losses._base import WeightedContrastive, same_label


class SupConLoss(WeightedContrastive):
    """Plain supervised contrastive loss on hard labels (other batch fields are ignored)."""

    def weights(self, labels: torch.Tensor, **_: torch.Tensor) -> torch.Tensor:
        """``(B, B)``: 1 for pairs sharing a label."""
        return same_label(labels)
