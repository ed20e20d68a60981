"""Credibility by neighbour consistency (METHOD.md §2).

For example i with given label y_i and its k nearest neighbours N(i) (itself excluded),

    w_ij = r_j * exp((s_ij - s_i1) / tau)
    p_knn(c | i) = (sum_{j in N(i)} w_ij [y_j = c] + alpha * pi_c) / (sum_{j in N(i)} w_ij + alpha)

with s_ij the cosine similarity, s_i1 the nearest one (a shift that leaves the ratio unchanged
but keeps exp() finite), pi_c the class frequency and alpha a pseudo-count that keeps every
probability above zero. The neighbour reliability r_j starts at 1; each further round sets
r_j = p_knn(y_j | j) from the previous round, so a cluster of wrong labels vouches less for itself.

k and tau are chosen by the leave-one-out likelihood of the given labels,
    LL(k, tau) = (1/N) sum_i log p_knn(y_i | i),
which is leave-one-out because N(i) never contains i.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from relabel import spill
from relabel.detect.neighbors import KnnGraph
from relabel.engine import blocks_on

DEFAULT_ALPHA = 0.5
DEFAULT_ROUNDS = 2
K_GRID = (5, 10, 20, 30, 50)
TAU_GRID = (0.01, 0.02, 0.05, 0.1, 1.0)


def knn_posterior(
    labels: np.ndarray,
    graph: KnnGraph,
    n_classes: int,
    *,
    tau: float = 0.05,
    alpha: float = DEFAULT_ALPHA,
    rounds: int = DEFAULT_ROUNDS,
    chunk_size: int = 65536,
    engine: Any = None,
) -> np.ndarray:
    """Neighbour-vote posterior ``p_knn(c | i)``.

    Parameters
    ----------
    labels : np.ndarray
        ``(N,)`` int class codes.
    graph : KnnGraph
        ``indices (N, k)`` and ``sims (N, k)``, itself excluded.
    n_classes : int
        Number of classes K.
    tau : float
        Temperature of the similarity weights; small values trust the nearest neighbours more.
    alpha : float
        Pseudo-count of the class-prior smoothing.
    rounds : int
        1 = plain weighted vote; each further round reweights neighbours by their credibility.
    chunk_size : int
        Rows processed at once (bounds memory at ``chunk_size * k * K``).
    engine : DaskEngine, optional
        Where the chunks are computed: each task carries its own rows of the graph, the labels
        and the reliabilities go to each worker once per round (the same result as here).

    Returns
    -------
    np.ndarray
        ``(N, K)`` float32 (computed in float64 per chunk), rows sum to 1.
    """
    labels = np.asarray(labels)
    n = len(labels)
    prior = np.bincount(labels, minlength=n_classes) / n
    reliability = np.ones(n)
    post = spill.empty((n, n_classes), np.float32)
    starts = list(range(0, n, chunk_size))
    blocks = [(s, graph.indices[s : s + chunk_size], graph.sims[s : s + chunk_size])
              for s in starts]
    for _ in range(max(1, rounds)):
        new_reliability = np.empty(n)
        shared = {"labels": labels, "reliability": reliability, "prior": prior,
                  "n_classes": n_classes, "tau": tau, "alpha": alpha}
        for i, (p, own) in blocks_on(engine, _vote, blocks, **shared):
            sl = slice(starts[i], starts[i] + len(p))
            post[sl], new_reliability[sl] = p, own
        reliability = new_reliability
    return post


def _vote(block: tuple[int, np.ndarray, np.ndarray], *, labels: np.ndarray,
          reliability: np.ndarray, prior: np.ndarray, n_classes: int, tau: float,
          alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """One round of the vote for a block of rows ``(start, indices, sims)``: their ``(Q, K)``
    float32 posterior and the probability of their own labels (the next round's
    reliability)."""
    start, idx, sims = block
    sims = np.asarray(sims, dtype=np.float64)
    w = np.exp((sims - sims[:, :1]) / tau) * reliability[idx]
    votes = class_sums(labels[idx], w, n_classes)
    p = (votes + alpha * prior) / (w.sum(axis=1, keepdims=True) + alpha)
    own = p[np.arange(len(p)), labels[start : start + len(p)]]
    return p.astype(np.float32), own


def class_sums(classes: np.ndarray, weights: np.ndarray, n_classes: int) -> np.ndarray:
    """Per row, the sum of ``weights (Q, k)`` by class ``classes (Q, k)``: ``(Q, K)`` float64
    (one ``bincount``, several times faster than ``np.add.at``)."""
    q = classes.shape[0]
    flat = (np.arange(q)[:, None] * n_classes + classes).ravel()
    return np.bincount(flat, weights=weights.ravel(), minlength=q * n_classes).reshape(
        q, n_classes)


def select_knn_params(
    labels: np.ndarray,
    graph: KnnGraph,
    n_classes: int,
    *,
    k_grid: tuple[int, ...] = K_GRID,
    tau_grid: tuple[float, ...] = TAU_GRID,
    alpha: float = DEFAULT_ALPHA,
    chunk_size: int = 65536,
    engine: Any = None,
) -> tuple[int, float, float]:
    """Choose ``(k, tau)`` by the leave-one-out log-likelihood of the given labels.

    Only one round (the plain vote) is scored, so the choice does not depend on the reweighting.
    With a Dask ``engine`` the blocks of rows are scored there (sums, merged here).

    Returns
    -------
    k : int
    tau : float
    log_likelihood : float
        Mean ``log p_knn(y_i | i)`` at the chosen values.
    """
    # The likelihood needs only p_knn(y_i | i), which is the weight of the neighbours that agree
    # with y_i over all the weight: per tau, one exp over the largest k, and running sums along
    # the neighbours give every k of the grid (no (N, K) posterior, O(N k) per tau).
    labels = np.asarray(labels)
    n = len(labels)
    ks = sorted({min(k, graph.k) for k in k_grid})
    prior = np.bincount(labels, minlength=n_classes) / n
    blocks = [(s, graph.indices[s : s + chunk_size, : ks[-1]],
               graph.sims[s : s + chunk_size, : ks[-1]]) for s in range(0, n, chunk_size)]
    parts = dict(blocks_on(engine, _log_likelihoods, blocks, labels=labels,
                           smooth=alpha * prior, ks=ks, tau_grid=tau_grid, alpha=alpha))
    total = np.zeros((len(ks), len(tau_grid)))
    for i in sorted(parts):  # in row order, so the sums are the same on any engine
        total += parts[i]
    best = (graph.k, tau_grid[0], -np.inf)
    for j, k in enumerate(ks):
        for t, tau in enumerate(tau_grid):
            if total[j, t] / n > best[2]:
                best = (k, tau, float(total[j, t] / n))
    return best


def _log_likelihoods(block: tuple[int, np.ndarray, np.ndarray], *, labels: np.ndarray,
                     smooth: np.ndarray, ks: list[int], tau_grid: tuple[float, ...],
                     alpha: float) -> np.ndarray:
    """``(len(ks), len(tau_grid))`` sum of ``log p_knn(y_i | i)`` over a block of rows
    ``(start, indices, sims)`` (a task on an engine)."""
    start, idx, sims = block
    sims = np.asarray(sims, dtype=np.float64)
    own = labels[start : start + len(idx)]
    agree = labels[idx] == own[:, None]
    total = np.zeros((len(ks), len(tau_grid)))
    for t, tau in enumerate(tau_grid):
        w = np.exp((sims - sims[:, :1]) / tau)
        cum_w = np.cumsum(w, axis=1)
        cum_a = np.cumsum(np.where(agree, w, 0.0), axis=1)
        for j, k in enumerate(ks):
            p = (cum_a[:, k - 1] + smooth[own]) / (cum_w[:, k - 1] + alpha)
            total[j, t] = float(np.sum(np.log(p)))
    return total
