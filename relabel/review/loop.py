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

Reviewers make mistakes too. One who errs with probability ``e`` fixes a wrong label with
probability about ``1 - e`` and breaks a right one with probability ``e``, so reviewing an example
whose label is wrong with probability ``p`` changes the expected number of right labels by
``p (1 - e) - (1 - p) e = p - e``. With a reviewer error rate (``review next --reviewer-error``,
or measured on the random audit where two reviewers decided the same examples,
:mod:`relabel.review.audit`), an example is chosen only where ``p > e``: past that point more
reviews make the labels worse, and ``review next`` says so instead of asking. The order is the
same either way. ``p`` is the chance above, corrected in two ways:

- It is made consistent with the estimated noise rate (:func:`expected_errors`, as ``review
  status`` counts the errors left): relabel's own, or the random audit's where that is higher.
  The raw ``p_wrong`` underestimates it on some sets: on youtube the first 100 examples, whose
  ``p_wrong`` went down to 0.012, fixed 41 labels net with a reviewer wrong 10% of the time.
- The reviewers' decisions on this run's examples scale it up where they found more wrong labels
  than relabel expected, after allowing for their own error (:func:`reviewed_ratio`). Without
  that, a user who keeps asking from one run stops too early where errors hide from relabel's
  signals: on hausa, 362 reviews and 64.0% right labels, against 68.3% with it (all 500 used).

With a simulated reviewer wrong 10% of the time, every strategy that keeps reviewing lowered
youtube and sms from round 2 on; stopping at ``p <= e`` kept the accuracy rising on both
(bench/RESULTS.md, "Reviewers who err").

Where the dataset stands (:func:`review_status`)
------------------------------------------------
After applying the reviewers' decisions and relabel's changes, an example reviewed by a human is
taken as right; every other one is wrong with probability ``e_i`` (the same chance as above, from
the run's recalibrated decisions, made consistent with the run's estimated noise rate by
:func:`expected_errors`). The estimated number of errors left is ``Σ e_i`` and the label
accuracy ``1 - Σ e_i / N``; its 95% interval is the normal one of a sum of independent Bernoulli
variables, ``± 1.96 · sqrt(Σ e_i (1 - e_i)) / N`` (it does not include the uncertainty of the
estimates ``e_i`` themselves, nor reviewer mistakes).

These ``e_i`` come from relabel's own signals, which cannot see errors that similar examples
share. A random audit (``review next --audit N``, :mod:`relabel.review.audit`) measures the
error rate directly on a uniform sample; once reviewers decided some of it, the status reports
the audit's figures beside the model's and says when the two disagree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl

from relabel.config import DEFAULT_TARGET_PRECISION
from relabel.review.audit import AuditEstimate, counted_sample, estimate_from_audit
from relabel.review.spotcheck import ChangeCheck, estimate_changes

DECIDED = ("accepted", "changed")
#: pseudo-examples at relabel's own estimate that shrink :func:`reviewed_ratio` towards 1 (not
#: tuned: a batch of 100 decisions moves it by 83% of what it shows)
RATIO_PSEUDO = 20.0
#: audited examples two reviewers must both have decided before ``review next`` takes the
#: reviewers' error rate they measure as its stopping point (not tuned: with fewer pairs the
#: estimate is too loose to stop reviews on; a user can always give ``--reviewer-error``)
MIN_DOUBLE_REVIEWED = 20


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
    return _ranked(scores, ledger, exclude, reviewer_error, noise_rate).head(batch)


def reviewer_error_origin(source: str | None) -> str:
    """How ``review next`` and ``review status`` name where the reviewers' error rate came from
    (:attr:`ReviewFloor.source`)."""
    return "given" if source == "given" else "measured on the audit's doubly reviewed examples"


def check_reviewer_error(reviewer_error: float | None) -> None:
    """Raise ``RelabelInputError`` unless ``reviewer_error`` is None or in [0, 0.5)."""
    from relabel.errors import RelabelInputError

    if reviewer_error is not None and not 0.0 <= reviewer_error < 0.5:
        raise RelabelInputError(f"--reviewer-error must be at least 0 and below 0.5 (a "
                                f"reviewer wrong half the time tells nothing); got "
                                f"{reviewer_error}")


