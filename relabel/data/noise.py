"""Label-noise injection for benchmarks and demos (pure functions, explicit seed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("uniform", "class-conditional", "nearest-class")


def inject_noise(
    labels: np.ndarray,
    n_classes: int,
    *,
    rate: float,
    kind: str = "uniform",
    seed: int = 0,
    embeddings: np.ndarray | None = None,
) -> np.ndarray:
    """Flip a random ``rate`` fraction of labels.

    Parameters
    ----------
    labels : np.ndarray
        ``(N,)`` int class codes (the clean labels).
    n_classes : int
        Number of classes K.
    rate : float
        Fraction of examples whose label is changed, in [0, 1].
    kind : str
        ``uniform``: to any other class, uniformly. ``class-conditional``: each class c flips to
        one fixed other class (a random permutation without fixed points). ``nearest-class``: to
        the example's most similar other class (needs ``embeddings``; the class whose mean
        embedding is closest to the example).
    seed : int
        Random seed.
    embeddings : np.ndarray, optional
        ``(N, D)`` L2-normalised, for ``nearest-class``.

    Returns
    -------
    np.ndarray
        ``(N,)`` noisy labels; exactly ``round(rate * N)`` differ from ``labels``.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    n = len(labels)
    flip = rng.choice(n, size=round(rate * n), replace=False)
    noisy = labels.copy()
    if kind == "uniform":
        shift = rng.integers(1, n_classes, size=len(flip))
        noisy[flip] = (labels[flip] + shift) % n_classes
    elif kind == "class-conditional":
        perm: np.ndarray = np.arange(n_classes)
        while np.any(perm == np.arange(n_classes)):
            perm = rng.permutation(n_classes)
        noisy[flip] = perm[labels[flip]]
    else:
        if embeddings is None:
            raise ValueError("nearest-class noise needs embeddings")
        centroids = np.zeros((n_classes, embeddings.shape[1]))
        np.add.at(centroids, labels, embeddings)
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
        sims = embeddings[flip] @ centroids.T
        sims[np.arange(len(flip)), labels[flip]] = -np.inf
        noisy[flip] = np.argmax(sims, axis=1)
    return noisy


