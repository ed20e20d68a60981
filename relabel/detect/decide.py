"""Decisions that calibrate themselves on each dataset (METHOD.md §5, issue 14).

relabel changes a label automatically only where the estimated probability that the change is
right reaches a target the user sets (``--target-precision P``, default 0.9), and flags for
human review about as many examples as it estimates to be wrong. Both come from one model of how
the given labels were produced, fitted on the dataset itself without gold labels.

The noisy-channel posterior
---------------------------
Let ``L_i(c)`` be the prior-balanced combined posterior of the signals (kNN vote, KDE, the
out-of-fold corrector; :mod:`relabel.detect.combine`). Dividing out the class prior makes it a
class *likelihood*, ``L_i(c) ∝ f_c(x_i)``. Let ``Q[l, c] = P(given = l, true = c)`` be the joint
distribution of given and true labels. Bayes' rule for the true label of example i, given its
vector and the label it was given, is then

    r_i(c) = P(true = c | x_i, given = y_i)  ∝  L_i(c) ** gamma · Q[y_i, c]

``Q`` is estimated as confident learning does (Northcutt et al. 2021): the *confident joint*
counts the examples with given label l whose most probable class among those they reach the
per-class threshold ``t_c`` of (mean self-confidence of class c) is c; ``alpha`` is added to
every cell, each row is rescaled to the number of examples given label l, and the whole matrix
to sum to 1. On a clean dataset Q is nearly diagonal, so a change needs an overwhelming
likelihood ratio; on a noisy one its off-diagonal cells carry the confusions that really occur,
so the same likelihood ratio is enough. ``gamma`` corrects the over- or under-confidence of the
likelihood ratios (the corrector is trained on noisy labels and its probabilities are not exact).

From r:

- estimated probability that the given label is wrong, ``w_i = 1 - r_i(y_i)``;
- the estimated noise rate is confident learning's: the share of examples whose confident class
  exists and is not their given label (the off-diagonal of the unsmoothed confident joint). On
  the development sets it was closer to the true rate than ``mean(w)`` (trec: 0.30 against 0.08,
  true 0.43; banking77 with 20% noise: 0.17 against 0.16);
- the best other class ``s_i = argmax_{c != y_i} r_i(c)``; the label is changed automatically
  when ``r_i(s_i) >= P`` (its ``confidence``), so among the changes the expected share of right
  ones is at least P. The expected numbers of right and wrong changes are ``Σ r_i(s_i)`` and
  ``Σ (1 - r_i(s_i))`` over the changes;
- flags for review: the ``round(noise rate · N)`` examples of highest ``w`` (so a set
  estimated 1% noisy has about 1% flagged), and every changed example; with ``--threshold T``
  instead every example whose credibility is below T.

The order of suspicion
----------------------
Two numbers say how likely a given label is wrong: ``1 - L_i(y_i)`` (the signals alone) and
``w_i`` (the signals through the estimated joint Q). Q knows which confusions occur on this
dataset, which helps where the errors are systematic (trec's weak rules, nearest-class flips),
and misleads where Q is poorly estimated (semeval, whose estimated noise is 6% against 16%).
Neither ranks better everywhere, so ``issues``, ``review push``, ``find_label_issues`` and the
report list the examples in the order of :func:`suspicion`, the mean of the two fractional ranks
(``SUSPICION_WEIGHT``). The flags stay the rows of highest ``w_i``: flagged by the same mean
rank they were more precise on average but less on the example's nearest-class flips (0.635
against 0.584), and a model retrained without them lost 4.0 points there instead of 0.6
(bench/RESULTS.md, "The order of suspicion"). ``w_i`` is also the probability that ``review
next`` and the expected counts use.

Constants, chosen on the 18 development sets (11 noisy, 7 clean controls; ``bench/bench_trust.py``,
bench/RESULTS.md, which also reports each set left out): ``gamma`` (``GAMMA``) is the largest value
(the most automatic changes) that is *safe* on every set: no clean control has more than 0.3% of
its rows changed, and on every noisy set ``fixes - P / (1 - P) · damage >= 0`` (the changes are at
least P = 0.9 precise). The values are in ``GAMMA``; with the neighbour signals alone no gamma
above 0.5 was safe (a few confident neighbour-vote changes on the clean banking77 and trec
controls), and at 0.5 the rule never reaches 0.9: without a corrector relabel only flags.
``alpha`` is the confident-learning smoothing count.

Classes the signals do not recognise
------------------------------------
A class whose own examples the signals do not recognise better than chance (mean ``L_i(y_i)``
over its examples at or below ``1/K``, :func:`recognised_classes`) was not learned out of fold:
a dozen examples among hundreds of another class, say. Its examples' disagreement with it is
then no evidence against their labels, yet the joint, read from the same signals, puts nearly
all of them off the diagonal and the rule would change them all. So such a class attracts no
row (its confident-learning threshold is never met) and its own labels are never changed
automatically, only flagged (reason ``class_not_learned``); the summary names the class. No
constant is added: chance is the posterior a signal that knows nothing gives. On the whole
development sets nothing changes (``bench/bench_trust.py``); on their 1,000- and 2,000-row
samples (``bench/bench_small.py``) it stopped 12 changes of trec's gold ``ABBR`` questions to
``DESC``, and on clean samples with one rare class 61 changes of its 360 labels
(bench/RESULTS.md).

Self-diagnosis
--------------
``skill = 1 - CE / H`` measures how much better than the class prior a signal predicts the given
labels (CE: mean cross-entropy of the given labels under the out-of-fold signal, H: entropy of the
class prior; 0 = no better than the prior, 1 = perfect). When the corrector's skill, or without a
corrector the kNN vote's, is below ``MIN_SKILL`` the signals cannot tell the classes apart on this
data: relabel changes nothing automatically and says so. When no signal has that skill, neither
the corrector nor the neighbour vote, it does not flag on the estimated noise either: that
estimate (the confident joint's off-diagonal share) is read from the same signals, and with random
embeddings on the 2,000-row example it put 96.7% of the labels wrong, flagged 1,933 rows for a
reviewer and let ``export --drop-flagged`` delete them. (An undertrained corrector alone is not
enough to stop flagging: on 90 rows the head's out-of-fold skill is low while the neighbours rank
every error first.) Duplicate conflicts and outliers, which do not depend on the signals' skill,
and a user's ``--threshold`` still flag; the scores still rank every example, and a random audit
(``review next --audit``) measures the noise. On every development set and corrector path
the best signal's skill is at least 0.32 (``python bench/bench_skill.py``, bench/RESULTS.md), so
no benchmark number changes with this; the head corrector's own skill goes down to 0.05
(yoruba), where it changes nothing and the neighbour vote (0.35) keeps the flags.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from relabel import spill
from relabel.config import DEFAULT_PRIOR_BALANCE, DEFAULT_TARGET_PRECISION
from relabel.detect.calibrate import fit_calibration
from relabel.detect.combine import (
    CHUNK_ROWS,
    PRIOR_FLOOR,
    balance_prior,
    combine_posteriors,
    given_label_score,
)
from relabel.detect.decisions import MIN_SKILL, DecisionResult, Decisions
from relabel.detect.reasons import duplicate_conflicts, duplicate_groups, flag_reasons, outliers

#: exponent of each signal in the combined posterior (METHOD.md §5), without a corrector
DEFAULT_WEIGHTS: dict[str, float] = {"knn": 0.5, "kde": 0.5}
#: ... and with one (``cv`` = out-of-fold corrector probabilities). The KDE enters through the
#: soft labels the corrector trains on; giving it a direct weight too (cv .65 / knn .25 / kde .1,
#: or .6 / .2 / .2) lowered AP on trec and youtube and label accuracy on banking77, and raised
#: both only on semeval (bench/RESULTS.md)
CORRECTOR_WEIGHTS: dict[str, float] = {"cv": 0.7, "knn": 0.3}
#: exponent of the likelihood ratios in the noisy-channel posterior, by corrector (``none``: the
#: kNN vote and KDE alone), see the module docstring. ``finetune`` was not measured (no GPU in the
#: runs that chose these): it takes the head's value, both being trained on soft labels
#: ``pred_probs``: ``relabel.find_label_issues`` given out-of-fold probabilities alone (no
#: neighbour signals); chosen the same way with the linear corrector's probabilities standing in
#: for a user's model (17 of 18 left-out folds chose 1.4, bench/RESULTS.md). ``linear``: 1.5 was
#: the choice on the signals cached on 2026-12-01; on the same signals rebuilt on 2026-12-06
#: (re-encoded, folds retrained) 1.5 was no longer safe on one set (the 2,000-row example: 16
#: fixes, 2 damaged) and the choice was 1.4, so the default is 1.4, the largest value safe on
#: every set with both (bench/RESULTS.md, "The linear corrector's gamma on rebuilt signals").
#: ``linear+words``: the linear corrector averaged with the word model on text classification
#: (:mod:`relabel.correct.lexical`), chosen the same way on the 11 development sets where the
#: words are used, the subjective controls (LeWiDi majority labels) among them: 1.5 on 10 of
#: the 11 left-out folds. 1.75, chosen on the 8 sets before those controls were added, changed
#: 0.42% of ConvAbuse's labels, 8 of them against every annotator (bench/RESULTS.md, "The
#: words' gamma with the subjective controls")
GAMMA = {"linear": 1.4, "linear+words": 1.5, "head": 1.3, "finetune": 1.3, "none": 0.5,
         "pred_probs": 1.4}
#: weight of ``w_i``'s rank in :func:`suspicion` (``1 - credibility``'s rank has the rest).
#: Chosen by leave-one-dataset-out for the mean AP of finding the wrong labels over the 11
#: noisy development sets and the five corrector paths, from 0, 0.25, 0.5, 0.75, 1: 0.5 on 7
#: of the 11 folds (0.75 on 3, 0.25 on 1); the mean AP of all paths goes from 0.666 (0 = the
#: credibility alone, the order until 2026-12-07) to 0.679 (1 = ``w`` alone: 0.674), and on the
#: default path from 0.668 to 0.685 (bench/RESULTS.md, "The order of suspicion")
SUSPICION_WEIGHT = 0.5
#: the ``corrector`` name of the linear corrector with the word model
WORDS_CORRECTOR = "linear+words"
#: smoothing count added to every cell of the confident joint
ALPHA = 0.1
#: rows per block of the decisions' row-wise passes (the combined posterior, the confident
#: classes, the noisy-channel posterior): here the blocks run one after another on views of the
#: arrays; with a Dask engine each block is a task that carries its own rows. The passes are
#: row-wise, so the result is the same float for float on any engine and any block size; the
#: reductions (class thresholds, the confident joint, the flags' order) are O(N) merges here
DECIDE_BLOCK_ROWS = 4 * CHUNK_ROWS


def _row_blocks(n: int) -> list[slice]:
    return [slice(s, min(s + DECIDE_BLOCK_ROWS, n)) for s in range(0, n, DECIDE_BLOCK_ROWS)]


def _combined_block(signals: dict[str, np.ndarray], *, weights: dict[str, float],
                    prior: np.ndarray, beta: float, floor: float) -> np.ndarray:
    """The prior-balanced combined posterior of a block of rows, ``(rows, K)`` float32, from
    the block's rows of each signal (a task on an engine)."""
    return balance_prior(combine_posteriors(signals, weights), prior, beta=beta, floor=floor)


