"""``relabel check DATA``: list every problem of a dataset, as ``denoise`` would find them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relabel.cli._util import (
    DEFAULTS,
    SPAN_COLS_DEFAULT,
    TYPE_COLS_DEFAULT,
    Abstain,
    Annotations,
    Dedupe,
    DropInvalid,
    Encoding,
    Folds,
    IdCol,
    ItemCol,
    LabelCol,
    LabelCols,
    LabelNames,
    MultiSelect,
    SkipOtherItems,
    SpanCols,
    TaskOpt,
    TextCol,
    TypeCols,
    VotesCol,
    app,
    handle_errors,
    input_options,
    vote_options,
)


@app.command("check")
@handle_errors
def check_command(
    data: Annotated[Path, typer.Argument(readable=False, help="Dataset, as for denoise.")],
    text_col: TextCol = DEFAULTS.text_col,
    label_col: LabelCol = DEFAULTS.label_col,
    id_col: IdCol = DEFAULTS.id_col,
    task: TaskOpt = DEFAULTS.task,
    span_cols: SpanCols = SPAN_COLS_DEFAULT,
    type_cols: TypeCols = TYPE_COLS_DEFAULT,
    embeddings: Annotated[Path | None, typer.Option(readable=False,
                                                    help="Precomputed embeddings to check "
                          "against the dataset (shape only).")] = None,
    folds: Folds = DEFAULTS.folds,
    drop_invalid: DropInvalid = DEFAULTS.drop_invalid,
    label_names: LabelNames = None,
    encoding: Encoding = None,
    annotations: Annotations = None,
    label_cols: LabelCols = None,
    votes_col: VotesCol = None,
    annotator_col: Annotated[str | None, typer.Option(help="Several annotators per item, as "
                             "for denoise: the annotator column of long votes in DATA, or with "
                             "--votes-col the column listing each vote's annotator.")] = None,
    item_col: ItemCol = None,
    dedupe: Dedupe = False,
    skip_other_items: SkipOtherItems = False,
    multi_select: MultiSelect = False,
    abstain: Abstain = None,
) -> None:
    """Check a dataset as denoise would and print every problem with its rows; no model is
    loaded. Exits 2 when there are errors, 0 otherwise (warnings included)."""
    from relabel.config import DenoiseConfig
    from relabel.data.check import check_dataset
    from relabel.data.relation import LAYOUT_NAMES

    cfg = DenoiseConfig(**input_options(text_col, label_col, id_col, task, span_cols, type_cols,
                                        drop_invalid, label_names, encoding),
                        embeddings=embeddings, folds=folds,
                        **vote_options(annotations, label_cols, votes_col, annotator_col,
                                       item_col, dedupe, abstain, skip_other_items,
                                       multi_select))
    report = check_dataset(data, cfg)
    for err in report.errors:
        typer.echo(f"error: {err}")
    for warning in report.warnings:
        typer.echo(f"warning: {data}: {warning}")
    counts = (f"{report.examples} examples, {report.classes} classes"
              if report.examples is not None else f"{report.rows} rows")
    if report.votes is not None:
        counts = (f"{report.examples} items, {report.classes} classes, {report.votes} votes by "
                  f"{report.annotators} annotators")
    ready = ("" if report.errors else "; ready for relabel denoise" if report.has_text else
             f"; ready for relabel consensus (the items have no text '{text_col}', which "
             "denoise needs)")
    kind = report.task or "unread"
    if report.layout:  # how a relation file's spans were read
        kind += f": {LAYOUT_NAMES.get(report.layout, report.layout)}"
    typer.echo(f"{data}: {counts} ({kind}): {len(report.errors)} error(s), "
               f"{len(report.warnings)} warning(s)" + ready)
    if report.errors:
        raise typer.Exit(2)
