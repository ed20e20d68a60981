"""Inter-annotator agreement, from maintained implementations (none written here):

- Krippendorff's α (nominal), the one coefficient that handles missing votes and any number of
  annotators: ``nltk.metrics.agreement.AnnotationTask.alpha`` (Apache-2.0; nltk is already a
  dependency of label-studio-sdk). The ``krippendorff`` package is GPL-3.0, so it is not used;
- Fleiss' κ: ``statsmodels.stats.inter_rater.fleiss_kappa`` (BSD). It is defined for a fixed
  number of votes per item, so it is computed on the items with the most common vote count
  (the count and the number of items are reported beside it);
- Cohen's κ for each pair of annotators with at least ``MIN_SHARED`` items in common:
  ``statsmodels.stats.inter_rater.cohens_kappa`` on the pair's contingency table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import polars as pl

from relabel.crowd.votes import Votes

#: items two annotators must share for a Cohen's κ
MIN_SHARED = 10
#: at most this many pairs (the ones sharing the most items) get a Cohen's κ
MAX_PAIRS = 2000


@dataclass(frozen=True)
class Agreement:
    """Agreement figures of a set of votes.

    Attributes
    ----------
    alpha : float
        Krippendorff's α (nominal), NaN when undefined (fewer than two votes on every item).
    fleiss_kappa : float
        Fleiss' κ over the ``fleiss_items`` items that have ``fleiss_votes`` votes.
    fleiss_votes, fleiss_items : int
    pairs : polars.DataFrame
        ``annotator_a, annotator_b, shared, agreement, cohen_kappa``, most shared first.
    votes, items, annotators : int
    votes_per_item : dict
        ``min, median, max``.
    unanimous : float
        Share of the items with at least two votes where every vote is the same.
    """

    alpha: float
    fleiss_kappa: float
    fleiss_votes: int
    fleiss_items: int
    pairs: pl.DataFrame
    votes: int
    items: int
    annotators: int
    votes_per_item: dict[str, float] = field(default_factory=dict)
    unanimous: float = math.nan

    def to_json(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if x is None or not math.isfinite(x) else round(float(x), 4)

        kappas = self.pairs["cohen_kappa"].drop_nans().drop_nulls()
        return {
            "krippendorff_alpha": num(self.alpha),
            "fleiss_kappa": num(self.fleiss_kappa),
            "fleiss_on": {"votes_per_item": self.fleiss_votes, "items": self.fleiss_items},
            "cohen_kappa_pairs": self.pairs.height,
            "cohen_kappa_median": (num(cast(float, kappas.median())) if kappas.len()
                                   else None),
            "votes": self.votes, "items": self.items, "annotators": self.annotators,
            "votes_per_item": self.votes_per_item,
            "unanimous": num(self.unanimous),
        }


def krippendorff_alpha(votes: Votes) -> float:
    """Krippendorff's α (nominal) over every item with two or more votes."""
    from nltk.metrics.agreement import AnnotationTask

    per_item = np.bincount(votes.item, minlength=votes.n_items)
    keep = per_item[votes.item] >= 2
    if not keep.any():
        return math.nan
    data = list(zip(votes.annotator[keep].tolist(), votes.item[keep].tolist(),
                    votes.label[keep].tolist(), strict=True))
    try:
        return float(AnnotationTask(data=data).alpha())
    except ZeroDivisionError:  # every vote the same class: no expected disagreement
        return math.nan


def fleiss(votes: Votes, counts: np.ndarray | None = None) -> tuple[float, int, int]:
    """Fleiss' κ on the items with the most common vote count (of two or more): κ, that count,
    the number of items (``counts``: ``votes.counts()``, when the caller has it already)."""
    from statsmodels.stats.inter_rater import fleiss_kappa

    counts = votes.counts() if counts is None else counts
    n = counts.sum(1).astype(int)
    several = n[n >= 2]
    if several.size == 0:
        return math.nan, 0, 0
    values, freq = np.unique(several, return_counts=True)
    modal = int(values[np.argmax(freq)])
    table = counts[n == modal]
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = float(fleiss_kappa(table, method="fleiss"))
    return kappa, modal, int(table.shape[0])


