"""The chance that each example's label is wrong now, after relabel's automatic changes and the
reviewers' decisions: the error model that the review loop's batch choice
(:mod:`relabel.review.batch`) and its status (:mod:`relabel.review.status`) share.

Pure functions of a run's scores and its decisions ledger (:mod:`relabel.review.ledger`).

For an example relabel left alone the chance that its label is wrong is ``p_wrong``; for one
relabel changed automatically, the chance that the change is wrong is ``1 - confidence``
(:func:`remaining_error`). Two corrections make it consistent with what else is known:

- It is made consistent with the estimated noise rate (:func:`expected_errors`): relabel's own,
  or the random audit's where that is higher. The raw ``p_wrong`` underestimates it on some
  sets: on youtube the first 100 examples, whose ``p_wrong`` went down to 0.012, fixed 41 labels
  net with a reviewer wrong 10% of the time.
- The reviewers' decisions on this run's examples scale it up where they found more wrong labels
  than relabel expected, after allowing for their own error (:func:`reviewed_ratio`). Without
  that, a user who keeps asking from one run stops too early where errors hide from relabel's
  signals: on hausa, 362 reviews and 64.0% right labels, against 68.3% with it (all 500 used).
"""

from __future__ import annotations

import numpy as np
import polars as pl

DECIDED = ("accepted", "changed")
#: pseudo-examples at relabel's own estimate that shrink :func:`reviewed_ratio` towards 1 (not
#: tuned: a batch of 100 decisions moves it by 83% of what it shows)
RATIO_PSEUDO = 20.0


def remaining_error(scores: pl.DataFrame, noise_rate: float | None = None) -> np.ndarray:
    """``(N,)`` estimated probability that each example's label is wrong after applying the
    run's automatic changes: ``1 - confidence`` where relabel changed it, else ``p_wrong``
    (scaled to the run's ``noise_rate`` when given, see :func:`expected_errors`)."""
    return expected_errors(scores["p_wrong"].to_numpy().astype(np.float64),
                           scores["suggested_label"].is_not_null().to_numpy(),
                           scores["suggestion_confidence"].fill_null(0.0).to_numpy(),
                           noise_rate=noise_rate)


def expected_errors(p_wrong: np.ndarray, changed: np.ndarray, confidence: np.ndarray, *,
                    noise_rate: float | None = None) -> np.ndarray:
    """``(N,)`` probability that each label is wrong after relabel's automatic changes.

    ``1 - confidence_i`` where relabel changed the label, else ``p_wrong_i``. The two estimates
    a run prints can disagree. ``p_wrong`` is the noisy-channel posterior, and the noise rate is
    confident learning's count (:mod:`relabel.detect.decide`). On trec, for one, Σ p_wrong is
    about 4% of the rows against a printed 38.9%, where 43% are wrong. With ``noise_rate``, the
    unchanged rows' ``p_wrong`` are therefore scaled up, as ``min(1, f · p_wrong_i)``, with
    ``f >= 1`` found by bisection, until their sum reaches the wrong labels the run's own
    estimate leaves on them: ``noise_rate · N - Σ_changed confidence``. That is the estimated
    wrong given labels less those the changes are expected to fix. They are never scaled down,
    and their order is unchanged. bench/RESULTS.md, "Random audit", measures both.

    Parameters
    ----------
    p_wrong : np.ndarray
        ``(N,)`` the run's ``p_wrong``.
    changed : np.ndarray
        ``(N,)`` bool, relabel changed the label automatically.
    confidence : np.ndarray
        ``(N,)`` the change's confidence (ignored where not changed).
    noise_rate : float, optional
        The run's estimated noise rate of the given labels.
    """
    p = np.clip(np.asarray(p_wrong, dtype=np.float64), 0.0, 1.0)
    changed = np.asarray(changed, dtype=bool)
    conf = np.asarray(confidence, dtype=np.float64)
    err = np.where(changed, 1.0 - conf, p)
    if noise_rate is None or not np.isfinite(noise_rate):
        return err
    rest = p[~changed]
    target = noise_rate * len(p) - float(conf[changed].sum())
    if target <= rest.sum() or not (rest > 0).any():
        return err
    if target >= (rest > 0).sum():  # every row with any chance becomes a sure error
        err[~changed] = (rest > 0).astype(np.float64)
        return err
    lo, hi = 1.0, 2.0
    while np.minimum(1.0, hi * rest).sum() < target:
        hi *= 2.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.minimum(1.0, mid * rest).sum() < target else (lo, mid)
    err[~changed] = np.minimum(1.0, hi * rest)
    return err


