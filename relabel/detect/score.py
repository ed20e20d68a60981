"""The scoring core (METHOD.md §2-5): embeddings and labels in, signals and decisions out.

``neighbour_signals`` (kNN vote, KDE, credibility, soft labels) -> optional cross-validated
corrector (``cv``) -> ``decide`` (one balanced posterior, flags, suggestions). Pure apart from the
corrector's optional fold cache.

Passes
------
One pass judges the given labels with signals learned from those same labels, so where a fifth
of them are wrong the corrector has learned part of the noise and the rule stays careful. With
the linear corrector :func:`score_examples` then judges again: the labels the first pass changed
are taken as the labels, every signal is learned again on them (new folds of the corrector, the
same kNN graph), and the rule decides on the result; ``PASSES`` passes in all, and only while a
pass changes more than ``MIN_PASS_CHANGES`` (0.3%) of the rows, the most a clean set may have
changed: a run that changes no more than that costs one pass, and its decisions are the first
pass's. Each change carries the probability of the pass that made it; everything that judges
the *given* labels (credibility, flags, reasons, suspicion, the noise estimate, the signals
written to the run) stays the first pass's, and a row changed by a later pass is flagged too
(:func:`relabel.detect.decisions.merge_passes`). Reviewed rows stay trusted in every pass and are
never changed; rows held for a human (``hold``) or a run whose changes are withheld change in no
pass.

A later pass with the linear corrector leaves out the KDE, which only makes the soft labels that
corrector does not read (the decisions weigh the corrector and the kNN vote).

The number of passes was chosen by leave-one-dataset-out on the 22 development sets
(``bench/bench_passes.py``): P passes are kept where, on the other sets, the changes that pass P
adds are at least the target precision right (pooled over the noisy sets), no noisy set ends
below its accuracy before, and no clean or subjective control has more than 0.3% of its rows
changed. 20 of the 22 folds chose 2 passes; the third pass's own changes were 0.889 right (the
two folds without banking77-2k or the example chose 4). With 2 passes banking77 with 20% noise
ends at 93.4% right labels instead of 92.2% (1,378 changes, 1,350 right) and banking77-2k at
88.4% instead of 86.9% (89.25% left out, at 4 passes). The clean and subjective controls change
no more than with one pass: the first pass changes at most 0.19% of their rows, so no second
pass runs. bench/RESULTS.md, "Passes".
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from relabel.config import DEFAULT_FOLDS, DEFAULT_PRIOR_BALANCE, DEFAULT_TARGET_PRECISION
from relabel.correct.crossval import oof_key, out_of_fold_proba
from relabel.detect.combine import PRIOR_FLOOR, given_label_score
from relabel.detect.decide import (
    CORRECTOR_WEIGHTS,
    DEFAULT_WEIGHTS,
    WORDS_CORRECTOR,
    combined_posterior,
    decide,
)
from relabel.detect.decisions import (
    DecisionResult,
    hold_for_review,
    merge_passes,
    withhold_changes,
)
from relabel.detect.kde import soft_labels
from relabel.detect.knn import K_GRID
from relabel.detect.neighbors import KnnGraph, build_knn_graph
from relabel.detect.scorers import SCORERS
from relabel.engine import remote

#: neighbours that count as "near" in the distant-peer loss
PEER_K = 10
#: nearest rows kept per example for the report
REPORT_NEIGHBORS = 5
#: a reviewed row's weight in the corrector's loss, against 1 for a row with its given label,
#: for correctors whose ``fit`` takes ``sample_weight`` (linear, head): a reviewer's label is
#: known right, a given one only probably. Chosen among 1, 3, 10, 30 and 100 by
#: leave-one-dataset-out on the simulated review loop (``bench/bench_review_loop.py
#: --choose-weight``): every held-out set chose 30; at 100 the loop's accuracy fell between
#: rounds on trec. The head was checked at 1 and 30 only (30 chosen by every held-out set)
REVIEWED_WEIGHT = 30.0
#: passes of the rule per corrector (:func:`score_examples`, module docstring "Passes"); a
#: corrector not named here judges the labels once
PASSES = {"linear": 2}
#: a later pass runs only where the pass before changed more than this share of the rows: the
#: most the trust issue allows on a clean set, so a run that changed no more than a clean set
#: may is not judged again (its labels barely moved, and a second look at the same signals is a
#: second chance for a borderline row to pass). Not tuned: the limit every clean control is held
#: to (module docstring, "Passes")
MIN_PASS_CHANGES = 0.003


@dataclass(frozen=True)
class NeighbourSignals:
    """Stage 2 of METHOD.md, what :func:`neighbour_signals` returns.

    Attributes
    ----------
    graph : KnnGraph
        The kNN graph every scorer shares.
    posteriors : dict of str to np.ndarray
        Signal name (``knn``, ``kde``) -> ``(N, K)``.
    params : dict
        What each scorer chose, and the graph's method.
    credibility : np.ndarray
        ``(N,)`` under the balanced combination of these signals.
    soft_labels : np.ndarray
        ``(N, K)`` (METHOD.md §3).
    radius : np.ndarray
        ``(N,)`` similarity of each example's ``PEER_K``-th neighbour ("near" for the
        distant-peer loss).
    """

    graph: KnnGraph
    posteriors: dict[str, np.ndarray]
    params: dict[str, Any]
    credibility: np.ndarray
    soft_labels: np.ndarray
    radius: np.ndarray


@dataclass(frozen=True)
class ScoringResult(DecisionResult):
    """What :func:`score_examples` returns: the decisions (every field of
    :class:`~relabel.detect.decisions.DecisionResult`) and the signals behind them.

    Attributes
    ----------
    posteriors : dict of str to np.ndarray
        Signal name (``knn``, ``kde``, and ``cv`` with a corrector) -> ``(N, K)``.
    soft_labels : np.ndarray
        ``(N, K)`` soft labels the corrector trained on.
    params : dict
        What each scorer chose.
    oof : dict or None
        Fold information of the corrector (None without one).
    neighbors : np.ndarray
        ``(N, REPORT_NEIGHBORS)`` nearest rows of each example (for the report).
    """

    posteriors: dict[str, np.ndarray] = None  # type: ignore[assignment]
    soft_labels: np.ndarray = None  # type: ignore[assignment]
    params: dict[str, Any] = None  # type: ignore[assignment]
    oof: dict[str, Any] | None = None
    neighbors: np.ndarray = None  # type: ignore[assignment]


def neighbour_signals(
    embeddings: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    weights: dict[str, float] | None = None,
    prior_balance: float = DEFAULT_PRIOR_BALANCE,
    seed: int = 0,
    progress: Any = None,
    engine: Any = None,
    graph: KnnGraph | None = None,
    soft: bool = True,
) -> NeighbourSignals:
    """Stage 2 of METHOD.md: kNN vote and KDE posteriors, credibility and soft labels.

    The credibility here is under the balanced combination of these signals, the prior floored
    at ``PRIOR_FLOOR / K`` as the corrector trained on the soft labels will be.

    ``graph``: a kNN graph of these embeddings already built (a later pass of the rule reuses
    the first's), else one is built here. ``soft=False`` (a later pass whose corrector does not
    read them): no KDE unless ``weights`` weigh it, and one-hot soft labels.

    With a Dask ``engine``, the approximate graph (the rows' lists, the exact samples, the
    lists' search), the kNN vote, the KDE and the combined posterior are computed on the
    cluster in blocks of rows and merged here (the same result as a local run); the soft labels
    are made here, where the corrector and the run's files need them.

    Returns
    -------
    NeighbourSignals
    """
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    tick = progress.update if progress is not None else (lambda n=1: None)
    engine = remote(engine)
    t0 = time.perf_counter()
    if graph is None:
        graph = build_knn_graph(embeddings, k=max(K_GRID), seed=seed, engine=engine)
    seconds = {"graph": round(time.perf_counter() - t0, 2)}
    tick(1)
    posteriors: dict[str, np.ndarray] = {}
    params: dict[str, Any] = {}
    for name, scorer in SCORERS.items():
        if weights.get(name, 0.0) > 0 or (name == "kde" and soft):
            t0 = time.perf_counter()
            posteriors[name], params[name] = scorer(embeddings, labels, n_classes, graph,
                                                    seed=seed, engine=engine)
            seconds[name] = round(time.perf_counter() - t0, 2)
        tick(1)
    prior = np.bincount(labels, minlength=n_classes) / len(labels)
    base = {k: v for k, v in weights.items() if k in posteriors}
    posterior = combined_posterior(posteriors, base or DEFAULT_WEIGHTS, prior,
                                   beta=prior_balance, floor=PRIOR_FLOOR, engine=engine)
    credibility = given_label_score(labels, posterior)
    return NeighbourSignals(
        graph=graph,
        posteriors=posteriors,
        params={**params, "seconds": seconds,
                "neighbors": {"method": graph.method, "k": graph.k, **(graph.search or {}),
                              **({"engine": engine.name} if engine is not None else {}),
                              **({"recall_at_k": round(graph.recall, 4)}
                                 if graph.recall is not None else {})}},
        credibility=credibility,
        soft_labels=(soft_labels(labels, credibility, posteriors["kde"]) if "kde" in posteriors
                     else np.eye(n_classes, dtype=np.float32)[labels]),
        radius=graph.sims[:, min(PEER_K, graph.k) - 1].astype(np.float32),
    )


def word_probabilities(words: Any, labels: np.ndarray, n_classes: int, *, folds: int,
                       seed: int, sample_weight: dict[str, np.ndarray] | None = None,
                       cache: Path | None = None, progress: Any = None, engine: Any = None
                       ) -> tuple[np.ndarray, dict[str, Any]]:
    """The word model's ``(N, K)`` out-of-fold probabilities on ``words (N, V)``
    (:func:`relabel.correct.lexical.word_features`), on the folds of ``folds`` and ``seed``,
    with :func:`relabel.correct.crossval.out_of_fold_proba`'s ``info``. ``sample_weight``:
    ``{"sample_weight": (N,)}`` or None; ``cache``: the folds' directory."""
    from relabel.correct.lexical import word_corrector

    model = word_corrector(n_classes)
    # folds in threads, as the embeddings' model: SciPy's sparse products run on one core
    # (5 folds on banking77's words: 1.7 s in 3 threads on 2 cores, 2.4 s one after another)
    return out_of_fold_proba(model, words, labels, n_classes, folds=folds, seed=seed,
                             fit_params=sample_weight, cache_dir=cache,
                             n_jobs=fold_jobs(model, folds), progress=progress, engine=engine)


def _with_words(cv: np.ndarray, words: Any, labels: np.ndarray, n_classes: int, *,
                fit_params: dict[str, np.ndarray], folds: int, seed: int,
                oof_cache: Path | None, inputs_key: str, fold_progress: Any,
                engine: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """``cv (N, K)`` averaged with the word model's out-of-fold probabilities on the same folds
    where the words help (:func:`relabel.correct.lexical.words_help`), else ``cv`` as it is;
    the word model's folds are cached under their own key (its parameters and features)."""
    from relabel.correct.lexical import (
        LEXICAL_WEIGHT,
        MIN_DF,
        average_with_words,
        word_corrector,
        words_help,
    )

    weight = {k: v for k, v in fit_params.items() if k == "sample_weight"}
    cache = None
    if oof_cache is not None:
        cache = Path(oof_cache) / oof_key(word_corrector(n_classes), labels, folds, seed,
                                          f"{inputs_key}:words-tfidf-min_df{MIN_DF}", weight)
    p_words, info = word_probabilities(words, labels, n_classes, folds=folds, seed=seed,
                                       sample_weight=weight, cache=cache,
                                       progress=fold_progress, engine=engine)
    use, skill_words, skill_embeddings = words_help(labels, cv, p_words)
    info.update(used=use, weight=LEXICAL_WEIGHT, features=int(words.shape[1]),
                skill=round(skill_words, 4), embeddings_skill=round(skill_embeddings, 4))
    return (average_with_words(cv, p_words) if use else cv), info


def corrector_fit_params(estimator: Any, signals: NeighbourSignals, embeddings: np.ndarray,
                         trusted: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-example arrays a corrector's ``fit`` takes: soft labels, credibility, kNN radius
    (not for a corrector that declares ``reads_soft_labels = False``, the linear one: each fold
    would copy its rows of them for nothing) and, for correctors that accept them, the frozen
    embeddings and ``sample_weight`` (``REVIEWED_WEIGHT`` on the ``trusted (N,)`` reviewed rows,
    1 elsewhere; only when some row is reviewed)."""
    import inspect

    params: dict[str, np.ndarray] = {}
    if getattr(estimator, "reads_soft_labels", True):
        params = {"soft_labels": signals.soft_labels.astype(np.float32, copy=False),
                  "credibility": signals.credibility.astype(np.float32),
                  "radius": signals.radius}
    accepted = inspect.signature(estimator.fit).parameters
    if "frozen" in accepted:
        params["frozen"] = embeddings
    if trusted is not None and "sample_weight" in accepted:
        params["sample_weight"] = np.where(trusted, REVIEWED_WEIGHT, 1.0).astype(np.float32)
    return params


def fold_jobs(corrector: Any, folds: int) -> int:
    """Folds to train at the same time: one more than the CPU cores for correctors that allow it
    (the head on CPU, see :mod:`relabel.correct.crossval`), else 1. The head's small steps spend
    much of their time in Python holding the GIL; a third thread on 2 cores overlaps that with
    the others' kernels (5 folds on banking77: 12.3-12.6 s of scoring instead of 13.7-13.9 s with
    two threads, bench/bench_speed.py)."""
    import os

    if not getattr(corrector, "parallel_folds_safe", False):
        return 1
    device = getattr(corrector, "device", None)
    if device is not None and not str(device).startswith("cpu"):
        return 1
    if device is None:
        import torch

        if torch.cuda.is_available():
            return 1
    return max(1, min(folds, (os.cpu_count() or 1) + 1))


def score_examples(
    embeddings: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    weights: dict[str, float] | None = None,
    threshold: float | None = None,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    texts: Sequence[str] | None = None,
    prior_balance: float = DEFAULT_PRIOR_BALANCE,
    corrector: Any = None,
    corrector_input: np.ndarray | None = None,
    folds: int = DEFAULT_FOLDS,
    oof_cache: Path | None = None,
    inputs_key: str = "",
    seed: int = 0,
    progress: Any = None,
    fold_progress: Any = None,
    engine: Any = None,
    reviewed: np.ndarray | None = None,
    vote_counts: np.ndarray | None = None,
    hold: np.ndarray | None = None,
    withhold: str | None = None,
    words: Any = None,
    passes: int | None = None,
) -> ScoringResult:
    """The scoring core: embeddings and labels in, signals and decisions out.

    Parameters
    ----------
    embeddings : np.ndarray
        ``(N, D)`` float32, L2-normalised.
    labels : np.ndarray
        ``(N,)`` int class codes.
    n_classes : int
        Number of classes K.
    weights : dict, optional
        Exponent of each signal (``knn``, ``kde``, ``cv``) in the combined posterior; default
        ``DEFAULT_WEIGHTS``, or ``CORRECTOR_WEIGHTS`` with a corrector.
    threshold : float, optional
        Flag where credibility is below this instead of the estimated noise count.
    target_precision : float
        Change a label only where the estimated probability of being right reaches this
        (:mod:`relabel.detect.decide`).
    texts : sequence of str, optional
        The encoder's input strings, for exact-duplicate conflicts (default: cosine only).
    prior_balance : float
        Exponent beta of the class prior divided out of the combined posterior.
    corrector : sklearn estimator, optional
        Unfitted corrector; its out-of-fold probabilities become the ``cv`` signal.
    corrector_input : np.ndarray, optional
        ``(N, ...)`` what the corrector reads (default: the embeddings; texts for finetune).
    folds : int
        Cross-validation folds.
    oof_cache : Path, optional
        Directory for finished folds, so a re-run or a crashed run reuses them.
    inputs_key : str
        Identity of the inputs for the fold cache key (encoder key and text hashes).
    seed : int
        Seed for parameter selection and the folds.
    progress, fold_progress : tqdm-like, optional
        ``update(1)`` after each scoring step / each fold.
    engine : relabel.engine.DaskEngine, optional
        Train the corrector's folds, search the approximate graph's lists, and compute the
        kNN vote's, the KDE's and the decisions' blocks of rows on a Dask cluster (default:
        here; the same result).
    reviewed : np.ndarray, optional
        ``(N,)`` int class a reviewer gave each row, -1 where nobody did. Reviewed rows are
        trusted: their reviewed label replaces the given one in the neighbour votes, the KDE
        and the corrector's training (one-hot soft label, credibility 1, and ``REVIEWED_WEIGHT``
        in the loss of a corrector that takes ``sample_weight``); they are
        never flagged or changed, and they recalibrate the decisions on the others
        (:mod:`relabel.detect.calibrate`).
    vote_counts : np.ndarray, optional
        ``(N, K)`` annotators' votes per class (several annotators per item). The soft label
        becomes the vote distribution with the KDE soft label as one more vote:
        ``(counts + soft) / (n_votes + 1)``.
    hold : np.ndarray, optional
        ``(N,)`` rows that must go to a human and are never changed automatically: bool
        (annotators split where the embeddings cannot decide either: reason
        ``annotators_split``), or each held row's reason and None or ``""`` elsewhere
        (:func:`relabel.detect.decisions.hold_for_review`); flagged with no suggestion.
    withhold : str, optional
        Change nothing automatically, for this reason (reviewers found an earlier round's
        changes mostly wrong, :mod:`relabel.review.spotcheck`); flags are unchanged.
    words : scipy.sparse matrix, optional
        ``(N, V)`` the texts' word features (:func:`relabel.correct.lexical.word_features`):
        with the linear corrector, a word model's out-of-fold probabilities, on the same
        folds, are averaged into ``cv`` (:mod:`relabel.correct.lexical`).
    passes : int, optional
        Passes of the rule (module docstring, "Passes"); default ``PASSES`` of the corrector
        (2 for ``linear``, else 1). 1: the given labels are judged once.

    Returns
    -------
    ScoringResult
    """
    total = PASSES.get(getattr(corrector, "name", None) or "", 1) if passes is None else passes
    if total < 1:
        raise ValueError(f"passes must be at least 1, got {total}")
    options = dict(weights=weights, threshold=threshold, target_precision=target_precision,
                   texts=texts, prior_balance=prior_balance, corrector=corrector,
                   corrector_input=corrector_input, folds=folds, oof_cache=oof_cache,
                   inputs_key=inputs_key, seed=seed, engine=engine, reviewed=reviewed,
                   vote_counts=vote_counts, hold=hold, withhold=withhold, words=words)
    done = [_steps_done(progress), _steps_done(fold_progress)]
    first, graph = _score_pass(embeddings, labels, n_classes, progress=progress,
                               fold_progress=fold_progress, **options)
    # a later pass makes as many steps as the first (its bars grow by that much)
    per_pass = [_steps_done(progress) - done[0], _steps_done(fold_progress) - done[1]]
    given = np.asarray(labels, dtype=np.int64)
    current, res, ran = given, first, 1
    confidence = np.asarray(first.confidence, dtype=np.float64).copy()
    change_pass = (first.suggested >= 0).astype(np.int64)
    reason = list(first.reason)
    for p in range(2, total + 1):
        moved = res.suggested >= 0
        if moved.sum() <= MIN_PASS_CHANGES * len(given):
            break
        current = np.where(moved, res.suggested, current)
        _more_steps(progress, per_pass[0])
        _more_steps(fold_progress, per_pass[1])
        res, _ = _score_pass(embeddings, current, n_classes, progress=progress,
                             fold_progress=fold_progress, graph=graph, **options)
        ran = p
        now = res.suggested >= 0
        confidence[now] = res.confidence[now]
        change_pass[now] = p
        for i in np.flatnonzero(now).tolist():
            reason[i] = res.reason[i]
    if ran == 1:
        return first
    final = np.where(res.suggested >= 0, res.suggested, current)
    return merge_passes(first, given, final, confidence, change_pass, reason, ran)


def _steps_done(bar: Any) -> int:
    """How many steps a tqdm-like ``bar`` has made (0 without one)."""
    return int(getattr(bar, "n", 0) or 0)


def _more_steps(bar: Any, steps: int) -> None:
    """Add ``steps`` to a tqdm-like ``bar``'s total (a later pass of the rule), if it has one."""
    if steps and bar is not None and getattr(bar, "total", None) is not None:
        bar.total += steps
        if hasattr(bar, "refresh"):
            bar.refresh()


