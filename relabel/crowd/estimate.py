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

**Label functions** (:func:`estimate`, :func:`single_class_share`, :func:`pooled_vote`). Rules and
heuristics of weak supervision (WRENCH, Snorkel) vote for one class or abstain: each of WRENCH's
label functions, in all six of its sets here, and each of Snorkel's spouse rules only ever votes for
one class. Dawid–Skene cannot judge such an annotator. Its confusion row is a single 1 whatever the
true class, so its votes carry no evidence, and EM ends wherever the class prior and the model push
it. On WRENCH's training sets, against gold, on the items the rules cover, the consensus was far
below a plain majority vote of the same votes: youtube 0.76 against 0.85, semeval 0.38 against 0.80,
yoruba 0.19 against 0.61 (bench/RESULTS.md, issue 17, "Label functions"). Where more than half of
the votes come from annotators who used a single class, and those annotators between them vote for
two classes or more (``auto``, :func:`label_functions`: rules are written for each class, where
workers who always give the same answer are spammers, whom Dawid–Skene rightly discounts), the
estimator is therefore :func:`pooled_vote`: one accuracy shared by every annotator, so the consensus
is the majority vote (ties to the class with fewer votes overall), and the model annotator only
speaks for items without any vote. On the items with a strict majority the model alone was less
accurate than the majority on six of the seven sets (all but youtube), and CROWDLAB, which weighs it
in, on five (it was above on youtube and trec); on the tied items the tied class with fewer votes
was right more often than the model's choice on four of the seven (0.67 against 0.62 on average).
Crowd workers use several classes: on every crowd set of ``bench/bench_consensus.py`` and
``bench/bench_lewidi.py`` the annotators who used one class cast at most 16% of the votes. The half
is not tuned; it is where "most of the evidence cannot be judged" begins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
#: the estimators :func:`estimate` chooses between (``auto``: by :func:`single_class_share`)
ESTIMATORS = ("auto", "dawid_skene", "majority")
#: above this share of the votes cast by single-class annotators, ``auto`` takes the majority
#: (module docstring, "Label functions"; not tuned)
SINGLE_CLASS_SHARE = 0.5


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
    estimator : str
        ``dawid_skene`` or ``majority`` (:func:`pooled_vote`).
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
    estimator: str = "dawid_skene"


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