@dataclass(frozen=True)
class ReviewFloor:
    """Where ``review next`` stops asking (:func:`review_floor`).

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
    audit = run_review_status(run_dir, scores, ledger=ledger).audit \
        if read_audit_size(run_dir) else None
    return _floor(audit, run_error_rate(run_dir), reviewer_error)


def _floor(audit: AuditEstimate | None, relabel_error_rate: float | None,
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
    every = _ranked(scores, ledger, exclude, 0.0, None).height
    return every - _ranked(scores, ledger, exclude, reviewer_error, noise_rate).height


def _ranked(scores: pl.DataFrame, ledger: pl.DataFrame, exclude: set[str] | None,
            reviewer_error: float, noise_rate: float | None) -> pl.DataFrame:
    """The unreviewed examples :func:`next_batch` may choose, highest gain first."""
    skip = decided_ids(scores, ledger) | (exclude or set())
    gain = remaining_error(scores)
    ranked = scores.with_columns(pl.Series("gain", gain))
    if reviewer_error > 0:
        chance = remaining_error(scores, noise_rate) if noise_rate is not None else gain
        chance = np.minimum(1.0, chance * reviewed_ratio(scores, ledger, chance,
                                                         reviewer_error))
        ranked = ranked.filter(pl.Series(chance > reviewer_error))
    return (ranked.filter(~pl.col("id").is_in(list(skip)))
            .sort(["gain", "row"], descending=[True, False]))


def reviewed_ratio(scores: pl.DataFrame, ledger: pl.DataFrame, chance: np.ndarray,
                   reviewer_error: float) -> float:
    """How many more wrong labels the reviewers found than ``chance`` ``(N,)`` expected, on the
    examples they decided since this run scored them: ``f >= 1`` (module docstring).

    A reviewer who errs with probability ``e`` finds the label now (the given one, or relabel's
    change) wrong with probability ``c = p + (1 - p) e`` when it is wrong with probability ``p``,
    so ``p = (c - e) / (1 - e)`` is estimated from what they decided; ``f`` is the sum of those
    over the sum of ``chance``, shrunk towards 1 by ``RATIO_PSEUDO`` examples at the mean
    ``chance``, and never below 1 (relabel's own estimate stays the floor)."""
    joined = _with_decisions(scores, ledger)
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
    #: the random audit's estimates (None when no audit was started)
    audit: AuditEstimate | None = None
    #: the spot check of the automatic changes (None when no check was started)
    changes: ChangeCheck | None = None
    #: the reviewers' error rate, given or measured on the audit (:func:`review_floor`), its
    #: source, and how many unreviewed examples are more likely wrong than that: still worth a
    #: review (None where no rate is known)
    reviewer_error: float | None = None
    reviewer_error_source: str | None = None
    worth_reviewing: int | None = None

    def to_json(self) -> dict[str, float | int | dict | None]:
        out: dict[str, float | int | dict | None] = {
            k: (round(v, 4) if isinstance(v, float) else v)
            for k, v in asdict(self).items() if k not in ("audit", "changes")}
        out["audit"] = self.audit.to_json() if self.audit is not None else None
        out["changes"] = self.changes.to_json() if self.changes is not None else None
        return out


def _with_decisions(scores: pl.DataFrame, ledger: pl.DataFrame) -> pl.DataFrame:
    """``scores`` with ``_decision``: each example's latest accepted or changed label from the
    ledger (null where nobody decided)."""
    from relabel.review.ledger import latest_decisions

    latest = latest_decisions(ledger) if ledger.height else ledger
    decided = (latest.filter(pl.col("status").is_in(list(DECIDED)))
               .select("id", "reviewed_label")
               if latest.height else pl.DataFrame(schema={"id": pl.String,
                                                          "reviewed_label": pl.String}))
    return scores.join(decided.rename({"reviewed_label": "_decision"}), on="id", how="left")


def _change_check(joined: pl.DataFrame, chunks: Sequence[int], target: float
                  ) -> ChangeCheck | None:
    """The spot check over :func:`_with_decisions`' frame (None before it started)."""
    if not len(chunks) or chunks[-1] <= 0:
        return None
    decision = joined["_decision"]
    return estimate_changes(
        joined["id"].to_list(), joined["suggested_label"].is_not_null().to_numpy(),
        joined["suggested_label"].to_numpy(),
        np.where(decision.is_not_null().to_numpy(), decision.to_numpy(), None), chunks,
        joined["suggestion_confidence"].fill_null(0.0).to_numpy(), target=target)


def review_status(scores: pl.DataFrame, ledger: pl.DataFrame, *,
                  audit_chunks: Sequence[int] = (),
                  relabel_error_rate: float | None = None,
                  annotations: pl.DataFrame | None = None,
                  n_classes: int | None = None,
                  check_chunks: Sequence[int] = (),
                  target_precision: float = DEFAULT_TARGET_PRECISION,
                  reviewer_error: float | None = None) -> ReviewStatus:
    """Reviewed so far, what the reviewers found, and the estimated label accuracy now.

    ``scores`` are the latest run's; ``ledger`` every decision (also those the run already
    trusted). A suggestion counts as reviewed where this run suggested a label and a reviewer
    then decided the row. With ``audit_chunks`` (the random audit's size after each extension,
    ``audit.json``) the status also carries the audit's estimates over its fully decided chunks
    (:func:`relabel.review.audit.estimate_from_audit`), compared with
    ``relabel_error_rate``, the run's own estimated noise rate. ``annotations`` (``id,
    annotator, label``: every reviewer's own decision, as ``review pull`` writes them) corrects
    the audit for the reviewers' error where two or more decided the same example, over
    ``n_classes`` classes (default: the labels seen in ``scores``).
    """
    joined = _with_decisions(scores, ledger)
    is_rev = joined["_decision"].is_not_null().to_numpy()
    given = joined["label"].to_numpy()
    decision = joined["_decision"].to_numpy()
    sugg = joined["suggested_label"].to_numpy()
    has_sugg = joined["suggested_label"].is_not_null().to_numpy()
    confirmed = int((is_rev & (decision != given)).sum())
    s_rev = is_rev & has_sugg
    accepted = int((s_rev & (decision == sugg)).sum())
    err = remaining_error(scores, relabel_error_rate)
    err = np.where(is_rev, 0.0, err)
    n = scores.height
    left = float(err.sum())
    acc = 1.0 - left / max(n, 1)
    half = 1.96 * math.sqrt(float((err * (1 - err)).sum())) / max(n, 1)
    audit = None
    if len(audit_chunks) and audit_chunks[-1] > 0:
        auto = has_sugg & ~is_rev
        conf = joined["suggestion_confidence"].fill_null(0.0).to_numpy()[auto]
        votes = None
        if annotations is not None and annotations.height:
            per_id = (annotations.filter(pl.col("label").is_not_null())
                      .group_by("id").agg(pl.col("label")))
            found = dict(zip(per_id["id"].to_list(), per_id["label"].to_list(), strict=True))
            votes = [found.get(i) for i in joined["id"].to_list()]
        k = n_classes if n_classes is not None else max(2, scores["label"].n_unique())
        counted = counted_sample(joined["id"].to_list(), audit_chunks, is_rev)
        audit = estimate_from_audit(
            given, np.where(is_rev, decision, None), counted, size=int(audit_chunks[-1]),
            confirmed=confirmed,
            change_confidence=conf, relabel_error_rate=relabel_error_rate, votes=votes,
            n_classes=k)
    changes = _change_check(joined, check_chunks, target_precision)
    floor = _floor(audit, relabel_error_rate, reviewer_error)
    worth = None
    if floor.reviewer_error is not None:
        worth = _ranked(scores, ledger, None, floor.reviewer_error, floor.noise_rate).height
    return ReviewStatus(
        examples=n, reviewed=int(is_rev.sum()), confirmed_errors=confirmed,
        suggestions_reviewed=int(s_rev.sum()), suggestions_accepted=accepted,
        suggestions_overridden=int(s_rev.sum()) - accepted,
        automatic_changes=int((has_sugg & ~is_rev).sum()),
        estimated_errors_left=left, estimated_accuracy=acc,
        accuracy_low=max(0.0, acc - half), accuracy_high=min(1.0, acc + half), audit=audit,
        changes=changes, reviewer_error=floor.reviewer_error,
        reviewer_error_source=floor.source, worth_reviewing=worth)


def _read_chunks(path: Path) -> list[int]:
    """A sample's size after each extension, from its JSON file (``audit.json``,
    ``change_check.json``; empty when none was started; a file with a size alone is one
    chunk)."""
    import json

    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        chunks = [int(c) for c in data.get("chunks") or [data.get("size", 0)]]
    except (ValueError, TypeError, AttributeError):
        return []
    out: list[int] = []
    for c in chunks:  # increasing and positive
        if c > (out[-1] if out else 0):
            out.append(c)
    return out


def _write_chunks(path: Path, size: int, key: bytes) -> None:
    """Record that a sample now has ``size`` examples: a new chunk when it grew
    (atomically)."""
    from relabel.data.io import write_json

    chunks = _read_chunks(path)
    if size > (chunks[-1] if chunks else 0):
        chunks.append(int(size))
    write_json({"size": chunks[-1] if chunks else 0, "chunks": chunks, "key": key.decode()},
               path)


def read_audit_chunks(run_dir: str | Path) -> list[int]:
    """The random audit's size after each extension, from ``audit.json`` (empty when no audit
    was started)."""
    from relabel.rundir import RunFiles

    return _read_chunks(RunFiles(run_dir).audit)


def read_audit_size(run_dir: str | Path) -> int:
    """The random audit's size (0 when no audit was started)."""
    chunks = read_audit_chunks(run_dir)
    return chunks[-1] if chunks else 0


def write_audit_size(run_dir: str | Path, size: int) -> None:
    """Record that the random audit now has ``size`` examples."""
    from relabel.review.audit import AUDIT_KEY
    from relabel.rundir import RunFiles

    _write_chunks(RunFiles(run_dir).audit, size, AUDIT_KEY)


def read_check_chunks(run_dir: str | Path) -> list[int]:
    """The spot check's size after each extension, from ``change_check.json`` (empty when no
    check was started; :mod:`relabel.review.spotcheck`)."""
    from relabel.rundir import RunFiles

    return _read_chunks(RunFiles(run_dir).check)


def write_check_size(run_dir: str | Path, size: int) -> None:
    """Record that the spot check of the automatic changes now has ``size`` changes."""
    from relabel.review.spotcheck import CHECK_KEY
    from relabel.rundir import RunFiles

    _write_chunks(RunFiles(run_dir).check, size, CHECK_KEY)


def _run_decisions(run_dir: str | Path) -> dict:
    """The ``decisions`` block of the run's ``summary.json`` (empty when it has none)."""
    import json

    from relabel.rundir import RunFiles

    path = RunFiles(run_dir).summary
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("decisions") or {}


def run_error_rate(run_dir: str | Path) -> float | None:
    """The run's own estimated noise rate (``summary.json``), None when it has none."""
    rate = _run_decisions(run_dir).get("estimated_noise_rate")
    return None if rate is None else float(rate)


def run_target_precision(run_dir: str | Path) -> float:
    """The target precision the run decided with (``summary.json``; the default without)."""
    return float(_run_decisions(run_dir).get("target_precision", DEFAULT_TARGET_PRECISION))


def run_review_status(run_dir: str | Path, scores: pl.DataFrame | None = None, *,
                      ledger: pl.DataFrame | None = None, noise_rate: float | None = None,
                      n_classes: int | None = None,
                      reviewer_error: float | None = None) -> ReviewStatus:
    """:func:`review_status` of a run directory, with its audit, every reviewer's decision and
    its own noise estimate. What the caller already holds is not read again: ``scores`` and
    ``ledger``, and, while ``denoise`` is still writing the run, its ``noise_rate`` and
    ``n_classes`` (otherwise from ``summary.json``)."""
    from relabel.review.ledger import read_ledger
    from relabel.rundir import RunFiles, load_run, run_classes

    if scores is None:
        _, scores = load_run(run_dir)
    path = RunFiles(run_dir).annotations
    annotations = pl.read_parquet(path) if path.is_file() else None
    return review_status(
        scores, read_ledger(run_dir) if ledger is None else ledger,
        audit_chunks=read_audit_chunks(run_dir),
        relabel_error_rate=run_error_rate(run_dir) if noise_rate is None else noise_rate,
        annotations=annotations,
        n_classes=len(run_classes(run_dir, scores)) if n_classes is None else n_classes,
        check_chunks=read_check_chunks(run_dir), target_precision=run_target_precision(run_dir),
        reviewer_error=reviewer_error)


def audit_summary(run_dir: str | Path, scores: pl.DataFrame, noise_rate: float,
                  n_classes: int) -> dict | None:
    """What ``summary.json`` records under ``audit`` while ``denoise`` writes a run that
    inherited a random audit (``denoise --reviews`` from a run directory with an
    ``audit.json``): the audit over this run's ``scores``, with its warning; None without a
    decided batch."""
    from relabel.review.audit import audit_message

    if not read_audit_size(run_dir):
        return None
    est = run_review_status(run_dir, scores, noise_rate=noise_rate, n_classes=n_classes).audit
    if est is None or not est.decided:
        return None
    return {**est.to_json(), "warning": audit_message(est)}


def audit_batch(scores: pl.DataFrame, ledger: pl.DataFrame, size: int, pending: int
                ) -> tuple[int, list[str]]:
    """Grow the random audit so that ``pending`` of its examples await a reviewer
    (:func:`relabel.review.audit.audit_extension`): returns the new size and their ids."""
    from relabel.review.audit import audit_extension

    ids = scores["id"].to_list()
    mask = scores["id"].is_in(list(decided_ids(scores, ledger))).to_numpy()
    new_size, rows = audit_extension(ids, size, mask, pending)
    return new_size, [ids[i] for i in rows]


def change_batch(scores: pl.DataFrame, ledger: pl.DataFrame, size: int, pending: int
                 ) -> tuple[int, list[str]]:
    """Grow the spot check of the run's automatic changes so that ``pending`` of them await a
    reviewer (:func:`relabel.review.spotcheck.check_extension`): the new size and their ids."""
    from relabel.review.spotcheck import check_extension

    ids = scores["id"].to_list()
    mask = scores["id"].is_in(list(decided_ids(scores, ledger))).to_numpy()
    new_size, rows = check_extension(ids, scores["suggested_label"].is_not_null().to_numpy(),
                                     size, mask, pending)
    return new_size, [ids[i] for i in rows]


def run_change_check(run_dir: str | Path, scores: pl.DataFrame | None = None
                     ) -> ChangeCheck | None:
    """The spot check of a run directory's automatic changes (None when none was started);
    ``scores`` when the caller holds them, else read from the run."""
    from relabel.review.ledger import read_ledger
    from relabel.rundir import load_run

    chunks = read_check_chunks(run_dir)
    if not chunks:
        return None
    if scores is None:
        _, scores = load_run(run_dir)
    return _change_check(_with_decisions(scores, read_ledger(run_dir)), chunks,
                         run_target_precision(run_dir))


def record_status(run_dir: str | Path, *, reviewer_error: float | None = None
                  ) -> ReviewStatus:
    """:func:`review_status` of a run directory (with the reviewers' error rate where the user
    gives it), appended to its ``review_rounds.jsonl`` (one line per call, with the time and the
    run's id; the report plots them)."""
    import datetime as dt
    import json
    import os

    from relabel.rundir import RunFiles, run_id

    status = run_review_status(run_dir, reviewer_error=reviewer_error)
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


__all__ = ["MIN_DOUBLE_REVIEWED", "RATIO_PSEUDO", "ReviewFloor", "ReviewStatus", "audit_batch",
           "audit_summary", "change_batch", "check_reviewer_error", "decided_ids",
           "expected_errors", "held_back", "next_batch", "read_audit_chunks", "read_audit_size",
           "read_check_chunks", "read_rounds", "record_status", "remaining_error", "review_floor",
           "review_status", "reviewed_ids", "reviewed_ratio", "reviewer_error_origin",
           "run_change_check", "run_error_rate", "run_review_status", "run_target_precision",
           "write_audit_size", "write_check_size"]
