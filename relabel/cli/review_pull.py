"""``relabel review pull DIR --project NAME``: fetch the reviewers' decisions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relabel.cli._util import handle_errors, review_app


def new_classes_note(new_classes: list[str], run_dir: Path) -> str:
    """What to do with classes the reviewers added in Label Studio (``PullResult``)."""
    return (f"the reviewers chose {len(new_classes)} class(es) this run lacks "
            f"({', '.join(new_classes[:5])}), added in Label Studio; make them classes of the "
            f"next round: relabel denoise DATA -o {run_dir} --reviews {run_dir}")


@review_app.command("pull")
@handle_errors
def review_pull_command(
    run_dir: Annotated[Path, typer.Argument(readable=False,
                                            help="Output directory of `relabel denoise`.")],
    project: Annotated[str, typer.Option("--project", help="Label Studio project title.")],
) -> None:
    """Write DIR/reviews.parquet (id, reviewed label, status, annotator, time: the latest
    decision per task) and DIR/annotations.parquet (every annotator's decision)."""
    from connectors.label_studio import pull

    res = pull(run_dir, project)
    if res.new_classes:
        typer.echo(f"wrote {res.path}: {res.tasks} reviewed tasks ({res.accepted} accepted, "
                   f"{res.changed} changed, {res.skipped} skipped)")
        typer.echo(new_classes_note(res.new_classes, run_dir))
    else:
        typer.echo(f"wrote {res.path}: {res.tasks} reviewed tasks ({res.accepted} accepted, "
                   f"{res.changed} changed, {res.skipped} skipped); next: relabel export "
                   f"{run_dir} --to cleaned.csv --apply reviewed")
    if res.multi_annotated:
        typer.echo(f"{res.multi_annotated} tasks were decided by several annotators "
                   f"({res.annotations} decisions by {res.annotators} annotators in "
                   f"annotations.parquet); combine them with: relabel consensus {run_dir}")