def combined_posterior(posteriors: dict[str, np.ndarray], weights: dict[str, float],
                       prior: np.ndarray, *, beta: float, floor: float,
                       engine: Any = None) -> np.ndarray:
    """``(N, K)`` float32: :func:`~relabel.detect.combine.balance_prior` of
    :func:`~relabel.detect.combine.combine_posteriors`, computed block by block of rows (on
    a Dask ``engine``, each block a task carrying its rows of the signals); the same floats
    on any engine."""
    from relabel.engine import blocks_on

    used = {name: post for name, post in posteriors.items() if weights.get(name, 0.0) > 0}
    if not used:
        raise ValueError("no signal has a positive weight")
    first = next(iter(used.values()))
    blocks = _row_blocks(first.shape[0])
    posterior = spill.empty(first.shape, np.float32)
    for i, part in blocks_on(engine, _combined_block,
                             [{k: v[sl] for k, v in used.items()} for sl in blocks],
                             weights=dict(weights), prior=np.asarray(prior), beta=beta,
                             floor=floor):
        posterior[blocks[i]] = part
    return posterior


def _confident_block(block: tuple[np.ndarray, np.ndarray], *, thresholds: np.ndarray
                     ) -> np.ndarray:
    """``(rows,)`` :func:`confident_class` of a block, given the whole set's class thresholds
    (a task on an engine)."""
    return _confident_rows(block[0], thresholds)


