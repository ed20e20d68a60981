"""``relabel report DIR``: a self-contained HTML report of a denoise run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relabel.cli._util import app, handle_errors


@app.command("report")
@handle_errors
def report_command(
    run_dir: Annotated[Path, typer.Argument(readable=False,
                                            help="Output directory of `relabel denoise`.")],
    truth_col: Annotated[str | None, typer.Option(help="Input column with the true labels: "
                         "adds a precision-recall curve and the metrics.")] = None,
    to: Annotated[Path | None, typer.Option("--to", readable=False,
                                                    help="HTML file to write (default: "
                  "DIR/report.html).")] = None,
) -> None:
    """Write one HTML file (images inline, no network) about a denoise run."""
    from relabel.report.html import build_report, check_against_truth
    from relabel.rundir import RunFiles

    truth = None
    if truth_col and RunFiles(run_dir).scores.is_file():  # (build_report says what is missing)
        truth = check_against_truth(run_dir, truth_col)
    path = build_report(run_dir, truth_col=truth_col, to=to, truth=truth)
    if truth is not None:
        typer.echo(truth.line())
    typer.echo(f"wrote {path}")
