"""``export``: write the cleaned dataset in the input's format, with an audit log of every change.

The input is re-read (it must not have changed since ``denoise``, checked by fingerprint), so
every column passes through untouched; only the label column changes, and rows are dropped only
with ``drop_flagged``. Outputs are written atomically; the input is never written.

A run on several annotators' votes scores its table of items (one row per item, the consensus
as its label). Where the user's file holds one row per item (votes in columns or lists, or the
items beside a file of long votes: :class:`relabel.rundir.ItemsOrigin`), that file is what is
written back, each item's new label in the label column (added where it has none), its votes
and every other column kept; otherwise the table of items is written.

Which new labels are applied (``apply``):

- ``auto`` (default): ``reviewed+suggestions`` when the run has reviewers' decisions
  (``reviews.parquet``: ``review pull`` or ``denoise --reviews``), else ``suggestions``; but
  when reviewers spot-checked the automatic changes and found them harmful (mostly wrong,
  :mod:`relabel.review.spotcheck`), none of the unchecked changes: ``reviewed`` or ``none``;
- ``suggestions``: relabel's suggestion for every flagged example that has one;
- ``reviewed``: the human decisions of ``reviews.parquet`` (``relabel review pull``) only;
- ``reviewed+suggestions``: human decisions first, and relabel's suggestions where no human
  decided (a skipped review is not a decision; an *accepted* one keeps the given label even when
  relabel suggested another);
- ``none``: no label changes.

``changes.csv`` records every change with its ``source``: ``human`` or ``automatic``, and
``consensus`` for a label of the user's file of items that the annotators' consensus replaced
(before relabel's own changes, which then start from the consensus).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from relabel.data.io import DIR_FORMATS, hf_features_of
from relabel.data.write import output_format, write_like, write_report_csv
from relabel.errors import RelabelInputError, option
from relabel.lock import locks_run_dir
from relabel.review.reviews import DECISIONS_SCHEMA, human_decisions, read_reviews
from relabel.rundir import RunFiles, RunRecord, load_run, run_classes

APPLY_CHOICES = ("auto", "suggestions", "reviewed", "reviewed+suggestions", "none")
CHANGES_FILE = "changes.csv"
CHANGES_SCHEMA: dict[str, Any] = {
    "id": pl.String, "row": pl.Int64, "action": pl.String, "old_label": pl.String,
    "new_label": pl.String, "reason": pl.String, "source": pl.String,
}


@dataclass
class ExportResult:
    """Where the cleaned data and the change log went, and what changed."""

    path: Path
    changes_path: Path
    relabelled: int
    dropped: int
    rows: int
    #: of ``relabelled``, how many came from human review
    human: int = 0
    #: automatic changes not applied because the spot check found them harmful
    withheld: int = 0
    #: a run on several annotators' votes: the labels of the user's file of items that the
    #: annotators' consensus replaced (in ``changes.csv`` with the source ``consensus``; not in
    #: ``relabelled``)
    consensus: int = 0
    #: ``drop_flagged``: the classes no row has after the drop, with their dropped rows
    removed: dict[str, int] = field(default_factory=dict)
    #: the audit log as written to ``changes_path`` (:data:`CHANGES_SCHEMA`), before the CSV
    #: neutralised spreadsheet formulas
    changes: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CHANGES_SCHEMA),
                                  repr=False)

    def removed_line(self) -> str | None:
        """The classes ``drop_flagged`` removed, in one line (None when none)."""
        return removed_line(self.removed)


def _reason(row: dict) -> str:
    # a later pass of the rule judged the labels the first pass changed (relabel/detect/score.py)
    later = (f" (pass {row['suggestion_pass']} of the rule)"
             if (row.get("suggestion_pass") or 1) > 1 else "")
    return (f"flagged: credibility {row['credibility']:.3f}; suggested "
            f"'{row['suggested_label']}' with confidence {row['suggestion_confidence']:.3f}"
            + later)


def _human_reason(row: dict) -> str:
    when = row["time"].strftime("%Y-%m-%dT%H:%M:%SZ") if row.get("time") is not None else "?"
    return f"human review by {row.get('annotator') or 'unknown'} at {when}"


@dataclass(frozen=True)
class LabelPlan:
    """Which labels change and which rows go: the pure part of ``export`` and ``Run.apply``.

    Attributes
    ----------
    updates : polars.DataFrame
        ``row, new``: input row (0-based) and its new label (a string).
    dropped_rows : list of int
        Input rows removed (``drop_flagged``).
    changes : polars.DataFrame
        The audit log (:data:`CHANGES_SCHEMA`), one row per change, by row.
    automatic, human : int
        Relabelled rows by source.
    removed : dict of str to int
        With ``drop_flagged``: the classes that no row has after the drop, and how many of
        their rows were dropped (empty otherwise).
    """

    updates: pl.DataFrame
    dropped_rows: list[int]
    changes: pl.DataFrame
    automatic: int
    human: int
    removed: dict[str, int] = field(default_factory=dict)


def removed_line(removed: dict[str, int], shown: int = 5) -> str | None:
    """One line on the classes ``drop_flagged`` removed, or None."""
    if not removed:
        return None
    names = ", ".join(f"'{c}'" for c in list(removed)[:shown])
    more = f" and {len(removed) - shown} more" if len(removed) > shown else ""
    return (f"the drop removed every row of {len(removed)} class(es) ({names}{more}; "
            f"{sum(removed.values())} rows): all of them were flagged. A class made only of "
            "wrong labels should go, but a model trained on this file cannot predict these "
            "classes: check them before training")


def check_apply(apply: str) -> None:
    """Raise RelabelInputError for an unknown ``apply`` choice."""
    if apply not in APPLY_CHOICES:
        raise RelabelInputError(f"{option('--apply')} must be one of "
                                f"{', '.join(APPLY_CHOICES)}, got '{apply}'")


def resolve_apply(apply: str, run_dir: str | Path, scores: pl.DataFrame | None = None) -> str:
    """``auto`` -> ``reviewed+suggestions`` when the run has reviewers' decisions
    (``reviews.parquet``), else ``suggestions``; without the suggestions (``reviewed`` or
    ``none``) when the spot check found the automatic changes harmful
    (:func:`changes_harmful`; ``scores`` when the caller holds them)."""
    check_apply(apply)
    if apply != "auto":
        return apply
    reviewed = RunFiles(run_dir).reviews.is_file()
    if changes_harmful(run_dir, scores):
        return "reviewed" if reviewed else "none"
    return "reviewed+suggestions" if reviewed else "suggestions"


def changes_harmful(run_dir: str | Path, scores: pl.DataFrame | None = None) -> bool:
    """Reviewers spot-checked the run's automatic changes and found them mostly wrong
    (:attr:`relabel.review.spotcheck.ChangeCheck.harmful`); ``scores`` when the caller holds
    them."""
    from relabel.review.samples import run_change_check

    check = run_change_check(run_dir, scores)
    return check is not None and check.harmful


def plan_labels(scores: pl.DataFrame, human: pl.DataFrame, *, apply: str = "suggestions",
                drop_flagged: bool = False) -> LabelPlan:
    """The new labels, the dropped rows and the audit log of a run.

    Parameters
    ----------
    scores : polars.DataFrame
        The run's scores (``row, id, label, credibility, flagged, suggested_label,
        suggestion_confidence``).
    human : polars.DataFrame
        Reviewers' decisions (:func:`relabel.review.reviews.human_decisions`, may be empty).
    apply : {"suggestions", "reviewed", "reviewed+suggestions", "none"}
        Which new labels to apply (module docstring).
    drop_flagged : bool
        Remove flagged rows whose label was neither replaced nor confirmed by a reviewer.
    """
    check_apply(apply)
    human_changed = human.filter(pl.col("reviewed_label") != pl.col("label"))
    decided = pl.col("row").is_in(human["row"].to_list())
    auto_mask = (pl.col("flagged") & pl.col("suggested_label").is_not_null() & ~decided
                 if apply in ("suggestions", "reviewed+suggestions") else pl.lit(False))
    scores = scores.with_columns(auto_mask.alias("_auto"))
    automatic = scores.filter(pl.col("_auto"))
    dropped = (scores.filter(pl.col("flagged") & ~pl.col("_auto") & ~decided) if drop_flagged
               else scores.clear())
    updates = pl.concat([
        automatic.select("row", pl.col("suggested_label").alias("new")),
        human_changed.select("row", pl.col("reviewed_label").alias("new")),
    ])
    # classes the drop removes: every row that ends with them is dropped. They are dropped
    # all the same and named (export, Run.apply): on 600 banking77 rows with nearest-class
    # flips, 23 classes went and not one of their 37 rows had a right label (a class made only
    # of noise); keeping them cost 1.8 points of a retrained model's test accuracy
    removed: dict[str, int] = {}
    if dropped.height:
        final = scores.join(updates, on="row", how="left").select(
            "row", pl.coalesce("new", "label").alias("final"),
            pl.col("row").is_in(dropped["row"].implode()).alias("gone"))
        left = final.filter(~pl.col("gone")).get_column("final").unique()
        emptied = final.filter(pl.col("gone") & ~pl.col("final").is_in(left.implode()))
        removed = dict(emptied.group_by("final").len().sort("final").iter_rows())
    change_rows = [
        {"id": r["id"], "row": r["row"], "action": "relabel", "old_label": r["label"],
         "new_label": r["suggested_label"], "reason": _reason(r), "source": "automatic"}
        for r in automatic.iter_rows(named=True)
    ] + [
        {"id": r["id"], "row": r["row"], "action": "relabel", "old_label": r["label"],
         "new_label": r["reviewed_label"], "reason": _human_reason(r), "source": "human"}
        for r in human_changed.iter_rows(named=True)
    ] + [
        {"id": r["id"], "row": r["row"], "action": "drop", "old_label": r["label"],
         "new_label": None, "reason": f"flagged: credibility {r['credibility']:.3f}; no confident "
         "suggestion", "source": "automatic"}
        for r in dropped.iter_rows(named=True)
    ]
    return LabelPlan(updates=updates, dropped_rows=dropped["row"].to_list(),
                     changes=pl.DataFrame(change_rows, schema=CHANGES_SCHEMA).sort("row"),
                     automatic=automatic.height, human=human_changed.height, removed=removed)


def run_decisions(run_dir: str | Path, scores: pl.DataFrame, apply: str,
                  reviews: pl.DataFrame | None = None) -> pl.DataFrame:
    """The human decisions ``apply`` uses: ``reviews`` (a ``reviews.parquet`` frame) or the
    run's ``reviews.parquet`` for the ``reviewed`` choices, else none."""
    if not apply.startswith("reviewed") and reviews is None:
        return pl.DataFrame(schema=DECISIONS_SCHEMA)
    files = RunFiles(run_dir)
    if reviews is None:
        reviews = read_reviews(run_dir)
    return human_decisions(reviews, scores, run_classes(run_dir, scores), path=files.reviews)


