"""``relabel consensus DATA``: one label per item from several annotators' votes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relabel.cli._util import (
    DEFAULTS,
    Abstain,
    Annotations,
    BatchSize,
    Dedupe,
    Embeddings,
    Encoding,
    Folds,
    LabelCols,
    LabelNames,
    MaxLength,
    MaxWindows,
    MultiSelect,
    Precision,
    SkipOtherItems,
    TextCol,
    VotesCol,
    app,
    handle_errors,
    summary_prints_warnings,
)


@app.command("consensus")
@handle_errors
def consensus_command(
    data: Annotated[Path, typer.Argument(readable=False,
                                         help="Votes in long format (item, annotator, label, "
                                              "optionally text), the items (with "
                                              "--annotations), a wide table (with "
                                              "--label-cols), a table listing each item's "
                                              "votes (with --votes-col), or a run directory whose "
                                              "annotations.parquet `relabel review pull` "
                                              "wrote, or a Label Studio JSON export.")],
    annotations: Annotations = None,
    label_cols: LabelCols = None,
    votes_col: VotesCol = None,
    item_col: Annotated[str | None, typer.Option(
        "--item-col", "--id-col",
        help="Item id column (default item_id; in wide and list layouts the column 'id' when "
             "its values are distinct, else the row number). --id-col, as in denoise, is the "
             "same option.")] = None,
    annotator_col: Annotated[str, typer.Option(help="Annotator column (with --votes-col: the "
                                                    "column listing each vote's annotator).")]
    = "annotator",
    label_col: Annotated[str, typer.Option(help="Label column of the votes.")] = "label",
    text_col: TextCol = DEFAULTS.text_col,
    classes: Annotated[str | None, typer.Option(help="The class set, comma-separated; a vote "
                                                     "outside it is an error.")] = None,
    dedupe: Dedupe = False,
    skip_other_items: SkipOtherItems = False,
    multi_select: MultiSelect = False,
    abstain: Abstain = None,
    label_names: LabelNames = None,
    encoding: Encoding = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", readable=False,
                                             help="Output directory (default "
                                                  "relabel-out/<name>-consensus; a run "
                                                  "directory: itself).")] = None,
    to: Annotated[Path | None, typer.Option(readable=False,
                                            help="Also write the items with the consensus as "
                                                 "their label column (format from the "
                                                 "extension; DATA itself, every column kept, "
                                                 "where it has one row per item).")] = None,
    model: Annotated[str | None, typer.Option(help="Encoder: a Hugging Face model id or local "
                                                   "path (default: the packaged MiniLM).")]
    = None,
    precision: Precision = DEFAULTS.precision,
    batch_size: BatchSize = DEFAULTS.batch_size,
    max_length: MaxLength = DEFAULTS.max_length,
    max_windows: MaxWindows = DEFAULTS.max_windows,
    corrector: Annotated[str, typer.Option(help="The model annotator: auto, linear, head, "
                                                "finetune, or none (neighbours only).")]
    = DEFAULTS.corrector,
    embeddings: Embeddings = None,
    folds: Folds = DEFAULTS.folds,
    target_precision: Annotated[float, typer.Option(help="An item is resolved without a human "
                                                         "only where the estimated probability "
                                                         "that its consensus is right reaches "
                                                         "this.")]
    = DEFAULTS.target_precision,
    given: Annotated[bool, typer.Option("--given/--no-given", help="For a run directory: its "
                                        "given label counts as one more annotator.")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the folds.")] = DEFAULTS.seed,
) -> None:
    """Consensus label, quality and agreement per item; accuracy per annotator; items that need
    a human (low quality, or annotators split where the text cannot decide either)."""
    from relabel.config import split_list
    from relabel.crowd.api import consensus
    from relabel.rundir import RunFiles

    if out is None:
        out = data if (data.is_dir() and RunFiles(data).run.is_file()) else \
            Path("relabel-out") / f"{data.stem if data.suffix else data.name}-consensus"
    with summary_prints_warnings():
        res = consensus(data, annotations=annotations, label_cols=label_cols,
                        votes_col=votes_col, item=item_col, annotator=annotator_col,
                        label=label_col, text=text_col,
                        classes=list(split_list(classes)) if classes else None, dedupe=dedupe,
                        skip_other_items=skip_other_items, multi_select=multi_select,
                        abstain=abstain, out=out,
                        to=to, model=model, precision=precision, batch_size=batch_size,
                        max_length=max_length, max_windows=max_windows, corrector=corrector,
                        embeddings=embeddings,
                        folds=folds, seed=seed, target_precision=target_precision,
                        include_given=given, label_names=label_names, encoding=encoding)
    s = res.summary
    a = s["agreement"]
    alpha = "n/a" if a["krippendorff_alpha"] is None else f"{a['krippendorff_alpha']:.3f}"
    typer.echo(f"{s['items']} items, {s['annotators']} annotators, {s['votes']} votes "
               f"(Krippendorff's alpha {alpha}); model annotator: "
               f"{'yes' if s['model'] else 'no (no text)'}")
    from relabel.crowd.consensus import consensus_notes, needs_human_text

    typer.echo(f"consensus differs from the majority vote on {s['differs_from_majority']} items;"
               f" {needs_human_text(s)}; expected accuracy {s['expected_accuracy']:.3f}")

    for line in consensus_notes(s):
        typer.echo(line)
    if a["votes_per_item"]["max"] == 1:  # nothing to combine: the model alone overrules
        typer.echo("one vote per item: there is nothing to combine, and where the consensus "
                   "differs from a vote it is the model overruling it; to judge single labels "
                   "at a target precision, run relabel denoise on this file")
    typer.echo(f"wrote {RunFiles(out).consensus_csv}, {RunFiles(out).consensus_probs_csv}, "
               f"{RunFiles(out).annotators}"
               + (f" and {to}" if to is not None else ""))