def _score_pass(embeddings: np.ndarray, labels: np.ndarray, n_classes: int, *,
                weights: dict[str, float] | None, threshold: float | None,
                target_precision: float, texts: Sequence[str] | None, prior_balance: float,
                corrector: Any, corrector_input: np.ndarray | None, folds: int,
                oof_cache: Path | None, inputs_key: str, seed: int, progress: Any,
                fold_progress: Any, engine: Any, reviewed: np.ndarray | None,
                vote_counts: np.ndarray | None, hold: np.ndarray | None, withhold: str | None,
                words: Any, graph: KnnGraph | None = None) -> tuple[ScoringResult, KnnGraph]:
    """One pass of :func:`score_examples` on ``labels`` (its parameters; ``graph``: the first
    pass's, reused: then the KDE is left out where the corrector does not read the soft
    labels), and the kNN graph it used."""
    if weights is None:
        weights = dict(CORRECTOR_WEIGHTS if corrector is not None else DEFAULT_WEIGHTS)
    given = labels
    if reviewed is not None and (np.asarray(reviewed) >= 0).any():
        trusted = np.asarray(reviewed) >= 0
        labels = np.where(trusted, reviewed, labels).astype(np.int64)
    else:
        trusted, reviewed = None, None
    sig = neighbour_signals(embeddings, labels, n_classes, weights=weights,
                            prior_balance=prior_balance, seed=seed, progress=progress,
                            engine=engine, graph=graph,
                            soft=graph is None or getattr(corrector, "reads_soft_labels", True))
    if trusted is not None:
        soft = sig.soft_labels.copy()
        soft[trusted] = np.eye(n_classes, dtype=soft.dtype)[labels[trusted]]
        sig = replace(sig, soft_labels=soft,
                      credibility=np.where(trusted, 1.0, sig.credibility).astype(
                          sig.credibility.dtype))
    if vote_counts is not None:
        counts = np.asarray(vote_counts, dtype=np.float64)
        soft = (counts + sig.soft_labels) / (counts.sum(1, keepdims=True) + 1.0)
        sig = replace(sig, soft_labels=soft.astype(sig.soft_labels.dtype))
    posteriors = dict(sig.posteriors)
    oof_info = None
    name = getattr(corrector, "name", None)  # selects the rule's gamma (and the words)
    seconds = dict(sig.params.get("seconds", {}))
    t0 = time.perf_counter()
    if corrector is not None:
        fit_params = corrector_fit_params(corrector, sig, embeddings, trusted)
        cache = None
        if oof_cache is not None:
            cache = Path(oof_cache) / oof_key(corrector, labels, folds, seed, inputs_key,
                                              fit_params)
        posteriors["cv"], oof_info = out_of_fold_proba(
            corrector, embeddings if corrector_input is None else corrector_input, labels,
            n_classes, folds=folds, seed=seed, fit_params=fit_params, cache_dir=cache,
            n_jobs=fold_jobs(corrector, folds), progress=fold_progress, engine=engine)
        oof_info["corrector"] = type(corrector).__name__
        if "sample_weight" in fit_params:  # reviewed rows' weight in the corrector's loss
            oof_info["reviewed_weight"] = REVIEWED_WEIGHT
        seconds["corrector"] = round(time.perf_counter() - t0, 2)
        if words is not None and name == "linear":
            t0 = time.perf_counter()
            posteriors["cv"], oof_info["words"] = _with_words(
                posteriors["cv"], words, labels, n_classes, fit_params=fit_params,
                folds=folds, seed=seed, oof_cache=oof_cache, inputs_key=inputs_key,
                fold_progress=fold_progress, engine=engine)
            seconds["words"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    # the rule judges the given labels; reviewed rows only recalibrate it (their forecasts never
    # saw their labels: the folds hold them out, the kNN vote and the KDE leave them out)
    if oof_info is not None and oof_info.get("words", {}).get("used"):
        name = WORDS_CORRECTOR  # its own gamma
    dec = decide(given, posteriors, weights=weights, prior_balance=prior_balance,
                 threshold=threshold, target_precision=target_precision, graph=sig.graph,
                 texts=texts, corrector=name, reviewed=reviewed, engine=engine)
    if hold is not None:  # a row not held keeps its decision
        dec = hold_for_review(dec, np.asarray(hold))
    if withhold is not None:
        dec = withhold_changes(dec, withhold)
    seconds["decide"] = round(time.perf_counter() - t0, 2)
    if progress is not None:
        progress.update(1)
    return ScoringResult(**{f.name: getattr(dec, f.name) for f in fields(DecisionResult)},
                         posteriors=posteriors, soft_labels=sig.soft_labels,
                         params={**sig.params, "seconds": seconds},
                         oof=oof_info, neighbors=sig.graph.indices[:, :REPORT_NEIGHBORS]), sig.graph
