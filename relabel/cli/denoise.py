"""``relabel denoise DATA``: score every label, flag suspicious ones, suggest corrections."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from relabel.cli._util import (
    DEFAULTS,
    SPAN_COLS_DEFAULT,
    TYPE_COLS_DEFAULT,
    Abstain,
    Annotations,
    BatchSize,
    Dedupe,
    DropInvalid,
    Embeddings,
    Encoding,
    Folds,
    IdCol,
    ItemCol,
    LabelCol,
    LabelCols,
    LabelNames,
    MaxLength,
    MaxWindows,
    MultiSelect,
    Precision,
    SkipOtherItems,
    SpanCols,
    TaskOpt,
    TextCol,
    TypeCols,
    VotesCol,
    app,
    handle_errors,
    input_options,
    summary_prints_warnings,
    vote_options,
)
from relabel.config import CORRECTOR_CHOICES, LOSS_CHOICES
from relabel.data.compressed import compression_of


def format_summary(summary: dict[str, Any], out_dir: Path, data_file: str | None = None
                   ) -> str:
    """The short human summary printed after a run; ``data_file`` is the user's file (the
    votes' or items' file behind a run on several annotators), whose kind the suggested
    ``export`` keeps (default: the run's input)."""
    from relabel.detect.decisions import passes_note

    n, flagged = summary["examples"], summary["flagged"]
    kind = ""
    if summary.get("task") == "relation" and summary.get("layout"):
        # how a relation run's spans were read (older summaries lack the fields)
        from relabel.data.relation import LAYOUT_NAMES

        kind = f" (relations: {LAYOUT_NAMES.get(summary['layout'], summary['layout'])})"
    lines = [f"{n} examples, {summary['classes']} classes{kind} -> {out_dir}"]
    crowd = summary.get("consensus")
    if crowd and crowd.get("single_vote_items") == crowd["items"]:
        lines.append(f"one vote per item ({crowd['votes']} votes by {crowd['annotators']} "
                     "annotator(s)): each vote is the given label")
    elif crowd:
        alpha = crowd["agreement"].get("krippendorff_alpha")
        single = crowd.get("single_vote_items") or 0
        lines.append(
            f"several annotators: {crowd['votes']} votes by {crowd['annotators']} annotators "
            f"(Krippendorff's alpha {'n/a' if alpha is None else f'{alpha:.3f}'}); the "
            f"consensus is the given label ({crowd['differs_from_majority']} differ from the "
            f"majority vote, {crowd['ambiguous']} ambiguous items"
            + (f" and {crowd['overrules_majority_held']} that overrule a majority of their votes"
               if crowd.get("overrules_majority_held") else "")
            + " go to a human)"
            + (f"; on the {single} items with one vote, that vote is the given label "
               f"({crowd.get('single_votes_kept', 0)} of them differ from the consensus)"
               if single else ""))
    if crowd:
        from relabel.crowd.consensus import consensus_notes

        lines += consensus_notes(crowd, denoise=True)
    lines += [
        f"flagged {flagged} ({100 * flagged / max(n, 1):.1f}%): {summary['suggested']} with a "
        f"suggested label, {summary['abstained']} left for a human (relabel abstained)",
    ]
    dec = summary.get("decisions")
    if dec:
        rate = dec.get("estimated_noise_rate")
        lines.append(
            ("noise not estimated (see the warning below)" if rate is None else
             f"estimated noise {100 * rate:.1f}% (~{dec['estimated_wrong_labels']:.0f} wrong "
             "labels)")
            + f"; {dec['changes']} changed automatically at target precision "
            f"{dec['target_precision']:g} (expected {dec['expected_right_changes']:.0f} right, "
            f"{dec['expected_wrong_changes']:.0f} wrong{passes_note(dec)})")
        audit = summary.get("audit")
        if audit:
            lines.append(
                f"random audit: {audit['decided']} of {audit['size']} sampled examples decided: "
                f"given labels {100 * audit['error_rate']:.1f}% wrong (95% interval "
                f"{100 * audit['error_low']:.1f}-{100 * audit['error_high']:.1f}%)")
            if audit.get("warning"):
                lines.append(f"warning: {audit['warning']}")
        elif rate is None:
            lines.append("a random audit measures the noise: relabel review next "
                         f"{out_dir} --project NAME --batch 0 --audit 50")
        else:
            # with automatic changes, the spot check beside the audit
            check = bool(dec["changes"]) and not dec.get("withheld")
            lines.append(
                "the estimate counts labels that disagree with similar examples; errors that "
                "similar examples share are not seen"
                + (", and can make the changes wrong (a random audit measures them, and a spot "
                   "check the changes:" if check else " (a random audit measures them:")
                + f" relabel review next {out_dir} --project NAME --batch 0 --audit 50"
                + (" --check-changes 20)" if check else ")"))
        from relabel.detect.decisions import decision_notes

        lines += [f"warning: {note}" for note in decision_notes(dec)]
    reasons = summary.get("flagged_per_reason") or {}
    if reasons:
        lines.append("flagged by reason: " + ", ".join(f"{k} {v}" for k, v in reasons.items()))
    per_class = list(summary["flagged_per_class"].items())
    if per_class:
        shown = ", ".join(f"{k} {v}" for k, v in per_class[:8])
        more = f", ... ({len(per_class) - 8} more classes)" if len(per_class) > 8 else ""
        lines.append(f"flagged per class: {shown}{more}")
    if summary["top_confusions"]:
        shown = ", ".join(f"{c['given']} -> {c['likely']} ({c['count']})"
                          for c in summary["top_confusions"][:5])
        lines.append(f"most frequent given -> likely label among the flagged: {shown}")
    corr = summary.get("corrector", {})
    if corr.get("name", "none") != "none":
        why = ""
        words = corr.get("words") or {}
        if corr.get("requested") == "auto" and corr["name"] == "linear":
            why = ("; auto: logistic regression on the frozen embeddings"
                   f"{' and on the words' if words.get('used') else ''} (--corrector head: "
                   "MLP)")
        also = (f", with the texts' words ({words['features']:,} TF-IDF features, weight "
                f"{words['weight']:g})" if words.get("used") else "")
        lines.append(f"corrector: {corr['name']}{also}, {corr['folds']} folds "
                     f"({corr['trained']} trained, {corr['reused']} reused from an earlier "
                     f"run){why}")
        if words and not words.get("used"):
            lines.append("the texts' words were left out: " + (
                words["why"] if "why" in words else
                f"they predict the given labels better than the embeddings do (skill "
                f"{words['skill']:.2f} against {words['embeddings_skill']:.2f}), as labels "
                "made by keyword rules are, and a model of the words would learn the rules' "
                "mistakes"))
    else:
        lines.append("corrector: none (neighbour signals only: relabel flags but changes nothing)")
    secs = summary.get("seconds", {})
    lines.append("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in secs.items()))
    source = Path(data_file or summary["input"])  # the user's file, not the run's items
    # the input's own kind: cleaned.csv.gz for data.csv.gz, a directory for a directory
    ext = ("".join(source.suffixes[-2:]) if compression_of(source)
           else "" if source.is_dir() else source.suffix or ".csv")
    lines.append(f"wrote {out_dir / 'scores.parquet'}, scores.csv, summary.json, report.html; "
                 f"next: relabel export {out_dir} --to cleaned{ext}")
    return "\n".join(lines)


@app.command("denoise")
@handle_errors
def denoise_command(
    data: Annotated[Path, typer.Argument(readable=False,
                                         help="Dataset: .csv, .tsv, .jsonl, .json, .parquet, "
                                         "fastText .txt (text files may be .gz, .bz2, .xz), a "
                                         "directory of .parquet files, a Hugging Face dataset "
                                         "directory (save_to_disk) or a Label Studio JSON "
                                         "export (its annotators' consensus).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", readable=False, help="Output directory "
                   "(default: relabel-out/<input name>).")] = None,
    text_col: TextCol = DEFAULTS.text_col,
    label_col: LabelCol = DEFAULTS.label_col,
    id_col: IdCol = DEFAULTS.id_col,
    model: Annotated[str | None, typer.Option(help="Hugging Face model id or local directory "
                     "(default: the packaged all-MiniLM-L6-v2, offline).")] = DEFAULTS.model,
    precision: Precision = DEFAULTS.precision,
    batch_size: BatchSize = DEFAULTS.batch_size,
    max_length: MaxLength = DEFAULTS.max_length,
    max_windows: MaxWindows = DEFAULTS.max_windows,
    threshold: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Flag when "
                         "credibility is below this (default: about as many as the estimated "
                         "number of wrong labels).")] = DEFAULTS.threshold,
    task: TaskOpt = DEFAULTS.task,
    span_cols: SpanCols = SPAN_COLS_DEFAULT,
    type_cols: TypeCols = TYPE_COLS_DEFAULT,
    pooling: Annotated[str | None, typer.Option(help="entity (relations: hidden states at the "
                       "two entity markers plus the mean) or mean (default: entity for "
                       "relations, mean for text).")] = DEFAULTS.pooling,
    embeddings: Embeddings = None,
    reviews: Annotated[Path | None, typer.Option(readable=False,
                                                 help="Reviewers' decisions to trust: a "
                       "reviews.parquet from `relabel review pull`, an earlier run directory, "
                       "or a CSV/table with columns id, reviewed_label. Reviewed examples keep "
                       "the reviewer's label and recalibrate the decisions on the rest.")
                       ] = None,
    corrector: Annotated[str, typer.Option(help="Cross-validated re-annotator: " + ", ".join(
                         CORRECTOR_CHOICES) + " (auto = linear on every machine: its decisions "
                         "are the measured ones; finetune trains the whole encoder, for a GPU).")
                         ] = DEFAULTS.corrector,
    words: Annotated[bool, typer.Option("--words/--no-words", help="Text classification "
                     "with the linear corrector (the default on a CPU): also learn from the "
                     "texts' words, a TF-IDF logistic regression averaged with the embeddings' "
                     "(up to 100,000 rows).")] = DEFAULTS.words,
    folds: Folds = DEFAULTS.folds,
    loss: Annotated[str, typer.Option(help="Contrastive term of the head and finetune "
                    "correctors: " + ", ".join(LOSS_CHOICES) + " (ce = cross-entropy only).")
                    ] = DEFAULTS.loss,
    epochs: Annotated[int | None, typer.Option(help="Corrector epochs (default: head 12, "
                      "finetune 4).")] = DEFAULTS.epochs,
    lr: Annotated[float | None, typer.Option(help="Corrector learning rate (default: head "
                  "3e-3, finetune 5e-5).")] = DEFAULTS.lr,
    grad_accum: Annotated[int, typer.Option(help="Batches per optimiser step (finetune).")
                          ] = DEFAULTS.grad_accum,
    target_precision: Annotated[float, typer.Option(help="Change a label automatically only "
                                "where the estimated probability that the change is right is "
                                "at least this; otherwise flag it for review.")
                                ] = DEFAULTS.target_precision,
    passes: Annotated[int | None, typer.Option(help="Passes of the decision rule: a later pass "
                      "learns the signals again on the labels the one before changed and judges "
                      "again, where that pass changed more than 0.3% of the rows. Default: 2 "
                      "with the linear corrector, else 1 (1 judges the given labels once).")
                      ] = DEFAULTS.passes,
    drop_invalid: DropInvalid = DEFAULTS.drop_invalid,
    label_names: LabelNames = None,
    encoding: Encoding = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = DEFAULTS.seed,
    engine: Annotated[str, typer.Option(help="Where encoding shards and corrector folds run: "
                      "local, or dask (an existing dask.distributed cluster, see "
                      "--scheduler).")] = DEFAULTS.engine,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address for --engine "
                         "dask, e.g. tcp://10.0.0.5:8786.")] = DEFAULTS.scheduler,
    annotations: Annotations = None,
    label_cols: LabelCols = None,
    votes_col: VotesCol = None,
    annotator_col: Annotated[str | None, typer.Option(help="Several annotators per item, long "
                             "format in DATA itself: the annotator column (with --item-col and "
                             "--label-col); with --votes-col: the column listing each vote's "
                             "annotator.")] = None,
    item_col: ItemCol = None,
    dedupe: Dedupe = False,
    skip_other_items: SkipOtherItems = False,
    multi_select: MultiSelect = False,
    abstain: Abstain = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Score how credible every label is, flag suspicious ones and suggest corrections."""
    from relabel.api import denoise
    from relabel.pipeline import default_out_dir

    with summary_prints_warnings():
        run = denoise(data, out=out if out is not None else default_out_dir(data),
                      progress=not quiet, embeddings=embeddings, reviews=reviews,
                      **input_options(text_col, label_col, id_col, task, span_cols, type_cols,
                                      drop_invalid, label_names, encoding),
                      model=model, precision=precision, batch_size=batch_size,
                      max_length=max_length,
                      max_windows=max_windows, threshold=threshold, pooling=pooling,
                      corrector=corrector, words=words, folds=folds, loss=loss,
                      epochs=epochs, lr=lr,
                      grad_accum=grad_accum, target_precision=target_precision,
                      passes=passes, seed=seed,
                      engine=engine, scheduler=scheduler,
                      **vote_options(annotations, label_cols, votes_col, annotator_col,
                                     item_col, dedupe, abstain, skip_other_items,
                                     multi_select))
    typer.echo(format_summary(run.summary, run.out_dir, run.record.data_file))