def _m_step(flat: np.ndarray, item: np.ndarray, post: np.ndarray, probs: np.ndarray | None,
            a: int, k: int, smoothing: float, weight: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Each annotator's expected counts ``(A, K, K)`` under the posterior ``post (I, K)``, their
    confusion matrices shrunk towards the pooled one by ``smoothing`` pseudo-votes per row, and
    the model's confusion matrix (None without ``probs``). ``flat`` is ``(M, K)``, the index of
    each vote's cell for every true class; ``weight`` ``(M,)`` each vote's weight (None: 1)."""
    mass = post[item] if weight is None else post[item] * weight[:, None]
    expected = np.bincount(flat.ravel(), weights=mass.ravel(),
                           minlength=a * k * k).reshape(a, k, k)
    pooled = _normalise_rows(expected.sum(0) + EPS + np.eye(k) * 1e-3)
    confusion = _normalise_rows(expected + smoothing * pooled[None])
    model_conf = None if probs is None else _normalise_rows(post.T @ probs + smoothing * pooled)
    return expected, confusion, model_conf


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
    weight: np.ndarray | None = None,
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
    weight : np.ndarray, optional
        ``(M,)`` each vote's weight (default 1): a multi-select answer of m choices is m votes
        of 1/m (:func:`relabel.crowd.votes.votes_from_long`, ``multi_select``). A vote's
        log-likelihood and its expected counts are scaled by it.

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
    w = None if weight is None else np.asarray(weight, dtype=np.float64)
    incidence = sparse.csr_matrix((np.ones(m) if w is None else w, (item, np.arange(m))),
                                  shape=(n, m))
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
        expected, confusion, model_conf = _m_step(flat, item, post, probs, a, k, smoothing, w)
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


def _single_class(annotator: np.ndarray, label: np.ndarray, n_annotators: int,
                  n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(A,)`` votes per annotator, ``(A, K)`` bool the classes each one used, and ``(A,)``
    bool the annotators with two votes or more who never used a second class."""
    annotator = np.asarray(annotator, dtype=np.int64)
    n_votes = np.bincount(annotator, minlength=n_annotators)
    used = np.zeros((n_annotators, n_classes), dtype=bool)
    used[annotator, np.asarray(label, dtype=np.int64)] = True
    return n_votes, used, (n_votes >= 2) & (used.sum(1) == 1)


def single_class_share(annotator: np.ndarray, label: np.ndarray, n_annotators: int,
                       n_classes: int) -> float:
    """Share of the votes cast by annotators who never used a second class, among annotators
    with two votes or more (0 when there are fewer than two classes or no such votes).

    Parameters
    ----------
    annotator, label : np.ndarray
        ``(M,)`` int codes of each vote.
    n_annotators, n_classes : int
        A, K.
    """
    if n_classes < 2 or len(annotator) == 0:
        return 0.0
    n_votes, _, single = _single_class(annotator, label, n_annotators, n_classes)
    judged = n_votes >= 2
    if not judged.any():
        return 0.0
    return float(n_votes[single].sum() / n_votes[judged].sum())


def label_functions(annotator: np.ndarray, label: np.ndarray, n_annotators: int,
                    n_classes: int) -> bool:
    """True when the votes look like label functions (module docstring, "Label functions"):
    more than ``SINGLE_CLASS_SHARE`` of them come from single-class annotators
    (:func:`single_class_share`), and those annotators between them vote for two classes or
    more, as rules written for each class do. Workers who all give the one same answer are
    not rules: Dawid–Skene discounts them, where a majority would follow them."""
    if single_class_share(annotator, label, n_annotators, n_classes) <= SINGLE_CLASS_SHARE:
        return False
    _, used, single = _single_class(annotator, label, n_annotators, n_classes)
    return int(used[single].any(axis=0).sum()) >= 2


def pooled_vote(
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
    weight: np.ndarray | None = None,
    **_: Any,
) -> EMResult:
    """The majority vote as a posterior: every annotator right with one shared probability α
    (the "one-coin" model), for label functions (module docstring, "Label functions").

    ``log P(z_i = k | votes) = n_ik log α + (n_i - n_ik) log((1 - α) / (K - 1)) + const``, with
    a uniform class prior: the vote shares of label functions do not estimate it (Snorkel's
    spouse rules: 56% of the votes for "spouse", 8% of the pairs). Its argmax is the majority
    vote.

    - **α** by the method of moments, not EM: two votes on one item agree with probability
      ``α² + (1 - α)² / (K - 1)``; solved from the share of agreeing pairs among the items with
      two votes or more. EM on this model rewards itself (an item with one vote agrees with its
      own posterior) and puts α near 1. Where no pair agrees more often than chance, or no
      item has two votes (one rule per class never agrees with another), nothing shows the
      votes beat chance: α = 1/K + 0.01, and the quality says so.
    - **Ties** go to the tied class with the fewest votes overall. The classes voted for most
      are those of broad rules, which fire often and are right less often: on the tied items of
      WRENCH's six training sets the class with fewer votes was right on 0.37–0.93 of them,
      the one with more on 0.03–0.38, and a coin on 0.27–0.47; on Snorkel's spouse rules
      (checked after the choice) 0.86, 0.14 and 0.52 (bench/RESULTS.md, issue 17).
    - An item **without any vote** takes the model's label when there is a model, else the
      uniform prior's (quality 1/K). The model learned the voted items' consensus, so its
      quality is its probabilities shrunk towards uniform by that consensus's mean quality q:
      ``q p + (1 - q) / K``.
    - ``quality`` is the posterior with the evidence tempered by ``temperature``, as in
      :func:`dawid_skene`.

    Parameters
    ----------
    item, annotator, label, n_items, n_annotators, n_classes, model_probs, smoothing,
    temperature, weight
        As in :func:`dawid_skene` (``smoothing`` only shrinks the confusion matrices reported
        per annotator; other keywords are ignored).

    Returns
    -------
    EMResult
        ``estimator="majority"``; ``confusion`` and ``expected`` per annotator under this
        posterior, for the annotator table.
    """
    item = np.asarray(item, dtype=np.int64)
    annotator = np.asarray(annotator, dtype=np.int64)
    label = np.asarray(label, dtype=np.int64)
    n, a, k = int(n_items), int(n_annotators), int(n_classes)
    w = None if weight is None else np.asarray(weight, dtype=np.float64)
    counts = np.zeros((n, k))
    np.add.at(counts, (item, label), 1.0 if w is None else w)
    n_votes = counts.sum(1)
    prior = np.full(k, 1.0 / k)
    alpha = one_coin_accuracy(counts)
    wrong = np.log(max((1.0 - alpha) / max(k - 1, 1), EPS))
    log_joint = np.log(prior)[None, :] + counts * np.log(alpha) \
        + (n_votes[:, None] - counts) * wrong
    probs = None if model_probs is None else \
        np.nan_to_num(np.asarray(model_probs, dtype=np.float64), nan=0.0)
    # an item without a vote: the model's own probabilities (no tempering: they are not a
    # product of independent votes)
    has = (n_votes == 0) & (probs.sum(1) > 0) if probs is not None else np.zeros(n, bool)
    if probs is not None:
        log_joint[has] = np.log(np.maximum(_normalise_rows(probs[has]), EPS))
    calibrated = calibrate(log_joint, prior, temperature)
    if has.any():
        # the model learned the consensus of the voted items, so it is no more often right than
        # that consensus: its probabilities are shrunk towards uniform by the voted items' mean
        # quality (on Snorkel's spouse rules, 118 unvoted pairs the model put at 0.9 or more
        # were 27% right, bench/RESULTS.md)
        voted = n_votes > 0
        q = float(calibrated[voted].max(1).mean()) if voted.any() else 1.0 / k
        calibrated[has] = q * _softmax(log_joint[has].copy()) + (1.0 - q) / k
    # ties to the class with fewer votes: a nudge far below any vote's weight
    shares = counts.sum(0)
    log_joint = log_joint - 1e-6 * shares[None, :] / max(float(shares.max()), 1.0)
    post = _softmax(log_joint.copy())
    flat = (annotator * k)[:, None] * k + np.arange(k)[None, :] * k + label[:, None]
    expected, confusion, model_conf = _m_step(flat, item, post, probs, a, k, smoothing, w)
    return EMResult(posterior=post, calibrated=calibrated, log_joint=log_joint, prior=prior,
                    confusion=confusion, expected=expected, model_confusion=model_conf,
                    iterations=1, converged=True, estimator="majority")


def one_coin_accuracy(counts: np.ndarray) -> float:
    """α of the one-coin model from ``counts (I, K)`` (:func:`pooled_vote`): the root above
    1/K of ``α² + (1 - α)² / (K - 1) = p``, p the share of agreeing pairs of votes on the same
    item; ``1/K + 0.01`` where there are no pairs or p is at or below chance, at most 0.999."""
    counts = np.asarray(counts, dtype=np.float64)
    k = counts.shape[1]
    floor = 1.0 / k + 0.01
    n = counts.sum(1)
    pairs = float((n * (n - 1) / 2).sum())
    if pairs == 0 or k < 2:
        return floor
    p = float((counts * (counts - 1) / 2).sum()) / pairs
    # (K / (K-1)) α² - (2 / (K-1)) α + (1 / (K-1) - p) = 0
    qa, qb, qc = k / (k - 1), -2.0 / (k - 1), 1.0 / (k - 1) - p
    disc = qb * qb - 4 * qa * qc
    if disc <= 0:  # p at or below chance (1/K)
        return floor
    return float(np.clip((-qb + np.sqrt(disc)) / (2 * qa), floor, 0.999))


def estimate(
    item: np.ndarray,
    annotator: np.ndarray,
    label: np.ndarray,
    n_items: int,
    n_annotators: int,
    n_classes: int,
    *,
    estimator: str = "auto",
    **options: Any,
) -> EMResult:
    """The posterior of each item's true class, by :func:`dawid_skene` or, for label functions,
    :func:`pooled_vote` (module docstring, "Label functions").

    Parameters
    ----------
    item, annotator, label, n_items, n_annotators, n_classes
        As in :func:`dawid_skene`.
    estimator : str
        ``auto`` (the majority where the votes look like label functions,
        :func:`label_functions`), ``dawid_skene`` or ``majority``.
    **options
        :func:`dawid_skene`'s keywords (``model_probs``, ``smoothing``, ...).

    Returns
    -------
    EMResult
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}")
    if estimator == "auto":
        estimator = "majority" if label_functions(annotator, label, n_annotators, n_classes) \
            else "dawid_skene"
    run = pooled_vote if estimator == "majority" else dawid_skene
    return run(item, annotator, label, n_items, n_annotators, n_classes, **options)


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
                       *, level: float = 0.95, weight: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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
    weight : np.ndarray, optional
        ``(M,)`` each vote's weight (a multi-select answer's choices share one vote).

    Returns
    -------
    accuracy, low, high : np.ndarray
        ``(A,)`` each (NaN for an annotator with no votes).
    n_votes : np.ndarray
        ``(A,)`` int votes per annotator.
    """
    right = posterior[item, label]
    if weight is None:
        n_votes = np.bincount(annotator, minlength=n_annotators)
    else:  # votes, not choices: an answer of m choices counts once
        right = right * weight
        n_votes = np.rint(np.bincount(annotator, weights=weight,
                                      minlength=n_annotators)).astype(np.int64)
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


__all__ = ["EPS", "ESTIMATORS", "MAX_ITER", "MODEL_WEIGHT", "SINGLE_CLASS_SHARE", "SMOOTHING",
           "TEMPERATURE", "TOL", "EMResult", "annotator_accuracy", "calibrate", "dawid_skene",
           "estimate", "jeffreys_interval", "label_functions", "majority_vote",
           "one_coin_accuracy", "pooled_vote", "single_class_share"]
