"""``relabel check DATA``: list every problem of a dataset, as ``denoise`` would find them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relabel.cli._util import app, handle_errors
from relabel.data.relation import SPAN_COLS, TYPE_COLS
from relabel.data.validation import DEFAULT_LABEL_COL, DEFAULT_TEXT_COL


@app.command("check")
@handle_errors
def check_command(
    data: Annotated[Path, typer.Argument(help="Dataset, as for denoise.")],
    text_col: Annotated[str, typer.Option(help="Column holding the text.")] = DEFAULT_TEXT_COL,
    label_col: Annotated[str, typer.Option(help="Column holding the given label."
                                           )] = DEFAULT_LABEL_COL,
    id_col: Annotated[str | None, typer.Option(help="Column with unique example ids.")] = None,
    task: Annotated[str, typer.Option(help="text, relation or auto.")] = "auto",
    span_cols: Annotated[str, typer.Option(help="Relation span columns of a flat file."
                                           )] = ",".join(SPAN_COLS),
    type_cols: Annotated[str, typer.Option(help="Entity type columns of a flat relation file."
                                           )] = ",".join(TYPE_COLS),
    embeddings: Annotated[Path | None, typer.Option(help="Precomputed embeddings to check "
                          "against the dataset (shape only).")] = None,
    folds: Annotated[int, typer.Option(help="Cross-validation folds denoise will use.")] = 5,
    drop_invalid: Annotated[bool, typer.Option("--drop-invalid", help="Rows with a null or "
                            "empty text or label are warnings (skipped), not errors.")] = False,
) -> None:
    """Check a dataset as denoise would and print every problem with its rows; no model is
    loaded. Exits 2 when there are errors, 0 otherwise (warnings included)."""
    from relabel.data.check import check_dataset
    from relabel.pipeline import DenoiseConfig

    cfg = DenoiseConfig(text_col=text_col, label_col=label_col, id_col=id_col, task=task,
                        span_cols=tuple(c.strip() for c in span_cols.split(",")),
                        type_cols=tuple(c.strip() for c in type_cols.split(",")),
                        embeddings=embeddings, folds=folds, drop_invalid=drop_invalid)
    report = check_dataset(data, cfg)
    for err in report.errors:
        typer.echo(f"error: {err}")
    for warning in report.warnings:
        typer.echo(f"warning: {data}: {warning}")
    counts = (f"{report.examples} examples, {report.classes} classes"
              if report.examples is not None else f"{report.rows} rows")
    typer.echo(f"{data}: {counts} ({report.task or 'unread'}): {len(report.errors)} error(s), "
               f"{len(report.warnings)} warning(s)"
               + ("" if report.errors else "; ready for relabel denoise"))
    if report.errors:
        raise typer.Exit(2)
