"""``relabel export DIR --to FILE``: write the cleaned dataset and its change log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relabel.cli._util import app, handle_errors


@app.command("export")
@handle_errors
def export_command(
    run_dir: Annotated[Path, typer.Argument(readable=False,
                                            help="Output directory of `relabel denoise`.")],
    to: Annotated[Path, typer.Option("--to", readable=False,
                                             help="Cleaned dataset to write; the extension "
                  "chooses the format (no extension: a Hugging Face dataset directory).")],
    apply: Annotated[str, typer.Option(help="Which new labels to apply: 'auto' (reviewers' "
                     "decisions when the run has any, then suggestions, unless reviewers found "
                     "the spot-checked suggestions mostly wrong), 'suggestions' "
                     "(flagged labels with a confident suggestion), 'reviewed' (human decisions "
                     "from `relabel review pull` or `denoise --reviews`), 'reviewed+suggestions' "
                     "(human decisions, else suggestions) or 'none'.")] = "auto",
    drop_flagged: Annotated[bool, typer.Option("--drop-flagged", help="Remove flagged rows "
                            "whose label was not replaced.")] = False,
) -> None:
    """Write the cleaned dataset (same columns as the input) and changes.csv beside it."""
    from relabel.export import export_dataset

    res = export_dataset(run_dir, to, apply=apply, drop_flagged=drop_flagged)
    human = f" ({res.human} by reviewers)" if res.human else ""
    typer.echo(f"wrote {res.path} ({res.rows} rows: {res.relabelled} relabelled{human}, "
               f"{res.dropped} dropped) and {res.changes_path}")
    if res.consensus:
        typer.echo(f"the annotators' consensus replaced {res.consensus} labels of the file's own "
                   "label column (in changes.csv with the source consensus)")
    if res.removed:
        typer.echo(res.removed_line())
    if res.withheld:
        typer.echo(f"withheld {res.withheld} automatic changes: reviewers found the spot-checked "
                   "ones mostly wrong (`relabel review status` has the figures; --apply "
                   "suggestions applies them anyway)")