def pairwise_kappa(votes: Votes, *, min_shared: int = MIN_SHARED,
                   max_pairs: int = MAX_PAIRS) -> pl.DataFrame:
    """Cohen's κ of every pair of annotators sharing at least ``min_shared`` items."""
    from scipy import sparse
    from statsmodels.stats.inter_rater import cohens_kappa

    a, n = votes.n_annotators, votes.n_items
    seen = sparse.csr_matrix((np.ones(len(votes.item)), (votes.annotator, votes.item)),
                             shape=(a, n))
    shared = (seen @ seen.T).tocoo()
    keep = (shared.row < shared.col) & (shared.data >= min_shared)
    rows, cols, counts = shared.row[keep], shared.col[keep], shared.data[keep]
    order = np.argsort(-counts, kind="stable")[:max_pairs]
    # each annotator's votes sorted by item (no dense item x annotator matrix: memory stays
    # proportional to the votes)
    by = np.lexsort((votes.item, votes.annotator))
    starts = np.searchsorted(votes.annotator[by], np.arange(a + 1))

    def of(j: int) -> tuple[np.ndarray, np.ndarray]:
        sel = by[starts[j]:starts[j + 1]]
        return votes.item[sel], votes.label[sel]

    out = []
    for idx in order:
        i, j = int(rows[idx]), int(cols[idx])
        (items_i, labels_i), (items_j, labels_j) = of(i), of(j)
        _, pos_i, pos_j = np.intersect1d(items_i, items_j, assume_unique=True,
                                         return_indices=True)
        x, y = labels_i[pos_i], labels_j[pos_j]
        used, codes = np.unique(np.concatenate([x, y]), return_inverse=True)
        kappa = math.nan
        if len(used) > 1:
            # the pair's contingency table over the classes either used (statsmodels takes
            # the table: 30x faster than sklearn's per-call validation, the same value)
            k = len(used)
            table = np.bincount(codes[:len(x)] * k + codes[len(x):],
                                minlength=k * k).reshape(k, k)
            with np.errstate(invalid="ignore", divide="ignore"):
                kappa = float(cohens_kappa(table, return_results=False))
        out.append({"annotator_a": votes.annotators[i], "annotator_b": votes.annotators[j],
                    "shared": len(x), "agreement": float((x == y).mean()),
                    "cohen_kappa": kappa})
    schema = {"annotator_a": pl.String, "annotator_b": pl.String, "shared": pl.Int64,
              "agreement": pl.Float64, "cohen_kappa": pl.Float64}
    return pl.DataFrame(out, schema=schema)


def agreement(votes: Votes) -> Agreement:
    """Every agreement figure of ``votes`` (of a multi-select answer, its last choice:
    :meth:`~relabel.crowd.votes.Votes.one_per_answer`)."""
    votes = votes.one_per_answer()
    per_item = np.bincount(votes.item, minlength=votes.n_items)
    counts = votes.counts()
    several = per_item >= 2
    unanimous = (float((counts[several].max(1) == per_item[several]).mean())
                 if several.any() else math.nan)
    kappa, modal, n_fleiss = fleiss(votes, counts)
    return Agreement(
        alpha=krippendorff_alpha(votes), fleiss_kappa=kappa, fleiss_votes=modal,
        fleiss_items=n_fleiss, pairs=pairwise_kappa(votes), votes=len(votes.item),
        items=votes.n_items, annotators=votes.n_annotators,
        votes_per_item={"min": int(per_item.min()) if per_item.size else 0,
                        "median": float(np.median(per_item)) if per_item.size else 0.0,
                        "max": int(per_item.max()) if per_item.size else 0},
        unanimous=unanimous)


__all__ = ["MAX_PAIRS", "MIN_SHARED", "Agreement", "agreement", "fleiss", "krippendorff_alpha",
           "pairwise_kappa"]
