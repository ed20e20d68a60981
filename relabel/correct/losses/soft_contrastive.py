"""Soft (continuously weighted) contrastive loss: peers weighted by soft-label agreement.

    w_ip = q_i . q_p

with q the soft labels (METHOD.md §3), so two examples pull together as much as their label
distributions overlap, whatever their given labels; see :mod:`relabel.correct.losses._base`.
"""

from __future__ import annotations

import torch

from relabel.correct.losses._base import WeightedContrastive


class SoftContrastiveLoss(WeightedContrastive):
    """Contrastive loss with pair weights ``q_i . q_p`` (needs ``soft (B, K)``)."""

    def weights(self, labels: torch.Tensor, *,  # type: ignore[override]
                soft: torch.Tensor, **_: torch.Tensor) -> torch.Tensor:
        """``(B, B)`` soft-label agreement."""
        soft = soft.float()
        return soft @ soft.T
