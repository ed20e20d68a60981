"""Kernel density posterior and soft labels (METHOD.md §3).

Class-conditional density on the unit sphere with a von Mises-Fisher kernel, leave-one-out,
summed over the M nearest members of each class (the kernel vanishes far away):

    f_c(x_i) = (1 / n_c) sum_{j in M_c(i)} exp(kappa (x_i . x_j - 1))
    p_kde(c | i) = pi_c f_c(x_i) / sum_c' pi_c' f_c'(x_i)

With pi_c = n_c / N the class sizes cancel, so p_kde(c | i) is a softmax over classes of
LSE_{j in M_c(i)} kappa (x_i . x_j - 1). A uniform floor eps / K keeps every probability positive.
kappa maximises the leave-one-out likelihood (1/N) sum_i log p_kde(y_i | i) of the given labels,
measured on a sample of rows.

M_c(i) is found exactly (:func:`relabel.detect.neighbors.same_class_neighbors`: blocks of the
similarity matrix, a partial sort per class) up to ``EXACT_MAX_ROWS`` rows. Above that the exact
search costs O(N^2 D) and would dominate a million-row run, so M_c(i) is taken from
the shared kNN graph instead: the (at most M) members of class c among the k nearest neighbours
of i. A class with no member among them gets kernel mass 0 where the exact sum would be tiny
(the kernel exp(kappa (s - 1)) vanishes far away); the uniform floor eps / K still applies. This
is O(N k) time and O(chunk K M) memory.

The soft label trusts the given label as much as it is credible:

    q_i = credibility_i * onehot(y_i) + (1 - credibility_i) * p_kde(. | i)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from relabel import spill
from relabel.detect.neighbors import KnnGraph, same_class_neighbors

DEFAULT_M = 20
#: above this many rows the class neighbours come from the kNN graph (module docstring)
EXACT_MAX_ROWS = 50_000
KAPPA_GRID = (1.0, 5.0, 10.0, 20.0, 50.0, 100.0)
EPS = 1e-3


def _shifted_sims(sims: np.ndarray) -> np.ndarray:
    """``sims (n, K, m)`` -> ``(n, K * m)`` float64 ``s - max_row(s)`` (``-inf`` kept: no such
    neighbour), what :func:`_posterior_from_shifted` takes; computed once for every kappa."""
    n, n_classes, m = sims.shape
    x = sims.reshape(n, n_classes * m).astype(np.float64)  # a copy: worked on in place
    top = x.max(axis=1, keepdims=True)  # -inf for a row with no neighbour at all
    x -= np.where(np.isfinite(top), top, 0.0)
    return x


def _posterior_from_shifted(shifted: np.ndarray, n_classes: int, kappa: float,
                            eps: float) -> np.ndarray:
    """``(n, K * m)`` shifted similarities (:func:`_shifted_sims`) -> ``(n, K)`` posterior.

    Class c's kernel mass is ``sum_j exp(kappa (s_cj - 1))``, normalised over the classes. The
    exponents are shifted by the row's largest similarity (one shift for all classes, which
    cancels in the normalisation) rather than each class's own: with similarities in [-1, 1]
    no term falls below ``exp(-2 kappa)`` of the largest, far above float64's underflow for any
    kappa of ``KAPPA_GRID``, so one ``exp`` pass and one sum give the log-sum-exp form's values
    to rounding (1e-16), about ten times as fast with a thousand classes.
    """
    n, width = shifted.shape
    mass = np.empty((n, n_classes))
    step = max(1, (1 << 20) // max(1, width))  # rows per pass: an 8 MB buffer, reused
    buf = np.empty((min(n, step), width))
    for start in range(0, n, step):
        part = buf[: min(step, n - start)]
        np.multiply(shifted[start : start + step], kappa, out=part)
        np.exp(part, out=part)  # -inf -> 0
        mass[start : start + step] = part.reshape(len(part), n_classes, -1).sum(axis=2)
    total = mass.sum(axis=1, keepdims=True)
    p = np.where(total > 0, mass / np.where(total > 0, total, 1.0), 1.0 / n_classes)
    return (1.0 - eps) * p + eps / n_classes


def _posterior_from_sims(sims: np.ndarray, kappa: float, eps: float) -> np.ndarray:
    """``sims (n, K, m)`` -> ``(n, K)`` posterior; ``-inf`` entries (no such neighbour) count 0
    (see :func:`_posterior_from_shifted`)."""
    return _posterior_from_shifted(_shifted_sims(sims), sims.shape[1], kappa, eps)


def _class_ranks(classes: np.ndarray) -> np.ndarray:
    """``(Q, k)`` position of each neighbour among the row's neighbours of the same class
    (0 = the nearest of its class), for neighbours listed nearest first."""
    q, k = classes.shape
    order = np.argsort(classes, axis=1, kind="stable")  # by class, nearest first within one
    cls_sorted = np.take_along_axis(classes, order, axis=1)
    pos = np.broadcast_to(np.arange(k), (q, k))
    first = np.ones((q, k), dtype=bool)
    first[:, 1:] = cls_sorted[:, 1:] != cls_sorted[:, :-1]
    start = np.maximum.accumulate(np.where(first, pos, 0), axis=1)
    rank = np.empty((q, k), dtype=np.int64)
    np.put_along_axis(rank, order, pos - start, axis=1)
    return rank


def graph_posterior(labels: np.ndarray, n_classes: int, indices: np.ndarray,
                    sims: np.ndarray, *, m: int, kappa: float, eps: float) -> np.ndarray:
    """The graph path's posterior straight from the neighbour lists, without the dense
    ``(Q, K, m)`` similarities: the kernel mass of each class is a sum over at most ``m`` of the
    row's ``k`` neighbours, so it is one weighted ``bincount`` per chunk, O(Q k) instead of
    O(Q K m). Equal to ``_posterior_from_sims(graph_class_neighbors(...))``.

    Parameters
    ----------
    labels : np.ndarray
        ``(N,)`` int class codes of all rows.
    indices, sims : np.ndarray
        ``(Q, k)`` neighbour rows and similarities of the query rows, nearest first.

    Returns
    -------
    np.ndarray
        ``(Q, K)`` float64, rows sum to 1.
    """
    from relabel.detect.knn import class_sums

    cls = labels[indices]
    logits = kappa * (sims.astype(np.float64) - 1.0)
    logits = np.where(_class_ranks(cls) < m, logits, -np.inf)
    # the row's nearest neighbour is always kept, so the row maximum is finite
    top = logits.max(axis=1, keepdims=True)
    mass = class_sums(cls, np.exp(logits - top), n_classes)
    p = mass / mass.sum(axis=1, keepdims=True)
    return (1.0 - eps) * p + eps / n_classes


def _graph_chunk(rows: tuple[np.ndarray, np.ndarray], *, labels: np.ndarray, n_classes: int,
                 m: int, kappa: float, eps: float) -> np.ndarray:
    """The graph path's posterior of a block of rows, given their graph rows ``(indices,
    sims)`` (a task on an engine: each task carries its own rows of the graph, so the graph
    is sent once in all, not once per worker)."""
    return graph_posterior(labels, n_classes, rows[0], rows[1], m=m, kappa=kappa,
                           eps=eps).astype(np.float32)


def graph_class_neighbors(labels: np.ndarray, n_classes: int, indices: np.ndarray,
                          sims: np.ndarray, *, m: int) -> np.ndarray:
    """Per class, the similarities to the (at most ``m``) members of that class among each row's
    graph neighbours.

    Parameters
    ----------
    labels : np.ndarray
        ``(N,)`` int class codes of all rows.
    indices, sims : np.ndarray
        ``(Q, k)`` neighbour rows and similarities of the query rows, nearest first, the query
        itself excluded.
    m : int
        Members kept per class.

    Returns
    -------
    np.ndarray
        ``(Q, K, m)`` float32, nearest first; ``-inf`` where a class has fewer members there.
    """
    q, k = indices.shape
    cls = labels[indices]
    rank = _class_ranks(cls)
    keep = rank < m
    out = np.full((q, n_classes, m), -np.inf, dtype=np.float32)
    rows = np.broadcast_to(np.arange(q)[:, None], (q, k))
    out[rows[keep], cls[keep], rank[keep]] = sims[keep]
    return out


def class_neighbor_method(n: int, graph: KnnGraph | None,
                          exact_max_rows: int | None = None) -> str:
    """``"graph"`` when the class neighbours of ``n`` rows come from the kNN graph, else
    ``"exact"`` (module docstring; ``exact_max_rows`` default ``EXACT_MAX_ROWS``)."""
    exact_max_rows = EXACT_MAX_ROWS if exact_max_rows is None else exact_max_rows
    return "graph" if graph is not None and n > exact_max_rows else "exact"


def kde_posterior(
    embeddings: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    kappa: float | None = None,
    m: int = DEFAULT_M,
    eps: float = EPS,
    sample_size: int = 5000,
    chunk_size: int | None = None,
    seed: int = 0,
    graph: KnnGraph | None = None,
    exact_max_rows: int | None = None,
    engine: Any = None,
) -> tuple[np.ndarray, float]:
    """Leave-one-out von Mises-Fisher KDE posterior ``p_kde(c | i)``.

    Parameters
    ----------
    embeddings : np.ndarray
        ``(N, D)`` float32, L2-normalised.
    labels : np.ndarray
        ``(N,)`` int class codes.
    n_classes : int
        Number of classes K.
    kappa : float, optional
        Kernel concentration; default: chosen from ``KAPPA_GRID`` by leave-one-out likelihood.
    m : int
        Nearest members of each class summed over.
    eps : float
        Weight of the uniform floor.
    sample_size : int
        Rows used to choose kappa.
    chunk_size : int, optional
        Rows processed at once (memory ``chunk_size * K * m`` floats); default: 8M floats (32 MB,
        with about six times that in float64 temporaries).
    seed : int
        Seed of the kappa-selection sample.
    graph : KnnGraph, optional
        The shared neighbour graph; used for the class neighbours above ``exact_max_rows`` rows.
    exact_max_rows : int, optional
        Largest N searched exactly per class (default ``EXACT_MAX_ROWS``).
    engine : DaskEngine, optional
        Where the graph path's chunks are computed (the labels and the graph go to each
        worker once); the result is the same as here.

    Returns
    -------
    posterior : np.ndarray
        ``(N, K)`` float32 (computed in float64 per chunk), rows sum to 1.
    kappa : float
        The concentration used.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if chunk_size is None:
        chunk_size = max(256, (8 << 20) // max(1, n_classes * m))
    use_graph = class_neighbor_method(n, graph, exact_max_rows) == "graph"

    def best_kappa(rows: np.ndarray, posterior_at: Any) -> float:
        """The kappa of ``KAPPA_GRID`` with the highest likelihood of the sample's labels;
        ``posterior_at(kappa)`` gives the sample's ``(len(rows), K)`` posterior."""
        best, chosen = -np.inf, KAPPA_GRID[0]
        for kap in KAPPA_GRID:
            p = posterior_at(kap)
            ll = float(np.mean(np.log(p[np.arange(len(rows)), labels[rows]])))
            if ll > best:
                best, chosen = ll, kap
        return chosen

    def sample_rows() -> np.ndarray:
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(n, size=min(n, sample_size), replace=False))

    post = spill.empty((n, n_classes), np.float32)
    if use_graph:  # O(N k): kappa on the sample, then every row, straight from the graph
        assert graph is not None
        if kappa is None:
            rows = sample_rows()
            kappa = best_kappa(rows, lambda kap: graph_posterior(
                labels, n_classes, graph.indices[rows], graph.sims[rows], m=m, kappa=kap,
                eps=eps))
        from relabel.engine import blocks_on

        step = max(256, (32 << 20) // max(1, graph.k * 8))  # 32 MB of graph per block
        starts = list(range(0, n, step))
        blocks = [(graph.indices[s : s + step], graph.sims[s : s + step]) for s in starts]
        for i, part in blocks_on(engine, _graph_chunk, blocks, labels=labels,
                                 n_classes=n_classes, m=m, kappa=kappa, eps=eps):
            post[starts[i] : starts[i] + step] = part
        return post, float(kappa)

    def neighbours(rows: np.ndarray) -> np.ndarray:
        return same_class_neighbors(embeddings, labels, n_classes, m=m, queries=rows)[0]

    done = np.zeros(n, dtype=bool)
    if kappa is None:
        rows = sample_rows()
        shifted = _shifted_sims(neighbours(rows))
        kappa = best_kappa(rows, lambda kap: _posterior_from_shifted(shifted, n_classes, kap,
                                                                     eps))
        # the sample's neighbours are already known: reuse them for its rows
        post[rows] = _posterior_from_shifted(shifted, n_classes, kappa, eps)
        done[rows] = True
        del shifted
    todo = np.flatnonzero(~done)
    for start in range(0, len(todo), chunk_size):
        rows = todo[start : start + chunk_size]
        post[rows] = _posterior_from_sims(neighbours(rows), kappa, eps)
    return post, float(kappa)


def soft_labels(labels: np.ndarray, credibility: np.ndarray, p_kde: np.ndarray) -> np.ndarray:
    """Soft labels ``q = credibility * onehot(y) + (1 - credibility) * p_kde``.

    Parameters
    ----------
    labels : np.ndarray
        ``(N,)`` int class codes.
    credibility : np.ndarray
        ``(N,)`` in [0, 1].
    p_kde : np.ndarray
        ``(N, K)`` KDE posterior.

    Returns
    -------
    np.ndarray
        ``(N, K)`` float32, rows sum to 1.
    """
    from relabel.detect.combine import CHUNK_ROWS

    q = spill.empty(p_kde.shape, np.float32)
    for start in range(0, len(labels), CHUNK_ROWS):  # bounds the (rows, K) temporaries
        sl = slice(start, start + CHUNK_ROWS)
        cred = np.asarray(credibility[sl], dtype=np.float32)
        part = np.asarray(p_kde[sl], dtype=np.float32) * (1.0 - cred)[:, None]
        part[np.arange(len(part)), labels[sl]] += cred
        q[sl] = part
    return q
