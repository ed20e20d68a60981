"""Evaluation metrics for benchmarks and reports (pure functions of arrays)."""

from __future__ import annotations

import itertools

import numpy as np


def detection_metrics(is_error: np.ndarray, score: np.ndarray, flagged: np.ndarray
                      ) -> dict[str, float]:
    """How well ``score`` ranks and ``flagged`` picks the true label errors.

    Parameters
    ----------
    is_error : np.ndarray
        ``(N,)`` bool, the given label is wrong.
    score : np.ndarray
        ``(N,)`` suspicion, higher = more likely wrong (e.g. ``1 - credibility``).
    flagged : np.ndarray
        ``(N,)`` bool flags.

    Returns
    -------
    dict
        ``ap``, ``auroc``, ``precision``, ``recall``, ``f1`` (NaN where undefined).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    is_error = np.asarray(is_error, dtype=bool)
    flagged = np.asarray(flagged, dtype=bool)
    both = is_error.any() and (~is_error).any()
    tp = int((flagged & is_error).sum())
    precision = tp / flagged.sum() if flagged.any() else float("nan")
    recall = tp / is_error.sum() if is_error.any() else float("nan")
    f1 = (2 * precision * recall / (precision + recall)
          if precision + recall > 0 else 0.0)
    return {
        "ap": float(average_precision_score(is_error, score)) if both else float("nan"),
        "auroc": float(roc_auc_score(is_error, score)) if both else float("nan"),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


def correction_metrics(given: np.ndarray, true: np.ndarray, new: np.ndarray,
                       flagged: np.ndarray) -> dict[str, float]:
    """What applying the new labels does to the dataset.

    Parameters
    ----------
    given, true, new : np.ndarray
        ``(N,)`` labels as given, true, and after applying the fixes (same code space).
    flagged : np.ndarray
        ``(N,)`` bool flags.

    Returns
    -------
    dict
        ``acc_before``, ``acc_after`` (label accuracy, %), ``correction_acc`` (% of flagged true
        errors whose new label is right), ``n_changed``, ``fixed`` (wrong made right),
        ``damage`` (right made wrong).
    """
    given, true, new = map(np.asarray, (given, true, new))
    err = given != true
    fe = np.asarray(flagged, bool) & err
    changed = new != given
    return {
        "acc_before": float(100 * np.mean(given == true)),
        "acc_after": float(100 * np.mean(new == true)),
        "correction_acc": float(100 * np.mean(new[fe] == true[fe])) if fe.any() else float("nan"),
        "n_changed": int(changed.sum()),
        "fixed": int((changed & err & (new == true)).sum()),
        "damage": int((changed & ~err).sum()),
    }


def reliability_table(confidence: np.ndarray, correct: np.ndarray, *, bins: int = 5
                      ) -> list[dict[str, float]]:
    """Predicted confidence bins vs. observed accuracy (for calibration reports).

    Returns one dict per non-empty bin: ``lo``, ``hi``, ``n``, ``mean_confidence``, ``accuracy``.
    """
    confidence = np.asarray(confidence, float)
    correct = np.asarray(correct, bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    out = []
    for lo, hi in itertools.pairwise(edges):
        m = (confidence >= lo) & ((confidence < hi) | (hi == 1.0) & (confidence <= hi))
        if m.any():
            out.append({"lo": float(lo), "hi": float(hi), "n": int(m.sum()),
                        "mean_confidence": float(confidence[m].mean()),
                        "accuracy": float(correct[m].mean())})
    return out