def apply_plan(table: pl.DataFrame, label_col: str, plan: LabelPlan,
               label_names: tuple[tuple[str, str], ...] | None = None) -> pl.DataFrame:
    """``table`` with the plan's new labels (in the label column's type where they fit) and
    without its dropped rows; every other column untouched. A label inside nested records
    (``--label-col data.label``) is written back into its struct
    (:func:`relabel.data.columns.assign`). With ``label_names`` (the run's ``(code, name)``
    pairs) the new labels, which are names, are written as their codes where the column holds
    codes."""
    from relabel.data.columns import assign, expose, labels_as

    old = expose(table, [label_col])[label_col]
    label_dtype = old.dtype
    new_labels = pl.Series(label_col, old.cast(pl.String, strict=False).to_list(),
                           dtype=pl.String)
    if plan.updates.height:
        new = plan.updates["new"]
        codes = {name: code for code, name in (label_names or ())}
        if codes and not old.cast(pl.String, strict=False).is_in(list(codes)).all():
            new = new.replace_strict(codes, default=new, return_dtype=pl.String)
        new_labels = new_labels.scatter(plan.updates["row"].to_list(), new)
    new_col = labels_as(new_labels, label_dtype)
    return _drop_rows(assign(table, label_col, new_col), plan.dropped_rows)