def simulate_annotators(
    labels: np.ndarray,
    n_classes: int,
    *,
    n_annotators: int = 30,
    votes_per_item: tuple[int, int] = (3, 5),
    accuracy: tuple[float, float] = (0.5, 0.95),
    concentration: float = 0.3,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Simulated crowd workers voting on items whose true class is known.

    Each annotator j has an accuracy a_j drawn uniformly from ``accuracy`` and their own
    confusion: for each true class, the errors go to the other classes with probabilities drawn
    from a Dirichlet(``concentration``) (small: each worker confuses a class with a few
    favourite others, as people do). Each item gets a number of votes drawn uniformly from
    ``votes_per_item``, by distinct annotators drawn with probabilities proportional to a
    per-annotator activity (Dirichlet(1): some do many items, some few).

    Parameters
    ----------
    labels : np.ndarray
        ``(I,)`` true class codes.
    n_classes : int
        K.
    n_annotators, votes_per_item, accuracy, concentration, seed
        As described above.

    Returns
    -------
    item, annotator, label : np.ndarray
        ``(M,)`` int64 codes of each vote.
    accuracies : np.ndarray
        ``(A,)`` each annotator's accuracy parameter a_j.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels, dtype=np.int64)
    n, k, a = len(labels), int(n_classes), int(n_annotators)
    acc = rng.uniform(accuracy[0], accuracy[1], size=a)
    errors = rng.dirichlet(np.full(k - 1, concentration), size=(a, k))  # (A, K, K-1)
    activity = rng.dirichlet(np.ones(a))
    lo, hi = votes_per_item
    per_item = rng.integers(lo, hi + 1, size=n)
    items, workers = [], []
    for i in range(n):
        chosen = rng.choice(a, size=min(int(per_item[i]), a), replace=False, p=activity)
        items.append(np.full(len(chosen), i))
        workers.append(chosen)
    item = np.concatenate(items).astype(np.int64)
    annotator = np.concatenate(workers).astype(np.int64)
    truth = labels[item]
    right = rng.random(len(item)) < acc[annotator]
    out = truth.copy()
    wrong = np.flatnonzero(~right)
    for m in wrong:
        p = errors[annotator[m], truth[m]]
        other = rng.choice(k - 1, p=p)
        out[m] = other + (other >= truth[m])  # skip the true class
    return item, annotator, out.astype(np.int64), acc


def write_noisy_copy(
    data: str | Path,
    to: str | Path,
    *,
    rate: float,
    kind: str = "uniform",
    seed: int = 0,
    text_col: str = "text",
    label_col: str = "label",
    true_col: str = "true_label",
    model: str | None = None,
    encoding: str | None = None,
) -> dict[str, Any]:
    """Write a copy of a dataset with ``rate`` of its labels flipped and the originals kept.

    Every input column passes through; ``label_col`` holds the noisy label and ``true_col`` the
    original one. ``nearest-class`` noise encodes the texts (``model``, default the packaged
    encoder) to find each example's most similar other class. ``encoding``: a text file's,
    read and written in it.

    Returns
    -------
    dict
        ``rows``, ``flipped``, ``classes`` and the output ``path``.

    Raises
    ------
    RelabelInputError
        Bad options, a bad input file, ``true_col`` already present, or ``to`` = the input.
    """
    from relabel.data.io import detect_format, hf_features_of, read_table
    from relabel.data.validation import build_examples
    from relabel.data.write import output_format, write_like
    from relabel.errors import RelabelInputError, option

    if not 0.0 <= rate <= 1.0:
        raise RelabelInputError(f"{option('--rate')} must be in [0, 1], got {rate}")
    if kind not in KINDS:
        raise RelabelInputError(f"{option('--kind')} must be one of {', '.join(KINDS)}, "
                                f"got {kind!r}")
    from relabel.paths import PathArg, check_paths

    fmt = detect_format(to, for_writing=True)
    check_paths([PathArg("DATA", data, "input", dir_ok=True),
                 PathArg("--to", to, "output_file", dir_ok=fmt == "hf", inputs=(Path(data),))])
    if encoding is not None:
        from relabel.data.encoding import check_encoding

        check_encoding(encoding)
    table, in_fmt = read_table(data, encoding=encoding)
    fmt = output_format(to, in_fmt)  # a semicolon CSV stays one
    examples, _ = build_examples(table, path=data, text_col=text_col, label_col=label_col)
    assert examples is not None  # problems are raised, not collected
    if true_col in table.columns:
        raise RelabelInputError(f"column '{true_col}' already exists; choose "
                                f"{option('--true-col')}",
                                path=data)
    classes = sorted(examples["label"].unique().to_list())
    codes = np.searchsorted(classes, examples["label"].to_numpy())
    emb = None
    if kind == "nearest-class":
        from relabel.embed.encoder import Encoder

        emb = Encoder(model).encode(examples["text"].to_list())
    noisy = inject_noise(codes, len(classes), rate=rate, kind=kind, seed=seed, embeddings=emb)
    import polars as pl

    from relabel.data.columns import assign, expose, labels_as

    original = expose(table, [label_col]).get_column(label_col)
    new = labels_as(pl.Series(label_col, np.asarray(classes, dtype=object)[noisy].tolist(),
                              dtype=pl.String), original.dtype)
    out = assign(table.with_columns(original.alias(true_col)), label_col, new)
    features = dict(hf_features_of(data) or {}) if fmt == "hf" else {}
    if label_col in features:  # the original labels' column has the label's type (its classes)
        features[true_col] = features[label_col]
    write_like(out, to, fmt, data, encoding, features=features or None)
    return {"path": str(to), "rows": out.height, "flipped": int((noisy != codes).sum()),
            "classes": len(classes)}
