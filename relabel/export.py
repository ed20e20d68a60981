"""``export``: write the cleaned dataset in the input's format, with an audit log of every change.

The input is re-read (it must not have changed since ``denoise``, checked by fingerprint), so
every column passes through untouched; only the label column changes, and rows are dropped only
with ``drop_flagged``. Outputs are written atomically; the input is never written.

Which new labels are applied (``apply``):

- ``suggestions``: relabel's suggestion for every flagged example that has one;
- ``reviewed``: the human decisions of ``reviews.parquet`` (``relabel review pull``) only;
- ``reviewed+suggestions``: human decisions first, and relabel's suggestions where no human
  decided (a skipped review is not a decision; an *accepted* one keeps the given label even when
  relabel suggested another);
- ``none``: no label changes.

``changes.csv`` records every change with its ``source``: ``human`` or ``automatic``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from relabel.data.io import KEYED_JSON, detect_format, write_table
from relabel.errors import RelabelInputError
from relabel.review.reviews import DECISIONS_SCHEMA, REVIEWS_FILE, human_decisions, read_reviews
from relabel.rundir import load_run, read_source, run_classes

APPLY_CHOICES = ("suggestions", "reviewed", "reviewed+suggestions", "none")
CHANGES_FILE = "changes.csv"
CHANGES_SCHEMA = {
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


def _reason(row: dict) -> str:
    return (f"flagged: credibility {row['credibility']:.3f}; suggested "
            f"'{row['suggested_label']}' with confidence {row['suggestion_confidence']:.3f}")


def _human_reason(row: dict) -> str:
    when = row["time"].strftime("%Y-%m-%dT%H:%M:%SZ") if row.get("time") is not None else "?"
    return f"human review by {row.get('annotator') or 'unknown'} at {when}"


def export_dataset(
    run_dir: str | Path,
    to: str | Path,
    *,
    apply: str = "suggestions",
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
    apply : {"suggestions", "reviewed", "reviewed+suggestions", "none"}
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
    if apply not in APPLY_CHOICES:
        raise RelabelInputError(f"--apply must be one of {', '.join(APPLY_CHOICES)}, got '{apply}'")
    run, scores = load_run(run_dir)
    to = Path(to)
    fmt = detect_format(to, for_writing=True)
    if fmt == "json" and run.get("format") == KEYED_JSON:  # back in the input's own layout
        fmt = KEYED_JSON
    if to.resolve() == Path(run["input"]).resolve():
        raise RelabelInputError("refusing to overwrite the input file; choose another --to",
                                path=to)
    human = pl.DataFrame(schema=DECISIONS_SCHEMA)
    if apply.startswith("reviewed"):
        human = human_decisions(read_reviews(run_dir), scores, run_classes(run_dir, scores),
                                path=Path(run_dir) / REVIEWS_FILE)
    table = read_source(run)
    label_col = run["label_col"]
    label_dtype = table.schema[label_col]

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
    new_labels = pl.Series(label_col, table[label_col].cast(pl.String, strict=False).to_list(),
                           dtype=pl.String)
    if updates.height:
        new_labels = new_labels.scatter(updates["row"].to_list(), updates["new"])
    try:
        new_col = new_labels.cast(label_dtype, strict=True)
    except Exception:  # labels of another type than the suggestions: keep them as strings
        new_col = new_labels
    cleaned = table.with_columns(new_col.alias(label_col))
    if dropped.height:
        keep = pl.Series([True] * table.height).scatter(dropped["row"].to_list(), False)
        cleaned = cleaned.filter(keep)

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
    changes = pl.DataFrame(change_rows, schema=CHANGES_SCHEMA).sort("row")
    write_table(cleaned, to, fmt)
    changes_path = to.parent / CHANGES_FILE
    write_table(changes, changes_path, "csv")
    return ExportResult(path=to, changes_path=changes_path,
                        relabelled=automatic.height + human_changed.height,
                        dropped=dropped.height, rows=cleaned.height, human=human_changed.height)
