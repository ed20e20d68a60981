"""``finetune`` corrector: the whole encoder plus a classification head (METHOD.md §4).

    h = mean-pool(encoder(text)),   logits = W_c Dropout(h) + b_c,   z = W_p h

For relations (``pooling="entity"``, inputs packed by :func:`relabel.data.relation.encoder_inputs`)
the representation is the frozen encoder's: ``h = [h_head; h_tail; mean]``, the hidden states at
the two opening entity markers and the mean, concatenated (a marker cut off by ``max_length``
falls back to the mean).

trained end to end with :func:`relabel.correct.train.train_model` (soft-label cross-entropy plus
lambda times a contrastive term on z): AdamW with linear warm-up and decay, gradient
accumulation, bfloat16 autocast on CUDA. The quality path on a GPU; it also runs, slowly, on CPU
for small data. Follows the scikit-learn estimator contract (a fresh pretrained encoder is
loaded by every ``fit``), so each cross-validation fold starts from the same weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn

from relabel.correct.head import fit_targets
from relabel.correct.train import (
    TorchCorrectorMixin,
    predict_proba,
    seed_everything,
    train_model,
)
from relabel.embed.model import load_pretrained, resolve_model


class _FinetuneNet(nn.Module):
    def __init__(self, encoder: nn.Module, n_classes: int, proj_dim: int,
                 dropout: float, entity: bool = False) -> None:
        super().__init__()
        self.encoder = encoder
        config: Any = encoder.config
        hidden = int(config.hidden_size) * (3 if entity else 1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, n_classes)
        self.projection = nn.Linear(hidden, proj_dim)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                marks: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        if marks is not None:  # [head marker; tail marker; mean], the mean where one is cut off
            rows = torch.arange(len(marks), device=hidden.device)
            parts = [torch.where((marks[:, j] >= 0)[:, None],
                                 hidden[rows, marks[:, j].clamp(min=0)], pooled)
                     for j in range(2)]
            pooled = torch.cat([*parts, pooled], dim=1)
        return self.classifier(self.dropout(pooled)), self.projection(pooled)


class FinetuneCorrector(TorchCorrectorMixin, ClassifierMixin, BaseEstimator):
    """Fine-tuned transformer classifier on soft labels with a contrastive term.

    Parameters
    ----------
    n_classes : int, optional
        Number of classes K (default: from the soft labels, else ``max(y) + 1``).
    model : str, optional
        Hugging Face id or local directory; default: the packaged all-MiniLM-L6-v2.
    max_length : int
        Tokens kept per text.
    epochs, batch_size, grad_accum : int
        Passes over the data, examples per batch, batches per optimiser step.
    lr, weight_decay, warmup : float
        AdamW learning rate, weight decay and warm-up fraction of the steps.
    loss : str
        Contrastive term: ``ce`` (none), ``supcon``, ``soft`` or ``distant_peer``.
    lam, temperature : float
        Weight and temperature of the contrastive term.
    proj_dim : int
        Projection width.
    dropout : float
        Dropout before the classifier.
    seed : int
        Seed for the head's initialisation, dropout and shuffling.
    device : str, optional
        Default: CUDA when available.
    pooling : str
        ``mean``, or ``entity`` for relation inputs packed with their marker positions.
    """

    #: ``--corrector`` name (selects the decision rule's likelihood exponent)
    name = "finetune"

    def __init__(self, n_classes: int | None = None, model: str | None = None,
                 max_length: int = 128, epochs: int = 4, batch_size: int = 32,
                 grad_accum: int = 1, lr: float = 5e-5, weight_decay: float = 0.01,
                 warmup: float = 0.1, loss: str = "distant_peer", lam: float = 0.5,
                 temperature: float = 0.1, proj_dim: int = 64, dropout: float = 0.1,
                 seed: int = 0, device: str | None = None, pooling: str = "mean") -> None:
        self.n_classes = n_classes
        self.model = model
        self.max_length = max_length
        self.epochs = epochs
        self.batch_size = batch_size
        self.grad_accum = grad_accum
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup = warmup
        self.loss = loss
        self.lam = lam
        self.temperature = temperature
        self.proj_dim = proj_dim
        self.dropout = dropout
        self.seed = seed
        self.device = device
        self.pooling = pooling

    def _batches(self, texts: np.ndarray, device: str) -> Any:
        marks = None
        if self.pooling == "entity":
            from relabel.data.relation import unpack
            from relabel.embed.encoder import _token_at

            items = [unpack(str(t)) for t in texts]
            enc = self.tokenizer_([m for m, _, _ in items], truncation=True,
                                  max_length=self.max_length, padding=False,
                                  return_attention_mask=False, return_offsets_mapping=True)
            marks = np.array([[_token_at(offs, ph), _token_at(offs, pt)]
                              for offs, (_, ph, pt) in zip(enc["offset_mapping"], items,
                                                           strict=True)], dtype=np.int64)
            ids = enc["input_ids"]
        else:
            ids = self.tokenizer_(list(map(str, texts)), truncation=True,
                                  max_length=self.max_length, padding=False,
                                  return_attention_mask=False)["input_ids"]

        def inputs(idx: np.ndarray) -> dict[str, torch.Tensor]:
            batch = self.tokenizer_.pad({"input_ids": [ids[i] for i in idx]},
                                        return_tensors="pt")
            out = {"input_ids": batch["input_ids"].to(device),
                   "attention_mask": batch["attention_mask"].to(device)}
            if marks is not None:
                out["marks"] = torch.from_numpy(marks[idx]).to(device)
            return out

        return inputs

    def fit(self, X: np.ndarray, y: np.ndarray, *, soft_labels: np.ndarray | None = None,
            credibility: np.ndarray | None = None, frozen: np.ndarray | None = None,
            radius: np.ndarray | None = None, progress: Any = None) -> FinetuneCorrector:
        """Fine-tune on texts ``X (n,)`` with given labels ``y (n,)``.

        ``soft_labels (n, K)``, ``credibility (n,)``, ``frozen (n, D)`` (frozen embeddings) and
        ``radius (n,)`` (their kNN radius, for ``distant_peer``) default to one-hot, 1 and "no
        neighbour".
        """
        texts = np.asarray(X, dtype=object)
        k = int(self.n_classes or (soft_labels.shape[1] if soft_labels is not None
                                   else int(np.max(y)) + 1))
        if frozen is None:
            frozen, radius = np.zeros((len(texts), 1), np.float32), None
        data = fit_targets(y, k, soft_labels, credibility, frozen, radius)
        device = self._device()
        gen = seed_everything(self.seed)
        self.tokenizer_, encoder = load_pretrained(resolve_model(self.model), self.model)
        net = _FinetuneNet(encoder, k, self.proj_dim, self.dropout,
                           entity=self.pooling == "entity").to(device)
        self.loss_history_ = train_model(
            net, self._batches(texts, device), data, loss=self.loss, lam=self.lam,
            temperature=self.temperature, epochs=self.epochs, lr=self.lr,
            weight_decay=self.weight_decay, batch_size=self.batch_size, warmup=self.warmup,
            grad_accum=self.grad_accum, generator=gen, device=device, progress=progress)
        self.net_ = net
        self.classes_ = np.arange(k)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """``(n, K)`` class probabilities for texts ``X (n,)``."""
        device = self._device()
        texts = np.asarray(X, dtype=object)
        return predict_proba(self.net_, self._batches(texts, device), len(texts),
                             batch_size=max(64, self.batch_size), device=device)
