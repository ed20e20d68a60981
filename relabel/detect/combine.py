"""Combining per-signal posteriors into one (METHOD.md §5).

    p(c | i) proportional to  prod_s p_s(c | i) ** w_s

a weighted geometric mean (product of experts) computed in log space. With weights summing to 1
the result stays as sharp as the inputs instead of compounding their confidence.

Neighbour votes and class densities both favour large classes: a catch-all class that absorbs
many wrong labels (the usual failure of weak labelling rules) wins every vote by its size alone.
The combined posterior is therefore balanced by the class prior pi_c (class frequencies):

    p_bal(c | i) proportional to  p(c | i) / pi_c ** beta,    beta = 1 by default,

which turns it into a likelihood ratio f_c(x_i) / f(x_i): "how typical is x_i of class c,
relative to how common c is". With a cross-validated corrector in the posterior the prior is
floored at ``PRIOR_FLOOR / K`` first: a class with one or two given labels says little about its
density, the corrector spreads soft-label mass onto it, and dividing that by its tiny frequency
let it win almost everywhere (trec has one ABBR label among 4,072). Without a corrector the floor
is 0 (only empty classes are left unscaled): that is what the core pipeline was measured with,
and the floor there changed trec's suggestions for the worse (57.0 -> 56.8 instead of 57.5).
On the development sets balancing raised the AP of the credibility ranking from 0.38 to 0.57
(trec) and from 0.19 to 0.45 (semeval), see bench/RESULTS.md.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from relabel import spill

#: the prior divided out is at least this fraction of the uniform prior 1 / K
PRIOR_FLOOR = 0.2


#: rows per chunk of the row-wise computations below (bounds their float64 temporaries)
CHUNK_ROWS = 65536


def combine_posteriors(
    posteriors: Mapping[str, np.ndarray], weights: Mapping[str, float]
) -> np.ndarray:
    """Weighted geometric mean of posteriors, renormalised per row.

    Parameters
    ----------
    posteriors : mapping of str to np.ndarray
        Each ``(N, K)``, rows summing to 1, strictly positive.
    weights : mapping of str to float
        Exponent per signal; signals missing from ``weights`` are ignored.

    Returns
    -------
    np.ndarray
        ``(N, K)`` float32 (computed in float64, chunk by chunk of rows), rows sum to 1.
    """
    used = [name for name in posteriors if weights.get(name, 0.0) > 0]
    if not used:
        raise ValueError("no signal has a positive weight")
    first = posteriors[used[0]]
    out = spill.empty(first.shape, np.float32)
    for start in range(0, first.shape[0], CHUNK_ROWS):
        sl = slice(start, start + CHUNK_ROWS)
        log_p: np.ndarray = sum(  # type: ignore[assignment]
            weights[name] * np.log(np.clip(posteriors[name][sl].astype(np.float64), 1e-300, None))
            for name in used)
        log_p = log_p - log_p.max(axis=1, keepdims=True)
        p = np.exp(log_p)
        out[sl] = p / p.sum(axis=1, keepdims=True)
    return out


def given_label_score(labels: np.ndarray, posterior: np.ndarray) -> np.ndarray:
    """``(N,)`` probability of each example's given label, ``posterior[i, labels[i]]``."""
    return posterior[np.arange(len(labels)), labels]


def balance_prior(posterior: np.ndarray, prior: np.ndarray, *, beta: float = 1.0,
                  floor: float = 0.0) -> np.ndarray:
    """Divide a posterior by ``prior ** beta`` and renormalise: ``(N, K)`` -> ``(N, K)``.

    Parameters
    ----------
    posterior : np.ndarray
        ``(N, K)``, rows summing to 1.
    prior : np.ndarray
        ``(K,)`` class frequencies; empty classes are left unscaled.
    beta : float
        0 = unchanged, 1 = full likelihood ratio.
    floor : float
        The prior is raised to at least ``floor / K`` (``PRIOR_FLOOR`` with a corrector).

    Returns
    -------
    np.ndarray
        ``(N, K)`` float32 (computed in float64, chunk by chunk of rows), rows sum to 1.
    """
    prior = np.asarray(prior, dtype=np.float64)
    if floor > 0:
        prior = np.maximum(prior, floor / len(prior))
    scale = np.where(prior > 0, np.clip(prior, 1e-12, None) ** -beta, 1.0)
    out = spill.empty(posterior.shape, np.float32)
    for start in range(0, posterior.shape[0], CHUNK_ROWS):
        p = posterior[start : start + CHUNK_ROWS].astype(np.float64) * scale[None, :]
        out[start : start + CHUNK_ROWS] = p / p.sum(axis=1, keepdims=True)
    return out
