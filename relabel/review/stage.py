"""The reviewers' decisions that ``denoise --reviews`` trusts (:mod:`relabel.pipeline`):
matched to the examples (:func:`review_stage`), and the earlier run directory they come from
(:func:`review_run_dir`) with its spot check of the automatic changes
(:func:`inherited_check`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from relabel.data.task import ReadTask
from relabel.errors import RelabelInputError, option
from relabel.rundir import RunFiles


def review_run_dir(reviews: Any) -> Path | None:
    """The run directory that ``--reviews`` names (a run directory or its
    ``reviews.parquet``), None when it names something else."""
    source = Path(reviews) if isinstance(reviews, (str, Path)) else None
    if source is not None and source.is_file() and source.name == RunFiles.REVIEWS:
        source = source.parent  # a run directory's reviews.parquet
    return source if source is not None and source.is_dir() else None


def inherited_check(reviews: Any) -> Any:
    """The spot check of the automatic changes of the run directory ``--reviews`` names
    (:class:`relabel.review.spotcheck.ChangeCheck`; None without one)."""
    source = review_run_dir(reviews)
    if source is None:
        return None
    from relabel.review.samples import run_change_check

    return run_change_check(source)


def review_stage(task: ReadTask, reviews: Any, name: str,
                 label_names: tuple[tuple[str, str], ...] | None = None) -> pl.DataFrame | None:
    """The reviewers' decisions matched to the examples: ``row, id, label, reviewed_label,
    status, annotator, time`` (None without reviews). With ``label_names`` a reviewed label
    given as a code is read as its name.

    Raises
    ------
    RelabelInputError
        Reviewed ids that are not in the data.
    """
    if reviews is None:
        return None
    from relabel.review.ledger import decision_status
    from relabel.review.reviews import read_review_source

    decided = read_review_source(reviews)
    if label_names:
        decided = decided.with_columns(pl.col("reviewed_label").replace(dict(label_names)))
    assert task.examples is not None
    joined = decided.join(task.examples.select("row", "id", "label"), on="id", how="left")
    unknown = joined.filter(pl.col("row").is_null())
    if unknown.height:
        from relabel.data.validation import ids_as_numbers_hint

        ids = ", ".join(unknown["id"].head(3).to_list())
        hint = ids_as_numbers_hint(unknown["id"], task.examples["id"])
        raise RelabelInputError(f"{unknown.height} reviewed ids are not in the data (e.g. "
                                f"{ids}" + (f"; the first{hint})" if hint else
                                            "); reviews must name examples by the same "
                                            f"{option('--id-col')}"),
                                path=name if not isinstance(reviews, (str, Path)) else reviews)
    status = decision_status(joined, "label").sort("row")
    # a reviewer may name a class the data lacks (it becomes one); say so, since a typo or
    # the reviews of another dataset do the same
    known = set(task.examples["label"].unique().to_list())
    new = sorted(set(status["reviewed_label"].drop_nulls().cast(pl.String).to_list()) - known)
    if new:
        import difflib

        def named(c: str) -> str:  # a likely typo names the class it is close to
            near = difflib.get_close_matches(c, sorted(known), n=1, cutoff=0.8)
            return f"{c!r} (a typo of {near[0]!r}?)" if near else repr(c)

        shown = ", ".join(named(c) for c in new[:5]) + (f" and {len(new) - 5} more"
                                                        if len(new) > 5 else "")
        task.warnings.append(f"the reviews name {len(new)} class(es) no example has ({shown}): "
                             "each becomes a class of this run")
    return status


__all__ = ["inherited_check", "review_run_dir", "review_stage"]