def _channel_block(block: tuple[np.ndarray, np.ndarray], *, joint: np.ndarray, gamma: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a block of rows (likelihoods, given labels): the noisy-channel posterior's
    probability of the given label, the best other class and its probability, each
    ``(rows,)`` (a task on an engine; the ``(rows, K)`` posterior stays in the task)."""
    likelihood, labels = block
    r = true_label_posterior(labels, likelihood, joint, gamma=gamma)
    rows = np.arange(len(labels))
    p_keep = r[rows, labels].astype(np.float64)
    masked = r.copy()
    masked[rows, labels] = -1.0
    alt = np.argmax(masked, axis=1).astype(np.int64)
    return p_keep, alt, r[rows, alt].astype(np.float64)


def recognised_classes(labels: np.ndarray, posterior: np.ndarray) -> np.ndarray:
    """``(K,)`` bool: the class has examples and the signals recognise them better than chance
    (mean self-confidence above ``1/K``; the posterior is prior-balanced, so a row the signals
    know nothing about is uniform).

    A class that fails this was not learned out of fold, so its examples' disagreement with it
    says nothing about their labels. Such a class never attracts rows
    (:func:`per_class_thresholds`), and its own labels are never changed automatically
    (:func:`decide_labels`): on a 1,000-row sample of trec's gold labels whose 12 ``ABBR``
    questions the signals mistook for ``DESC`` (mean self-confidence 0.16, chance 0.17), the
    rule changed all 12 to ``DESC`` at confidence 0.97-1.0 (bench/RESULTS.md).
    """
    return _class_test(labels, posterior)[2]


def _class_test(labels: np.ndarray, posterior: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(K,)`` examples per class, ``(K,)`` mean of ``posterior[i, y_i]`` over each class's
    examples (0 without any) and ``(K,)`` bool :func:`recognised_classes`, in one pass over the
    rows."""
    n_classes = posterior.shape[1]
    counts = np.bincount(labels, minlength=n_classes)
    sums = np.bincount(labels, weights=posterior[np.arange(len(labels)), labels],
                       minlength=n_classes)
    mean = sums / np.maximum(counts, 1)
    return counts, mean, (counts > 0) & (mean > 1.0 / n_classes)


def per_class_thresholds(labels: np.ndarray, posterior: np.ndarray) -> np.ndarray:
    """``(K,)`` mean self-confidence per class; 1.0 (never met) for a class without examples,
    and for one the signals do not recognise in its own examples better than chance
    (:func:`recognised_classes`).

    That second case is a class too small to be learned out of fold: a class of one or two
    given labels has an out-of-fold self-confidence near 0, so nearly every row of the data
    reached its threshold and counted as "confidently" that class. On 800 clean banking77
    rows (77 classes, two of them with two examples) 43% of the labels were estimated wrong
    and flagged, against 5% on 900 rows whose smallest class has three; on trec, 1,438 of the
    1,584 rows counted off the diagonal went to ABBR, the class with a single given label
    (bench/RESULTS.md).
    """
    _, mean, recognised = _class_test(labels, posterior)
    return np.where(recognised, mean, 1.0)


def confident_class(labels: np.ndarray, posterior: np.ndarray) -> np.ndarray:
    """``(N,)`` the most probable class among those whose per-class threshold the example
    reaches (confident learning), -1 where it reaches none."""
    return _confident_rows(posterior, per_class_thresholds(labels, posterior))


def _confident_rows(posterior: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``(rows,)`` the most probable class whose threshold in ``t (K,)`` each row reaches, -1
    where it reaches none."""
    best = np.full(len(posterior), -1, dtype=np.int64)
    for start in range(0, len(posterior), CHUNK_ROWS):  # bounds the (rows, K) temporaries
        p = posterior[start : start + CHUNK_ROWS]
        confident = np.where(p >= t[None, :], p, -1.0)
        b = np.argmax(confident, axis=1)
        ok = confident[np.arange(len(p)), b] >= 0
        best[start : start + len(p)] = np.where(ok, b, -1)
    return best


def suspicion(credibility: np.ndarray, p_wrong: np.ndarray, *,
              weight: float = SUSPICION_WEIGHT) -> np.ndarray:
    """How suspicious each given label is, for ordering: ``(N,), (N,)`` -> ``(N,)`` float64 in
    (0, 1], higher = more likely wrong.

    ``weight * rank(p_wrong) / N + (1 - weight) * rank(1 - credibility) / N``, with average ranks
    for ties (module docstring, "The order of suspicion"). Not a probability: ``p_wrong`` is.

    Parameters
    ----------
    credibility : np.ndarray
        ``(N,)`` the combined posterior of the given label.
    p_wrong : np.ndarray
        ``(N,)`` the noisy-channel probability that the given label is wrong.
    weight : float
        Weight of ``p_wrong``'s rank.
    """
    from scipy.stats import rankdata

    n = len(p_wrong)
    if n == 0:
        return np.zeros(0)
    cred = np.asarray(credibility, dtype=np.float64)
    wrong = np.asarray(p_wrong, dtype=np.float64)
    return (weight * rankdata(wrong) + (1.0 - weight) * rankdata(-cred)) / n


def flag_issues(
    labels: np.ndarray, posterior: np.ndarray, *, threshold: float | None = None
) -> np.ndarray:
    """``(N,)`` bool, confident learning's off-diagonal: the confident class exists and is not
    the given label; with ``threshold``, ``p(y_i | i) < threshold`` instead.

    Parameters
    ----------
    labels : np.ndarray
        ``(N,)`` int class codes.
    posterior : np.ndarray
        ``(N, K)`` combined posterior.
    threshold : float, optional
        Flag when ``p(y_i | i) < threshold``.
    """
    if threshold is not None:
        return posterior[np.arange(len(labels)), labels] < threshold
    return _off_diagonal(labels, confident_class(labels, posterior))


def _off_diagonal(labels: np.ndarray, confident: np.ndarray) -> np.ndarray:
    """``(N,)`` bool: a confident class exists and is not the given label."""
    return (confident >= 0) & (confident != labels)


def estimate_joint(labels: np.ndarray, posterior: np.ndarray, *, alpha: float = ALPHA,
                   confident: np.ndarray | None = None) -> np.ndarray:
    """``(K, K)`` calibrated confident joint ``Q[given, true]``, summing to 1.

    Rows are rescaled to the given class counts, so ``Q.sum(1)`` is the given label prior;
    ``alpha`` is added to every count first. ``confident`` is :func:`confident_class` of the
    same inputs when the caller already has it.
    """
    n_classes = posterior.shape[1]
    best = confident_class(labels, posterior) if confident is None else confident
    has = best >= 0
    counts = np.full((n_classes, n_classes), float(alpha))
    np.add.at(counts, (labels[has], best[has]), 1.0)
    given = np.bincount(labels, minlength=n_classes).astype(np.float64)
    joint = counts / counts.sum(axis=1, keepdims=True) * given[:, None]
    return joint / joint.sum()


def signal_skill(labels: np.ndarray, posterior: np.ndarray) -> float:
    """``1 - CE / H``: how much better than the class prior ``posterior`` ``(N, K)`` predicts
    the given labels (0 = no better, 1 = perfect; negative = worse)."""
    n_classes = posterior.shape[1]
    prior = np.bincount(labels, minlength=n_classes) / len(labels)
    nz = prior[prior > 0]
    entropy = float(-(nz * np.log(nz)).sum())
    if entropy <= 0:
        return 0.0
    p_given = np.clip(posterior[np.arange(len(labels)), labels].astype(np.float64), 1e-6, None)
    return float(1.0 - np.mean(-np.log(p_given)) / entropy)


def true_label_posterior(labels: np.ndarray, likelihood: np.ndarray, joint: np.ndarray, *,
                         gamma: float) -> np.ndarray:
    """``(N, K)`` float32 ``r_i(c) ∝ likelihood_i(c) ** gamma · joint[y_i, c]`` (module
    docstring), computed in float64 chunk by chunk of rows."""
    out = spill.empty(likelihood.shape, np.float32)
    log_joint = np.log(np.clip(joint, 1e-300, None))
    for start in range(0, len(labels), CHUNK_ROWS):
        sl = slice(start, start + CHUNK_ROWS)
        lr = gamma * np.log(np.clip(likelihood[sl].astype(np.float64), 1e-300, None))
        lr += log_joint[labels[sl]]
        lr -= lr.max(axis=1, keepdims=True)
        p = np.exp(lr)
        out[sl] = p / p.sum(axis=1, keepdims=True)
    return out


def decide_labels(
    labels: np.ndarray,
    likelihood: np.ndarray,
    *,
    skill: float,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    gamma: float = GAMMA["linear"],
    alpha: float = ALPHA,
    credibility: np.ndarray | None = None,
    threshold: float | None = None,
    protected: np.ndarray | None = None,
    reviewed: np.ndarray | None = None,
    engine: Any = None,
    estimate_skill: float | None = None,
) -> Decisions:
    """Flags, automatic changes and abstentions under the noisy-channel posterior.

    Parameters
    ----------
    labels : np.ndarray
        ``(N,)`` int given labels.
    likelihood : np.ndarray
        ``(N, K)`` prior-balanced combined posterior (class likelihoods, rows sum to 1).
    skill : float
        :func:`signal_skill` of the signal the diagnosis reads.
    target_precision : float
        Change a label only where the estimated probability of being right is at least this.
    gamma, alpha : float
        Likelihood exponent and confident-joint smoothing (module docstring).
    credibility : np.ndarray, optional
        ``(N,)`` ``likelihood`` at the given labels: with ``threshold`` (which needs it), flag
        where ``credibility < threshold``; and one half of :func:`suspicion` (read from
        ``likelihood`` when None).
    threshold : float, optional
        A user's flag threshold instead of the estimated noise count.
    protected : np.ndarray, optional
        ``(N,)`` bool rows that are never changed automatically (outliers).
    reviewed : np.ndarray, optional
        ``(N,)`` int reviewer's class per row, -1 where nobody reviewed it. Reviewed rows are
        never flagged or changed; they recalibrate the confidence of the others
        (:mod:`relabel.detect.calibrate`), and the errors they confirmed are taken off the
        number of flags.
    engine : DaskEngine, optional
        Run the row-wise passes (confident classes, the noisy-channel posterior) on a Dask
        cluster, block by block (``DECIDE_BLOCK_ROWS``); the class thresholds, the joint and
        everything after are merged here from ``(N,)`` results. The same floats as here.
    estimate_skill : float, optional
        The best skill of any signal (default ``skill``): below ``MIN_SKILL`` nothing is
        flagged on the estimated noise (module docstring).
    """
    from relabel.engine import blocks_on

    n = len(labels)
    blocks = _row_blocks(n)
    parts = [(likelihood[sl], labels[sl]) for sl in blocks]
    # one confident-learning pass serves the noise rate (its off-diagonal share) and the joint
    counts, self_confidence, recognised = _class_test(labels, likelihood)
    thresholds = np.where(recognised, self_confidence, 1.0)  # per_class_thresholds
    confident = np.empty(n, dtype=np.int64)
    for i, part in blocks_on(engine, _confident_block, parts, thresholds=thresholds):
        confident[blocks[i]] = part
    noise_rate = float(_off_diagonal(labels, confident).mean()) if n else 0.0
    joint = estimate_joint(labels, likelihood, alpha=alpha, confident=confident)
    p_keep, alt = np.empty(n), np.empty(n, dtype=np.int64)
    p_alt: np.ndarray = np.empty(n)
    for i, (keep_i, alt_i, p_alt_i) in blocks_on(engine, _channel_block, parts, joint=joint,
                                                  gamma=gamma):
        p_keep[blocks[i]], alt[blocks[i]], p_alt[blocks[i]] = keep_i, alt_i, p_alt_i
    p_wrong = 1.0 - p_keep
    # the lists' order, from the signals' view: before any reviewer's answer replaces p_wrong
    order_score = suspicion(credibility if credibility is not None
                            else likelihood[np.arange(n), labels], p_wrong)
    can_separate = bool(skill >= MIN_SKILL)
    can_estimate = bool((skill if estimate_skill is None else estimate_skill) >= MIN_SKILL)
    rev = (np.zeros(n, dtype=bool) if reviewed is None else np.asarray(reviewed) >= 0)
    calibration = None
    if reviewed is not None and rev.any():
        # forecasts made without the rows' own labels (out-of-fold, leave-one-out) against what
        # the reviewers chose
        calibration = fit_calibration(p_alt[rev], reviewed[rev] == alt[rev], alt[rev],
                                      likelihood.shape[1])
        p_est = np.where(rev, p_alt, calibration.apply(p_alt, alt))
        # bolder only: a reviewer's own mistakes look like relabel's, so disagreement never
        # undoes a change the rule makes on its own (a 10%-wrong simulated reviewer lowered
        # banking77 from 92.2% to 88.3% right labels that way, bench/RESULTS.md); the estimate
        # reported (confidence, expected right changes) is the reviewers' view
        p_decide = np.maximum(p_alt, p_est)
        p_alt = p_est
    else:
        p_decide = p_alt
    # a class the signals do not recognise was not learned out of fold: its rows' disagreement
    # with it is no evidence against their labels (they are flagged, never changed)
    unrecognised = (counts > 1) & ~recognised
    change = ((p_decide >= target_precision) & (counts[labels] > 1) & ~unrecognised[labels]
              & can_separate & ~rev)
    if protected is not None:
        change &= ~protected
    if threshold is not None:
        if credibility is None:
            raise ValueError("threshold needs credibility")
        flagged = credibility < threshold
    elif not can_estimate:
        # the noise estimate reads the signals that just failed to separate the classes: with
        # random embeddings it put 96.7% of the labels wrong (module docstring)
        flagged = np.zeros(n, dtype=bool)
    else:
        # the estimated wrong labels, less those the reviewers already found
        confirmed = int((rev & (np.asarray(reviewed) != labels)).sum()) if rev.any() else 0
        n_flag = max(0, round(noise_rate * n) - confirmed)
        flagged = np.zeros(n, dtype=bool)
        if n_flag:
            # reviewed rows last: they are never flagged, and must not take a flag's place
            order = np.argsort(np.where(rev, np.inf, -p_wrong), kind="stable")
            flagged[order[: min(n_flag, int((~rev).sum()))]] = True
    flagged &= ~rev
    flagged |= change
    if rev.any():  # what the reviewers found: the given label was wrong or it was not
        p_wrong = np.where(rev, (np.asarray(reviewed) != labels).astype(np.float64), p_wrong)
    suggested = np.where(change, alt, -1)
    return Decisions(
        flagged=flagged, suggested=suggested,
        confidence=np.where(change, p_alt, np.nan), alternative=alt, alternative_prob=p_alt,
        p_wrong=p_wrong, suspicion=order_score, joint=joint, noise_rate=noise_rate,
        expected_right=float(p_alt[change].sum()),
        expected_wrong=float((1.0 - p_alt[change]).sum()),
        skill=float(skill), can_separate=can_separate, can_estimate=can_estimate,
        class_sizes=(int(counts[counts > 0].min()) if n else 0,
                     float(np.median(counts[counts > 0])) if n else 0.0),
        reviewed=int(rev.sum()),
        calibration=calibration,
        unrecognised=tuple(int(c) for c in np.flatnonzero(unrecognised)))


def decide(
    labels: np.ndarray,
    posteriors: dict[str, np.ndarray],
    *,
    weights: dict[str, float],
    prior_balance: float = DEFAULT_PRIOR_BALANCE,
    threshold: float | None = None,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    graph: Any = None,
    texts: Sequence[str] | None = None,
    gamma: float | None = None,
    corrector: str | None = None,
    reviewed: np.ndarray | None = None,
    engine: Any = None,
) -> DecisionResult:
    """The decision step (METHOD.md §5): one posterior from the signals, then flags, changes
    and reasons.

    The combined posterior is the weighted geometric mean of the signals, balanced by the class
    prior (:mod:`relabel.detect.combine`); the decisions follow the noisy-channel rule of this
    module (a label is changed only where the estimated probability of the change being right is
    at least ``target_precision``). With the kNN ``graph`` (and the encoder ``texts`` for exact
    duplicates) duplicate conflicts and outliers are flagged too (:mod:`relabel.detect.reasons`).

    Parameters
    ----------
    labels : np.ndarray
        ``(N,)`` int given labels.
    posteriors : dict of str to np.ndarray
        Signal name (``knn``, ``kde``, ``cv``) -> ``(N, K)`` posterior.
    weights : dict of str to float
        Exponent of each signal in the combined posterior.
    prior_balance : float
        Exponent of the class prior divided out.
    threshold : float, optional
        Flag where credibility is below this instead of the estimated noise count.
    target_precision : float
        Change a label only where the estimated probability of being right reaches this.
    graph : relabel.detect.neighbors.KnnGraph, optional
        For duplicate conflicts and outliers.
    texts : sequence of str, optional
        ``N`` encoder inputs, for exact duplicates (default: cosine only).
    gamma : float, optional
        Overrides ``GAMMA[corrector]`` (benchmarks).
    corrector : str, optional
        What produced ``cv`` (``linear``, ``head``, ``finetune``; default ``linear`` when ``cv``
        is weighted, else ``none``); selects ``GAMMA``.
    reviewed : np.ndarray, optional
        ``(N,)`` int reviewer's class per row, -1 where nobody reviewed it (``labels`` stay the
        original given labels): see :func:`decide_labels`.
    engine : DaskEngine, optional
        Compute the combined posterior and the decisions' row-wise passes on a Dask cluster,
        block by block (:func:`decide_labels`); the result is the same as here.

    Returns
    -------
    DecisionResult
    """
    from relabel.engine import remote

    engine = remote(engine)
    n_classes = next(iter(posteriors.values())).shape[1]
    held_out = weights.get("cv", 0.0) > 0 and "cv" in posteriors
    prior = np.bincount(labels, minlength=n_classes) / len(labels)
    posterior = combined_posterior(posteriors, weights, prior, beta=prior_balance,
                                   floor=PRIOR_FLOOR if held_out else 0.0, engine=engine)
    credibility = given_label_score(labels, posterior)
    skill = signal_skill(labels, posteriors["cv"] if held_out else posteriors["knn"])
    # the best any signal does, for whether the noise can be estimated at all
    other = [k for k in ("cv", "knn") if k in posteriors
             and k != ("cv" if held_out else "knn")]
    estimate_skill = max([skill, *(signal_skill(labels, posteriors[k]) for k in other)])
    conflict = np.zeros(len(labels), dtype=bool)
    majority = np.full(len(labels), -1, dtype=np.int64)
    outlier = np.zeros(len(labels), dtype=bool)
    if graph is not None:
        groups = duplicate_groups(texts, graph.indices, graph.sims)
        conflict, majority, _ = duplicate_conflicts(labels, groups)
        outlier = outliers(graph.sims[:, 0])
    dec = decide_labels(labels, posterior, skill=skill, target_precision=target_precision,
                        gamma=gamma if gamma is not None else
                        GAMMA[(corrector or "linear") if held_out else "none"],
                        credibility=credibility, threshold=threshold, protected=outlier,
                        reviewed=reviewed, engine=engine, estimate_skill=estimate_skill)
    if reviewed is not None:  # a reviewer's decision settles a conflict or an outlier too
        conflict &= np.asarray(reviewed) < 0
        outlier &= np.asarray(reviewed) < 0
    flagged = dec.flagged | conflict | outlier
    alternative = np.where(conflict & (majority >= 0), majority, dec.alternative)
    rows = np.arange(len(labels))
    p_cv = posteriors["cv"][rows, labels] if held_out else None
    if "knn" in posteriors:
        p_knn = posteriors["knn"][rows, labels]
    else:  # no neighbours (a model's probabilities alone): only the model can disagree
        p_knn = np.ones(len(labels)) if held_out else credibility
    return DecisionResult(
        posterior=posterior, credibility=credibility, flagged=flagged,
        suggested=dec.suggested, confidence=dec.confidence, alternative=alternative,
        alternative_prob=np.where(alternative == dec.alternative, dec.alternative_prob, np.nan),
        p_wrong=dec.p_wrong, suspicion=dec.suspicion,
        reason=flag_reasons(flagged, conflict=conflict, outlier=outlier, p_knn=p_knn, p_cv=p_cv,
                            not_learned=np.isin(labels, dec.unrecognised)),
        decisions=dec, duplicate_conflicts=int(conflict.sum()), outliers=int(outlier.sum()))
