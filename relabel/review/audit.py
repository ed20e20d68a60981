"""A random audit: an estimate of a dataset's label error rate that does not rest on relabel's
own signals. Pure functions of ids, labels and decisions.

Why
---
relabel's estimated noise rate (:mod:`relabel.detect.decide`) counts the labels that disagree
with their neighbours and with the cross-validated corrector. An error that similar examples
share, such as a weak rule applied to every text with a keyword or distant supervision's
systematic confusions, agrees with its neighbours, and no consistency signal can see it. On the
development sets with real weak-label noise the estimate fell far below the truth (spouse: 0.9%
estimated, 36.5% wrong; hausa: 6.4% against 47%; youtube: 1.1% against 7.8%), while on injected
uniform noise it was close (banking77: 17% against 20%); bench/RESULTS.md, "Random audit".
Without gold labels, only a person's decisions on a *uniform random* sample measure the rate.

The sample
----------
Each example's audit rank is a keyed hash of its id, ``blake2b(key + id)`` read as an unsigned
64-bit integer. The ``n`` ids of lowest rank are a simple random sample of size ``n``:
membership depends on the id alone, never on the row order or on relabel's scores. The same ids
give the same sample in every run directory, and growing the audit from ``n`` to ``m`` keeps the
first ``n``.

The audit grows in *chunks*, one per ``review next --audit``: ranges of rank. A chunk counts
once every example in it is decided (:func:`counted_sample`). Examples decided for another
reason, e.g. from relabel's own queue, which is rich in errors, count too, as part of a complete
chunk. Counting a half-decided chunk would bias the rate: its decided part would hold those
examples and only some of the rest. A complete chunk is a census of a rank range chosen without
looking at any label, so the union of complete chunks is a uniform random sample.

The estimate
------------
Of the ``a`` audited examples a reviewer decided, ``e`` got a label other than the given one.
The given labels' error rate is ``e / a``, with the Jeffreys 95% interval, the central interval
of Beta(e + 1/2, a - e + 1/2). It ignores the finite population, which makes it a little wide.
It measures what a reviewer would change: a reviewer who errs on right labels raises it.

The labels now, after the reviewers' decisions and relabel's automatic changes, out of N
examples:

    errors now ≈ N · rate − confirmed − Σ_changes (2 · confidence_i − 1)

- ``confirmed``: the wrong labels reviewers fixed, all of them and not only the audited ones.
- Each automatic change on an unreviewed example removes an error with probability
  ``confidence_i`` and adds one at most with probability ``1 − confidence_i``.

The interval is the rate's interval carried through the same formula. The audit and relabel's
own estimate *disagree* when relabel's estimated noise rate lies outside the audit's interval.
When it lies below, errors that relabel cannot see are common on this dataset. relabel's flags
and its model-based accuracy then miss them, and the audit's figures are the ones to trust.

Reviewers who err
-----------------
A reviewer who changes right labels inflates the rate: one wrong 10% of the time makes a clean
dataset read as about 10% wrong (bench/RESULTS.md). When two or more reviewers decided some of
the audited examples (several annotators per task in Label Studio; ``review pull`` keeps each
one's decision), their disagreement measures it. A reviewer answers the true class with
probability ``1 - r``, and otherwise one of the K - 1 others at random. Then:

- two reviewers disagree with probability ``d = 1 - (1 - r)² - r² / (K - 1)``, which solves to
  ``r = (1 - sqrt(1 - d · K / (K - 1))) · (K - 1) / K``;
- one review changes a given label with probability
  ``c = e · (1 - r / (K - 1)) + (1 - e) · r``, so the given labels' error rate is
  ``e = (c - r) / (1 - r · K / (K - 1))``, clipped to [0, 1].

``c`` is read off each example's latest decision, and ``d`` off every pair of reviewers on the
same example. The interval is then the 2.5% and 97.5% quantiles of ``e`` over ``BOOTSTRAP``
resamples of the audited examples (seeded).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

#: the hash key of the audit sample (a constant, so every run over the same ids agrees)
AUDIT_KEY = b"relabel-audit-v1"
#: coverage of the reported intervals
LEVEL = 0.95
#: resamples of the audited examples for the interval corrected for reviewer error
BOOTSTRAP = 2000


def audit_ranks(ids: Sequence[str], *, key: bytes = AUDIT_KEY) -> np.ndarray:
    """``(N,)`` uint64 audit rank of each id (module docstring); lower is audited first."""
    out = np.empty(len(ids), dtype=np.uint64)
    for i, x in enumerate(ids):
        h = hashlib.blake2b(str(x).encode("utf-8"), digest_size=8, key=key)
        out[i] = int.from_bytes(h.digest(), "little")
    return out


def audit_order(ids: Sequence[str], *, key: bytes = AUDIT_KEY) -> np.ndarray:
    """``(N,)`` row numbers in audit order, lowest rank first: the first ``n`` are the audit of
    size ``n``."""
    return np.argsort(audit_ranks(ids, key=key), kind="stable")


def audit_sample(ids: Sequence[str], size: int, *, key: bytes = AUDIT_KEY) -> np.ndarray:
    """``(N,)`` bool: the ``size`` ids of lowest audit rank (all of them when ``size >= N``)."""
    n = len(ids)
    mask = np.zeros(n, dtype=bool)
    if size <= 0 or n == 0:
        return mask
    mask[audit_order(ids, key=key)[: min(size, n)]] = True
    return mask


def counted_sample(ids: Sequence[str], chunks: Sequence[int], decided: np.ndarray, *,
                   key: bytes = AUDIT_KEY) -> np.ndarray:
    """``(N,)`` bool: the audit's examples that count, those of every chunk whose examples are
    all decided (module docstring).

    Parameters
    ----------
    ids : sequence of str
        ``(N,)`` every example's id.
    chunks : sequence of int
        The audit's size after each extension, increasing (the last is its size).
    decided : np.ndarray
        ``(N,)`` bool, a reviewer decided the example.
    """
    n = len(ids)
    mask = np.zeros(n, dtype=bool)
    if n == 0 or not len(chunks):
        return mask
    order = audit_order(ids, key=key)
    decided = np.asarray(decided, dtype=bool)
    start = 0
    for end in chunks:
        end = min(int(end), n)
        part = order[start:end]
        if end > start and decided[part].all():
            mask[part] = True
        start = max(start, end)
    return mask


def audit_extension(ids: Sequence[str], size: int, decided: np.ndarray, pending: int, *,
                    key: bytes = AUDIT_KEY) -> tuple[int, np.ndarray]:
    """Grow the audit until ``pending`` of its examples await a decision.

    Parameters
    ----------
    ids : sequence of str
        ``(N,)`` every example's id.
    size : int
        The audit's size so far.
    decided : np.ndarray
        ``(N,)`` bool, a reviewer decided the example.
    pending : int
        How many undecided audit examples to push now.

    Returns
    -------
    size : int
        The new size (never smaller than before).
    chosen : np.ndarray
        ``(P,)`` row numbers of the undecided audit examples to push, lowest rank first
        (``P = pending`` unless every example is in the audit).
    """
    order = audit_order(ids, key=key)
    open_ = ~np.asarray(decided, dtype=bool)[order]
    # undecided examples among the first j of the order, for every j
    waiting = np.cumsum(open_)
    need = int(np.searchsorted(waiting, pending)) + 1 if pending > 0 else 0
    new_size = max(int(size), min(need, len(order)))
    head = order[:new_size]
    chosen = head[open_[:new_size]][: max(pending, 0)]
    return new_size, chosen


@dataclass(frozen=True)
class AuditEstimate:
    """What a random audit says about the labels (module docstring). Rates in [0, 1].

    Attributes
    ----------
    size : int
        Examples in the audit sample.
    decided : int
        Of those, how many count: the examples of its fully decided chunks.
    wrong : int
        Of those, how many had a given label the reviewer changed.
    error_rate, error_low, error_high : float
        The given labels' error rate and its interval (NaN before any decision).
    accuracy_now, accuracy_low, accuracy_high : float
        The label accuracy after the reviews and the automatic changes, with its interval.
    relabel_error_rate : float or None
        relabel's own estimated noise rate of the same labels, when known.
    agrees : bool or None
        relabel's estimate lies inside the audit's interval (None: nothing to compare).
    double_reviewed : int
        Audited examples decided by two or more reviewers.
    reviewer_error : float or None
        The reviewers' estimated error rate ``r`` (None without double reviews); the rates above
        are then corrected for it (module docstring).
    uncorrected_rate : float
        The share of audited labels the reviewers changed, before that correction.
    examples : int
        N, every example of the run (``errors_left`` counts over them).
    """

    size: int
    decided: int
    wrong: int
    error_rate: float
    error_low: float
    error_high: float
    accuracy_now: float
    accuracy_low: float
    accuracy_high: float
    relabel_error_rate: float | None
    agrees: bool | None
    double_reviewed: int = 0
    reviewer_error: float | None = None
    uncorrected_rate: float = float("nan")
    examples: int = 0

    @property
    def errors_left(self) -> float:
        """The wrong labels left among all ``examples``, by the audit: ``N · (1 - accuracy)``."""
        return self.examples * (1.0 - self.accuracy_now)

    def to_json(self) -> dict[str, float | int | bool | None]:
        out = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        out["errors_left"] = round(self.errors_left, 1)
        return out


def estimate_from_audit(
    given: np.ndarray,
    decision: np.ndarray,
    audited: np.ndarray,
    *,
    size: int | None = None,
    confirmed: int,
    change_confidence: np.ndarray,
    relabel_error_rate: float | None = None,
    votes: Sequence[Sequence[object] | None] | None = None,
    n_classes: int = 2,
    level: float = LEVEL,
    seed: int = 0,
) -> AuditEstimate:
    """The audit's estimates (module docstring).

    Parameters
    ----------
    given : np.ndarray
        ``(N,)`` the given labels (any comparable dtype).
    decision : np.ndarray
        ``(N,)`` the reviewer's label, None where nobody decided.
    audited : np.ndarray
        ``(N,)`` bool, the audited examples that count: a uniform random sample
        (:func:`audit_sample`, :func:`counted_sample`).
    size : int, optional
        The whole audit's size, reported (default: the examples in ``audited``).
    confirmed : int
        Wrong labels the reviewers fixed (audited or not).
    change_confidence : np.ndarray
        ``(C,)`` the confidence of each automatic change on an example nobody reviewed.
    relabel_error_rate : float, optional
        relabel's own estimated noise rate, compared with the audit's interval.
    votes : sequence, optional
        ``(N,)`` every reviewer's label of each example (one per reviewer; None or fewer than
        two: no second opinion). Where audited examples have two or more, the estimates are
        corrected for the reviewers' error rate.
    n_classes : int
        K, for that correction.
    level : float
        Interval coverage.
    seed : int
        Seed of the bootstrap (with double reviews).

    Returns
    -------
    AuditEstimate
    """
    from relabel.crowd.estimate import jeffreys_interval

    given = np.asarray(given, dtype=object)
    decision = np.asarray(decision, dtype=object)
    audited = np.asarray(audited, dtype=bool)
    n = len(given)
    has = np.array([d is not None for d in decision], dtype=bool)
    sel = audited & has
    a = int(sel.sum())
    e = int((decision[sel] != given[sel]).sum())
    size = int(audited.sum()) if size is None else int(size)
    nan = float("nan")
    if a == 0:
        return AuditEstimate(size, 0, 0, nan, nan, nan, nan, nan, nan, relabel_error_rate, None,
                             examples=n)
    rate = e / a
    low, high = (float(x) for x in jeffreys_interval(e, a, level=level))
    raw, r_err, n_double = rate, None, 0
    if votes is not None:
        rows = np.flatnonzero(sel)
        changed = (decision[rows] != given[rows]).astype(np.float64)
        split = np.array([_disagreement(votes[i]) for i in rows], dtype=np.float64)
        n_double = int(np.isfinite(split).sum())
        if n_double:
            e_hat, r_hat = _corrected(changed[None, :], split[None, :], n_classes)
            rate, r_err = float(e_hat[0]), float(r_hat[0])
            b = np.random.default_rng(seed).integers(0, len(rows), (BOOTSTRAP, len(rows)))
            draws = _corrected(changed[b], split[b], n_classes)[0]
            tail = 100 * (1 - level) / 2
            low, high = (float(x) for x in np.percentile(draws, [tail, 100 - tail]))
            low, high = min(low, rate), max(high, rate)
    net_auto = float(np.sum(2.0 * np.asarray(change_confidence, dtype=np.float64) - 1.0))

    def accuracy(r: float) -> float:
        left = max(0.0, n * r - confirmed - net_auto)
        return float(min(1.0, max(0.0, 1.0 - left / max(n, 1))))

    agrees = None if relabel_error_rate is None else bool(low <= relabel_error_rate <= high)
    return AuditEstimate(size=size, decided=a, wrong=e, error_rate=rate, error_low=low,
                         error_high=high, accuracy_now=accuracy(rate),
                         accuracy_low=accuracy(high), accuracy_high=accuracy(low),
                         relabel_error_rate=relabel_error_rate, agrees=agrees,
                         double_reviewed=n_double, reviewer_error=r_err, uncorrected_rate=raw,
                         examples=n)


def _disagreement(labels: Sequence[object] | None) -> float:
    """Share of disagreeing pairs among one example's reviewers (NaN with fewer than two)."""
    if labels is None or len(labels) < 2:
        return float("nan")
    _, counts = np.unique(np.asarray([str(x) for x in labels]), return_counts=True)
    m = len(labels)
    return 1.0 - float((counts * (counts - 1)).sum()) / (m * (m - 1))


