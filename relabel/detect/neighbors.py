"""One k-nearest-neighbour graph over the embeddings, built once and shared by every scorer.

Search is maximum inner product (= cosine similarity on L2-normalised vectors). Up to
``EXACT_MAX_ROWS`` rows it is exact (FAISS flat search). Above that it is a *blocked
inverted-file* search, designed here for building a whole graph rather than answering single
queries:

1. spherical k-means splits the rows into ``nlist = sqrt(N)`` lists (trained on a sample), and
   every row finds its ``nprobe`` nearest centroids (the first is its list);
2. for each list L, the candidates are the members of every list that one of L's members has
   among its nearest: most-voted lists first, up to ``MAX_CANDIDATES_FACTOR * nprobe * N / nlist``
   rows (at least L itself and k + 1 rows), so lopsided lists cannot blow up the cost;
3. all of L's members are searched exactly against those candidates at once, as one matrix
   product (BLAS) plus a top-k.

nprobe is not fixed: the search inside a list's candidates is exact, so a row finds a true
neighbour exactly when that neighbour's list is among the probes of the row's list. On a sample
of rows with their exact neighbours this predicts the recall of every nprobe before anything is
searched. Of the settings in ``SEARCH_GRID`` (nprobe and candidate budget), the one with the
fewest similarities to compute (estimated on the same sample's lists) among those predicted to
reach ``TARGET_RECALL`` is used: tight clusters get few probes, spread-out sentence embeddings
more (bench/RESULTS.md, issue 19). With an engine (``--engine dask``) the lists are searched in
blocks on the workers.

Per-query IVF probing (FAISS ``IndexIVFFlat``) scans about as many vectors per query but one
query at a time; doing it list by list turns the scan into matrix products, which is what
makes a million rows fit in a couple of minutes on two cores (bench/RESULTS.md, issue 7). The
graph's recall@k against exact search is measured on a sample of queries and returned with it,
so every run reports how approximate it was.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from relabel import spill
from relabel.engine import blocks_on, remote, worker_threads

#: above this many rows the graph is built by the blocked inverted-file search
EXACT_MAX_ROWS = 50_000
#: similarities per block of :func:`same_class_neighbors` (8M float32: 32 MB)
CLASS_BLOCK_FLOATS = 1 << 23
#: (nprobe, MAX_CANDIDATES_FACTOR) settings of the blocked search: by default the cheapest
#: whose recall@k, predicted on CHOOSE_SAMPLE rows before the search (``_ivf_plan``), reaches
#: TARGET_RECALL (else the one predicted best)
SEARCH_GRID = ((1, 1), (2, 2), (2, 4), (3, 2), (3, 4), (4, 4), (5, 4), (5, 8), (6, 8), (8, 8),
               (10, 8), (12, 8), (16, 8))
TARGET_RECALL = 0.96
CHOOSE_SAMPLE = 500
#: k-means: training rows per list, iterations
TRAIN_PER_LIST = 40
KMEANS_ITERATIONS = 10
#: at most this many times ``nprobe * N / nlist`` candidate rows per list (with a given nprobe)
MAX_CANDIDATES_FACTOR = 8
RECALL_SAMPLE = 1000
#: on an engine (``--engine dask``), blocks of lists per worker thread (load balance)
BLOCKS_PER_WORKER = 4


@dataclass(frozen=True)
class KnnGraph:
    """Neighbours of every example, itself excluded, nearest first.

    Attributes
    ----------
    indices : np.ndarray
        ``(N, k)`` int32 neighbour row numbers (int64 above 2**31 - 1 rows).
    sims : np.ndarray
        ``(N, k)`` float32 cosine similarities, non-increasing along each row.
    """

    indices: np.ndarray
    sims: np.ndarray
    #: "exact" or "ivf" (blocked inverted file); for ivf, recall@k of the graph against exact
    #: search on a sample
    method: str = "exact"
    recall: float | None = None
    #: for ivf: nlist, the nprobe used and its predicted recall (``_ivf_plan``)
    search: dict[str, Any] | None = None

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    def truncate(self, k: int) -> KnnGraph:
        """The graph restricted to the ``k`` nearest neighbours."""
        return KnnGraph(self.indices[:, :k], self.sims[:, :k], self.method, self.recall,
                        self.search)


def _flat_index(vectors: np.ndarray) -> Any:
    """Exact inner-product FAISS index over ``vectors (M, D)``."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


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


