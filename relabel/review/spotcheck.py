"""A spot check of the automatic changes: reviewers decide a random sample of the labels relabel
changed on its own, which measures how often those changes are right on this dataset. Pure
functions of ids, labels and decisions.

Why
---
relabel changes a label automatically only where its estimate that the change is right reaches
``--target-precision`` (:mod:`relabel.detect.decide`). That estimate rests on relabel's own
signals. Where a dataset's errors are shared by similar examples (a weak rule, distant
supervision), those signals learn the wrong label of a whole region. The few *right* labels
left in that region then look like errors, and relabel "fixes" them with high confidence. A
construction on banking77 measures it (bench/RESULTS.md, "Spot check"): 27.7% of the
labels are wrong, in whole sub-clusters of a class moved to the nearest other class. Of
relabel's 32 automatic changes none was right and 31 damaged a right label, while it estimated
them 0.95 likely right on average. A random audit of the whole dataset
(:mod:`relabel.review.audit`) cannot see this: the changes are 0.3% of the rows, so an audit of
100 holds none of them.

The check
---------
The population is the run's automatic changes. Each one's rank is a keyed hash of its id under
``CHECK_KEY`` (another key than the audit's, so the two samples are independent), and the
sample of size ``n`` is the ``n`` changes of lowest rank (:func:`relabel.review.audit.audit_order`
over the changed ids). It grows in chunks, one per ``review next --check-changes``, and a chunk
counts once every change in it is decided, for the reason the audit gives.

Of the ``a`` checked changes, the reviewer chose relabel's suggested label for ``m``. The
changes' precision is ``m / a``, with the Jeffreys 95% interval. A change makes the labels
better when it is right (+1) and worse when the given label was right (-1), so changes right
with probability ``p`` add at least ``2p - 1`` right labels each: they cannot make the dataset
worse when ``p >= 1/2``. The check's verdict:

- **harmful** when the interval's upper end is below ``HARMFUL`` (1/2): the changes most likely
  make the labels worse. ``export`` then applies none of the unchecked changes unless asked to
  (``--apply suggestions``), and a later round (``denoise --reviews`` from this run directory)
  makes no automatic change at all;
- **below target** when the upper end is below the run's target precision: relabel's estimate
  is too bold here. It is reported, with a hint to raise ``--target-precision``; nothing is
  withheld, because the changes still add right labels.

A reviewer who errs lowers the measured precision a little (one wrong 10% of the time reads a
0.98 precision as about 0.88), far from 1/2, so the harmful verdict does not depend on perfect
reviewers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from relabel.errors import option
from relabel.review.audit import LEVEL, audit_extension, counted_sample

#: the hash key of the spot check's sample (independent of the random audit's)
CHECK_KEY = b"relabel-change-check-v1"
#: below this precision (the upper end of its interval) the changes make the labels worse
HARMFUL = 0.5


@dataclass(frozen=True)
class ChangeCheck:
    """What a spot check of the automatic changes says (module docstring). Rates in [0, 1].

    Attributes
    ----------
    changes : int
        The run's automatic changes, the population sampled.
    size : int
        Changes in the sample so far.
    checked : int
        Of those, how many count: the changes of its fully decided chunks.
    accepted : int
        Of those, how many the reviewer decided as relabel suggested.
    precision, low, high : float
        ``accepted / checked`` and its interval (NaN before any decision).
    estimated : float
        relabel's own estimate: the mean confidence of the changes (NaN without changes).
    target : float
        The run's target precision.
    """

    changes: int
    size: int
    checked: int
    accepted: int
    precision: float
    low: float
    high: float
    estimated: float
    target: float

    @property
    def harmful(self) -> bool:
        """The changes most likely make the labels worse: the interval lies below 1/2."""
        return bool(self.checked) and self.high < HARMFUL

    @property
    def below_target(self) -> bool:
        """The changes are less often right than the target promised (the interval lies below
        it), though not harmful."""
        return bool(self.checked) and not self.harmful and self.high < self.target

    def to_json(self) -> dict[str, float | int | bool]:
        out = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        out.update(harmful=self.harmful, below_target=self.below_target)
        return out


def check_extension(ids: Sequence[str], changed: np.ndarray, size: int, decided: np.ndarray,
                    pending: int) -> tuple[int, np.ndarray]:
    """Grow the spot check until ``pending`` of its changes await a decision.

    Parameters
    ----------
    ids : sequence of str
        ``(N,)`` every example's id.
    changed : np.ndarray
        ``(N,)`` bool, relabel changed the label automatically (the population).
    size : int
        The check's size so far.
    decided : np.ndarray
        ``(N,)`` bool, a reviewer decided the example.
    pending : int
        How many undecided changes to push now.

    Returns
    -------
    size : int
        The new size (never smaller than before).
    chosen : np.ndarray
        ``(P,)`` row numbers of the undecided changes to push, in the check's order.
    """
    rows = np.flatnonzero(np.asarray(changed, dtype=bool))
    new_size, picked = audit_extension([ids[i] for i in rows], size,
                                       np.asarray(decided, dtype=bool)[rows], pending,
                                       key=CHECK_KEY)
    return new_size, rows[picked]


def estimate_changes(ids: Sequence[str], changed: np.ndarray, suggested: np.ndarray,
                     decision: np.ndarray, chunks: Sequence[int], confidence: np.ndarray, *,
                     target: float, level: float = LEVEL) -> ChangeCheck:
    """The spot check's estimates (module docstring).

    Parameters
    ----------
    ids : sequence of str
        ``(N,)`` every example's id.
    changed : np.ndarray
        ``(N,)`` bool, relabel changed the label automatically.
    suggested : np.ndarray
        ``(N,)`` relabel's new label (any comparable dtype; read where ``changed``).
    decision : np.ndarray
        ``(N,)`` the reviewer's label, None where nobody decided.
    chunks : sequence of int
        The check's size after each extension, increasing.
    confidence : np.ndarray
        ``(N,)`` each change's estimated probability of being right (read where ``changed``).
    target : float
        The run's target precision.
    level : float
        Interval coverage.
    """
    from relabel.crowd.estimate import jeffreys_interval

    changed = np.asarray(changed, dtype=bool)
    rows = np.flatnonzero(changed)
    decision = np.asarray(decision, dtype=object)[rows]
    has = np.array([d is not None for d in decision], dtype=bool)
    counted = counted_sample([ids[i] for i in rows], chunks, has, key=CHECK_KEY)
    a = int(counted.sum())
    m = int((decision[counted] == np.asarray(suggested, dtype=object)[rows][counted]).sum())
    conf = np.asarray(confidence, dtype=np.float64)[rows]
    estimated = float(conf.mean()) if len(conf) else float("nan")
    size = int(chunks[-1]) if len(chunks) else 0
    if a == 0:
        nan = float("nan")
        return ChangeCheck(len(rows), min(size, len(rows)), 0, 0, nan, nan, nan, estimated,
                           target)
    low, high = (float(x) for x in jeffreys_interval(m, a, level=level))
    return ChangeCheck(changes=len(rows), size=min(size, len(rows)), checked=a, accepted=m,
                       precision=m / a, low=low, high=high, estimated=estimated, target=target)


def check_line(check: ChangeCheck) -> str:
    """What the spot check found, in one line (``review status`` and the report)."""
    if not check.checked:
        return (f"spot check: {check.size} of {check.changes} automatic changes sampled; it "
                "counts a batch of them once all its changes are decided, and none is yet")
    waiting = (f" ({check.size - check.checked} more count once their batch is fully decided)"
               if check.checked < check.size else "")
    return (f"spot check: {check.checked} of {check.changes} automatic changes checked"
            f"{waiting}, {check.accepted} accepted: {100 * check.precision:.0f}% right (95% "
            f"interval {100 * check.low:.0f}-{100 * check.high:.0f}%; relabel estimated "
            f"{100 * check.estimated:.0f}%)")


def check_message(check: ChangeCheck) -> str | None:
    """One line for a person when the checked changes fall short (None when they do not)."""
    if not (check.harmful or check.below_target):
        return None
    seen = (f"reviewers accepted {check.accepted} of {check.checked} checked automatic changes "
            f"({100 * check.precision:.0f}%, 95% interval {100 * check.low:.0f}-"
            f"{100 * check.high:.0f}%), where relabel estimated {100 * check.estimated:.0f}%")
    if check.harmful:
        return (f"{seen}: its changes make these labels worse, so `export` applies none of the "
                f"unchecked ones ({option('--apply', 'suggestions')} forces them) and a new round "
                "(`denoise --reviews` from this run) makes no automatic change")
    return (f"{seen}: below the target precision {100 * check.target:.0f}%; a higher "
            f"{option('--target-precision')} makes fewer, surer changes")


def withheld_message(check: ChangeCheck) -> str:
    """Why a new round (``denoise --reviews`` from the checked run) changes nothing
    automatically (``summary.json``: ``decisions.withheld``)."""
    return (f"reviewers accepted {check.accepted} of the previous round's {check.checked} "
            f"spot-checked automatic changes (95% interval {100 * check.low:.0f}-"
            f"{100 * check.high:.0f}% right): relabel's signals mislead it on this dataset, so "
            "nothing was changed automatically; the flags are for a person")


__all__ = ["CHECK_KEY", "HARMFUL", "ChangeCheck", "check_extension", "check_line",
           "check_message", "estimate_changes", "withheld_message"]
