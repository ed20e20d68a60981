"""The review loop: what to show reviewers next.

What to review next (:func:`next_batch`)
-----------------------------------------
A review is worth what it is expected to fix. For an example relabel left alone the chance that
its label is wrong is ``p_wrong``; for one relabel changed automatically, the chance that the change
is wrong is ``1 - confidence``. The expected gain of a review is that chance, and the next batch is
the unreviewed examples of highest gain. Likely errors that relabel could not fix on its own come
first (high ``p_wrong``, no suggestion), then the most uncertain labels and changes; examples a
reviewer already decided are never chosen again.

Reviewers make mistakes too. One who errs with probability ``e`` fixes a wrong label with
probability about ``1 - e`` and breaks a right one with probability ``e``, so reviewing an example
whose label is wrong with probability ``p`` changes the expected number of right labels by
``p (1 - e) - (1 - p) e = p - e``. With a reviewer error rate (``review next --reviewer-error``,
or measured on the random audit where two reviewers decided the same examples,
:mod:`relabel.review.audit`), an example is chosen only where ``p > e``: past that point more
reviews make the labels worse, and ``review next`` says so instead of asking. The order is the
same either way. ``p`` is the chance above, made consistent with the estimated noise rate and
scaled by what the reviewers found (:mod:`relabel.review.chance`).

With a simulated reviewer wrong 10% of the time, every strategy that keeps reviewing lowered
youtube and sms from round 2 on; stopping at ``p <= e`` kept the accuracy rising on both
(bench/RESULTS.md, "Reviewers who err").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from relabel.review.audit import AuditEstimate
from relabel.review.chance import ranked_candidates, reviewed_ids
from relabel.review.samples import (
    audit_batch,
    change_batch,
    read_audit_size,
    read_check_chunks,
    run_audit,
    run_error_rate,
    write_audit_size,
    write_check_size,
)

#: audited examples two reviewers must both have decided before ``review next`` takes the
#: reviewers' error rate they measure as its stopping point (not tuned: with fewer pairs the
#: estimate is too loose to stop reviews on; a user can always give ``--reviewer-error``)
MIN_DOUBLE_REVIEWED = 20


def next_batch(scores: pl.DataFrame, ledger: pl.DataFrame, batch: int,
               exclude: set[str] | None = None, *, reviewer_error: float = 0.0,
               noise_rate: float | None = None) -> pl.DataFrame:
    """The next ``batch`` examples worth a human look: unreviewed, highest expected gain first,
    and with ``reviewer_error`` only those a review is expected to improve (module docstring).

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
    reviewer_error : float
        The reviewers' error rate ``e``: only examples whose label is wrong with probability
        above ``e`` are chosen (0: every unreviewed example can be).
    noise_rate : float, optional
        The run's estimated noise rate, which that probability is made consistent with
        (:func:`expected_errors`); without it, the raw chance is compared.

    Returns
    -------
    polars.DataFrame
        Rows of ``scores`` with a ``gain`` column, highest first.
    """
    ranked = ranked_candidates(scores, ledger, exclude, reviewer_error=reviewer_error,
                               noise_rate=noise_rate)
    return ranked.filter(pl.col("worth")).drop("worth").head(batch)


def reviewer_error_origin(source: str | None) -> str:
    """How ``review next`` and ``review status`` name where the reviewers' error rate came from
    (:attr:`ReviewFloor.source`)."""
    return "given" if source == "given" else "measured on the audit's doubly reviewed examples"


def check_reviewer_error(reviewer_error: float | None) -> None:
    """Raise ``RelabelInputError`` unless ``reviewer_error`` is None or in [0, 0.5)."""
    from relabel.errors import RelabelInputError, option

    if reviewer_error is not None and not 0.0 <= reviewer_error < 0.5:
        raise RelabelInputError(f"{option('--reviewer-error')} must be at least 0 and below 0.5 (a "
                                f"reviewer wrong half the time tells nothing); got "
                                f"{reviewer_error}")


@dataclass(frozen=True)
class ReviewFloor:
    """Where ``review next`` stops asking (:func:`review_floor`, :func:`floor_from`).

    Attributes
    ----------
    reviewer_error : float or None
        The reviewers' error rate (None: not known, no example is held back).
    source : str or None
        ``given`` (the user's) or ``audit`` (measured on the audit's double reviews).
    noise_rate : float or None
        The noise rate the chances of a wrong label are made consistent with.
    """

    reviewer_error: float | None
    source: str | None
    noise_rate: float | None


def review_floor(run_dir: str | Path, scores: pl.DataFrame, ledger: pl.DataFrame,
                 reviewer_error: float | None = None) -> ReviewFloor:
    """The reviewers' error rate and the noise rate :func:`next_batch` stops with, for a run
    directory: ``reviewer_error`` where the user gives it, else the rate its random audit
    measured where two reviewers decided at least ``MIN_DOUBLE_REVIEWED`` of the same audited
    examples, else None; the noise rate is the run's own, or the audit's error rate where that
    is higher."""
    return floor_from(run_audit(run_dir, scores, ledger), run_error_rate(run_dir),
                      reviewer_error)


def floor_from(audit: AuditEstimate | None, relabel_error_rate: float | None,
           reviewer_error: float | None) -> ReviewFloor:
    """The error rate is ``reviewer_error`` where the user gives it, else the one the random
    ``audit`` measured where two reviewers decided at least ``MIN_DOUBLE_REVIEWED`` of the same
    audited examples (kept below 1/2), else None. The noise rate is relabel's own estimate, or
    the audit's error rate where that is higher (errors that similar examples share hide from
    the first)."""
    source = "given" if reviewer_error is not None else None
    noise = relabel_error_rate
    if audit is not None and audit.decided and math.isfinite(audit.error_rate):
        noise = max(noise or 0.0, audit.error_rate)
    if (reviewer_error is None and audit is not None and audit.reviewer_error is not None
            and audit.double_reviewed >= MIN_DOUBLE_REVIEWED):
        reviewer_error, source = min(float(audit.reviewer_error), 0.49), "audit"
    return ReviewFloor(reviewer_error=reviewer_error, source=source, noise_rate=noise)


def held_back(scores: pl.DataFrame, ledger: pl.DataFrame, exclude: set[str] | None = None,
              *, reviewer_error: float, noise_rate: float | None = None) -> int:
    """How many unreviewed examples :func:`next_batch` will not choose because a review there is
    expected to break more right labels than it fixes (their chance of a wrong label is not
    above ``reviewer_error``); 0 without a reviewer error."""
    if reviewer_error <= 0:
        return 0
    ranked = ranked_candidates(scores, ledger, exclude, reviewer_error=reviewer_error,
                               noise_rate=noise_rate)
    return int((~ranked["worth"]).sum())


@dataclass(frozen=True)
class NextPlan:
    """What ``review next`` pushes (:func:`plan_next`).

    Attributes
    ----------
    ids : list of str
        Every example to push: the audit's, then the spot check's, then the batch by expected
        gain.
    blind : list of str
        Those of ``ids`` whose tasks hide relabel's view (the audit's and the spot check's, so
        that it cannot sway them).
    audited, checked, chosen : int
        How many of ``ids`` come from the random audit, the spot check and the batch.
    audit_size, check_size : int
        The audit's and the spot check's sizes now.
    floor : ReviewFloor
        The reviewers' error rate the batch was chosen with, and its source.
    held_back : int
        Undecided examples not chosen because a review there is expected to do harm.
    remaining : int
        Undecided examples left after this push.
    """

    ids: list[str]
    blind: list[str]
    audited: int
    checked: int
    chosen: int
    audit_size: int
    check_size: int
    floor: ReviewFloor
    held_back: int
    remaining: int


def plan_next(run_dir: str | Path, scores: pl.DataFrame, ledger: pl.DataFrame, *, batch: int,
              audit: int = 0, check_changes: int = 0,
              reviewer_error: float | None = None) -> NextPlan:
    """Choose what ``review next`` pushes, and record the audit's and the spot check's new
    sizes in the run directory (before the push, so that a crash keeps their samples).

    Parameters
    ----------
    run_dir : str or Path
        The run directory.
    scores : polars.DataFrame
        Its scores.
    ledger : polars.DataFrame
        Every decision so far (pulled just before).
    batch : int
        Examples to choose by expected gain (:func:`next_batch`).
    audit : int
        Undecided examples of the random audit to push besides (it grows as needed).
    check_changes : int
        Undecided automatic changes of the spot check to push besides.
    reviewer_error : float, optional
        The reviewers' error rate (default: the audit's, :func:`review_floor`).
    """
    audit_ids: list[str] = []
    size = read_audit_size(run_dir)
    if audit:
        size, audit_ids = audit_batch(scores, ledger, size, audit)
        write_audit_size(run_dir, size)
    checks = read_check_chunks(run_dir)
    check_ids: list[str] = []
    check_size = checks[-1] if checks else 0
    if check_changes:
        check_size, check_ids = change_batch(scores, ledger, check_size, check_changes)
        in_audit = set(audit_ids)
        check_ids = [i for i in check_ids if i not in in_audit]
        write_check_size(run_dir, check_size)
    floor = review_floor(run_dir, scores, ledger, reviewer_error)
    chosen: list[str] = []
    held = 0
    if batch:
        ranked = ranked_candidates(scores, ledger, set(audit_ids) | set(check_ids),
                                   reviewer_error=floor.reviewer_error or 0.0,
                                   noise_rate=floor.noise_rate)
        chosen = ranked.filter(pl.col("worth")).head(batch)["id"].to_list()
        held = int((~ranked["worth"]).sum())
    blind = audit_ids + check_ids
    ids = blind + chosen
    return NextPlan(ids=ids, blind=blind, audited=len(audit_ids), checked=len(check_ids),
                    chosen=len(chosen), audit_size=size, check_size=check_size, floor=floor,
                    held_back=held,
                    remaining=max(0, scores.height - len(reviewed_ids(ledger)) - len(ids)))


__all__ = ["MIN_DOUBLE_REVIEWED", "NextPlan", "ReviewFloor", "check_reviewer_error",
           "floor_from", "held_back", "next_batch", "plan_next", "review_floor",
           "reviewer_error_origin"]
