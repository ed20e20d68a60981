"""Human review: which examples reviewers see, and their decisions merged back.

``review push`` shows reviewers the rows of :func:`review_items` (flagged ones, or all, least
credible first, with their text and, for relations, entity spans). ``review pull`` writes
``reviews.parquet`` (:data:`REVIEWS_COLUMNS`), and ``export --apply reviewed`` takes the human
decisions from :func:`human_decisions`. This module is pure file and frame work: the Label Studio
side lives in ``connectors/label_studio``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from relabel.data.task import SPAN_NAMES
from relabel.data.write import write_table
from relabel.errors import RelabelInputError, option
from relabel.outputs import most_suspicious_first
from relabel.rundir import RunFiles, load_examples, load_run, run_classes, run_id

REVIEWS_FILE = RunFiles.REVIEWS
ONLY_CHOICES = ("flagged", "all")
#: reviews.parquet: one row per reviewed example
REVIEWS_COLUMNS = ("id", "given_label", "reviewed_label", "status", "annotator", "time")
#: statuses that are decisions; "skipped" (skipped or cancelled in the tool) is not one
DECISIONS = ("accepted", "changed")
#: what :func:`human_decisions` returns (also the empty frame when nothing was reviewed)
DECISIONS_SCHEMA: dict[str, Any] = {"row": pl.Int64, "id": pl.String, "label": pl.String,
                    "reviewed_label": pl.String, "status": pl.String, "annotator": pl.String,
                    "time": pl.Datetime("us", "UTC")}


@dataclass
class ReviewItems:
    """What to push for review.

    Attributes
    ----------
    frame : polars.DataFrame
        One row per example to review, most suspicious first: the scores columns plus ``text``
        and, for relations, ``head_start, head_end, tail_start, tail_end`` (character offsets).
    classes : list of str
        Every class of the run (the choices reviewers pick from).
    task : str
        ``text`` or ``relation``.
    run_id : str
        Short hash of the run's scores (names the run in the review tool).
    total : int
        Examples in the run.
    """

    frame: pl.DataFrame
    classes: list[str]
    task: str
    run_id: str
    total: int


def review_items(run_dir: str | Path, *, only: str = "flagged",
                 limit: int | None = None, ids: list[str] | None = None) -> ReviewItems:
    """The examples to send to reviewers, most suspicious first.

    Parameters
    ----------
    run_dir : str or Path
        Output directory of ``denoise``.
    only : {"flagged", "all"}
        Flagged examples only, or every example.
    limit : int, optional
        At most this many (the most suspicious).
    ids : list of str, optional
        Exactly these examples, in this order (``review next``); ``only`` is then ignored.

    Raises
    ------
    RelabelInputError
        Bad ``only``/``limit``, or missing run files.
    """
    if only not in ONLY_CHOICES:
        raise RelabelInputError(f"{option('--only')} must be one of "
                                f"{', '.join(ONLY_CHOICES)}, got '{only}'")
    if limit is not None and limit < 1:
        raise RelabelInputError(f"{option('--limit')} must be at least 1, got {limit}")
    run, scores = load_run(run_dir)
    if ids is not None:
        order = pl.DataFrame({"id": [str(i) for i in ids]}).with_row_index("_order")
        chosen = scores.join(order, on="id", how="inner").sort("_order").drop("_order")
    else:
        chosen = scores.filter(pl.col("flagged")) if only == "flagged" else scores
        chosen = most_suspicious_first(chosen)
    if limit is not None:
        chosen = chosen.head(limit)
    examples = load_examples(run_dir)
    keep = ["row", "text"] + ([c for c in SPAN_NAMES if c in examples.columns]
                              if run.task == "relation" else [])
    frame = chosen.join(examples.select(keep), on="row", how="left")
    consensus = RunFiles(Path(run_dir)).consensus
    if consensus.is_file():  # several annotators per item: the reviewer sees who said what
        votes = pl.read_parquet(consensus, columns=["id", "annotations"])
        frame = frame.join(votes, on="id", how="left")
    if frame["text"].is_null().any():
        raise RelabelInputError("the scores do not match the input rows; run `relabel denoise` "
                                "again", path=run_dir)
    return ReviewItems(frame=frame, classes=run_classes(run_dir, scores), task=run.task,
                       run_id=run_id(run_dir), total=scores.height)


def write_reviews(reviews: pl.DataFrame, run_dir: str | Path, *, source: str = "pull"
                  ) -> Path:
    """Record ``reviews`` in the run's append-only ledger, then write ``reviews.parquet``: per
    example its latest decision over everything the ledger holds (so a decision pulled once
    stays, even when its task is gone from the project)."""
    from relabel.review.ledger import append_decisions, latest_decisions, read_ledger

    append_decisions(run_dir, reviews, source=source)
    latest = latest_decisions(read_ledger(run_dir))
    return write_table(latest.select(list(REVIEWS_COLUMNS)), RunFiles(run_dir).reviews)


#: what a table of decisions often calls its two columns, most likely first
_REVIEW_ALIASES = {
    "id": ("example_id", "item_id", "row_id", "uid", "key", "idx"),
    "reviewed_label": ("corrected_label", "new_label", "correct_label", "true_label",
                       "decision", "reviewed", "gold", "label"),
}


def _rename_hint(columns: list[str], missing: list[str]) -> str:
    """``: rename 'label' to reviewed_label`` where a column of ``columns`` has a usual name of
    a missing one (the table is never read under another name unasked); empty otherwise."""
    lowered = {c.lower(): c for c in columns}
    renames = []
    for want in missing:
        have = next((lowered[a] for a in _REVIEW_ALIASES[want] if a in lowered), None)
        if have is not None:
            renames.append(f"'{have}' to {want}")
    return f": rename {' and '.join(renames)}" if renames else ""


def read_review_source(source: Any) -> pl.DataFrame:
    """Reviewers' decisions for ``denoise --reviews``: ``id, reviewed_label`` and, where known,
    ``status, annotator, time``.

    ``source`` is a ``reviews.parquet`` of ``relabel review pull``, a run directory (its
    reviews), any table file with columns ``id`` and ``reviewed_label`` (e.g. a CSV), or a
    frame. Skips (``status`` skipped) and empty reviewed labels are not decisions and are left
    out; an id reviewed twice keeps its latest decision.

    Raises
    ------
    RelabelInputError
        Missing file, or no ``id`` / ``reviewed_label`` column.
    """
    from relabel.data.frames import source_type, to_polars
    from relabel.data.io import read_table

    name = "reviews"
    if isinstance(source, (str, Path)):
        path = Path(source)
        files = RunFiles(path)
        if path.is_dir() and (files.reviews.is_file() or files.ledger.is_file()):
            from relabel.review.ledger import latest_decisions, read_ledger

            ledger = read_ledger(path)
            frame = (latest_decisions(ledger) if ledger.height
                     else pl.read_parquet(files.reviews))
            name = str(path)
        else:
            frame, _ = read_table(path, encoding_option=False)  # --encoding is the data's
            name = str(path)
    elif isinstance(source, pl.DataFrame):
        frame = source
    else:
        frame = to_polars(source, source_type(source))
    missing = [c for c in ("id", "reviewed_label") if c not in frame.columns]
    if missing:
        raise RelabelInputError(f"reviews need columns id and reviewed_label (missing: "
                                f"{', '.join(missing)}; the table has "
                                f"{', '.join(frame.columns) or 'none'})"
                                + _rename_hint(frame.columns, missing), path=name)
    frame = frame.with_columns(pl.col("id").cast(pl.String),
                               pl.col("reviewed_label").cast(pl.String))
    for col, dtype in (("status", pl.String), ("annotator", pl.String),
                       ("time", pl.Datetime("us", "UTC"))):
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(col))
    frame = frame.filter(pl.col("reviewed_label").is_not_null()
                         & (pl.col("reviewed_label").str.strip_chars() != "")
                         & (pl.col("status").is_null() | pl.col("status").is_in(list(DECISIONS))))
    from relabel.review.ledger import latest_per_id

    frame = latest_per_id(frame)
    return frame.select("id", "reviewed_label", "status", "annotator",
                        pl.col("time").cast(pl.Datetime("us", "UTC"), strict=False))


def read_reviews(run_dir: str | Path) -> pl.DataFrame:
    """Read ``reviews.parquet`` of a run directory.

    Raises
    ------
    RelabelInputError
        The file is missing (run ``relabel review pull`` first) or lacks columns.
    """
    path = RunFiles(run_dir).reviews
    if not path.is_file():
        raise RelabelInputError(f"no {REVIEWS_FILE} here; run `relabel review pull` first",
                                path=run_dir)
    reviews = pl.read_parquet(path)
    missing = [c for c in REVIEWS_COLUMNS if c not in reviews.columns]
    if missing:
        raise RelabelInputError(f"missing columns {', '.join(missing)}; pull the reviews again",
                                path=path)
    return reviews


def human_decisions(reviews: pl.DataFrame, scores: pl.DataFrame, classes: list[str],
                    *, path: str | Path | None = None) -> pl.DataFrame:
    """The reviewers' decisions joined to the scores' rows.

    Parameters
    ----------
    reviews : polars.DataFrame
        ``reviews.parquet``.
    scores : polars.DataFrame
        The run's scores (``row``, ``id``, ``label``).
    classes : list of str
        The run's classes; a reviewed label outside them means the project's label set no
        longer matches the run.

    Returns
    -------
    polars.DataFrame
        ``row, id, label, reviewed_label, status, annotator, time`` for accepted and changed
        reviews only.

    Raises
    ------
    RelabelInputError
        A reviewed label that is not a class of the run, or reviews of ids the run lacks.
    """
    decided = reviews.filter(pl.col("status").is_in(list(DECISIONS)))
    bad = decided.filter(~pl.col("reviewed_label").is_in(classes))
    if bad.height:
        labels = ", ".join(sorted(set(bad["reviewed_label"].cast(pl.String).to_list()))[:5])
        ids = ", ".join(bad["id"].cast(pl.String).head(3).to_list())
        raise RelabelInputError(
            f"reviewed labels {labels} are not classes of this run ({bad.height} review(s), "
            f"e.g. id {ids}), added in Label Studio after the run: make them classes of a new "
            "round with `relabel denoise DATA -o DIR --reviews DIR`, or change those annotations "
            "in Label Studio and pull again", path=path,
            column="reviewed_label")
    joined = decided.join(scores.select("row", "id", "label"), on="id", how="left")
    unknown = joined.filter(pl.col("row").is_null())
    if unknown.height:
        from relabel.data.validation import ids_as_numbers_hint

        ids = ", ".join(unknown["id"].head(3).to_list())
        hint = ids_as_numbers_hint(unknown["id"], scores["id"])
        raise RelabelInputError(
            f"{unknown.height} reviewed ids are not in this run (e.g. {ids}"
            + (f"; the first{hint})" if hint else "); pull from the project this run was "
               "pushed to"), path=path, column="id")
    return joined.select(list(DECISIONS_SCHEMA))


__all__ = ["DECISIONS", "DECISIONS_SCHEMA", "ONLY_CHOICES", "REVIEWS_COLUMNS", "REVIEWS_FILE",
           "ReviewItems", "human_decisions", "read_review_source", "read_reviews",
           "review_items", "write_reviews"]
