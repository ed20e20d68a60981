"""The review loop: where the dataset stands after the reviewers' decisions and relabel's
changes (``relabel review status``), and its history across rounds.

After applying the reviewers' decisions and relabel's changes, an example reviewed by a human is
taken as right; every other one is wrong with probability ``e_i``. That is the chance
:mod:`relabel.review.chance` gives, from the run's recalibrated decisions, made consistent with
the run's estimated noise rate by :func:`~relabel.review.chance.expected_errors`. The estimated
number of errors left is ``Σ e_i`` and the label accuracy ``1 - Σ e_i / N``. Its 95% interval is
the normal one of a sum of independent Bernoulli variables, ``± 1.96 · sqrt(Σ e_i (1 - e_i)) /
N``; it does not include the uncertainty of the estimates ``e_i`` themselves, nor reviewer
mistakes.

These ``e_i`` come from relabel's own signals, which cannot see errors that similar examples
share. A random audit (``review next --audit N``, :mod:`relabel.review.audit`) measures the
error rate directly on a uniform sample; once reviewers decided some of it, the status reports
the audit's figures beside the model's and says when the two disagree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from relabel.config import DEFAULT_TARGET_PRECISION
from relabel.review.audit import AuditEstimate
from relabel.review.batch import floor_from
from relabel.review.chance import ranked_candidates, remaining_error, with_decisions
from relabel.review.samples import (
    audit_estimate,
    change_check,
    read_audit_chunks,
    read_check_chunks,
    run_annotations,
    run_error_rate,
    run_target_precision,
)
from relabel.review.spotcheck import ChangeCheck


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
    #: the reviewers' error rate, given or measured on the audit
    #: (:func:`relabel.review.batch.review_floor`), its source, and how many unreviewed examples
    #: are more likely wrong than that: still worth a review (None where no rate is known)
    reviewer_error: float | None = None
    reviewer_error_source: str | None = None
    worth_reviewing: int | None = None
    #: the run directory it is about, named in the commands the text suggests
    run_dir: str | None = field(default=None, compare=False)

    def text(self, run_dir: str | Path | None = None) -> str:
        """What ``relabel review status`` prints (:func:`status_lines`)."""
        return "\n".join(status_lines(self, run_dir if run_dir is not None else self.run_dir))

    def __str__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        """A notebook shows the same lines as the command."""
        from html import escape

        return "".join(f"<p>{escape(line)}</p>" for line in status_lines(self, self.run_dir))

    def to_json(self) -> dict[str, float | int | dict | None]:
        out: dict[str, float | int | dict | None] = {
            k: (round(v, 4) if isinstance(v, float) else v)
            for k, v in asdict(self).items() if k not in ("audit", "changes", "run_dir")}
        out["audit"] = self.audit.to_json() if self.audit is not None else None
        out["changes"] = self.changes.to_json() if self.changes is not None else None
        return out


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
    (:func:`relabel.review.samples.audit_estimate`), compared with
    ``relabel_error_rate``, the run's own estimated noise rate. ``annotations`` (``id,
    annotator, label``: every reviewer's own decision, as ``review pull`` writes them) corrects
    the audit for the reviewers' error where two or more decided the same example, over
    ``n_classes`` classes (default: the labels seen in ``scores``).
    """
    joined = with_decisions(scores, ledger)
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
    audit = audit_estimate(joined, audit_chunks, relabel_error_rate=relabel_error_rate,
                           annotations=annotations, n_classes=n_classes)
    changes = change_check(joined, check_chunks, target_precision)
    floor = floor_from(audit, relabel_error_rate, reviewer_error)
    worth = None
    if floor.reviewer_error is not None:
        worth = int(ranked_candidates(scores, ledger, reviewer_error=floor.reviewer_error,
                                      noise_rate=floor.noise_rate)["worth"].sum())
    return ReviewStatus(
        examples=n, reviewed=int(is_rev.sum()), confirmed_errors=confirmed,
        suggestions_reviewed=int(s_rev.sum()), suggestions_accepted=accepted,
        suggestions_overridden=int(s_rev.sum()) - accepted,
        automatic_changes=int((has_sugg & ~is_rev).sum()),
        estimated_errors_left=left, estimated_accuracy=acc,
        accuracy_low=max(0.0, acc - half), accuracy_high=min(1.0, acc + half), audit=audit,
        changes=changes, reviewer_error=floor.reviewer_error,
        reviewer_error_source=floor.source, worth_reviewing=worth)


