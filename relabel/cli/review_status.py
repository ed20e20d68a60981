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
) -> None:
    """Reviewed so far, confirmed errors, accepted and overridden suggestions, the estimated
    errors left and the label accuracy now, with a 95% interval."""
    from connectors.label_studio import review_status

    s = review_status(run_dir, project)  # pulls first only when a project is given
    typer.echo(
        f"{s.reviewed} of {s.examples} examples reviewed: {s.confirmed_errors} wrong labels "
        f"confirmed; of {s.suggestions_reviewed} reviewed suggestions {s.suggestions_accepted} "
        f"accepted, {s.suggestions_overridden} overridden\n"
        f"{s.automatic_changes} labels changed automatically; estimated wrong labels left "
        f"{s.estimated_errors_left:.0f}; estimated label accuracy "
        f"{100 * s.estimated_accuracy:.1f}% (95% interval {100 * s.accuracy_low:.1f}-"
        f"{100 * s.accuracy_high:.1f}%)")
