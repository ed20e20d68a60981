"""The training loop shared by the correctors (METHOD.md §4).

Objective per batch, with soft labels q (METHOD.md §3) and projections z:

    L = - (1 / B) sum_i sum_c q_ic log softmax(logits_i)_c  +  lambda * L_contrastive(z)

L_contrastive is one of :mod:`relabel.correct.losses` (none for ``ce``). AdamW, linear warm-up
over the
first ``warmup`` fraction of the steps then linear decay to zero, gradient accumulation over
``grad_accum`` batches, bfloat16 autocast on CUDA. Shuffling and initialisation are seeded, so
the same seed gives the same model on CPU.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from relabel.correct.losses import make_loss


class TorchCorrectorMixin:
    """What both correctors share: the device choice and ``predict`` from ``predict_proba``."""

    device: str | None

    def _device(self) -> str:
        return self.device or ("cuda" if torch.cuda.is_available() else "cpu")

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``(n,)`` most probable class."""
        return np.argmax(self.predict_proba(X), axis=1)  # type: ignore[attr-defined]


def soft_cross_entropy(logits: torch.Tensor, soft: torch.Tensor,
                       weight: torch.Tensor | None = None) -> torch.Tensor:
    """Batch mean of ``- sum_c q_c log softmax(logits)_c``: ``(B, K), (B, K)`` -> scalar;
    with ``weight (B,)``, the weighted mean."""
    per_row = -(soft.float() * torch.log_softmax(logits.float(), dim=1)).sum(dim=1)
    if weight is None:
        return per_row.mean()
    return (weight * per_row).sum() / weight.sum()


@dataclass
class TrainData:
    """Per-example training targets, all indexed by training row.

    Attributes
    ----------
    labels : np.ndarray
        ``(n,)`` given labels.
    soft : np.ndarray
        ``(n, K)`` soft labels.
    credibility : np.ndarray
        ``(n,)`` credibility of the given labels.
    frozen : np.ndarray
        ``(n, D)`` frozen embeddings (for the distant-peer relation).
    radius : np.ndarray
        ``(n,)`` similarity of each example's k-th nearest neighbour in the frozen space.
    weight : np.ndarray or None
        ``(n,)`` each row's weight in the soft cross-entropy (None: all equal), e.g.
        ``relabel.detect.score.REVIEWED_WEIGHT`` on rows a reviewer decided.
    """

    labels: np.ndarray
    soft: np.ndarray
    credibility: np.ndarray
    frozen: np.ndarray
    radius: np.ndarray
    weight: np.ndarray | None = None


def make_generator(seed: int) -> torch.Generator:
    """A private CPU generator seeded with ``seed`` (shuffling, and the head's random draws)."""
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global generator too (a pretrained encoder's dropout draws from it); return
    a private one for shuffling. Models seeded this way must train one at a time."""
    torch.manual_seed(seed)
    return make_generator(seed)


def train_model(
    module: nn.Module,
    inputs: Callable[[np.ndarray], dict[str, torch.Tensor]],
    data: TrainData,
    *,
    loss: str,
    lam: float,
    temperature: float,
    epochs: int,
    lr: float,
    weight_decay: float,
    batch_size: int,
    warmup: float,
    grad_accum: int,
    generator: torch.Generator,
    device: str,
    progress: Any = None,
    resume: dict[str, Any] | None = None,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
) -> list[float]:
    """Train ``module`` in place; ``module(**inputs(idx))`` must return ``(logits, z)``.

    ``on_epoch_end`` receives a checkpoint after every epoch (``epoch`` done, ``history``, and
    the module, optimiser, scheduler and generator states); passing one back as ``resume``
    continues from there and gives the same model as an uninterrupted run.

    Parameters
    ----------
    module : nn.Module
        Model returning ``(logits (B, K), z (B, P))``.
    inputs : callable
        Training row indices ``(B,)`` -> keyword tensors for ``module``, already on ``device``.
    data : TrainData
        Targets for the contrastive and cross-entropy terms.
    loss, lam, temperature : str, float, float
        Contrastive loss name (:data:`relabel.correct.losses.LOSSES`), its weight and temperature.
    epochs, lr, weight_decay, batch_size, warmup, grad_accum
        Optimisation settings.
    generator : torch.Generator
        Seeded generator for the shuffling.
    device : str
        Where the tensors live.
    progress : tqdm-like, optional
        ``update(1)`` per optimiser step.

    Returns
    -------
    list of float
        Mean training loss per epoch.
    """
    n = len(data.labels)
    contrastive = make_loss(loss, temperature)
    params = [p for p in module.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr,
                            foreach=True)
    batches_per_epoch = max(1, -(-n // batch_size))
    total = max(1, epochs * batches_per_epoch // grad_accum)
    warm = int(warmup * total)

    def schedule(step: int) -> float:
        if step < warm:
            return (step + 1) / (warm + 1)
        return max(0.0, (total - step) / max(1, total - warm))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    use_bf16 = str(device).startswith("cuda")
    t = {name: torch.as_tensor(getattr(data, name)).to(device)
         for name in ("labels", "soft", "credibility", "frozen", "radius")}
    if contrastive is None or lam <= 0:  # only the soft labels are needed per batch
        t = {"soft": t["soft"]}
    weight = (None if data.weight is None
              else torch.as_tensor(np.asarray(data.weight, dtype=np.float32)).to(device))

    def autocast() -> Any:
        if use_bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    history: list[float] = []
    first = 0
    if resume is not None:
        module.load_state_dict(resume["module"])
        opt.load_state_dict(resume["optimizer"])
        sched.load_state_dict(resume["scheduler"])
        generator.set_state(resume["generator"])
        history = list(resume["history"])
        first = int(resume["epoch"])
    module.train()
    for epoch in range(first, epochs):
        perm = torch.randperm(n, generator=generator).numpy()
        # a last batch of one example has no peer and a degenerate batch norm: fold it in
        starts = list(range(0, n, batch_size))
        if len(starts) > 1 and n - starts[-1] < 2:
            starts.pop()
        running = torch.zeros(())
        opt.zero_grad(set_to_none=True)
        for b, start in enumerate(starts):
            end = n if start == starts[-1] else start + batch_size
            idx = perm[start:end]
            with autocast():
                logits, z = module(**inputs(idx))
            ti = torch.as_tensor(idx, device=device)
            bt = {name: value[ti] for name, value in t.items()}
            value = soft_cross_entropy(logits, bt["soft"],
                                       None if weight is None else weight[ti])
            if len(bt) > 1:
                value = value + lam * contrastive(z, bt.pop("labels"), **bt)
            (value / grad_accum).backward()
            running += value.detach().cpu()
            if (b + 1) % grad_accum == 0 or b == len(starts) - 1:
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
                if progress is not None:
                    progress.update(1)
        history.append(float(running) / len(starts))
        if on_epoch_end is not None:
            on_epoch_end({"epoch": epoch + 1, "history": list(history),
                          "module": module.state_dict(), "optimizer": opt.state_dict(),
                          "scheduler": sched.state_dict(), "generator": generator.get_state()})
    module.eval()
    return history


def predict_proba(module: nn.Module, inputs: Callable[[np.ndarray], dict[str, torch.Tensor]],
                  n: int, batch_size: int, device: str) -> np.ndarray:
    """``(n, K)`` softmax probabilities of ``module`` over rows ``0..n-1``."""
    module.eval()
    use_bf16 = str(device).startswith("cuda")
    out = []
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            idx = np.arange(start, min(n, start + batch_size))
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
                logits, _ = module(**inputs(idx))
            out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 0))
