"""``export``: write the cleaned dataset in the input's format, with an audit log of every change.

The input is re-read (it must not have changed since ``denoise``, checked by fingerprint), so
every column passes through untouched; only the label column changes, and rows are dropped only
with ``drop_flagged``. Outputs are written atomically; the input is never written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from relabel.errors import RelabelInputError
from relabel.io import KEYED_JSON, detect_format, file_fingerprint, read_table, write_table
from relabel.pipeline import RUN_FILE, SCORES_FILE

APPLY_CHOICES = ("suggestions", "none")
CHANGES_FILE = "changes.csv"


@dataclass
class ExportResult:
    """Where the cleaned data and the change log went, and what changed."""

    path: Path
    changes_path: Path
    relabelled: int
    dropped: int
    rows: int


def load_run(run_dir: str | Path) -> tuple[dict, pl.DataFrame]:
    """Read ``run.json`` and ``scores.parquet`` of a denoise output directory."""
    run_dir = Path(run_dir)
    run_file, scores_file = run_dir / RUN_FILE, run_dir / SCORES_FILE
    for f in (run_file, scores_file):
        if not f.is_file():
            raise RelabelInputError(f"no {f.name} here; run `relabel denoise` first", path=run_dir)
    return json.loads(run_file.read_text(encoding="utf-8")), pl.read_parquet(scores_file)


def _reason(row: dict) -> str:
    return (f"flagged: credibility {row['credibility']:.3f}; suggested "
            f"'{row['suggested_label']}' with confidence {row['suggestion_confidence']:.3f}")


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
    apply : {"suggestions", "none"}
        ``suggestions`` replaces the label of every flagged example that has a suggestion;
        ``none`` keeps all labels.
    drop_flagged : bool
        Remove flagged rows whose label was not replaced.

    Returns
    -------
    ExportResult

    Raises
    ------
    RelabelInputError
        Unknown ``apply``, missing run files, an input that changed since ``denoise``, or a
        target that is the input itself.
    """
    if apply not in APPLY_CHOICES:
        raise RelabelInputError(f"--apply must be one of {', '.join(APPLY_CHOICES)}, got '{apply}'")
    run, scores = load_run(run_dir)
    source = Path(run["input"])
    to = Path(to)
    fmt = detect_format(to, for_writing=True)
    if fmt == "json" and run.get("format") == KEYED_JSON:  # back in the input's own layout
        fmt = KEYED_JSON
    if to.resolve() == source.resolve():
        raise RelabelInputError("refusing to overwrite the input file; choose another --to",
                                path=to)
    if not source.exists():
        raise RelabelInputError("the input of this run no longer exists", path=source)
    if file_fingerprint(source) != run["fingerprint"]:
        raise RelabelInputError("the input changed since `relabel denoise`; run it again",
                                path=source)
    table, _ = read_table(source)
    label_col = run["label_col"]
    label_dtype = table.schema[label_col]

    relabel_mask = (pl.col("flagged") & pl.col("suggested_label").is_not_null()
                    if apply == "suggestions" else pl.lit(False))
    scores = scores.with_columns(relabel_mask.alias("_relabel"))
    changed = scores.filter(pl.col("_relabel"))
    dropped = (scores.filter(pl.col("flagged") & ~pl.col("_relabel")) if drop_flagged
               else scores.clear())

    new_labels = pl.Series(label_col, table[label_col].cast(pl.String, strict=False).to_list(),
                           dtype=pl.String)
    if changed.height:
        new_labels = new_labels.scatter(changed["row"].to_list(), changed["suggested_label"])
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
        for r in changed.iter_rows(named=True)
    ] + [
        {"id": r["id"], "row": r["row"], "action": "drop", "old_label": r["label"],
         "new_label": None, "reason": f"flagged: credibility {r['credibility']:.3f}; no confident "
         "suggestion", "source": "automatic"}
        for r in dropped.iter_rows(named=True)
    ]
    changes = pl.DataFrame(change_rows, schema={
        "id": pl.String, "row": pl.Int64, "action": pl.String, "old_label": pl.String,
        "new_label": pl.String, "reason": pl.String, "source": pl.String,
    }).sort("row")
    write_table(cleaned, to, fmt)
    changes_path = to.parent / CHANGES_FILE
    write_table(changes, changes_path, "csv")
    return ExportResult(path=to, changes_path=changes_path, relabelled=changed.height,
                        dropped=dropped.height, rows=cleaned.height)