def _spans(n: int, engine: Any, size: int) -> list[tuple[int, int]]:
    """Consecutive row ranges covering ``n`` rows: ranges of ``size`` rows here; on an engine
    about ``BLOCKS_PER_WORKER`` per worker thread, each a multiple of ``size`` rows (so the
    chunks inside them, and every float they compute, are the same as here)."""
    if engine is not None:
        parts = BLOCKS_PER_WORKER * worker_threads(engine)
        size = max(1, -(-n // parts // size)) * size
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def assign_rows(span: tuple[int, int], embeddings: np.ndarray, centroids: np.ndarray,
                top: int, chunk: int) -> np.ndarray:
    """``(stop - start, top)`` int32: the ``top`` nearest centroids of rows ``start:stop``,
    nearest first (a task on an engine)."""
    import faiss

    start, stop = span
    out = np.empty((stop - start, top), dtype=np.int32)
    for s in range(start, stop, chunk):
        part = np.ascontiguousarray(embeddings[s : min(s + chunk, stop)], dtype=np.float32)
        out[s - start : s - start + len(part)] = faiss.knn(part, centroids, top,
                                                           faiss.METRIC_INNER_PRODUCT)[1]
    return out


def _partition(embeddings: np.ndarray, nlist: int, seed: int, chunk: int, top: int = 1,
               engine: Any = None, seconds: dict[str, float] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means lists: ``centroids (nlist, D)``, trained here on at most
    ``TRAIN_PER_LIST * nlist`` sampled rows, and every row's ``top`` nearest lists, nearest
    first, ``(N, top)`` int32 (on ``engine``, in blocks of rows, when given). ``seconds`` gets
    the time of each (``kmeans``, ``assign``)."""
    import faiss

    seconds = {} if seconds is None else seconds
    t0 = time.perf_counter()
    n, d = embeddings.shape
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=min(n, TRAIN_PER_LIST * nlist), replace=False))
    km = faiss.Kmeans(d, nlist, niter=KMEANS_ITERATIONS, spherical=True, seed=seed,
                      min_points_per_centroid=1, verbose=False)
    km.train(np.ascontiguousarray(embeddings[sample], dtype=np.float32))
    centroids = np.ascontiguousarray(km.centroids, dtype=np.float32)
    seconds["kmeans"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    top = min(top, nlist)
    assign = spill.empty((n, top), np.int32)
    spans = _spans(n, engine, chunk)
    for i, part in blocks_on(engine, assign_rows, spans, embeddings=embeddings,
                             centroids=centroids, top=top, chunk=chunk):
        assign[spans[i][0] : spans[i][1]] = part
    seconds["assign"] = round(time.perf_counter() - t0, 2)
    return centroids, assign


@dataclass(frozen=True)
class IvfPlan:
    """What the blocked search needs besides the embeddings: the rows of every list, and the
    lists each list is searched against (module docstring, steps 1-2).

    Attributes
    ----------
    members : np.ndarray
        ``(N,)`` int64 row numbers sorted by list.
    bounds : np.ndarray
        ``(nlist + 1,)`` list ``j`` holds ``members[bounds[j]:bounds[j + 1]]``.
    probes : dict of int to np.ndarray
        Non-empty list -> the lists searched for its members, itself first.
    """

    members: np.ndarray
    bounds: np.ndarray
    probes: dict[int, np.ndarray]

    @property
    def sizes(self) -> np.ndarray:
        """``(nlist,)`` rows of every list."""
        return np.diff(self.bounds)

    def cost(self, lst: int) -> int:
        """Similarities computed for one list: its rows times its candidate rows."""
        sizes = self.sizes
        return int(sizes[lst]) * int(sizes[self.probes[lst]].sum())

    def blocks(self, n_blocks: int) -> list[list[int]]:
        """The lists in about ``n_blocks`` groups of similar cost, every list in one group, in
        order (a task each on a cluster)."""
        lists = sorted(self.probes)
        cost = np.cumsum([self.cost(j) for j in lists], dtype=np.float64)
        if not lists:
            return []
        cut = np.searchsorted(cost, cost[-1] * np.arange(1, n_blocks) / n_blocks)
        return [part.tolist() for part in np.split(np.asarray(lists), np.unique(cut))
                if len(part)]


def _list_probes(lists: np.ndarray, nearest: np.ndarray, members: np.ndarray,
                 bounds: np.ndarray, near: np.ndarray, budget: int, k: int
                 ) -> dict[int, np.ndarray]:
    """Step 2 for some lists: the lists each is searched against, itself first (module
    docstring). ``nearest (N, nprobe)`` are every row's nearest lists."""
    nlist = len(bounds) - 1
    sizes = np.diff(bounds)
    rank = np.empty(nlist, dtype=np.int64)
    probes = {}
    for lst in lists:
        # every list one of lst's members has among its nprobe nearest, most votes first
        # (ties: nearest centroid first), lst itself always first
        votes = np.bincount(nearest[members[bounds[lst] : bounds[lst + 1]]].ravel(),
                            minlength=nlist).astype(np.float64)
        votes[lst] = np.inf
        rank[near[lst]] = np.arange(nlist)
        order = np.lexsort((rank, -votes))
        cum = np.cumsum(sizes[order])
        # ... up to the budget of rows, and at least k + 1 rows
        take = min(int((votes > 0).sum()), int(np.searchsorted(cum, budget, side="right")))
        take = min(max(take, 1, int(np.searchsorted(cum, k + 1)) + 1), len(order))
        probes[int(lst)] = order[:take]
    return probes


def _ivf_plan(embeddings: np.ndarray, k: int, nprobe: int | None, seed: int, chunk: int,
              engine: Any = None) -> tuple[IvfPlan, dict[str, Any]]:
    """Steps 1-2 of the blocked search (module docstring), and how it was set up.

    ``nprobe=None`` chooses the setting: the search inside a list's candidates is exact, so a
    row finds a true neighbour exactly when that neighbour's list is among its list's probes.
    On ``CHOOSE_SAMPLE`` random rows with their exact neighbours, that membership predicts the
    recall of every setting of ``SEARCH_GRID`` before any list is searched, and the probes of
    the sample's lists estimate its cost; the cheapest setting predicted to reach
    ``TARGET_RECALL`` is used. Returns the plan and ``{nlist, nprobe, candidates_factor,
    predicted_recall}``. With an ``engine`` the rows' nearest lists and the sample's exact
    neighbours are computed there, in blocks of rows; the rest (k-means on a sample, the
    probes of each list) is small and stays here.
    """
    n = embeddings.shape[0]
    nlist = max(1, int(np.sqrt(n)))
    grid = SEARCH_GRID if nprobe is None else ((nprobe, MAX_CANDIDATES_FACTOR),)
    seconds: dict[str, float] = {}
    centroids, nearest = _partition(embeddings, nlist, seed, chunk,
                                    top=max(p for p, _ in grid), engine=engine, seconds=seconds)
    t0 = time.perf_counter()
    assign = nearest[:, 0].astype(np.int64)
    members = np.argsort(assign, kind="stable")
    bounds = np.searchsorted(assign[members], np.arange(nlist + 1))
    sizes = np.diff(bounds)
    near = np.argsort(-(centroids @ centroids.T), axis=1, kind="stable")
    info: dict[str, Any] = {"nlist": nlist}
    setting = grid[0]
    if nprobe is None:
        rng = np.random.default_rng(seed + 2)
        sample = np.sort(rng.choice(n, size=min(n, CHOOSE_SAMPLE), replace=False))
        t1 = time.perf_counter()
        truth = _exact_rows(embeddings, sample, k, chunk, engine=engine)
        seconds["sample"] = round(time.perf_counter() - t1, 2)
        home = assign[sample]
        homes = np.unique(home)
        trials = []
        for probes_n, factor in grid:
            budget = int(factor * probes_n * n / nlist)
            probes = _list_probes(homes, nearest[:, :probes_n], members, bounds, near, budget,
                                  k)
            recall = float(np.mean([np.isin(assign[t], probes[int(h)]).mean()
                                    for h, t in zip(home, truth, strict=True)]))
            trial = IvfPlan(members, bounds, probes)
            cost = sum(trial.cost(int(h)) for h in homes)
            trials.append((recall >= TARGET_RECALL, -cost if recall >= TARGET_RECALL
                           else recall, (probes_n, factor), recall))
        _, _, setting, predicted = max(trials, key=lambda t: (t[0], t[1]))
        info["predicted_recall"] = round(predicted, 4)
    probes_n, factor = setting
    budget = int(factor * probes_n * n / nlist)
    probes = _list_probes(np.flatnonzero(sizes), nearest[:, :probes_n], members, bounds, near,
                          budget, k)
    # the plan's parts: k-means on a sample, the rows' nearest lists, the sample's exact
    # neighbours, and the probes (the lists' candidates and the choice of the setting)
    seconds["probes"] = round(time.perf_counter() - t0 - seconds.get("sample", 0.0), 2)
    info.update(nprobe=probes_n, candidates_factor=factor, plan_parts=seconds)
    return IvfPlan(members, bounds, probes), info


def search_lists(lists: list[int], embeddings: np.ndarray, plan: IvfPlan, k: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 3 of the blocked search for some lists: every member searched exactly against its
    list's candidates. A pure function of its inputs, so it runs the same on a Dask worker.

    Returns
    -------
    rows, idx, sims : np.ndarray
        ``(R,)`` the lists' rows, ``(R, k)`` their neighbours and similarities.
    """
    parts = list(_iter_lists(lists, embeddings, plan, k))
    rows, idx, sims = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return rows, idx, sims


def _iter_lists(lists: list[int], embeddings: np.ndarray, plan: IvfPlan, k: int,
                max_queries: int = 4096) -> Any:
    """Yield ``(rows, idx, sims)`` per batch of queries of :func:`search_lists`."""
    import faiss

    members, bounds, sizes = plan.members, plan.bounds, plan.sizes
    # one reused buffer for the candidates' vectors (no page faults per list)
    buf = np.empty((max(int(sizes[plan.probes[j]].sum()) for j in lists), embeddings.shape[1]),
                   dtype=np.float32)
    for lst in lists:
        cand = np.concatenate([members[bounds[j] : bounds[j + 1]] for j in plan.probes[lst]])
        base = buf[: len(cand)]
        if embeddings.dtype == np.float32 and embeddings.flags.aligned:
            np.take(embeddings, cand, axis=0, out=base)
        else:  # np.take is 16x slower on unaligned data (arrays Dask hands a worker)
            base[...] = embeddings[cand]
        kk = min(k + 1, len(cand))
        rows_all = members[bounds[lst] : bounds[lst + 1]]
        for q0 in range(0, len(rows_all), max_queries):
            rows = rows_all[q0 : q0 + max_queries]
            q = np.ascontiguousarray(embeddings[rows], dtype=np.float32)
            sims, idx = faiss.knn(q, base, kk, faiss.METRIC_INNER_PRODUCT)
            idx, sims = _drop_self(cand[idx], sims, rows, k)
            yield rows, idx, sims


def _blocked_ivf(embeddings: np.ndarray, k: int, nprobe: int | None, seed: int, chunk: int,
                 out_idx: np.ndarray, out_sims: np.ndarray, engine: Any = None
                 ) -> dict[str, Any]:
    """Fill ``out_idx``/``out_sims`` ``(N, k)`` by the blocked inverted-file search (module
    docstring); with an ``engine`` the lists are searched in ``BLOCKS_PER_WORKER`` blocks per
    worker thread there, the embeddings and the plan sent to each worker once. Returns the
    search's setting (``_ivf_plan``)."""
    t0 = time.perf_counter()
    plan, info = _ivf_plan(embeddings, k, nprobe, seed, chunk, engine=engine)
    info["plan_seconds"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    if engine is None:
        for rows, idx, sims in _iter_lists(sorted(plan.probes), embeddings, plan, k):
            out_idx[rows], out_sims[rows] = idx, sims
        info["search_seconds"] = round(time.perf_counter() - t0, 2)
        return info
    blocks = plan.blocks(BLOCKS_PER_WORKER * worker_threads(engine))
    for _, (rows, idx, sims) in engine.map_unordered(
            search_lists, blocks, embeddings=embeddings, plan=plan, k=k):
        out_idx[rows], out_sims[rows] = idx, sims
    # how the workers got the embeddings: "file" (they mapped a file they all see), or "sent"
    sent = getattr(engine, "sent", {}).get("embeddings", "sent")
    return {**info, "blocks": len(blocks), "embeddings_to_workers": sent,
            "search_seconds": round(time.perf_counter() - t0, 2)}


def build_knn_graph(embeddings: np.ndarray, *, k: int, batch_size: int = 16384,
                    exact_max_rows: int | None = None, nprobe: int | None = None,
                    seed: int = 0, engine: Any = None) -> KnnGraph:
    """k-nearest-neighbour graph by cosine similarity, itself excluded.

    Parameters
    ----------
    embeddings : np.ndarray
        ``(N, D)`` float32, L2-normalised.
    k : int
        Neighbours per example; capped at ``N - 1``.
    batch_size : int
        Rows per search or assignment call (bounds the memory of the result buffers).
    exact_max_rows : int, optional
        Exact search up to this many rows, the blocked inverted-file search above (default
        ``EXACT_MAX_ROWS``).
    nprobe : int, optional
        Nearest lists of each row in the blocked search (module docstring); default: chosen
        for a predicted recall@k of ``TARGET_RECALL`` (``_ivf_plan``).
    seed : int
        Seed of the k-means sample and of the recall sample.
    engine : LocalEngine or DaskEngine, optional
        Where the blocked search's lists are searched (:mod:`relabel.engine`); default here.
        The result is the same either way: each list's search is a pure function of the
        embeddings and the plan.

    Returns
    -------
    KnnGraph
        ``indices (N, k)``, ``sims (N, k)``, the ``method`` and, for ``ivf``, ``recall`` (share
        of the exact k nearest neighbours found, on ``RECALL_SAMPLE`` random queries).
    """
    n = embeddings.shape[0]
    exact_max_rows = EXACT_MAX_ROWS if exact_max_rows is None else exact_max_rows
    k = max(1, min(k, n - 1))
    # on disk inside relabel.spill.spill_to (4 GB at 10M rows and k = 50)
    all_idx = spill.empty((n, k), np.int32 if n < 2**31 else np.int64)
    all_sims = spill.empty((n, k), np.float32)
    if n <= exact_max_rows:
        index = _flat_index(embeddings)
        for start in range(0, n, batch_size):
            q = np.ascontiguousarray(embeddings[start : start + batch_size], dtype=np.float32)
            sims, idx = index.search(q, k + 1)
            idx, sims = _drop_self(idx, sims, np.arange(start, start + len(q)), k)
            all_idx[start : start + len(idx)] = idx
            all_sims[start : start + len(idx)] = sims
        return KnnGraph(all_idx, all_sims)
    engine = remote(engine)
    info = _blocked_ivf(embeddings, k, nprobe, seed, batch_size, all_idx, all_sims,
                        engine=engine)
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed + 1)
    sample = np.sort(rng.choice(n, size=min(n, RECALL_SAMPLE), replace=False))
    true_idx = _exact_rows(embeddings, sample, k, batch_size, engine=engine)
    info["recall_seconds"] = round(time.perf_counter() - t0, 2)
    found = np.mean([len(np.intersect1d(a, b)) / k
                     for a, b in zip(all_idx[sample], true_idx, strict=True)])
    return KnnGraph(all_idx, all_sims, "ivf", float(found), info)


def exact_in_span(span: tuple[int, int], embeddings: np.ndarray, queries: np.ndarray, k: int,
                  chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k + 1`` most similar rows of ``start:stop`` to each of ``queries (Q, D)``:
    ``sims, idx (Q, <= k + 1)``, scanning the span in chunks (a task on an engine)."""
    import faiss

    start, stop = span
    best_sims = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_idx = np.empty((len(queries), 0), dtype=np.int64)
    for s in range(start, stop, chunk):
        part = np.ascontiguousarray(embeddings[s : min(s + chunk, stop)], dtype=np.float32)
        sims, idx = faiss.knn(queries, part, min(k + 1, len(part)), faiss.METRIC_INNER_PRODUCT)
        best_sims, best_idx = _top(np.concatenate([best_sims, sims], axis=1),
                                   np.concatenate([best_idx, idx + s], axis=1), k + 1)
    return best_sims, best_idx


def _top(sims: np.ndarray, idx: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest of each row of ``sims``, ties in column order, with their ``idx``."""
    top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(sims, top, axis=1), np.take_along_axis(idx, top, axis=1)


def _exact_rows(embeddings: np.ndarray, rows: np.ndarray, k: int, chunk: int,
                engine: Any = None) -> np.ndarray:
    """Exact k nearest neighbours ``(len(rows), k)`` of a few rows, itself excluded, scanning
    the embeddings in chunks (no second copy of them); on ``engine`` in blocks of rows, merged
    here in row order (the same result)."""
    q = np.ascontiguousarray(embeddings[rows], dtype=np.float32)
    n = embeddings.shape[0]
    spans = [(0, n)] if engine is None else _spans(n, engine, chunk * 4)
    found = dict(blocks_on(engine, exact_in_span, spans, embeddings=embeddings, queries=q, k=k,
                           chunk=chunk * 4))
    parts = [found[i] for i in sorted(found)]  # in row order: the same result as here
    sims, idx = _top(np.concatenate([p[0] for p in parts], axis=1),
                     np.concatenate([p[1] for p in parts], axis=1), k + 1)
    return _drop_self(idx, sims, rows, k)[0]


def same_class_neighbors(
    embeddings: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    m: int,
    queries: np.ndarray | None = None,
    block_floats: int = CLASS_BLOCK_FLOATS,
) -> tuple[np.ndarray, np.ndarray]:
    """For each query example and every class, the similarities to its ``m`` nearest members of
    that class (itself excluded).

    Exact, in blocks of query rows: each block's similarities to every row, the rows sorted by
    class (``(rows, N)`` float32, at most ``block_floats`` of them), then for each class its
    ``m`` largest (a partial sort; a class of at most ``m`` members gives them all). One search
    per class with FAISS, as before, found the same values (to float rounding, 1.2e-6) more
    slowly: the whole KDE took 1.6 times as long on 10,003 rows of 77 classes, 1.2 times on
    40,000 of 255, and the search alone 5.7 times with 1,000 classes (bench/RESULTS.md).

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
    block_floats : int
        Similarities computed at once (default 8M: 32 MB).

    Returns
    -------
    sims : np.ndarray
        ``(Q, K, m)`` float32, nearest first; missing neighbours (small classes) are ``-inf``.
    counts : np.ndarray
        ``(K,)`` int64 class sizes.
    """
    n = embeddings.shape[0]
    rows = np.arange(n) if queries is None else np.asarray(queries)
    labels = np.asarray(labels)
    counts = np.bincount(labels, minlength=n_classes)
    order = np.argsort(labels, kind="stable")
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    by_class = np.ascontiguousarray(embeddings[order], dtype=np.float32)
    starts = np.concatenate([[0], np.cumsum(counts)])
    # classes of at most m members: all their members, gathered in one step per block
    small = np.flatnonzero((counts > 0) & (counts <= m))
    small_cols = np.concatenate([np.arange(starts[c], starts[c + 1]) for c in small]
                                + [np.zeros(0, dtype=np.int64)])
    small_class = np.repeat(small, counts[small])
    small_slot = small_cols - starts[small_class]
    large = np.flatnonzero(counts > m)
    sims_out = np.full((len(rows), n_classes, m), -np.inf, dtype=np.float32)
    step = max(1, block_floats // max(1, n))
    for b0 in range(0, len(rows), step):
        r = rows[b0 : b0 + step]
        sims = np.ascontiguousarray(embeddings[r], dtype=np.float32) @ by_class.T
        sims[np.arange(len(r)), position[r]] = -np.inf  # itself
        block = sims_out[b0 : b0 + step]
        if len(small):
            block[:, small_class, small_slot] = sims[:, small_cols]
        for c in large:
            seg = sims[:, starts[c] : starts[c + 1]]
            block[:, c, :] = np.partition(seg, seg.shape[1] - m, axis=1)[:, -m:]
        block[:] = -np.sort(-block, axis=2)  # nearest first, -inf last
    return sims_out, counts
