"""Label-noise injection for benchmarks and demos (pure functions, explicit seed)."""

from __future__ import annotations

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
        perm = np.arange(n_classes)
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
