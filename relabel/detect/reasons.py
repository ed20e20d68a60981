"""Why an example is flagged: reasons a reviewer can act on (issue 14).

- ``duplicate_conflict``: the same or a near-identical text carries different labels. Texts are
  grouped when they are equal after normalising case, white space and punctuation, or when their
  embeddings have cosine similarity >= ``DUPLICATE_COSINE`` (edges of the kNN graph). In a group
  with more than one label, the group's majority label is *clear* when it holds at least
  ``CLEAR_MAJORITY`` of the group and at least two members; every member with another label, or
  every member when no majority is clear, is in conflict.
- ``outlier``: far from every class: the example's nearest-neighbour similarity is below
  ``median - OUTLIER_Z · 1.4826 · MAD`` of all nearest-neighbour similarities (a robust z-score)
  and among the lowest ``OUTLIER_SHARE`` of them (a bimodal similarity distribution, as in
  relation sets where several candidate pairs share a passage, would otherwise make a fifth of
  the rows "outliers"). An outlier is flagged for review and never relabelled automatically.
- ``class_not_learned``: the given label's class is one the signals do not recognise in its own
  examples better than chance (:func:`relabel.detect.decide.recognised_classes`), a rare class
  among many examples of another, say. relabel cannot judge such a label: flagged for a human,
  never changed automatically, and the reviewer is not shown a likely other label.
- ``corrector_disagrees``: the out-of-fold corrector gives the given label less probability than
  the neighbour vote does (it is the stronger dissent).
- ``neighbours_disagree``: the neighbour vote (and the density) carries the dissent.
- ``annotators_split``: several annotators per item split between two labels that the
  embeddings cannot separate either (:mod:`relabel.crowd.consensus`): flagged, never changed
  automatically.
- ``overrules_majority``: several annotators per item, and the consensus (the given label)
  differs from a strict majority of the item's votes (:mod:`relabel.crowd.consensus`): the
  consensus is kept as the label, but flagged for a human and never changed automatically.
- ``no_votes``: several annotators per item, but none voted on this one (every label function
  abstained), and its label, the model's (:mod:`relabel.crowd.consensus`), is below the target
  quality. Flagged, never changed automatically.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np

from relabel.data.texts import gather

DUPLICATE_COSINE = 0.995
CLEAR_MAJORITY = 2 / 3
OUTLIER_Z = 4.0
OUTLIER_SHARE = 0.005
REASONS = ("duplicate_conflict", "outlier", "class_not_learned", "corrector_disagrees",
           "neighbours_disagree", "annotators_split", "overrules_majority", "no_votes")

_PUNCT_SPACE = re.compile(r"[\W_]+", re.UNICODE)


def normalise_text(text: str) -> str:
    """Case-folded, NFKC, every run of punctuation and white space replaced by one space."""
    return _PUNCT_SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


#: rows per chunk when normalising texts and scanning the graph for near-identical pairs
_CHUNK = 262_144


def normalised_text_hashes(texts: Sequence[str]) -> np.ndarray:
    """``(N,)`` uint64 hash of each normalised text, normalised chunk by chunk."""
    import polars as pl

    hashes = np.empty(len(texts), dtype=np.uint64)
    for s in range(0, len(texts), _CHUNK):
        keys = pl.Series([normalise_text(t) for t in texts[s : s + _CHUNK]], dtype=pl.String)
        hashes[s : s + len(keys)] = keys.hash(seed=0).to_numpy()
    return hashes


def _first_of_equal_text(texts: Sequence[str]) -> np.ndarray:
    """``(N,)`` the first row whose normalised text equals each row's.

    Each normalised text is reduced to a 64-bit hash, chunk by chunk (8 bytes per row; a
    grouping of the strings themselves was the decisions' largest memory peak at millions of
    rows), and the rows are grouped by hash. A row grouped with an earlier one is then checked
    against it on the texts themselves, so a hash collision can only leave a row on its own,
    never join two different texts."""
    n = len(texts)
    _, first_index, inverse = np.unique(normalised_text_hashes(texts), return_index=True,
                                        return_inverse=True)
    first = first_index[inverse.reshape(-1)].astype(np.int64)
    joined = np.flatnonzero(first != np.arange(n))
    for s in range(0, len(joined), _CHUNK):
        rows = joined[s : s + _CHUNK]
        same = np.fromiter((normalise_text(a) == normalise_text(b)
                            for a, b in zip(gather(texts, rows), gather(texts, first[rows]),
                                            strict=True)),
                           dtype=bool, count=len(rows))
        first[rows[~same]] = rows[~same]
    return first


def duplicate_groups(texts: Sequence[str] | None, indices: np.ndarray, sims: np.ndarray
                     ) -> np.ndarray:
    """``(N,)`` int group id of each example (its smallest member's row), by normalised text
    (when ``texts`` are given) or cosine >= ``DUPLICATE_COSINE`` over the graph's
    ``indices``/``sims`` ``(N, k)``, scanned chunk by chunk of rows (union-find over the
    pairs; memory O(N), not O(N k))."""
    n = len(indices)
    # equal texts: every row points at the first row with its text (already a union-find forest)
    parent = _first_of_equal_text(texts) if texts else np.arange(n, dtype=np.int64)
    for start in range(0, n, _CHUNK):
        rows, cols = np.nonzero(np.asarray(sims[start : start + _CHUNK]) >= DUPLICATE_COSINE)
        pairs = zip((rows + start).tolist(),
                    np.asarray(indices[start : start + _CHUNK])[rows, cols].tolist(), strict=True)
        for i, j in pairs:
            a, b = _find(parent, i), _find(parent, int(j))
            if a != b:
                parent[max(a, b)] = min(a, b)
    # every row to its root: pointer jumping until nothing moves
    while True:
        up = parent[parent]
        if np.array_equal(up, parent):
            return parent
        parent = up


def duplicate_conflicts(labels: np.ndarray, groups: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Conflicts inside duplicate groups.

    Returns
    -------
    conflict : np.ndarray
        ``(N,)`` bool, in a group with several labels and not holding its clear majority label.
    majority : np.ndarray
        ``(N,)`` int the group's clear majority label, -1 where there is none.
    share : np.ndarray
        ``(N,)`` float share of the group holding the majority label (1.0 outside conflicts).
    """
    n = len(labels)
    conflict = np.zeros(n, dtype=bool)
    majority = np.full(n, -1, dtype=np.int64)
    share = np.ones(n, dtype=np.float64)
    sizes = np.bincount(groups, minlength=n)
    multi = np.flatnonzero(sizes[groups] > 1)
    if not len(multi):
        return conflict, majority, share
    order = multi[np.argsort(groups[multi], kind="stable")]
    bounds = np.flatnonzero(np.diff(groups[order])) + 1
    for members in np.split(order, bounds):
        counts = np.bincount(labels[members])
        if np.count_nonzero(counts) < 2:
            continue
        top = int(np.argmax(counts))
        frac = counts[top] / len(members)
        clear = frac >= CLEAR_MAJORITY and counts[top] >= 2 and (counts == counts[top]).sum() == 1
        if clear:
            majority[members] = top
            conflict[members] = labels[members] != top
        else:
            conflict[members] = True
        share[members] = frac
    return conflict, majority, share


def outliers(nearest_sim: np.ndarray) -> np.ndarray:
    """``(N,)`` bool: nearest-neighbour similarity ``(N,)`` far below the typical one."""
    if len(nearest_sim) < 10:
        return np.zeros(len(nearest_sim), dtype=bool)
    med = float(np.median(nearest_sim))
    mad = float(np.median(np.abs(nearest_sim - med))) * 1.4826
    cut = min(med - OUTLIER_Z * max(mad, 1e-6), float(np.quantile(nearest_sim, OUTLIER_SHARE)))
    return nearest_sim < cut


def flag_reasons(flagged: np.ndarray, *, conflict: np.ndarray, outlier: np.ndarray,
                 p_knn: np.ndarray, p_cv: np.ndarray | None,
                 not_learned: np.ndarray | None = None) -> list[str | None]:
    """The first reason of ``REASONS`` that applies to each flagged example (None elsewhere);
    ``p_knn``, ``p_cv`` ``(N,)`` are the signals' probabilities of the given label,
    ``not_learned`` ``(N,)`` bool the rows whose given class was not learned."""
    names = np.array([*REASONS[:5], None], dtype=object)
    n = len(flagged)
    cv_dissents = (np.asarray(p_cv) <= np.asarray(p_knn) if p_cv is not None
                   else np.zeros(n, dtype=bool))
    unlearned = (np.zeros(n, dtype=bool) if not_learned is None
                 else np.asarray(not_learned, dtype=bool))
    code = np.select([~np.asarray(flagged, dtype=bool), np.asarray(conflict, dtype=bool),
                      np.asarray(outlier, dtype=bool), unlearned, cv_dissents],
                     [5, 0, 1, 2, 3], default=4)
    return names[code].tolist()
