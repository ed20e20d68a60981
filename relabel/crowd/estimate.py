"""The consensus estimator: Dawid–Skene EM with shrinkage, and relabel's model as one more
annotator. Pure: arrays in, arrays out.

Model (Dawid & Skene 1979). Item i has a true class z_i ~ ρ. Annotator j, shown an item of class
k, answers l with probability π_j[k, l] (its confusion matrix), independently of the others. EM
alternates the posterior T_i = P(z_i | votes) (E step) and ρ, π (M step), from the vote shares.

What relabel adds (documented constants, chosen by leave-one-dataset-out in
``bench/bench_consensus.py``):

- **Shrinkage.** An annotator seen on few items would get a confusion matrix of zeros and ones.
  Each row of π_j gets ``SMOOTHING`` pseudo-votes distributed as the *pooled* confusion matrix
  of all annotators (a Dirichlet prior centred on the crowd): an annotator with three votes is
  judged like the average annotator, one with three hundred by their own record.
- **The model as an annotator.** With text, relabel's out-of-fold corrector probabilities
  (trained on the majority vote, never on the item itself: K-fold) enter as a *soft vote*
  p_i: its contribution to log T_i[k] is Σ_l p_i[l] log π_m[k, l], with π_m its own confusion
  matrix estimated in the same M step (E[p | z = k]). A model no better than the class prior
  gets a flat π_m and contributes nothing; a good one counts like a good annotator. This is the
  role CROWDLAB gives its classifier, but with a per-class quality instead of one weight.
- **Collapse.** On a handful of items, or where one class holds nearly every item, the
  pseudo-votes outweigh the data and EM drifts, over hundreds of iterations, to its symmetric
  fixed point: every annotator at chance, every posterior at the prior, and the consensus then
  overrules majorities (six items with eleven of twelve votes for one class: five unanimous
  items flipped; bench/RESULTS.md, issue 17). Where the items that two or more annotators
  labelled unanimously end with less than ``COLLAPSE_SHARE`` of EM's posterior on their class
  on average, though the first iteration gave them more, EM has lost what the votes say: the
  first iteration's estimate (one Dawid–Skene step from the vote shares) is returned, and
  ``collapsed`` says so. On the benchmark sets those items keep 0.9 or more.
- **Calibration.** The independence assumption makes EM's posteriors overconfident (ten votes
  multiply ten likelihoods, though annotators make correlated mistakes). The reported quality
  tempers the evidence by a single exponent ``TEMPERATURE``, chosen to
  minimise the log loss against gold by leave-one-dataset-out. Only the evidence is tempered:
  softmax(log ρ + ``TEMPERATURE`` · (log-joint − log ρ)); the prior is kept whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

#: pseudo-votes per row of an annotator's confusion matrix, spread as the pooled matrix
SMOOTHING = 5.0
#: exponent on the log-likelihood for the reported posterior (1 = EM's own)
TEMPERATURE = 0.5
#: how many annotators' votes the model's soft vote counts as
MODEL_WEIGHT = 3.0
#: below this mean posterior on the class of unanimous items, EM has collapsed (module
#: docstring; not tuned: the collapsed solution puts them at the prior, about 1/2 with a
#: dominant class, and every benchmark set keeps them at 0.9 or more)
COLLAPSE_SHARE = 0.6
#: EM stops when no posterior moves more than this
TOL = 1e-6
MAX_ITER = 200
#: floor of any probability (no log of zero)
EPS = 1e-6


@dataclass(frozen=True)
class EMResult:
    """What :func:`dawid_skene` estimates.

    Attributes
    ----------
    posterior : np.ndarray
        ``(I, K)`` EM's posterior of each item's true class.
    calibrated : np.ndarray
        ``(I, K)`` the same, tempered (``temperature``): the reported quality.
    log_joint : np.ndarray
        ``(I, K)`` log ρ_k + Σ log-likelihoods at convergence.
    prior : np.ndarray
        ``(K,)`` class prior ρ.
    confusion : np.ndarray
        ``(A, K, K)`` π_j[k, l]: P(annotator j says l | true class k).
    expected : np.ndarray
        ``(A, K, K)`` expected counts behind ``confusion`` (no pseudo-votes): how many items of
        true class k annotator j labelled l.
    model_confusion : np.ndarray or None
        ``(K, K)`` the model's π_m (None without a model).
    iterations : int
    converged : bool
    collapsed : bool
        EM fell into its symmetric fixed point and the first iteration's estimate is returned
        instead (module docstring, "Collapse").
    """

    posterior: np.ndarray
    calibrated: np.ndarray
    log_joint: np.ndarray
    prior: np.ndarray
    confusion: np.ndarray
    expected: np.ndarray
    model_confusion: np.ndarray | None
    iterations: int
    converged: bool
    collapsed: bool = False


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _normalise_rows(counts: np.ndarray) -> np.ndarray:
    return counts / np.maximum(counts.sum(axis=-1, keepdims=True), 1e-300)


def calibrate(log_joint: np.ndarray, prior: np.ndarray, temperature: float) -> np.ndarray:
    """``(I, K)`` the reported posterior: the evidence (log-joint minus log-prior) tempered by
    ``temperature``, the prior kept whole (it is not what the independence assumption
    overstates)."""
    log_prior = np.log(np.asarray(prior, dtype=np.float64))[None, :]
    return _softmax(log_prior + temperature * (np.asarray(log_joint) - log_prior))


def majority_vote(counts: np.ndarray, *, prior: np.ndarray | None = None,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """``(I,)`` the most voted class per item; a tie goes to the more frequent class overall
    (``prior``, default the vote shares), or at random with ``rng`` (as a baseline does)."""
    counts = np.asarray(counts, dtype=np.float64)
    if rng is not None:
        jitter = rng.random(counts.shape) * 1e-3
    else:
        p = counts.sum(0) if prior is None else np.asarray(prior, dtype=np.float64)
        jitter = 1e-6 * p / max(p.max(), 1e-300)
    return np.argmax(counts + jitter, axis=1)


def dawid_skene(
    item: np.ndarray,
    annotator: np.ndarray,
    label: np.ndarray,
    n_items: int,
    n_annotators: int,
    n_classes: int,
    *,
    model_probs: np.ndarray | None = None,
    smoothing: float = SMOOTHING,
    temperature: float = TEMPERATURE,
    model_weight: float = MODEL_WEIGHT,
    tol: float = TOL,
    max_iter: int = MAX_ITER,
) -> EMResult:
    """Dawid–Skene EM over the votes, with shrinkage and an optional model annotator.

    Parameters
    ----------
    item, annotator, label : np.ndarray
        ``(M,)`` int codes of each vote.
    n_items, n_annotators, n_classes : int
        I, A, K.
    model_probs : np.ndarray, optional
        ``(I, K)`` out-of-fold class probabilities of a model (rows summing to 1; a row of NaN
        or zeros = no model vote for that item).
    smoothing : float
        Pseudo-votes per confusion row (see the module docstring).
    temperature : float
        Exponent of the reported ``calibrated`` posterior.
    model_weight : float
        How many votes the model's soft vote counts as.
    tol, max_iter : float, int
        Convergence.

    Returns
    -------
    EMResult
    """
    item = np.asarray(item, dtype=np.int64)
    annotator = np.asarray(annotator, dtype=np.int64)
    label = np.asarray(label, dtype=np.int64)
    n, a, k = int(n_items), int(n_annotators), int(n_classes)
    m = len(item)
    # item x vote incidence: sums each vote's log-likelihood row into its item
    incidence = sparse.csr_matrix((np.ones(m), (item, np.arange(m))), shape=(n, m))
    counts = np.asarray(incidence @ np.eye(k)[label]) if m else np.zeros((n, k))
    probs = None
    if model_probs is not None:
        probs = np.nan_to_num(np.asarray(model_probs, dtype=np.float64), nan=0.0)
        probs = np.where(probs.sum(1, keepdims=True) > 0, _normalise_rows(probs), 0.0)
    # seed: the vote shares (plus the model's soft vote); an item with nothing gets the shares
    seed = counts + (probs if probs is not None else 0.0)
    empty = seed.sum(1) == 0
    post = _normalise_rows(seed + empty[:, None] * (counts.sum(0) + 1.0)[None, :])
    flat = (annotator * k)[:, None] * k + np.arange(k)[None, :] * k + label[:, None]  # (M, K)
    converged, iterations = False, 0
    confusion = np.full((a, k, k), 1.0 / k)
    expected: np.ndarray = np.zeros((a, k, k))
    model_conf = None
    log_joint = np.log(np.full((n, k), 1.0 / k))
    first: tuple | None = None
    for iterations in range(1, max_iter + 1):
        # M step
        prior = (post.sum(0) + 1.0) / (n + k)
        expected = np.bincount(flat.ravel(), weights=post[item].ravel(),
                               minlength=a * k * k).reshape(a, k, k)
        pooled = _normalise_rows(expected.sum(0) + EPS + np.eye(k) * 1e-3)
        confusion = _normalise_rows(expected + smoothing * pooled[None])
        if probs is not None:
            model_conf = _normalise_rows(post.T @ probs + smoothing * pooled)
        # E step
        log_conf = np.log(np.maximum(confusion, EPS))
        per_vote = log_conf[annotator, :, label] if m else np.zeros((0, k))  # (M, K)
        log_joint = np.log(prior)[None, :] + np.asarray(incidence @ per_vote)
        if probs is not None and model_conf is not None:
            log_joint += model_weight * (probs @ np.log(np.maximum(model_conf, EPS)).T)
        new = _softmax(log_joint.copy())
        if iterations == 1:  # kept for the collapse check below
            first = (new, log_joint.copy(), prior, confusion, expected, model_conf)
        delta = float(np.abs(new - post).max()) if n else 0.0
        post = new
        if delta < tol:
            converged = True
            break
    collapsed = False
    share = _unanimous_share(counts, post)
    if first is not None and iterations > 1 \
            and share < COLLAPSE_SHARE <= _unanimous_share(counts, first[0]):
        post, log_joint, prior, confusion, expected, model_conf = first
        collapsed = True
    calibrated = calibrate(log_joint, prior, temperature)
    return EMResult(posterior=post, calibrated=calibrated, log_joint=log_joint, prior=prior,
                    confusion=confusion, expected=expected, model_confusion=model_conf,
                    iterations=iterations, converged=converged, collapsed=collapsed)


def _unanimous_share(counts: np.ndarray, posterior: np.ndarray) -> float:
    """Mean posterior of the voted class over the items two or more annotators labelled
    unanimously (1.0 where there are none)."""
    n = counts.sum(1)
    unanimous = (n >= 2) & (counts.max(1) == n)
    if not unanimous.any():
        return 1.0
    voted = counts[unanimous].argmax(1)
    return float(posterior[unanimous][np.arange(len(voted)), voted].mean())


def annotator_accuracy(item: np.ndarray, annotator: np.ndarray, label: np.ndarray,
                       posterior: np.ndarray, n_annotators: int,
                       *, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                         np.ndarray]:
    """Each annotator's estimated accuracy: the expected share of their votes that are right
    under the posterior, with a Jeffreys interval on that many votes.

    Parameters
    ----------
    item, annotator, label : np.ndarray
        ``(M,)`` the votes.
    posterior : np.ndarray
        ``(I, K)``.
    n_annotators : int
        A.
    level : float
        Interval coverage.

    Returns
    -------
    accuracy, low, high : np.ndarray
        ``(A,)`` each (NaN for an annotator with no votes).
    n_votes : np.ndarray
        ``(A,)`` int votes per annotator.
    """
    right = posterior[item, label]
    n_votes = np.bincount(annotator, minlength=n_annotators)
    s = np.bincount(annotator, weights=right, minlength=n_annotators)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(n_votes > 0, s / np.maximum(n_votes, 1), np.nan)
    low, high = jeffreys_interval(s, n_votes, level=level)
    return acc, low, high, n_votes


def jeffreys_interval(successes: np.ndarray | float, n: np.ndarray | float, *,
                      level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Jeffreys' interval of a proportion from (possibly fractional) ``successes`` of ``n``:
    the ``level`` central interval of Beta(s + 1/2, n - s + 1/2), reaching 0 or 1 where every
    trial failed or succeeded; NaN where ``n`` is 0."""
    from scipy.stats import beta

    s = np.asarray(successes, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    tail = (1 - level) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(n > 0, beta.ppf(tail, s + 0.5, n - s + 0.5), np.nan)
        high = np.where(n > 0, beta.ppf(1 - tail, s + 0.5, n - s + 0.5), np.nan)
    high = np.where((n > 0) & (s >= n - 1e-9), 1.0, high)
    low = np.where((n > 0) & (s <= 1e-9), 0.0, low)
    return low, high


__all__ = ["EPS", "MAX_ITER", "MODEL_WEIGHT", "SMOOTHING", "TEMPERATURE", "TOL", "EMResult",
           "annotator_accuracy", "calibrate", "dawid_skene", "jeffreys_interval",
           "majority_vote"]
