"""The contrastive losses on hand-made tensors."""

from __future__ import annotations

import pytest
import torch

from relabel.correct.losses import LOSS_CHOICES, loss_class, make_loss
from relabel.correct.losses.distant_peer import DistantPeerLoss

CONTRASTIVE = [name for name in LOSS_CHOICES if name != "ce"]


def batch(labels: list[int], z: torch.Tensor | None = None, n_classes: int = 3, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    y = torch.tensor(labels)
    b = len(labels)
    if z is None:
        z = torch.randn(b, 8, generator=gen)
    soft = torch.nn.functional.one_hot(y, n_classes).float() * 0.8 + 0.2 / n_classes
    frozen = torch.nn.functional.normalize(torch.randn(b, 8, generator=gen), dim=1)
    return z, y, {"soft": soft, "credibility": torch.full((b,), 0.9), "frozen": frozen,
                  "radius": torch.full((b,), 0.5)}


@pytest.mark.parametrize("name", CONTRASTIVE)
def test_finite_non_negative_and_gradients_flow(name):
    z, y, extra = batch([0, 0, 1, 1, 2, 2, 0, 1])
    z = z.clone().requires_grad_(True)
    value = make_loss(name, 0.1)(z, y, **extra)
    assert value.ndim == 0 and torch.isfinite(value) and value.item() >= 0
    value.backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


@pytest.mark.parametrize("name", CONTRASTIVE)
def test_lower_when_same_label_embeddings_coincide(name):
    labels = [0, 0, 0, 1, 1, 1, 2, 2, 2]
    centers = torch.eye(3, 8)
    together = centers[torch.tensor(labels)]
    scattered = torch.nn.functional.normalize(
        torch.randn(len(labels), 8, generator=torch.Generator().manual_seed(1)), dim=1)
    loss = make_loss(name, 0.1)
    _, y, extra = batch(labels)
    assert loss(together, y, **extra) < loss(scattered, y, **extra)


@pytest.mark.parametrize("name", CONTRASTIVE)
def test_singleton_class_in_batch_and_one_class_batch(name):
    loss = make_loss(name, 0.1)
    # class 2 has one member: it has no peer (for the hard-label losses) and must not produce NaN
    z, y, extra = batch([0, 0, 1, 1, 2])
    assert torch.isfinite(loss(z, y, **extra))
    # every example in one class: still finite and >= 0
    z, y, extra = batch([1, 1, 1, 1])
    value = loss(z, y, **extra)
    assert torch.isfinite(value) and value.item() >= 0


@pytest.mark.parametrize("name", ["supcon", "distant_peer"])
def test_no_peer_at_all_gives_zero_with_gradient(name):
    z, y, extra = batch([0, 1, 2])
    z = z.clone().requires_grad_(True)
    value = make_loss(name, 0.1)(z, y, **extra)
    assert value.item() == 0.0
    value.backward()  # a graph exists, so training loops need no special case
    assert z.grad is not None


def test_distant_peer_weights_distant_peers_and_credible_peers():
    # anchor 0 with two same-label peers: 1 is a near neighbour in the frozen space, 2 is distant
    frozen = torch.nn.functional.normalize(torch.tensor(
        [[1.0, 0.0], [0.99, 0.1], [0.0, 1.0], [-1.0, 0.0]]), dim=1)
    y = torch.tensor([0, 0, 0, 1])
    soft = torch.nn.functional.one_hot(y, 2).float()
    radius = torch.full((4,), 0.9)
    cred = torch.ones(4)
    # z pulls anchor 0 toward the near peer only
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    flat = DistantPeerLoss(beta=0.0)(z, y, soft=soft, credibility=cred, frozen=frozen,
                                     radius=radius)
    distant = DistantPeerLoss(beta=4.0)(z, y, soft=soft, credibility=cred, frozen=frozen,
                                        radius=radius)
    assert distant > flat  # the distant peer, far in z, now weighs more
    # a peer with zero credibility does not pull: the loss equals the one without that peer
    cred0 = torch.tensor([1.0, 1.0, 0.0, 1.0])
    ignored = DistantPeerLoss(beta=0.0)(z, y, soft=soft, credibility=cred0, frozen=frozen,
                                        radius=radius)
    assert ignored < flat


def test_ce_has_no_module_and_unknown_loss_is_an_error():
    assert loss_class("ce") is None and make_loss("ce", 0.1) is None
    with pytest.raises(ValueError, match="unknown loss"):
        loss_class("triplet")


def test_soft_peers_follow_the_soft_labels_not_the_given_ones():
    import torch

    from relabel.correct.losses.distant_peer import DistantPeerLoss, SoftPeerLoss

    labels = torch.tensor([0, 0, 1])
    soft = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9]])  # row 1 looks like class 1
    batch = {"soft": soft, "credibility": torch.ones(3), "frozen": torch.eye(3),
             "radius": torch.full((3,), 2.0)}
    given = DistantPeerLoss().weights(labels, **batch)
    by_soft = SoftPeerLoss().weights(labels, **batch)
    assert given[0, 1] > 0 and given[1, 2] == 0
    assert by_soft[0, 1] == 0 and by_soft[1, 2] > 0
