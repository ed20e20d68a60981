"""``relabel review next DIR --project NAME --batch B``: push the next examples worth a look."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relabel.cli._util import handle_errors, review_app


@review_app.command("next")
@handle_errors
def review_next_command(
    run_dir: Annotated[Path, typer.Argument(readable=False,
                                            help="Output directory of `relabel denoise`.")],
    project: Annotated[str, typer.Option("--project", help="Label Studio project title "
                       "(created when missing).")],
    batch: Annotated[int, typer.Option(help="How many examples to push by expected gain.")
                     ] = 100,
    audit: Annotated[int, typer.Option(
        help="Also push this many undecided examples of a uniform random sample: their "
             "decisions measure the dataset's real error rate, which `review status` then "
             "reports (errors that similar examples share are invisible to relabel's own "
             "estimate).")] = 0,
    check_changes: Annotated[int, typer.Option(
        "--check-changes",
        help="Also push this many undecided examples of a random sample of relabel's automatic "
             "changes: their decisions measure how often the changes are right here, which "
             "`review status` reports; when they are mostly wrong, `export` withholds the "
             "unchecked ones.")] = 0,
    reviewer_error: Annotated[float | None, typer.Option(
        "--reviewer-error",
        help="Your reviewers' error rate (e.g. 0.05): push only examples whose label is more "
             "likely wrong than that, since reviewing the others is expected to break more "
             "right labels than it fixes. Default: the rate the random audit measured where "
             "two reviewers decided the same examples, else none.")] = None,
) -> None:
    """Pull the decisions so far, then push the next B unreviewed examples by expected gain:
    likely errors relabel cannot fix on its own first, then the most uncertain; with --audit N,
    N examples of a random audit besides, and with --check-changes M, M of relabel's automatic
    changes to spot-check."""
    from connectors.label_studio import review_next
    from relabel.cli.review_pull import new_classes_note
    from relabel.review.batch import reviewer_error_origin

    res = review_next(run_dir, project, batch=batch, audit=audit, check_changes=check_changes,
                      reviewer_error=reviewer_error)
    pulled = (f"pulled {res.pulled.tasks} reviewed tasks; " if res.pulled is not None else "")
    none = " (relabel changed no label automatically: no change to check)" \
        if check_changes and not res.changes else ""
    held = ""
    if res.held_back:
        where = reviewer_error_origin(res.reviewer_error_source)
        held = (f"; {res.held_back} unreviewed examples held back: their chance of a wrong "
                f"label is not above the reviewers' error rate {res.reviewer_error:.3g} "
                f"({where}), so reviewing them is expected to break more right labels than "
                f"it fixes")
    if res.pulled is not None and res.pulled.new_classes:
        typer.echo(new_classes_note(res.pulled.new_classes, run_dir))
    if res.pushed is None:
        typer.echo(f"{pulled}nothing left to review in {run_dir}{none}{held}")
        return
    parts = ([f"{res.audited} from the random audit, now {res.audit_size} examples"]
             if audit else []) + \
        ([f"{res.checked} automatic changes to check, now {res.check_size} sampled of "
          f"{res.changes}"] if check_changes and res.changes else []) + \
        (["relabel changed no label automatically: no change to check"] if none else [])
    audited = f" ({'; '.join(parts)})" if parts else ""
    typer.echo(f"{pulled}pushed the next {res.chosen} examples{audited} to '{project}' "
               f"({res.pushed.project_url}): {res.pushed.created} new tasks, "
               f"{res.pushed.updated} updated, {res.pushed.unchanged} unchanged; "
               f"{res.remaining} unreviewed examples after these{held}")
