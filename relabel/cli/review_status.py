"""``relabel review status DIR [--project NAME]``: reviewed so far and the labels' accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from relabel.cli._util import handle_errors, review_app

if TYPE_CHECKING:
    from relabel.review.status import ReviewStatus


@review_app.command("status")
@handle_errors
def review_status_command(
    run_dir: Annotated[Path, typer.Argument(readable=False,
                                            help="Output directory of `relabel denoise`.")],
    project: Annotated[str | None, typer.Option("--project", help="Label Studio project to "
                       "pull the latest decisions from first (default: only what was "
                       "pulled).")] = None,
    reviewer_error: Annotated[float | None, typer.Option(
        "--reviewer-error",
        help="Your reviewers' error rate (e.g. 0.05): also say how many examples are still "
             "more likely wrong than that, i.e. worth a review. Default: the rate the random "
             "audit measured where two reviewers decided the same examples, else none.")
    ] = None,
) -> None:
    """Reviewed so far, confirmed errors, accepted and overridden suggestions, the estimated
    errors left and the label accuracy now, with a 95% interval."""
    from connectors.label_studio import review_status

    # pulls first only when a project is given
    s = review_status(run_dir, project, reviewer_error=reviewer_error)
    typer.echo(format_status(s, run_dir))


def format_status(s: ReviewStatus, run_dir: Path) -> str:
    """The lines ``review status`` prints: the reviews, relabel's own estimate, the random
    audit's and the spot check of the automatic changes (or how to start them)."""
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
                     "signals see; `relabel review next "
                     f"{run_dir} --project NAME --batch 0 --audit 50` measures the rest")
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
                     f"`relabel review next {run_dir} --project NAME --batch 0 --check-changes "
                     "20` measures how often they are right")
    elif c is not None:
        lines.append(check_line(c))
        warning = check_message(c)
        if warning:
            lines.append(f"warning: {warning}")
    return "\n".join(lines)
