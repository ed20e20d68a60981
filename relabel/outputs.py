"""What a denoise run writes, as frames: the scores (one row per example), the validated examples,
the most suspicious examples for the report, and the counts of ``summary.json``.

Pure functions of the read task's examples and the scoring result; :mod:`relabel.pipeline` writes
them under the names of :class:`relabel.rundir.RunFiles`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from relabel.data.task import SPAN_NAMES, ReadTask

#: suspicious examples listed for the report
REPORT_SUSPICIOUS = 200


def scores_frame(examples: pl.DataFrame, classes: list[str], labels: np.ndarray,
                 result: Any, reviewed: np.ndarray | None = None) -> pl.DataFrame:
    """One row per example: ids, given label, credibility, per-signal scores, decisions, and
    the reviewer's label where a reviewer decided."""
    rows = np.arange(len(labels))
    columns: dict[str, Any] = {
        "row": examples["row"],
        "id": examples["id"],
        "label": examples["label"],
        "credibility": result.credibility,
    }
    for name, post in result.posteriors.items():
        columns[f"{name}_score"] = post[rows, labels]
    columns.update({
        "flagged": result.flagged,
        "suggested_label": class_names(classes, result.suggested),
        "suggestion_confidence": pl.Series(result.confidence).fill_nan(None),
        # the pass of the rule that made the change (relabel/detect/score.py, "Passes")
        "suggestion_pass": pl.Series(result.passes_of_changes(), dtype=pl.Int8).replace(0, None),
        "alternative_label": class_names(classes, result.alternative),
        "alternative_prob": pl.Series(result.alternative_prob).fill_nan(None),
        "p_wrong": result.p_wrong.astype(np.float32),
        "suspicion": result.suspicion.astype(np.float32),
        "reason": pl.Series(result.reason, dtype=pl.String),
        "reviewed_label": class_names(classes, reviewed if reviewed is not None
                                      else np.full(len(labels), -1)),
    })
    return pl.DataFrame(columns)


def most_suspicious_first(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (rows of ``scores.parquet``, or of ``find_label_issues``) sorted most suspicious
    first: by ``suspicion`` (:func:`relabel.detect.decide.suspicion`), then row; a run written
    before that column existed, by ``credibility`` (lowest first)."""
    if "suspicion" in frame.columns:
        return frame.sort(["suspicion", "row"], descending=[True, False])
    return frame.sort(["credibility", "row"])


def suspicion_of(scores: pl.DataFrame) -> np.ndarray:
    """``(N,)`` the ranking score of ``scores`` (higher = more suspicious): its ``suspicion``
    column, or ``1 - credibility`` for a run written before that column existed."""
    if "suspicion" in scores.columns:
        return scores["suspicion"].to_numpy().astype(np.float64)
    return 1.0 - scores["credibility"].to_numpy().astype(np.float64)


def class_names(classes: list[Any], codes: np.ndarray, dtype: Any = pl.String) -> pl.Series:
    """``(N,)`` class codes -> their names as a series of ``dtype``, null where the code is -1
    (a gather in polars, no Python object per row)."""
    codes = np.asarray(codes, dtype=np.int64)
    names = pl.Series(list(classes), dtype=dtype)
    if not len(classes):
        return pl.Series([None] * len(codes), dtype=dtype)
    valid = codes >= 0
    gathered = names.gather(np.where(valid, codes, 0))
    return pl.select(pl.when(pl.Series(valid)).then(gathered)).to_series()


def suspicious_frame(examples: pl.DataFrame, scores: pl.DataFrame, neighbors: np.ndarray
                ) -> pl.DataFrame:
    """The most suspicious examples with their text and their nearest neighbours' labels."""
    order = np.argsort(-suspicion_of(scores), kind="stable")[:REPORT_SUSPICIOUS]
    # gathers of the few rows shown: a whole text or label column as Python objects was the
    # write stage's largest temporary at millions of rows
    near = np.asarray(neighbors[order], dtype=np.int64)
    near_labels = scores["label"].gather(near.ravel()).to_numpy().reshape(near.shape)
    return scores[order].select(
        "row", "id", "label", *(["suspicion"] if "suspicion" in scores.columns else []),
        "credibility", "flagged", "reason", "suggested_label", "suggestion_confidence",
    ).with_columns(
        examples["text"].gather(order).cast(pl.String).alias("text"),
        pl.Series("neighbor_labels", [row.tolist() for row in near_labels],
                  dtype=pl.List(pl.String)),
    )


def summary_counts(scores: pl.DataFrame, classes: list[str], top_n: int = 10) -> dict[str, Any]:
    """The counts at the top of ``summary.json``: flags per reason and class, suggestions,
    abstentions, and the most frequent given -> likely label pairs among the flagged."""
    flagged = scores.filter(pl.col("flagged"))
    per_class = (flagged.group_by("label").len().sort(["len", "label"], descending=[True, False]))
    # flagged rows by given label and what relabel thinks they are: its change where it made one,
    # else the most probable other label (for review)
    conf = (flagged.with_columns(pl.coalesce("suggested_label", "alternative_label")
                                 .alias("likely"))
            .group_by(["label", "likely"]).len()
            .sort(["len", "label", "likely"], descending=[True, False, False])
            .head(top_n))
    reasons = flagged.group_by("reason").len().sort(["len", "reason"], descending=[True, False])
    return {
        "examples": scores.height,
        "classes": len(classes),
        "flagged": flagged.height,
        "flagged_per_reason": {r["reason"]: r["len"] for r in reasons.iter_rows(named=True)},
        "suggested": int(scores["suggested_label"].is_not_null().sum()),
        "abstained": int(flagged["suggested_label"].is_null().sum()),
        "flagged_per_class": {r["label"]: r["len"] for r in per_class.iter_rows(named=True)},
        "top_confusions": [{"given": r["label"], "likely": r["likely"], "count": r["len"]}
                           for r in conf.iter_rows(named=True)],
    }


def examples_frame(task: ReadTask) -> pl.DataFrame:
    """``examples.parquet``: the validated ``row, id, text, label`` and, for relations, the
    entity spans (character offsets into ``text``)."""
    assert task.examples is not None
    frame = task.examples.select("row", "id", "text", "label")
    if task.spans is not None:
        frame = frame.with_columns(pl.Series(name, task.spans[:, j], dtype=pl.Int64)
                                   for j, name in enumerate(SPAN_NAMES))
    return frame


__all__ = ["REPORT_SUSPICIOUS", "examples_frame", "scores_frame", "summary_counts",
           "suspicious_frame"]
