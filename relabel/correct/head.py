"""``head`` corrector: a small MLP on frozen embeddings (METHOD.md §4), CPU-fast.

    h = Dropout(GELU(W1 x + b1)),   logits = W2 h + b2,   z = W3 h

trained with :func:`relabel.correct.train.train_model` (soft-label cross-entropy plus lambda
times a contrastive term on z). Follows the scikit-learn estimator contract, so
:func:`sklearn.base.clone` gives each cross-validation fold a fresh, unfitted copy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn

from relabel.correct.train import (
    TorchCorrectorMixin,
    TrainData,
    make_generator,
    predict_proba,
    train_model,
)


class _SeededDropout(nn.Module):
    """Dropout drawing its mask from a private generator, not torch's global one, so that folds
    trained at the same time in threads stay reproducible."""

    def __init__(self, p: float, generator: torch.Generator) -> None:
        super().__init__()
        self.p = p
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p <= 0:
            return x
        # drawn where the generator lives (the CPU) and moved: the same masks on any device
        keep = (torch.rand(x.shape, generator=self.generator, device=self.generator.device)
                >= self.p).to(x.device)
        return x * keep / (1.0 - self.p)


def _seeded_linear(n_in: int, n_out: int, generator: torch.Generator) -> nn.Linear:
    """``nn.Linear`` with torch's default initialisation drawn from ``generator``."""
    layer = nn.Linear(n_in, n_out)
    bound = 1.0 / math.sqrt(n_in)
    with torch.no_grad():
        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


class _HeadNet(nn.Module):
    def __init__(self, dim: int, hidden: int, n_classes: int, proj_dim: int,
                 dropout: float, generator: torch.Generator) -> None:
        super().__init__()
        self.body = nn.Sequential(_seeded_linear(dim, hidden, generator), nn.GELU(),
                                  _SeededDropout(dropout, generator))
        self.classifier = _seeded_linear(hidden, n_classes, generator)
        self.projection = _seeded_linear(hidden, proj_dim, generator)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.classifier(h), self.projection(h)


def fit_targets(y: np.ndarray, n_classes: int, soft_labels: np.ndarray | None,
                credibility: np.ndarray | None, frozen: np.ndarray,
                radius: np.ndarray | None, sample_weight: np.ndarray | None = None
                ) -> TrainData:
    """Fill in defaults: one-hot soft labels, credibility 1, no neighbour is near (radius 2),
    every row of equal weight."""
    y = np.asarray(y, dtype=np.int64)
    if soft_labels is None:
        soft_labels = np.eye(n_classes, dtype=np.float32)[y]
    if soft_labels.shape != (len(y), n_classes):
        raise ValueError(f"soft_labels must be ({len(y)}, {n_classes}), got {soft_labels.shape}")
    return TrainData(
        labels=y,
        soft=np.asarray(soft_labels, dtype=np.float32),
        credibility=(np.ones(len(y), np.float32) if credibility is None
                     else np.asarray(credibility, dtype=np.float32)),
        frozen=np.asarray(frozen, dtype=np.float32),
        radius=(np.full(len(y), 2.0, np.float32) if radius is None
                else np.asarray(radius, dtype=np.float32)),
        weight=(None if sample_weight is None
                else np.asarray(sample_weight, dtype=np.float32)),
    )


#: optimiser steps a fold trains for at most, and the fewest passes (``HeadCorrector``)
DEFAULT_MAX_STEPS = 1500
MIN_EPOCHS = 3