def _drop_rows(table: pl.DataFrame, rows: list[int]) -> pl.DataFrame:
    if not rows:
        return table
    return table.filter(pl.Series([True] * table.height).scatter(rows, False))


def cleaned_input(run: RunRecord, plan: LabelPlan, items_of: pl.DataFrame | None = None, *,
                  items: pl.DataFrame | None = None) -> pl.DataFrame:
    """The run's input with ``plan`` applied (:func:`apply_plan`).

    A run on several annotators' votes scores its table of items (``input.parquet``: one row
    per item, the consensus as its label). ``items_of``, the user's table whose rows are those
    items in order (:attr:`relabel.crowd.reading.VoteSpec.one_row_per_item`: the frame given
    in memory; default the file that :meth:`RunRecord.read_origin` reads, where the run has
    one), then gets every item's new label in the run's label column (added where it has
    none; the votes and every other column kept), without the dropped rows. Without either, a
    run on long votes from a file gives its table of items with their ``id`` named as the
    file's item column. ``items`` is the run's input when the caller already read it
    (:meth:`RunRecord.read_source`, which checks the file's fingerprint on every read).

    Raises
    ------
    RelabelInputError
        ``items_of`` does not have one row per item of the run.
    """
    if items is None:
        items = run.read_source()
    if items_of is None:
        items_of = run.read_origin()
    if items_of is None:
        cleaned = apply_plan(items, run.label_col, plan, run.spec.label_names)
        named = run.origin.item_col if run.origin is not None else None
        if named and named != "id" and "id" in cleaned.columns and named not in cleaned.columns:
            cleaned = cleaned.rename({"id": named})  # long votes: the user's item column
        return cleaned
    if items_of.height != items.height:
        raise RelabelInputError(f"has {items_of.height} rows, the run has {items.height} items",
                                path=run.origin.path if run.origin is not None else None)
    from relabel.data.columns import assign

    labels = apply_plan(items, run.label_col, replace(plan, dropped_rows=[]),
                        run.spec.label_names)[run.label_col]
    return _drop_rows(assign(items_of, run.label_col, labels), plan.dropped_rows)


