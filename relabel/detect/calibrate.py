"""Learning from reviewers: recalibrate the decision rule's confidence on this dataset.

Every reviewed example is evidence about how right relabel is *here*. Its out-of-fold
likelihood ``L_i`` never saw its own label (the corrector's folds hold it out, the kNN vote and
the KDE leave it out), so the noisy-channel posterior ``r_i`` computed with its *original* given
label is an honest forecast of what the reviewer said. For each reviewed row the forecast is
``p_i = r_i(s_i)``, the probability of its best other class ``s_i``, and the outcome is
``o_i = 1`` when the reviewer chose ``s_i``.

The recalibration is local in the forecast, so that evidence from one range of confidence never
moves another:

- forecasts fall in bins (``BIN_EDGES``: tenths, and 0.9-0.95-1 where the decisions are made);
- in each bin the correction is ``delta_b = Σ (o_i - p_i) / (n_b + PSEUDO)``: the mean gap between
  what reviewers chose and what relabel forecast, shrunk towards 0 by ``PSEUDO`` pseudo-reviews
  (a bin with few reviews keeps the rule's own estimate);
- a per-class correction of the suggested class, ``delta_c``, is estimated the same way on what
  the bins left over;
- ``p'_i = clip(p_i + delta_b(i) + delta_c(i), 0, 1)``, made non-decreasing in ``p`` within a
  class by the pool-adjacent-violators algorithm on the bin corrections.

Reviewers usually look at the middle of the range (the likely errors relabel could not fix), so
the top bins, where automatic changes are decided, move only once reviewers have seen enough of
them. The decision rule (:func:`relabel.detect.decide.decide_labels`) uses ``max(p, p')``:
suggestions become bolder where reviewers keep agreeing, but disagreement never undoes a change
the rule makes on its own, because a reviewer's own mistakes look exactly like relabel's (with a
simulated reviewer who is wrong 10% of the time, the two-sided rule cut banking77's automatic
changes and its label accuracy fell from 92.2% to 88.3% between rounds). Where reviewers disagree,
``p'`` still lowers the expected number of right changes reported, and the rows they reviewed are
settled by their decisions.

``PSEUDO`` is the one constant. It was chosen among 5, 20 and 80 by leave-one-dataset-out with
the simulated reviewer of ``bench/bench_review_loop.py``, a gold reviewer and a 10%-wrong one, on 8
sets. Every left-out fold chose 5 (bench/RESULTS.md, "Learning from reviewers"; the differences
between the three values were small).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: bin edges of the forecast (finer at the top, where automatic changes are decided)
BIN_EDGES = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0 + 1e-9])
#: pseudo-reviews that hold each correction at 0 (the rule's own estimate)
PSEUDO = 5.0


def _bins(p: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(BIN_EDGES, np.asarray(p, dtype=np.float64), side="right") - 1,
                   0, len(BIN_EDGES) - 2)


def _pava(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Non-decreasing fit of ``values`` (weighted least squares, pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for v, w in zip(values, weights, strict=True):
        blocks.append([float(v), float(w), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            tw = w1 + w2
            blocks.append([(v1 * w1 + v2 * w2) / tw if tw > 0 else (v1 + v2) / 2, tw, c1 + c2])
    return np.concatenate([np.full(int(c), m) for m, _, c in blocks])


@dataclass(frozen=True)
class Calibration:
    """A fitted recalibration ``p' = clip(p + bin_delta[bin(p)] + class_delta[class], 0, 1)``.

    Attributes
    ----------
    bin_delta : np.ndarray
        ``(B,)`` correction per forecast bin (``BIN_EDGES``).
    class_delta : np.ndarray
        ``(K,)`` correction per suggested class.
    pairs : int
        Reviewed rows it was fitted on.
    observed, forecast : float
        Share of those rows where the reviewer chose relabel's best other class, and the mean
        forecast probability of that before recalibration.
    """

    bin_delta: np.ndarray
    class_delta: np.ndarray
    pairs: int
    observed: float
    forecast: float

    @classmethod
    def identity(cls, n_classes: int) -> Calibration:
        return cls(bin_delta=np.zeros(len(BIN_EDGES) - 1), class_delta=np.zeros(n_classes),
                   pairs=0, observed=float("nan"), forecast=float("nan"))

    def apply(self, p: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """``(N,)`` recalibrated probabilities of ``p`` (forecasts for classes ``classes``)."""
        p = np.asarray(p, dtype=np.float64)
        if self.pairs == 0:
            return p
        return np.clip(p + self.bin_delta[_bins(p)] + self.class_delta[classes], 0.0, 1.0)

    def summary(self) -> dict[str, object]:
        return {"reviewed_pairs": self.pairs,
                "observed_agreement": (round(self.observed, 4) if self.pairs else None),
                "forecast_agreement": (round(self.forecast, 4) if self.pairs else None),
                "top_bin_correction": round(float(self.bin_delta[-1]), 4),
                "bin_corrections": [round(float(d), 4) for d in self.bin_delta]}


def fit_calibration(forecast: np.ndarray, outcome: np.ndarray, classes: np.ndarray,
                    n_classes: int, *, pseudo: float | None = None) -> Calibration:
    """Fit the recalibration on reviewed rows.

    Parameters
    ----------
    forecast : np.ndarray
        ``(M,)`` relabel's probability ``r_i(s_i)`` of its best other class, before review.
    outcome : np.ndarray
        ``(M,)`` bool, the reviewer chose ``s_i``.
    classes : np.ndarray
        ``(M,)`` int ``s_i``.
    n_classes : int
        K.
    pseudo : float, optional
        Pseudo-reviews per correction (default ``PSEUDO``).

    Returns
    -------
    Calibration
    """
    pseudo = PSEUDO if pseudo is None else pseudo
    p = np.asarray(forecast, dtype=np.float64)
    o = np.asarray(outcome, dtype=np.float64)
    c = np.asarray(classes, dtype=np.int64)
    m = len(p)
    if m == 0:
        return Calibration.identity(n_classes)
    b = _bins(p)
    nb = len(BIN_EDGES) - 1
    counts = np.bincount(b, minlength=nb).astype(np.float64)
    gap = np.bincount(b, weights=o - p, minlength=nb)
    bin_delta = gap / (counts + pseudo)
    # monotone in the forecast: the corrected bin centres must not decrease
    centres = (BIN_EDGES[:-1] + np.minimum(BIN_EDGES[1:], 1.0)) / 2
    bin_delta = _pava(centres + bin_delta, counts + pseudo) - centres
    resid = o - np.clip(p + bin_delta[b], 0.0, 1.0)
    class_delta = (np.bincount(c, weights=resid, minlength=n_classes)
                   / (np.bincount(c, minlength=n_classes) + pseudo))
    return Calibration(bin_delta=bin_delta, class_delta=class_delta, pairs=m,
                       observed=float(o.mean()), forecast=float(p.mean()))


__all__ = ["BIN_EDGES", "PSEUDO", "Calibration", "fit_calibration"]
