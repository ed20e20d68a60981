"""``relabel.find_label_issues``: label issues from a user's own signals (arrays in, a frame out),
under relabel's decision rule (:func:`relabel.detect.decide.decide`).

Validates its arrays once (one-line ``RelabelInputError``), then runs the same code as ``denoise``:
the neighbour signals when embeddings are given, the decisions on the out-of-fold probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from relabel.config import DEFAULT_SEED, DEFAULT_TARGET_PRECISION, DenoiseConfig
from relabel.errors import RelabelInputError


def _check_probs(pred_probs: Any, n: int) -> np.ndarray:
    try:
        probs = np.asarray(pred_probs, dtype=np.float64)
    except (TypeError, ValueError):
        raise RelabelInputError("pred_probs must be an (N, K) array of numbers",
                                path="pred_probs") from None
    if probs.ndim != 2 or probs.shape[0] != n or probs.shape[1] < 2:
        raise RelabelInputError(f"pred_probs have shape {probs.shape}; expected ({n}, K) with "
                                "K >= 2 (one row per label)", path="pred_probs")
    bad = ~np.isfinite(probs).all(axis=1) | (probs < 0).any(axis=1)
    if bad.any():
        finite = np.isfinite(probs).all()
        hint = ("; they look like logits or log-probabilities: pass the softmax "
                "(scipy.special.softmax(x, axis=1))" if finite and bad.mean() > 0.5 else "")
        raise RelabelInputError("pred_probs hold negative or non-finite values" + hint,
                                path="pred_probs", rows=(np.flatnonzero(bad) + 1).tolist())
    sums = probs.sum(axis=1, keepdims=True)
    if (sums <= 0).any():
        raise RelabelInputError("pred_probs rows sum to 0", path="pred_probs",
                                rows=(np.flatnonzero(sums[:, 0] <= 0) + 1).tolist())
    probs = probs / sums
    return np.clip(probs, 1e-6, None) / np.clip(probs, 1e-6, None).sum(axis=1, keepdims=True)


def find_label_issues(
    labels: Sequence[Any] | np.ndarray,
    pred_probs: Any = None,
    embeddings: Any = None,
    *,
    classes: Sequence[Any] | None = None,
    texts: Sequence[str] | None = None,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    return_all: bool = False,
    seed: int = DEFAULT_SEED,
) -> pl.DataFrame:
    """Label issues from your own signals, under relabel's decision rule.

    The rule is :func:`relabel.detect.decide.decide`: with ``pred_probs`` alone its exponent is
    ``GAMMA["pred_probs"]`` (chosen by leave-one-dataset-out with relabel's linear out-of-fold
    probabilities standing in for a user's model); with embeddings too, the signals are combined
    as for relabel's linear corrector (``cv`` 0.7, kNN vote 0.3) with its exponent.

    Parameters
    ----------
    labels : array-like
        ``(N,)`` given labels: class names, or integer codes into ``classes`` (with
        ``pred_probs``, codes ``0..K-1`` index its columns, as in cleanlab).
    pred_probs : array-like, optional
        ``(N, K)`` out-of-fold predicted probabilities of your model (each row from a model that
        did not train on that example). Used as relabel's cross-validated corrector.
    embeddings : array-like, optional
        ``(N, D)`` vectors of the examples: relabel adds its kNN vote and KDE, and flags
        duplicate conflicts and outliers.
    classes : sequence, optional
        The class of each column of ``pred_probs`` (default: ``0..K-1`` for integer labels,
        else the sorted distinct labels).
    texts : sequence of str, optional
        ``N`` texts, for exact-duplicate conflicts (with ``embeddings``).
    target_precision : float
        A label is changed only where the estimated probability that the change is right
        reaches this; otherwise relabel abstains (``suggested_label`` null).
    return_all : bool
        Every row in input order, with a ``flagged`` column, instead of the flagged rows least
        credible first.
    seed : int
        Seed of the KDE's parameter selection.

    Returns
    -------
    polars.DataFrame
        ``row, label, credibility, suggested_label, confidence, reason, p_wrong, suspicion,
        alternative_label`` (and ``flagged`` with ``return_all``), the flagged rows most
        suspicious first (:func:`relabel.detect.decide.suspicion`); labels in the type given.

    Raises
    ------
    RelabelInputError
        Neither ``pred_probs`` nor ``embeddings``, or arrays whose shapes or values do not fit.
    """
    from relabel.config import check_options
    from relabel.detect.decide import CORRECTOR_WEIGHTS, DEFAULT_WEIGHTS, decide
    from relabel.detect.score import neighbour_signals

    check_options(DenoiseConfig(target_precision=target_precision))
    if pred_probs is None and embeddings is None:
        raise RelabelInputError("give pred_probs (N, K), embeddings (N, D), or both",
                                path="find_label_issues")
    given = np.asarray(labels)
    if given.ndim != 1 or not len(given):
        raise RelabelInputError(f"labels must be a non-empty 1-D array, got shape "
                                f"{given.shape}", path="labels")
    n = len(given)
    probs = _check_probs(pred_probs, n) if pred_probs is not None else None
    if classes is None:
        if probs is not None and np.issubdtype(given.dtype, np.integer):
            classes = list(range(probs.shape[1]))
        else:
            classes = sorted(set(given.tolist()))
    cls = list(classes)
    index = {c: i for i, c in enumerate(cls)}
    try:
        codes = np.array([index[v] for v in given.tolist()], dtype=np.int64)
    except KeyError as exc:
        bad = [i + 1 for i, v in enumerate(given.tolist()) if v not in index]
        raise RelabelInputError(f"label {exc.args[0]!r} is not one of the classes",
                                path="labels", rows=bad) from None
    if probs is not None and probs.shape[1] != len(cls):
        raise RelabelInputError(f"pred_probs have {probs.shape[1]} columns but there are "
                                f"{len(cls)} classes; pass classes=", path="pred_probs")
    k = len(cls)
    posteriors: dict[str, np.ndarray] = {}
    graph = None
    if embeddings is not None:
        from relabel.embed.precomputed import embeddings_from_array

        emb = embeddings_from_array(embeddings, n_rows=n, rows=np.arange(n))
        sig = neighbour_signals(emb, codes, k, seed=seed)
        posteriors.update(sig.posteriors)
        graph = sig.graph
    if probs is not None:
        posteriors["cv"] = probs.astype(np.float32)
        weights = CORRECTOR_WEIGHTS if embeddings is not None else {"cv": 1.0}
    else:
        weights = DEFAULT_WEIGHTS
    res = decide(codes, posteriors, weights=weights, target_precision=target_precision,
                 graph=graph, texts=list(texts) if texts is not None else None,
                 corrector="linear" if embeddings is not None else "pred_probs")
    dec = res.decisions
    notes = []
    if not dec.can_separate:
        from relabel.detect.decisions import MIN_SKILL

        what = "pred_probs" if probs is not None else "the neighbour vote of the embeddings"
        notes.append(
            f"{what} predict the given labels barely better than the class prior (skill "
            f"{dec.skill:.2f} < {MIN_SKILL}): nothing is changed"
            + ("" if dec.can_estimate else " or flagged on an estimate of the noise")
            + (" (check that pred_probs are out-of-fold and that their columns follow "
               "classes=)" if probs is not None else ""))
    notes += [n for n in (dec.unrecognised_note([str(c) for c in cls]),) if n]
    if notes:
        import warnings

        from relabel.errors import RelabelWarning

        for note in notes:
            warnings.warn(note, RelabelWarning, stacklevel=2)
    from relabel.outputs import class_names, most_suspicious_first

    label_series = pl.Series("label", given.tolist())
    frame = pl.DataFrame({
        "row": np.arange(n, dtype=np.int64),
        "label": label_series,
        "credibility": res.credibility.astype(np.float64),
        "flagged": res.flagged,
        "suggested_label": class_names(cls, res.suggested, label_series.dtype),
        "confidence": pl.Series(res.confidence).fill_nan(None),
        "reason": pl.Series(res.reason, dtype=pl.String),
        "p_wrong": res.p_wrong.astype(np.float64),
        "suspicion": res.suspicion.astype(np.float64),
        "alternative_label": class_names(cls, res.alternative, label_series.dtype),
    })
    if return_all:
        return frame
    return most_suspicious_first(frame.filter(pl.col("flagged"))).drop("flagged")


__all__ = ["find_label_issues"]
