"""``relabel review push DIR --project NAME``: send suggestions to Label Studio for review."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relabel.cli._util import handle_errors, review_app


@review_app.command("push")
@handle_errors
def review_push_command(
    run_dir: Annotated[Path, typer.Argument(readable=False,
                                            help="Output directory of `relabel denoise`.")],
    project: Annotated[str, typer.Option("--project", help="Label Studio project title; "
                       "created when missing, reused (same label set) otherwise.")],
    only: Annotated[str, typer.Option(help="Which examples: 'flagged' or 'all'.")] = "flagged",
    limit: Annotated[int | None, typer.Option(help="At most this many, most suspicious "
                     "first.")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress "
                        "bar.")] = True,
) -> None:
    """Create or update one task per example (idempotent: never duplicates a task)."""
    from tqdm.auto import tqdm

    from connectors.label_studio import push

    bars: list = []

    def tick(n: int, total: int) -> None:
        if not bars:  # created on the first batch, so an early error prints alone
            bars.append(tqdm(total=total, desc="pushing", unit="task", disable=not progress,
                             leave=False))
        bars[0].update(n)

    try:
        res = push(run_dir, project, only=only, limit=limit, progress=tick)
    finally:
        for bar in bars:
            bar.close()
    verb = "created" if res.project_created else "reused"
    typer.echo(f"{verb} project '{project}' ({res.project_url}): {res.selected} examples, "
               f"{res.created} new tasks, {res.updated} updated, {res.unchanged} unchanged; "
               f"predictions are {res.model_version}")
    if not res.selected and only == "flagged":
        import shlex

        typer.echo(f"nothing is flagged in {run_dir}; push the most suspicious examples with "
                   "--only all --limit N, or measure the noise with a random audit: relabel "
                   f"review next {shlex.quote(str(run_dir))} --project {shlex.quote(project)} "
                   "--batch 0 --audit 50")