def _corrected(changed: np.ndarray, split: np.ndarray, k: int) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """``(e, r)``, each ``(B,)``: per row of ``changed (B, a)`` (0/1, each audited example's
    latest decision changed its label) and ``split (B, a)`` (its reviewers' disagreement, NaN
    with one reviewer), the error rate corrected for the reviewers' error ``r`` (module
    docstring)."""
    k = max(int(k), 2)
    known = np.isfinite(split)
    n = known.sum(axis=1)
    d = np.where(n > 0, np.where(known, split, 0.0).sum(axis=1) / np.maximum(n, 1), 0.0)
    q = k / (k - 1)
    r = (1.0 - np.sqrt(np.maximum(0.0, 1.0 - d * q))) / q
    c = changed.mean(axis=1)
    e = (c - r) / np.maximum(1.0 - r * q, 1e-9)
    return np.clip(e, 0.0, 1.0), r


def audit_message(est: AuditEstimate) -> str | None:
    """One line for a person when relabel's estimate lies outside the audit's interval."""
    if est.agrees is not False or est.relabel_error_rate is None:
        return None
    seen, lo, hi = 100 * est.relabel_error_rate, 100 * est.error_low, 100 * est.error_high
    if est.relabel_error_rate < est.error_low:
        caveat = ("" if est.reviewer_error is not None else
                  ", unless the reviewers change right labels (the audit counts what they "
                  "change; a second reviewer on the audit measures that)")
        return (f"relabel estimated {seen:.1f}% wrong labels, below the random audit's "
                f"{lo:.1f}-{hi:.1f}%: errors shared by similar examples are invisible to "
                "relabel's signals, so its flags and its own accuracy estimate miss them; trust "
                f"the audit's figures{caveat}")
    return (f"relabel estimated {seen:.1f}% wrong labels, above the random audit's {lo:.1f}-"
            f"{hi:.1f}%: reviewers keep labels that relabel's signals find inconsistent; trust "
            "the audit's figures")


__all__ = ["AUDIT_KEY", "AuditEstimate", "audit_extension", "audit_message", "audit_order",
           "audit_ranks", "audit_sample", "counted_sample", "estimate_from_audit"]
