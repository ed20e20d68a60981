"""Pure credibility scorers. Each maps embeddings, labels and the shared kNN graph to a posterior
``(N, K)`` and a dict of the parameters it chose; ``SCORERS`` registers them by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from relabel.detect.combine import combine_posteriors, given_label_score
from relabel.detect.kde import class_neighbor_method, kde_posterior, soft_labels
from relabel.detect.knn import knn_posterior, select_knn_params
from relabel.detect.neighbors import KnnGraph

Scorer = Callable[..., tuple[np.ndarray, dict[str, Any]]]


def knn_scorer(
    embeddings: np.ndarray, labels: np.ndarray, n_classes: int, graph: KnnGraph, *, seed: int = 0,
    engine: Any = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Neighbour-consistency posterior with k and tau chosen by leave-one-out likelihood."""
    k, tau, ll = select_knn_params(labels, graph, n_classes, engine=engine)
    post = knn_posterior(labels, graph.truncate(k), n_classes, tau=tau, engine=engine)
    return post, {"k": k, "tau": tau, "loo_log_likelihood": ll}


def kde_scorer(
    embeddings: np.ndarray, labels: np.ndarray, n_classes: int, graph: KnnGraph, *, seed: int = 0,
    engine: Any = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """von Mises-Fisher KDE posterior with kappa chosen by leave-one-out likelihood (its chunks
    on ``engine`` where the class neighbours come from the graph)."""
    post, kappa = kde_posterior(embeddings, labels, n_classes, seed=seed, graph=graph,
                                engine=engine)
    return post, {"kappa": kappa,
                  "class_neighbors": class_neighbor_method(len(labels), graph)}


SCORERS: dict[str, Scorer] = {"knn": knn_scorer, "kde": kde_scorer}

__all__ = [
    "SCORERS",
    "combine_posteriors",
    "given_label_score",
    "kde_posterior",
    "knn_posterior",
    "select_knn_params",
    "soft_labels",
]