class HeadCorrector(TorchCorrectorMixin, ClassifierMixin, BaseEstimator):
    """MLP head on frozen embeddings, trained on soft labels with a contrastive term.

    Parameters
    ----------
    n_classes : int, optional
        Number of classes K (default: from the soft labels, else ``max(y) + 1``); fixed so that a
        fold missing a rare class still predicts ``(n, K)``.
    hidden, proj_dim : int
        Hidden and projection widths.
    dropout : float
        Dropout after the hidden layer.
    loss : str
        Contrastive term: ``ce`` (none), ``supcon``, ``soft`` or ``distant_peer``.
    lam, temperature : float
        Weight and temperature of the contrastive term.
    epochs, batch_size : int
        Passes over the data and examples per batch.
    max_steps : int, optional
        At most about this many optimiser steps: on large data the passes drop to
        ``max(MIN_EPOCHS, ceil(max_steps / batches per pass))``. The default, 1500 steps, is
        four times what the largest development set takes in 12 passes (banking77, 8,000 rows
        per fold: 375 steps), so no development result changes; it only bounds the cost above
        32,000 training rows (100k rows: 5 passes instead of 12, bench/RESULTS.md, issue 19).
        None: always ``epochs``.
    lr, weight_decay, warmup : float
        AdamW learning rate, weight decay and warm-up fraction.
    seed : int
        Seed for initialisation, dropout and shuffling.
    device : str, optional
        Default: CUDA when available.
    """

    #: every random draw uses a private generator: folds may train at the same time in threads
    parallel_folds_safe = True
    #: ``--corrector`` name (selects the decision rule's likelihood exponent)
    name = "head"

    def __init__(self, n_classes: int | None = None, hidden: int = 256, proj_dim: int = 64,
                 dropout: float = 0.1, loss: str = "distant_peer", lam: float = 0.5,
                 temperature: float = 0.1, epochs: int = 12, batch_size: int = 256,
                 lr: float = 3e-3, weight_decay: float = 1e-2, warmup: float = 0.05,
                 seed: int = 0, device: str | None = None,
                 max_steps: int | None = DEFAULT_MAX_STEPS) -> None:
        self.n_classes = n_classes
        self.hidden = hidden
        self.proj_dim = proj_dim
        self.dropout = dropout
        self.loss = loss
        self.lam = lam
        self.temperature = temperature
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup = warmup
        self.seed = seed
        self.device = device
        self.max_steps = max_steps

    def passes(self, n: int) -> int:
        """Passes over ``n`` training rows (``epochs``, fewer on large data: ``max_steps``)."""
        if self.max_steps is None:
            return self.epochs
        per_pass = max(1, -(-n // self.batch_size))
        return min(self.epochs, max(MIN_EPOCHS, -(-self.max_steps // per_pass)))

    def fit(self, X: np.ndarray, y: np.ndarray, *, soft_labels: np.ndarray | None = None,
            credibility: np.ndarray | None = None, radius: np.ndarray | None = None,
            sample_weight: np.ndarray | None = None, progress: Any = None) -> HeadCorrector:
        """Train on embeddings ``X (n, D)`` and given labels ``y (n,)``.

        ``soft_labels (n, K)``, ``credibility (n,)`` and ``radius (n,)`` (kNN radius in the
        frozen space, for ``distant_peer``) default to one-hot, 1 and "no neighbour";
        ``sample_weight (n,)`` weights each row in the soft cross-entropy (default equal).
        """
        X = np.asarray(X, dtype=np.float32)
        k = int(self.n_classes or (soft_labels.shape[1] if soft_labels is not None
                                   else int(np.max(y)) + 1))
        data = fit_targets(y, k, soft_labels, credibility, X, radius, sample_weight)
        device = self._device()
        # every random draw (initialisation, dropout, shuffling) comes from one private
        # generator: the same seed gives the same model, also when folds train in parallel
        gen = make_generator(self.seed)
        net = _HeadNet(X.shape[1], self.hidden, k, self.proj_dim, self.dropout, gen).to(device)
        xt = torch.as_tensor(X, device=device)
        self.loss_history_ = train_model(
            net, lambda idx: {"x": xt[torch.as_tensor(idx, device=device)]}, data,
            loss=self.loss, lam=self.lam, temperature=self.temperature, epochs=self.passes(len(X)),
            lr=self.lr, weight_decay=self.weight_decay, batch_size=self.batch_size,
            warmup=self.warmup, grad_accum=1, generator=gen, device=device, progress=progress)
        self.net_ = net.cpu()
        self.classes_ = np.arange(k)
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """``(n, K)`` class probabilities for embeddings ``X (n, D)``."""
        xt = torch.as_tensor(np.asarray(X, dtype=np.float32))
        return predict_proba(self.net_, lambda idx: {"x": xt[torch.as_tensor(idx)]}, len(xt),
                             batch_size=4096, device="cpu")
