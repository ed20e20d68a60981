"""Contrastive losses for the correctors, one ``nn.Module`` per file.

``--loss`` names: ``ce`` (cross-entropy on soft labels only, no contrastive term), ``supcon``
(:mod:`.supcon`), ``soft`` (:mod:`.soft_contrastive`), ``distant_peer`` and
``distant_peer_soft`` (:mod:`.distant_peer`).
Every module is called as ``loss(z, labels, soft=..., credibility=..., frozen=..., radius=...)``
and ignores the fields it does not use. Torch is imported only when a loss is built, so the
command line starts fast.
"""

from __future__ import annotations

from typing import Any

from relabel.config import LOSS_CHOICES

_MODULES = {"supcon": ("supcon", "SupConLoss"),
            "soft": ("soft_contrastive", "SoftContrastiveLoss"),
            "distant_peer": ("distant_peer", "DistantPeerLoss"),
            "distant_peer_soft": ("distant_peer", "SoftPeerLoss")}


def loss_class(name: str) -> Any:
    """The ``nn.Module`` class for a loss name (None for ``ce``); ValueError if unknown."""
    import importlib

    if name not in LOSS_CHOICES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSS_CHOICES)}")
    if name == "ce":
        return None
    module, cls = _MODULES[name]
    return getattr(importlib.import_module(f"relabel.correct.losses.{module}"), cls)


def make_loss(name: str, temperature: float) -> Any:
    """An instance of the contrastive module called ``name`` (None for ``ce``)."""
    cls = loss_class(name)
    return None if cls is None else cls(temperature=temperature)


__all__ = ["LOSS_CHOICES", "loss_class", "make_loss"]