def reviewed_ids(ledger: pl.DataFrame) -> set[str]:
    """Ids a reviewer decided (accepted or changed) at least once."""
    if ledger.height == 0:
        return set()
    return set(ledger.filter(pl.col("status").is_in(list(DECIDED)))["id"].to_list())


def decided_ids(scores: pl.DataFrame, ledger: pl.DataFrame) -> set[str]:
    """Ids a reviewer decided: in the ledger, or trusted by the run itself (its
    ``reviewed_label``, from ``denoise --reviews``)."""
    done = reviewed_ids(ledger)
    if "reviewed_label" in scores.columns:  # decided before this run (denoise --reviews)
        done |= set(scores.filter(pl.col("reviewed_label").is_not_null())["id"].to_list())
    return done


def with_decisions(scores: pl.DataFrame, ledger: pl.DataFrame) -> pl.DataFrame:
    """``scores`` with ``_decision``: each example's latest accepted or changed label from the
    ledger (null where nobody decided)."""
    from relabel.review.ledger import latest_decisions

    latest = latest_decisions(ledger) if ledger.height else ledger
    decided = (latest.filter(pl.col("status").is_in(list(DECIDED)))
               .select("id", "reviewed_label")
               if latest.height else pl.DataFrame(schema={"id": pl.String,
                                                          "reviewed_label": pl.String}))
    return scores.join(decided.rename({"reviewed_label": "_decision"}), on="id", how="left")


def reviewed_ratio(scores: pl.DataFrame, ledger: pl.DataFrame, chance: np.ndarray,
                   reviewer_error: float) -> float:
    """How many more wrong labels the reviewers found than ``chance`` ``(N,)`` expected, on the
    examples they decided since this run scored them: ``f >= 1`` (module docstring).

    A reviewer who errs with probability ``e`` finds the label now (the given one, or relabel's
    change) wrong with probability ``c = p + (1 - p) e`` when it is wrong with probability ``p``,
    so ``p = (c - e) / (1 - e)`` is estimated from what they decided; ``f`` is the sum of those
    over the sum of ``chance``, shrunk towards 1 by ``RATIO_PSEUDO`` examples at the mean
    ``chance``, and never below 1 (relabel's own estimate stays the floor)."""
    joined = with_decisions(scores, ledger)
    decided = joined["_decision"].is_not_null()
    if "reviewed_label" in joined.columns:  # decided before this run: not judged by it
        decided &= joined["reviewed_label"].is_null()
    rows = decided.to_numpy()
    if not rows.any():
        return 1.0
    now = joined["suggested_label"].fill_null(joined["label"])
    wrong = (joined["_decision"] != now).fill_null(False).to_numpy()[rows]
    found = float(np.sum((wrong.astype(np.float64) - reviewer_error) / (1.0 - reviewer_error)))
    expected = float(np.sum(chance[rows]))
    pseudo = RATIO_PSEUDO * expected / len(wrong)
    return max(1.0, (found + pseudo) / (expected + pseudo)) if expected > 0 else 1.0


def ranked_candidates(scores: pl.DataFrame, ledger: pl.DataFrame,
                      exclude: set[str] | None = None, *, reviewer_error: float = 0.0,
                      noise_rate: float | None = None) -> pl.DataFrame:
    """The examples a reviewer has not decided and not in ``exclude``, highest expected gain
    first.

    Returns
    -------
    polars.DataFrame
        Rows of ``scores`` with ``gain`` (the chance of a wrong label, :func:`remaining_error`)
        and ``worth`` (bool: a review is expected to fix more than it breaks, that chance made
        consistent with ``noise_rate`` and scaled by :func:`reviewed_ratio` is above
        ``reviewer_error``; every row where ``reviewer_error`` is 0), sorted by gain, then row.
    """
    skip = decided_ids(scores, ledger) | (exclude or set())
    gain = remaining_error(scores)
    worth: np.ndarray = np.ones(len(gain), dtype=bool)
    if reviewer_error > 0:
        chance = remaining_error(scores, noise_rate) if noise_rate is not None else gain
        chance = np.minimum(1.0, chance * reviewed_ratio(scores, ledger, chance,
                                                         reviewer_error))
        worth = chance > reviewer_error
    return (scores.with_columns(pl.Series("gain", gain), pl.Series("worth", worth))
            .filter(~pl.col("id").is_in(list(skip)))
            .sort(["gain", "row"], descending=[True, False]))


__all__ = ["DECIDED", "RATIO_PSEUDO", "decided_ids", "expected_errors", "ranked_candidates",
           "remaining_error", "reviewed_ids", "reviewed_ratio", "with_decisions"]