@locks_run_dir("relabel export")
def export_dataset(
    run_dir: str | Path,
    to: str | Path,
    *,
    apply: str = "auto",
    drop_flagged: bool = False,
) -> ExportResult:
    """Write the cleaned dataset and ``changes.csv`` beside it.

    Parameters
    ----------
    run_dir : str or Path
        Output directory of ``denoise``.
    to : str or Path
        Target file; its extension chooses the format (no extension: a Hugging Face dataset
        directory).
    apply : {"auto", "suggestions", "reviewed", "reviewed+suggestions", "none"}
        Which new labels to apply (see the module docstring).
    drop_flagged : bool
        Remove flagged rows whose label was neither replaced nor confirmed by a reviewer.

    Returns
    -------
    ExportResult

    Raises
    ------
    RelabelInputError
        Unknown ``apply``, missing run or review files, an input that changed since ``denoise``,
        reviews that do not match the run, or a target that is the input itself.
    """
    to = Path(to)
    check_apply(apply)
    run, scores = load_run(run_dir)
    asked, apply = apply, resolve_apply(apply, run_dir, scores)
    _check_targets(run, run_dir, to)
    human = run_decisions(run_dir, scores, apply)
    plan = plan_labels(scores, human, apply=apply, drop_flagged=drop_flagged)
    rows, log, replaced = _write_plan(run, plan, to)
    withheld = 0
    if asked == "auto" and "suggestions" not in apply:  # the spot check held them back
        with_them = {"reviewed": "reviewed+suggestions", "none": "suggestions"}[apply]
        withheld = plan_labels(scores, human, apply=with_them).automatic
    return ExportResult(path=to, changes_path=to.parent / CHANGES_FILE,
                        relabelled=plan.automatic + plan.human,
                        dropped=len(plan.dropped_rows), rows=rows, human=plan.human,
                        withheld=withheld, removed=plan.removed, changes=log,
                        consensus=replaced)


