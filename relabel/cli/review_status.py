"""``relabel review status DIR [--project NAME]``: reviewed so far and the labels' accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relabel.cli._util import handle_errors, review_app


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
    typer.echo(s.text(run_dir))
