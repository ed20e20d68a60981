"""One k-nearest-neighbour graph over the embeddings, built once and shared by every scorer.

Search is maximum inner product (= cosine similarity on L2-normalised vectors) with FAISS: exact
up to ``EXACT_MAX_ROWS`` rows, and above that an inverted-file index (IVF, ``4 sqrt(N)`` lists,
``nprobe`` of them searched), whose recall@k against exact search is measured on a sample of
queries and returned with the graph, so every run reports how approximate it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: above this many rows the graph is built with an approximate (IVF) index
EXACT_MAX_ROWS = 200_000
DEFAULT_NPROBE = 32
RECALL_SAMPLE = 1000


@dataclass(frozen=True)
class KnnGraph:
    """Neighbours of every example, itself excluded, nearest first.

    Attributes
    ----------
    indices : np.ndarray
        ``(N, k)`` int64 neighbour row numbers.
    sims : np.ndarray
        ``(N, k)`` float32 cosine similarities, non-increasing along each row.
    """

    indices: np.ndarray
    sims: np.ndarray
    #: "exact" or "ivf"; for ivf, recall@k of the graph against exact search on a sample
    method: str = "exact"
    recall: float | None = None

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    def truncate(self, k: int) -> KnnGraph:
        """The graph restricted to the ``k`` nearest neighbours."""
        return KnnGraph(self.indices[:, :k], self.sims[:, :k], self.method, self.recall)


def _flat_index(vectors: np.ndarray) -> Any:
    """Exact inner-product FAISS index over ``vectors (M, D)``."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _search(index_vectors: np.ndarray, queries: np.ndarray, k: int
            ) -> tuple[np.ndarray, np.ndarray]:
    sims, idx = _flat_index(index_vectors).search(
        np.ascontiguousarray(queries, dtype=np.float32), k)
    return sims, idx


def _drop_self(idx: np.ndarray, sims: np.ndarray, self_ids: np.ndarray, k: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's own id (or, when a duplicate pushed it out, the last column)."""
    is_self = idx == self_ids[:, None]
    # rows where self is absent: drop the last column instead
    absent = ~is_self.any(axis=1)
    is_self[absent, -1] = True
    # keep the first occurrence only
    first = np.argmax(is_self, axis=1)
    keep = np.ones_like(is_self)
    keep[np.arange(len(idx)), first] = False
    return idx[keep].reshape(len(idx), -1)[:, :k], sims[keep].reshape(len(idx), -1)[:, :k]


def _ivf_index(vectors: np.ndarray, nprobe: int, seed: int) -> Any:
    """Approximate inner-product IVF index over ``vectors (M, D)``, trained on a sample."""
    import faiss

    n, d = vectors.shape
    nlist = max(1, int(4 * np.sqrt(n)))
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    train = vectors[np.sort(rng.choice(n, size=min(n, 64 * nlist), replace=False))]
    index.train(np.ascontiguousarray(train, dtype=np.float32))
    for start in range(0, n, 65536):
        index.add(np.ascontiguousarray(vectors[start : start + 65536], dtype=np.float32))
    index.nprobe = min(nprobe, nlist)
    return index, quantizer


def build_knn_graph(embeddings: np.ndarray, *, k: int, batch_size: int = 16384,
                    exact_max_rows: int = EXACT_MAX_ROWS, nprobe: int = DEFAULT_NPROBE,
                    seed: int = 0) -> KnnGraph:
    """k-nearest-neighbour graph by cosine similarity, itself excluded.

    Parameters
    ----------
    embeddings : np.ndarray
        ``(N, D)`` float32, L2-normalised.
    k : int
        Neighbours per example; capped at ``N - 1``.
    batch_size : int
        Queries per search call (bounds the memory of the result buffers).
    exact_max_rows : int
        Exact search up to this many rows, an IVF index above.
    nprobe : int
        IVF lists searched per query.
    seed : int
        Seed of the IVF training sample and of the recall sample.

    Returns
    -------
    KnnGraph
        ``indices (N, k)``, ``sims (N, k)``, the ``method`` and, for IVF, ``recall`` (share of
        the exact k nearest neighbours found, on ``RECALL_SAMPLE`` random queries).
    """
    n = embeddings.shape[0]
    k = max(1, min(k, n - 1))
    all_idx = np.empty((n, k), dtype=np.int64)
    all_sims = np.empty((n, k), dtype=np.float32)
    exact = n <= exact_max_rows
    if exact:
        index, keep = _flat_index(embeddings), None
    else:
        index, keep = _ivf_index(embeddings, nprobe, seed)
    for start in range(0, n, batch_size):
        q = np.ascontiguousarray(embeddings[start : start + batch_size], dtype=np.float32)
        sims, idx = index.search(q, k + 1)
        ids = np.arange(start, start + len(q))
        idx, sims = _drop_self(idx, sims, ids, k)
        all_idx[start : start + len(q)] = idx
        all_sims[start : start + len(q)] = sims
    del keep
    if exact:
        return KnnGraph(all_idx, all_sims)
    rng = np.random.default_rng(seed + 1)
    sample = np.sort(rng.choice(n, size=min(n, RECALL_SAMPLE), replace=False))
    true_sims, true_idx = _search(embeddings, embeddings[sample], k + 1)
    true_idx, _ = _drop_self(true_idx, true_sims, sample, k)
    found = np.mean([len(np.intersect1d(a, b)) / k
                     for a, b in zip(all_idx[sample], true_idx, strict=True)])
    return KnnGraph(all_idx, all_sims, "ivf", float(found))


def same_class_neighbors(
    embeddings: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    m: int,
    queries: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """For each query example and every class, the similarities to its ``m`` nearest members of
    that class (itself excluded).

    Parameters
    ----------
    embeddings : np.ndarray
        ``(N, D)`` float32, L2-normalised.
    labels : np.ndarray
        ``(N,)`` int class codes in ``[0, n_classes)``.
    n_classes : int
        Number of classes K.
    m : int
        Neighbours per class.
    queries : np.ndarray, optional
        ``(Q,)`` row numbers to search for; default all N rows.

    Returns
    -------
    sims : np.ndarray
        ``(Q, K, m)`` float32, nearest first; missing neighbours (small classes) are ``-inf``.
    counts : np.ndarray
        ``(K,)`` int64 class sizes.
    """
    n = embeddings.shape[0]
    rows = np.arange(n) if queries is None else np.asarray(queries)
    sims_out = np.full((len(rows), n_classes, m), -np.inf, dtype=np.float32)
    counts = np.bincount(labels, minlength=n_classes)
    q = embeddings[rows]
    for c in range(n_classes):
        members = np.flatnonzero(labels == c)
        if len(members) == 0:
            continue
        kk = min(m + 1, len(members))
        sims, idx = _search(embeddings[members], q, kk)
        sims = np.where(members[idx] == rows[:, None], -np.inf, sims)
        # self (when found) is now -inf: sort descending and keep m
        sims = -np.sort(-sims, axis=1)[:, :m]
        sims_out[:, c, : sims.shape[1]] = sims
    return sims_out, counts