def _check_targets(run: RunRecord, run_dir: str | Path, to: Path) -> None:
    """``to`` and the ``changes.csv`` beside it may be written: neither is the input nor a
    file of the run directory (:func:`relabel.paths.check_paths`)."""
    from relabel.paths import PathArg, check_paths

    fmt = output_format(to, run.format)
    inputs = (Path(run.input), Path(run.data_file))
    owned = RunFiles(Path(run_dir)).owned()
    check_paths([PathArg("--to", to, "output_file", dir_ok=fmt in DIR_FORMATS, inputs=inputs,
                         protect=owned),
                 PathArg("--to", to.parent / CHANGES_FILE, "output_file", inputs=inputs,
                         protect=owned)])


def _write_plan(run: RunRecord, plan: LabelPlan, to: Path) -> tuple[int, pl.DataFrame, int]:
    """The run's input with ``plan`` applied, written to ``to`` as the input was written, and
    the audit log to ``changes.csv`` beside it; returns the rows written, the log, and how
    many labels of the user's file of items the consensus replaced (its first entries by row:
    :func:`consensus_changes`)."""
    # a run on several annotators' votes: the user's file of one row per item, if it is one
    source, layout = ((run.origin.path, run.origin.format)
                      if run.origin is not None and run.origin.rows_are_items
                      else (run.input, run.format))
    fmt = output_format(to, layout)  # back in the input's own layout
    items, items_of = run.read_source(), run.read_origin()
    cleaned = cleaned_input(run, plan, items_of, items=items)
    replaced = (consensus_changes(items, items_of, run.label_col, run.spec.label_names)
                if items_of is not None else plan.changes.clear())
    write_like(cleaned, to, fmt, source, run.spec.encoding,  # as the input was written
               features=hf_features_of(source) if fmt == "hf" else None)
    log = pl.concat([replaced, plan.changes]).sort("row", maintain_order=True)
    write_report_csv(log, to.parent / CHANGES_FILE)
    return cleaned.height, log, replaced.height


