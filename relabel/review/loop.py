"""The review loop across rounds: what to show reviewers next, and where the dataset stands.

Pure functions of a run's scores and its decisions ledger (:mod:`relabel.review.ledger`).

What to review next (:func:`next_batch`)
-----------------------------------------
A review is worth what it is expected to fix. For an example relabel left alone the chance that
its label is wrong is ``p_wrong``; for one relabel changed automatically, the chance that the change
is wrong is ``1 - confidence``. The expected gain of a review is that chance, and the next batch is
the unreviewed examples of highest gain. Likely errors that relabel could not fix on its own come
first (high ``p_wrong``, no suggestion), then the most uncertain labels and changes; examples a
reviewer already decided are never chosen again.

Where the dataset stands (:func:`review_status`)
------------------------------------------------
After applying the reviewers' decisions and relabel's changes, an example reviewed by a human is
taken as right; every other one is wrong with probability ``e_i`` (the same chance as above, from
the run's recalibrated decisions). The estimated number of errors left is ``Σ e_i`` and the label
accuracy ``1 - Σ e_i / N``; its 95% interval is the normal one of a sum of independent Bernoulli
variables, ``± 1.96 · sqrt(Σ e_i (1 - e_i)) / N`` (it does not include the uncertainty of the
estimates ``e_i`` themselves, nor reviewer mistakes).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl

DECIDED = ("accepted", "changed")


def remaining_error(scores: pl.DataFrame) -> np.ndarray:
    """``(N,)`` estimated probability that each example's label is wrong after applying the
    run's automatic changes: ``1 - confidence`` where relabel changed it, else ``p_wrong``."""
    changed = scores["suggested_label"].is_not_null().to_numpy()
    conf = scores["suggestion_confidence"].fill_null(0.0).to_numpy()
    return np.where(changed, 1.0 - conf, scores["p_wrong"].to_numpy().astype(np.float64))


def reviewed_ids(ledger: pl.DataFrame) -> set[str]:
    """Ids a reviewer decided (accepted or changed) at least once."""
    if ledger.height == 0:
        return set()
    return set(ledger.filter(pl.col("status").is_in(list(DECIDED)))["id"].to_list())


def next_batch(scores: pl.DataFrame, ledger: pl.DataFrame, batch: int,
               exclude: set[str] | None = None) -> pl.DataFrame:
    """The next ``batch`` examples worth a human look: unreviewed, highest expected gain first.

    Parameters
    ----------
    scores : polars.DataFrame
        The run's scores.
    ledger : polars.DataFrame
        Every decision so far (:func:`relabel.review.ledger.read_ledger`).
    batch : int
        How many.
    exclude : set of str, optional
        More ids to skip (e.g. tasks a reviewer has open).

    Returns
    -------
    polars.DataFrame
        Rows of ``scores`` with a ``gain`` column, highest first.
    """
    skip = reviewed_ids(ledger) | (exclude or set())
    if "reviewed_label" in scores.columns:  # decided before this run (denoise --reviews)
        skip |= set(scores.filter(pl.col("reviewed_label").is_not_null())["id"].to_list())
    gain = remaining_error(scores)
    ranked = (scores.with_columns(pl.Series("gain", gain))
              .filter(~pl.col("id").is_in(list(skip)))
              .sort(["gain", "row"], descending=[True, False]))
    return ranked.head(batch)


@dataclass(frozen=True)
class ReviewStatus:
    """Where the review stands (``relabel review status``)."""

    examples: int
    reviewed: int
    confirmed_errors: int
    suggestions_reviewed: int
    suggestions_accepted: int
    suggestions_overridden: int
    automatic_changes: int
    estimated_errors_left: float
    estimated_accuracy: float
    accuracy_low: float
    accuracy_high: float

    def to_json(self) -> dict[str, float | int]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def review_status(scores: pl.DataFrame, ledger: pl.DataFrame) -> ReviewStatus:
    """Reviewed so far, what the reviewers found, and the estimated label accuracy now.

    ``scores`` are the latest run's; ``ledger`` every decision (also those the run already
    trusted). A suggestion counts as reviewed where this run suggested a label and a reviewer
    then decided the row.
    """
    from relabel.review.ledger import latest_decisions

    latest = latest_decisions(ledger) if ledger.height else ledger
    decided = (latest.filter(pl.col("status").is_in(list(DECIDED)))
               .select("id", "given_label", "reviewed_label")
               if latest.height else pl.DataFrame(schema={"id": pl.String,
                                                          "given_label": pl.String,
                                                          "reviewed_label": pl.String}))
    joined = scores.join(decided.rename({"reviewed_label": "_decision"}), on="id", how="left")
    is_rev = joined["_decision"].is_not_null().to_numpy()
    given = joined["label"].to_numpy()
    decision = joined["_decision"].to_numpy()
    sugg = joined["suggested_label"].to_numpy()
    has_sugg = joined["suggested_label"].is_not_null().to_numpy()
    confirmed = int((is_rev & (decision != given)).sum())
    s_rev = is_rev & has_sugg
    accepted = int((s_rev & (decision == sugg)).sum())
    err = remaining_error(scores)
    err = np.where(is_rev, 0.0, err)
    n = scores.height
    left = float(err.sum())
    acc = 1.0 - left / max(n, 1)
    half = 1.96 * math.sqrt(float((err * (1 - err)).sum())) / max(n, 1)
    return ReviewStatus(
        examples=n, reviewed=int(is_rev.sum()), confirmed_errors=confirmed,
        suggestions_reviewed=int(s_rev.sum()), suggestions_accepted=accepted,
        suggestions_overridden=int(s_rev.sum()) - accepted,
        automatic_changes=int((has_sugg & ~is_rev).sum()),
        estimated_errors_left=left, estimated_accuracy=acc,
        accuracy_low=max(0.0, acc - half), accuracy_high=min(1.0, acc + half))


def record_status(run_dir: str | Path) -> ReviewStatus:
    """:func:`review_status` of a run directory, appended to its ``review_rounds.jsonl`` (one
    line per call, with the time and the run's id; the report plots them)."""
    import datetime as dt
    import json
    import os

    from relabel.review.ledger import read_ledger
    from relabel.rundir import RunFiles, load_run, run_id

    _, scores = load_run(run_dir)
    status = review_status(scores, read_ledger(run_dir))
    line = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "run_id": run_id(run_dir), **status.to_json()}
    path = RunFiles(run_dir).rounds
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return status


def read_rounds(run_dir: str | Path) -> list[dict]:
    """The status history of ``review_rounds.jsonl`` (damaged lines skipped)."""
    import json

    from relabel.rundir import RunFiles

    path = RunFiles(run_dir).rounds
    out = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


__all__ = ["ReviewStatus", "next_batch", "read_rounds", "record_status", "remaining_error",
           "review_status", "reviewed_ids"]
