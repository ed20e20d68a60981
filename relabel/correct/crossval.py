"""K-fold out-of-fold probabilities (METHOD.md §4): no example is judged by a model that saw it.

Folds are stratified by the given label and seeded. Each fold trains a fresh
:func:`sklearn.base.clone` of the corrector on the other folds and predicts the held-out one.
Every finished fold is saved under ``cache_dir`` at once, so a crashed run resumes at the first
unfinished fold, and a re-run with the same inputs (same key) trains nothing.

``n_jobs > 1`` trains folds at the same time in threads (torch releases the GIL in its kernels),
with torch's intra-op threads divided among them: for the small head corrector on 2 cores this
is faster than one fold at a time with 2 intra-op threads, because its steps are too small to
keep 2 threads busy. Only correctors whose every random draw uses a private generator (the head)
may run this way and stay reproducible.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import KFold, StratifiedKFold

from relabel.data.write import write_array
from relabel.threads import torch_threads_divided


def make_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """``(N,)`` fold number of every example, stratified by label.

    Classes with fewer members than ``folds`` are spread over as many folds as they have
    members. Where even the largest class has fewer members than ``folds`` (a few dozen rows),
    no stratified split exists and the rows are dealt into folds at random instead. Raises
    ValueError when ``folds < 2`` or there are fewer examples than folds.
    """
    n = len(labels)
    if folds < 2:
        raise ValueError(f"--folds must be at least 2, got {folds}")
    if n < folds:
        raise ValueError(f"--folds {folds} needs at least {folds} examples, got {n}")
    out = np.empty(n, dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class has 1 member"
        stratified = np.bincount(labels).max() >= folds
        skf = (StratifiedKFold if stratified else KFold)(n_splits=folds, shuffle=True,
                                                          random_state=seed)
        for f, (_, test) in enumerate(skf.split(np.zeros(n), labels)):
            out[test] = f
    return out


def _digest(*parts: Any) -> str:
    h = hashlib.blake2b(digest_size=12)
    for part in parts:
        if isinstance(part, np.ndarray):
            a = np.ascontiguousarray(part)
            h.update(str((a.dtype.str, a.shape)).encode())
            h.update(a.tobytes() if a.dtype != object else "\x00".join(map(str, a)).encode())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()


def oof_key(estimator: BaseEstimator, labels: np.ndarray, folds: int, seed: int,
            inputs_key: str, fit_params: Mapping[str, np.ndarray]) -> str:
    """Cache key of an out-of-fold run: corrector class and parameters, folds, seed, the inputs'
    identity (``inputs_key``: e.g. encoder key and text hashes), labels and fit arrays."""
    from relabel import __version__

    params = {k: v for k, v in estimator.get_params().items() if k != "device"}
    # the relabel version too: a fold another version trained is trained again, never reused
    return _digest(__version__, type(estimator).__name__, params, folds, seed, inputs_key,
                   labels,
                   *(fit_params[k] for k in sorted(fit_params)))


def out_of_fold_proba(
    estimator: BaseEstimator,
    X: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    folds: int = 5,
    seed: int = 0,
    fit_params: Mapping[str, np.ndarray] | None = None,
    cache_dir: str | Path | None = None,
    n_jobs: int = 1,
    progress: Any = None,
    engine: Any = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Out-of-fold class probabilities.

    Parameters
    ----------
    estimator : BaseEstimator
        Unfitted corrector with ``fit(X, y, **fit_params)`` and ``predict_proba``.
    X : np.ndarray
        ``(N, ...)`` inputs (embeddings, or an object array of texts).
    labels : np.ndarray
        ``(N,)`` int given labels.
    n_classes : int
        Number of classes K.
    folds, seed : int
        Number of stratified folds and their seed.
    fit_params : mapping, optional
        Per-example arrays ``(N, ...)`` passed to ``fit`` restricted to the training rows.
    cache_dir : str or Path, optional
        Directory for finished folds (``fold-<f>.npy``); nothing is cached when None.
    n_jobs : int
        Folds trained at the same time, in threads (see the module docstring).
    progress : tqdm-like, optional
        ``update(1)`` after each fold.
    engine : relabel.engine.DaskEngine, optional
        Train the folds on a Dask cluster instead of here (``n_jobs`` is then unused); each
        finished fold is still saved here as it comes back.

    Returns
    -------
    proba : np.ndarray
        ``(N, K)`` float64, rows sum to 1.
    info : dict
        ``folds``, ``trained`` (folds trained now) and ``reused`` (folds loaded from the cache).
    """
    fit_params = dict(fit_params or {})
    fold_of = make_folds(labels, folds, seed)
    proba: np.ndarray = np.zeros((len(labels), n_classes))
    cache = Path(cache_dir) if cache_dir is not None else None

    def cached(f: int) -> np.ndarray | None:
        """Fold ``f``'s saved probabilities, or None when missing or unreadable."""
        path = cache / f"fold-{f}.npy" if cache is not None else None
        if path is None or not path.exists():
            return None
        try:
            part = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):  # unreadable, truncated: train it again
            return None
        ok = (part.shape == (int((fold_of == f).sum()), n_classes)
              and np.issubdtype(part.dtype, np.floating) and np.isfinite(part).all()
              and (part >= 0).all() and np.allclose(part.sum(1), 1.0, atol=1e-3))
        return part if ok else None  # foreign or damaged: train it again

    todo = []
    for f in range(folds):
        part = cached(f)
        if part is None:
            todo.append(f)
            continue
        proba[fold_of == f] = part
        if progress is not None:
            progress.update(1)
    shared = {"estimator": estimator, "X": X, "labels": labels, "fold_of": fold_of,
              "n_classes": n_classes, "fit_params": fit_params}
    if engine is None or engine.name == "local":
        n_jobs = min(n_jobs, len(todo))
        from relabel.engine import LocalEngine

        runner = LocalEngine(n_jobs)
        threads = torch_threads_divided(n_jobs) if n_jobs > 1 else nullcontext()
    else:
        runner, threads = engine, nullcontext()
    with threads:
        for i, part in runner.map_unordered(_fit_predict_fold, todo, **shared):
            f = todo[i]
            if cache is not None:
                write_array(part, cache / f"fold-{f}.npy")
            proba[fold_of == f] = part
            if progress is not None:
                progress.update(1)
    trained = len(todo)
    reused = folds - trained
    proba = np.clip(proba, 1e-6, None)
    proba /= proba.sum(axis=1, keepdims=True)
    return proba, {"folds": folds, "trained": trained, "reused": reused}


def _fit_predict_fold(f: int, *, estimator: BaseEstimator, X: np.ndarray, labels: np.ndarray,
                      fold_of: np.ndarray, n_classes: int,
                      fit_params: Mapping[str, np.ndarray]) -> np.ndarray:
    """Train a fresh clone on every fold but ``f`` and return its ``(len(fold f), K)``
    probabilities for fold ``f`` (runs wherever the engine puts it)."""
    test = np.flatnonzero(fold_of == f)
    train = np.flatnonzero(fold_of != f)
    model = clone(estimator)
    model.fit(X[train], labels[train], **{k: v[train] for k, v in fit_params.items()})
    part = np.asarray(model.predict_proba(X[test]), dtype=np.float64)
    if part.shape[1] != n_classes:  # estimators that only know the classes they saw
        full = np.zeros((len(test), n_classes))
        full[:, np.asarray(model.classes_, dtype=np.int64)] = part
        part = full
    return part