def run_review_status(run_dir: str | Path, scores: pl.DataFrame | None = None, *,
                      ledger: pl.DataFrame | None = None, noise_rate: float | None = None,
                      n_classes: int | None = None,
                      reviewer_error: float | None = None) -> ReviewStatus:
    """:func:`review_status` of a run directory, with its audit, every reviewer's decision and
    its own noise estimate. What the caller already holds is not read again: ``scores`` and
    ``ledger``, and, while ``denoise`` is still writing the run, its ``noise_rate`` and
    ``n_classes`` (otherwise from ``summary.json``)."""
    from dataclasses import replace

    from relabel.review.ledger import read_ledger
    from relabel.rundir import load_run, run_classes

    if scores is None:
        _, scores = load_run(run_dir)
    return replace(review_status(
        scores, read_ledger(run_dir) if ledger is None else ledger,
        audit_chunks=read_audit_chunks(run_dir),
        relabel_error_rate=run_error_rate(run_dir) if noise_rate is None else noise_rate,
        annotations=run_annotations(run_dir),
        n_classes=len(run_classes(run_dir, scores)) if n_classes is None else n_classes,
        check_chunks=read_check_chunks(run_dir), target_precision=run_target_precision(run_dir),
        reviewer_error=reviewer_error), run_dir=str(run_dir))


def status_lines(s: ReviewStatus, run_dir: str | Path | None = None) -> list[str]:
    """The lines ``review status`` prints (and a notebook shows): the reviews, relabel's own
    estimate, the random audit's and the spot check of the automatic changes, or how to start
    them: the command on ``run_dir`` on the command line, the :class:`relabel.Run` method from
    Python."""
    from relabel.review.audit import audit_message
    from relabel.review.batch import reviewer_error_origin
    from relabel.review.spotcheck import check_line, check_message

    lines = [
        f"{s.reviewed} of {s.examples} examples reviewed: {s.confirmed_errors} wrong labels "
        f"confirmed; of {s.suggestions_reviewed} reviewed suggestions {s.suggestions_accepted} "
        f"accepted, {s.suggestions_overridden} overridden",
        f"{s.automatic_changes} labels changed automatically; estimated wrong labels left "
        f"{s.estimated_errors_left:.0f}; estimated label accuracy "
        f"{100 * s.estimated_accuracy:.1f}% (95% interval {100 * s.accuracy_low:.1f}-"
        f"{100 * s.accuracy_high:.1f}%), from relabel's signals"]
    a = s.audit
    if a is None:
        lines.append("no random audit yet: relabel's estimate counts only the errors its "
                     f"signals see; {_next_review(run_dir, 'audit', 50)} measures the rest")
    elif a.decided == 0:
        lines.append(f"random audit: {a.size} examples sampled; it counts a batch of them once "
                     "all its examples are decided, and none is yet")
    else:
        waiting = (f" ({a.size - a.decided} more count once their batch is fully decided)"
                   if a.decided < a.size else "")
        corrected = ("" if a.reviewer_error is None else
                     f", corrected for the reviewers' estimated error "
                     f"{100 * a.reviewer_error:.1f}% ({a.double_reviewed} examples decided by "
                     f"two or more; {100 * a.uncorrected_rate:.1f}% before)")
        lines.append(
            f"random audit: {a.decided} of {a.size} sampled examples decided{waiting}, {a.wrong} "
            f"had a wrong label: given labels {100 * a.error_rate:.1f}% wrong (95% interval "
            f"{100 * a.error_low:.1f}-{100 * a.error_high:.1f}%{corrected}); label accuracy "
            f"now {100 * a.accuracy_now:.1f}% ({100 * a.accuracy_low:.1f}-"
            f"{100 * a.accuracy_high:.1f}%), about {a.errors_left:.0f} wrong labels left")
        warning = audit_message(a)
        if warning:
            lines.append(f"warning: {warning}")
    if s.worth_reviewing is not None:
        where = reviewer_error_origin(s.reviewer_error_source)
        lines.append(
            f"still worth a review: {s.worth_reviewing} of the {s.examples - s.reviewed} "
            f"unreviewed examples are more likely wrong than the reviewers' error rate "
            f"{s.reviewer_error:.3g} ({where}); `review next` holds back the others, whose "
            "review is expected to break more right labels than it fixes")
    c = s.changes
    if c is None and s.automatic_changes:
        lines.append(f"no spot check of the {s.automatic_changes} automatic changes yet: "
                     f"{_next_review(run_dir, 'check-changes', 20)} measures how often they "
                     "are right")
    elif c is not None:
        lines.append(check_line(c))
        warning = check_message(c)
        if warning:
            lines.append(f"warning: {warning}")
    return lines


def _next_review(run_dir: str | Path | None, option: str, size: int) -> str:
    """How to start a random audit or a spot check of the changes: the command, or the
    :meth:`relabel.Run.review_next` call from Python."""
    from relabel.errors import on_command_line

    if on_command_line():
        return (f"`relabel review next {run_dir or 'DIR'} --project NAME --batch 0 --{option} "
                f"{size}`")
    return f"run.review_next('NAME', batch=0, {option.replace('-', '_')}={size})"


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


__all__ = ["ReviewStatus", "read_rounds", "record_status", "review_status", "run_review_status",
           "status_lines"]
