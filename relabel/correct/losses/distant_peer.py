"""Distant-peer contrastive loss (METHOD.md §4, our reading of the paper's name).

Peers of anchor i are the batch examples sharing its given label; *distant* peers are those that
are not among i's k nearest neighbours in the frozen embedding space. Pulling distant peers
together teaches the class as a whole instead of its local clusters (where systematic annotation
errors live), and weighting every pull by the peer's credibility keeps suspected errors from
pulling:

    w_ip = [y_i = y_p] * credibility_p * (1 + beta [p not in N(i)]) * (q_i . q_p)

"p in N(i)" is decided in the batch from the frozen embeddings x and each anchor's kNN radius
r_i (cosine similarity of its k-th nearest neighbour in the whole dataset): p is near i when
x_i . x_p >= r_i. The objective is in :mod:`relabel.correct.losses._base`.

``distant_peer_soft`` (:class:`SoftPeerLoss`) chooses the peers by the soft labels instead of the
given labels, ``[argmax q_i = argmax q_p]``, so an example whose given label the neighbours and
densities overrule is pulled towards the class it seems to belong to, not the one it was given
(issue 14: a formulation tried because distant-peer did not beat the plain losses).
"""

from __future__ import annotations

import torch

from relabel.correct.losses._base import DEFAULT_TEMPERATURE, WeightedContrastive, same_label

DEFAULT_BETA = 1.0


class DistantPeerLoss(WeightedContrastive):
    """Credibility- and distance-weighted supervised contrastive loss.

    Parameters
    ----------
    temperature : float
        Softmax temperature T.
    beta : float
        Extra weight of a distant peer (0 = every peer alike).
    """

    def __init__(self, temperature: float = DEFAULT_TEMPERATURE,
                 beta: float = DEFAULT_BETA) -> None:
        super().__init__(temperature)
        self.beta = beta

    def weights(self, labels: torch.Tensor, *, soft: torch.Tensor,  # type: ignore[override]
                credibility: torch.Tensor, frozen: torch.Tensor, radius: torch.Tensor,
                **_: torch.Tensor) -> torch.Tensor:
        """``(B, B)`` distant-peer weights.

        Parameters
        ----------
        labels : torch.Tensor
            ``(B,)`` given labels.
        soft : torch.Tensor
            ``(B, K)`` soft labels q.
        credibility : torch.Tensor
            ``(B,)`` credibility of each example's given label, in [0, 1].
        frozen : torch.Tensor
            ``(B, D)`` L2-normalised frozen embeddings (the space N(i) is defined in).
        radius : torch.Tensor
            ``(B,)`` similarity of each example's k-th nearest neighbour.
        """
        soft = soft.float()
        frozen = frozen.float()
        near = (frozen @ frozen.T) >= radius.float()[:, None]
        distance = 1.0 + self.beta * (~near).float()
        return same_label(labels) * credibility.float()[None, :] * distance * (soft @ soft.T)


class SoftPeerLoss(DistantPeerLoss):
    """:class:`DistantPeerLoss` with peers chosen by the soft labels' argmax, not the given
    labels."""

    def weights(self, labels: torch.Tensor, *, soft: torch.Tensor,  # type: ignore[override]
                credibility: torch.Tensor, frozen: torch.Tensor, radius: torch.Tensor,
                **batch: torch.Tensor) -> torch.Tensor:
        """``(B, B)`` weights; ``labels`` is replaced by ``argmax soft`` (see the base class)."""
        return super().weights(soft.float().argmax(dim=1), soft=soft, credibility=credibility,
                               frozen=frozen, radius=radius, **batch)
