"""The weighted contrastive objective shared by every loss in this package.

For a batch of L2-normalised projections ``z (B, P)`` and non-negative pair weights
``w (B, B)`` (``w_ii`` ignored), anchor i's loss is

    L_i = - (1 / sum_p w_ip) sum_{p != i} w_ip log softmax_i(p)
    softmax_i(p) = exp(z_i . z_p / T) / sum_{a != i} exp(z_i . z_a / T)

and the batch loss is the mean of L_i over anchors with ``sum_p w_ip > 0`` (an anchor with no
peer in the batch contributes nothing; a batch without any peer gives a zero loss that still
carries a gradient, so optimisers need no special case). Each loss module only defines ``w``.
"""

from __future__ import annotations

import torch

DEFAULT_TEMPERATURE = 0.1


def weighted_contrastive(z: torch.Tensor, weights: torch.Tensor,
                         temperature: float = DEFAULT_TEMPERATURE) -> torch.Tensor:
    """Mean weighted contrastive loss over anchors that have a peer.

    Parameters
    ----------
    z : torch.Tensor
        ``(B, P)`` projections; normalised here.
    weights : torch.Tensor
        ``(B, B)`` non-negative pair weights; the diagonal is ignored.
    temperature : float
        Softmax temperature T.

    Returns
    -------
    torch.Tensor
        Scalar, finite and >= 0.
    """
    b = z.shape[0]
    z = torch.nn.functional.normalize(z.float(), dim=1)
    eye = torch.eye(b, dtype=torch.bool, device=z.device)
    logits = (z @ z.T) / temperature
    logits = logits.masked_fill(eye, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    log_prob = log_prob.masked_fill(eye, 0.0)
    w = weights.float().masked_fill(eye, 0.0).clamp_min(0.0)
    w_sum = w.sum(dim=1)
    has_peer = w_sum > 0
    if not bool(has_peer.any()):
        return z.sum() * 0.0
    per_anchor = -(w * log_prob).sum(dim=1) / w_sum.clamp_min(1e-12)
    return per_anchor[has_peer].mean()


def same_label(labels: torch.Tensor) -> torch.Tensor:
    """``(B,)`` int labels -> ``(B, B)`` float, 1 where two examples share a label."""
    return (labels[:, None] == labels[None, :]).float()


class WeightedContrastive(torch.nn.Module):
    """Base of the loss modules: ``forward`` = :func:`weighted_contrastive` with the pair
    weights of :meth:`weights`, which each loss defines.

    Parameters
    ----------
    temperature : float
        Softmax temperature T.
    """

    def __init__(self, temperature: float = DEFAULT_TEMPERATURE) -> None:
        super().__init__()
        self.temperature = temperature

    def weights(self, labels: torch.Tensor, **batch: torch.Tensor) -> torch.Tensor:
        """``(B, B)`` pair weights for a batch."""
        raise NotImplementedError

    def forward(self, z: torch.Tensor, labels: torch.Tensor, **batch: torch.Tensor
                ) -> torch.Tensor:
        """``z (B, P)``, ``labels (B,)`` and the loss's batch fields -> scalar loss."""
        return weighted_contrastive(z, self.weights(labels, **batch), self.temperature)