def consensus_changes(items: pl.DataFrame, items_of: pl.DataFrame, label_col: str = "label",
                      label_names: tuple[tuple[str, str], ...] | None = None) -> pl.DataFrame:
    """The audit rows (:data:`CHANGES_SCHEMA`, source ``consensus``) of the labels in the
    user's table of items ``items_of`` that the annotators' consensus replaced: ``items`` is
    the run's table of items (``input.parquet``, same rows in the same order, the consensus
    in ``label_col``); none where ``items_of`` has no such column (export adds it). Codes are
    written as the class names of ``label_names``, as the log's other changes are."""
    from relabel.data.columns import expose
    from relabel.data.validation import labels_named

    own = expose(items_of, [label_col])
    if label_col not in own.columns:
        return pl.DataFrame(schema=CHANGES_SCHEMA)
    old = labels_named(own[label_col], label_names)
    new = labels_named(items[label_col], label_names)

    def column(name: str, dtype: Any) -> pl.Series:
        return items[name] if name in items.columns else pl.Series([None] * items.height,
                                                                   dtype=dtype)

    frame = pl.DataFrame({"id": items["id"].cast(pl.String), "row": pl.int_range(
        items.height, eager=True).cast(pl.Int64), "old_label": old, "new_label": new,
        "quality": column("consensus_quality", pl.Float64),
        "status": column("consensus_status", pl.String)})
    moved = frame.filter(pl.col("old_label").ne_missing(pl.col("new_label")))
    # the status where the consensus needed a human (ambiguous, overrules_majority, ...)
    status = pl.when(pl.col("status").is_null() | (pl.col("status") == "resolved")) \
        .then(pl.lit("")).otherwise(pl.format(", {}", pl.col("status")))
    return moved.select(
        "id", "row", pl.lit("relabel").alias("action"), "old_label", "new_label",
        pl.when(pl.col("quality").is_null()).then(pl.lit("annotators' consensus"))
        .otherwise(pl.format("annotators' consensus (quality {}{})",
                             pl.col("quality").round(3), status)).alias("reason"),
        pl.lit("consensus").alias("source")).cast(CHANGES_SCHEMA)  # type: ignore[arg-type]


def majority_plan(scores: pl.DataFrame, consensus: pl.DataFrame) -> LabelPlan:
    """For a run on several annotators' votes: each item's plain majority vote as its label
    (``majority_label`` of ``consensus.parquet``, ties to the more frequent class), where it
    differs from the run's given label (the consensus, or an item's only vote).

    Parameters
    ----------
    scores : polars.DataFrame
        The run's scores (``row, id, label``).
    consensus : polars.DataFrame
        ``consensus.parquet`` (``id, majority_label``).

    Returns
    -------
    LabelPlan
        No row dropped; the audit log's changes have the source ``majority vote``.
    """
    majority = consensus.select(pl.col("id").cast(pl.String), "majority_label")
    moved = (scores.select("row", pl.col("id").cast(pl.String), "label")
             .join(majority, on="id", how="left")
             .filter(pl.col("majority_label").is_not_null()
                     & (pl.col("majority_label") != pl.col("label"))))
    changes = moved.select(
        "id", pl.col("row").cast(pl.Int64), pl.lit("relabel").alias("action"),
        pl.col("label").cast(pl.String).alias("old_label"),
        pl.col("majority_label").cast(pl.String).alias("new_label"),
        pl.lit("the annotators' plain majority vote").alias("reason"),
        pl.lit("majority vote").alias("source")).sort("row")
    return LabelPlan(updates=moved.select("row", pl.col("majority_label").alias("new")),
                     dropped_rows=[], changes=changes, automatic=0, human=0)


@locks_run_dir("relabel export")
def export_majority(run_dir: str | Path, to: str | Path) -> ExportResult:
    """Write a run's input with each item's plain majority vote as its label, for a run on
    several annotators' votes: what a model trains on without relabel (the baseline of
    :func:`relabel.train.retrain.retrain`). ``changes.csv`` beside it lists the items whose
    majority differs from the run's given label.

    Raises
    ------
    RelabelInputError
        Not a run on several annotators' votes, or as :func:`export_dataset`.
    """
    to = Path(to)
    run, scores = load_run(run_dir)
    files = RunFiles(Path(run_dir))
    if not files.consensus.is_file():
        raise RelabelInputError("this run has one label per example, not several annotators' "
                                "votes, so there is no majority vote to write", path=run_dir)
    _check_targets(run, run_dir, to)
    plan = majority_plan(scores, pl.read_parquet(files.consensus,
                                                 columns=["id", "majority_label"]))
    rows, log, replaced = _write_plan(run, plan, to)
    return ExportResult(path=to, changes_path=to.parent / CHANGES_FILE,
                        relabelled=plan.updates.height, dropped=0, rows=rows,
                        changes=log, consensus=replaced)


