"""Reading a dataset for a task, text or relation: validated examples and the encoder's inputs.

``read_task`` validates the table (``relabel.data.validation``; for relations also the spans)
against an :class:`~relabel.config.InputSpec` and returns a :class:`ReadTask`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from relabel.config import DEFAULT_FOLDS, InputSpec
from relabel.data.columns import expose
from relabel.data.relation import (
    detect_layout,
    encoder_inputs,
    has_inline_tags,
    relation_table,
    validate_spans,
)
from relabel.data.texts import TextColumn
from relabel.data.validation import build_examples, few_per_fold_warning
from relabel.errors import Problems, RelabelInputError, option

#: normalised relation columns carried through validation
REL_COLS = ("__hs", "__he", "__ts", "__te", "__htype", "__ttype")
#: the relation span columns of a task's ``spans`` and of a review task, in order
SPAN_NAMES = ("head_start", "head_end", "tail_start", "tail_end")


@dataclass(frozen=True)
class ReadTask:
    """A validated dataset, ready to encode.

    Attributes
    ----------
    task : {"text", "relation"}
    layout : str or None
        Relation layout (``flat``, ``tacred``, ``wrench``), None for text.
    examples : polars.DataFrame or None
        ``row, id, text, label`` (:func:`~relabel.data.validation.build_examples`); None only
        when a collecting check found errors that left nothing to build.
    warnings : list of str
        One line each.
    rows : int
        Rows of the input table (before ``drop_invalid``).
    label_col : str
        The label column actually read (TACRED's ``relation`` when ``label`` is missing).
    pooling : str
        What the encoder should pool (``entity`` for relations, ``mean`` for text).
    texts : dict of str to list of str
        Pooling name -> encoder input strings, one per example (for a relation, ``mean`` holds
        the marked texts and ``entity`` the packed ones). Empty after a collecting check.
    spans : np.ndarray or None
        ``(N, 4)`` character offsets head start, head end, tail start, tail end into
        ``examples["text"]`` (relations).
    """

    task: str
    layout: str | None
    examples: pl.DataFrame | None
    warnings: list[str]
    rows: int
    label_col: str
    pooling: str
    texts: dict[str, TextColumn] = field(default_factory=dict)
    spans: np.ndarray | None = None

    @property
    def frame(self) -> pl.DataFrame:
        """``examples`` of a task that was read whole (every caller but ``relabel check``'s
        collection of problems)."""
        if self.examples is None:
            raise RuntimeError("the examples were not read (a collected check)")
        return self.examples

    def encoder_texts(self, pooling: str) -> TextColumn:
        """The encoder inputs for ``pooling`` (the marked texts when it has none of its own)."""
        return self.texts.get(pooling, self.texts["mean"])


#: a file of class names that WRENCH and others keep beside integer-coded data
LABEL_NAMES_FILE = "label.json"


def _label_names_hint(examples: pl.DataFrame, data: str | Path, spec: InputSpec) -> list[str]:
    """A hint when the labels are integer codes and a ``label.json`` lies beside the input
    file: ``--label-names`` would name the classes for the report and the reviewers."""
    if spec.label_names is not None or not Path(data).is_file():
        return []
    beside = Path(data).parent / LABEL_NAMES_FILE
    if not beside.is_file():
        return []
    if not examples.get_column("label").str.contains(r"^-?\d+$").all():
        return []
    return [f"the labels are integer codes and {beside} lies beside the input: "
            f"{option('--label-names', str(beside))} would name the classes in the report, the "
            "reviews and the suggestions (the export still writes codes)"]


def _few_tagged_warning(examples: pl.DataFrame) -> list[str]:
    """A warning when some texts, but fewer than half, tag entities inline: they are read as
    plain text (``detect_layout``), which may not be what the user meant."""
    tagged = int(has_inline_tags(examples.get_column("text")).sum())
    if not tagged:
        return []
    return [f"{tagged} of {examples.height} texts tag entities as <e1>..</e1> <e2>..</e2>, "
            f"too few for a relation file: all are read as plain text "
            f"({option('--task', 'relation')} reads them as relations, naming the rows "
            "without tags)"]


def read_task(table: pl.DataFrame, data: str | Path, spec: InputSpec, *,
              folds: int = DEFAULT_FOLDS, problems: Problems | None = None,
              compare: bool = True) -> ReadTask:
    """Validate the table for the task and build the encoder's inputs.

    Parameters
    ----------
    table : polars.DataFrame
        The input as read.
    data : str or Path
        Its name in error messages (the file, or a description of an in-memory input).
    spec : InputSpec
        Columns and task.
    folds : int
        Cross-validation folds, for the warning about classes too small for them.
    problems : Problems, optional
        A collecting ``problems`` (``relabel check``) records every problem instead of raising
        the first, and only the validation runs: ``texts`` is then empty and ``examples`` None
        when errors left nothing to build.
    compare : bool
        The labels are compared with each other (default); False for a test file
        (:func:`~relabel.data.validation.build_examples`).

    Returns
    -------
    ReadTask
    """
    collect = problems is not None and problems.collect
    # fields of nested records named by a dotted path (--text-col data.text) as columns
    table = expose(table, [spec.text_col, spec.label_col, spec.id_col, *spec.span_cols,
                           *spec.type_cols])
    layout = (detect_layout(table, spec.span_cols, spec.text_col,
                            relation=spec.task == "relation") if spec.task != "text" else None)
    if spec.task == "relation" and layout is None:
        raise RelabelInputError(
            f"{option('--task', 'relation')} needs entity spans: columns "
            + ", ".join(spec.span_cols)
            + f" (see {option('--span-cols')}), "
            "TACRED's token/subj_start/subj_end/obj_start/obj_end, "
            "WRENCH's data.text/data.span1/data.span2, or texts that tag them as "
            "<e1>..</e1> and <e2>..</e2>", path=data)
    if layout is None:
        if spec.pooling == "entity":
            raise RelabelInputError(f"{option('--pooling', 'entity')} needs a relation dataset "
                                    "(entity spans)", path=data)
        examples, warnings = build_examples(
            table, path=data, text_col=spec.text_col, label_col=spec.label_col,
            id_col=spec.id_col, drop_invalid=spec.drop_invalid, problems=problems,
            compare=compare, label_names=spec.label_names)
        if examples is not None:
            warnings += few_per_fold_warning(examples, folds)
            warnings += _label_names_hint(examples, data, spec)
            if spec.task == "auto":
                warnings += _few_tagged_warning(examples)
        texts = {} if collect or examples is None else {"mean": TextColumn(examples["text"])}
        return ReadTask(task="text", layout=None, examples=examples, warnings=warnings,
                        rows=table.height, label_col=spec.label_col,
                        pooling=spec.pooling or "mean", texts=texts)
    rel = relation_table(table, layout, path=data, text_col=spec.text_col,
                         span_cols=spec.span_cols, type_cols=spec.type_cols)
    text_name = {"tacred": "token", "wrench": "data.text"}.get(layout, spec.text_col)
    rel = rel.with_columns(pl.col("__text").alias(text_name))
    label_col = spec.label_col
    if layout == "tacred" and label_col not in rel.columns and "relation" in rel.columns:
        label_col = "relation"
    id_col = spec.id_col or ("id" if layout == "wrench" else None)
    examples, warnings = build_examples(
        rel, path=data, text_col=text_name, label_col=label_col, id_col=id_col,
        drop_invalid=spec.drop_invalid, extra_cols=REL_COLS, problems=problems,
        compare=compare, label_names=spec.label_names)
    pooling = spec.pooling or "entity"
    if examples is None:
        return ReadTask(task="relation", layout=layout, examples=None, warnings=warnings,
                        rows=table.height, label_col=label_col, pooling=pooling)
    warnings += few_per_fold_warning(examples, folds)
    warnings += _label_names_hint(examples, data, spec)
    spans = [examples[c].to_numpy() for c in REL_COLS[:4]]
    span_names = {"tacred": "subj_start, subj_end, obj_start, obj_end",
                  "wrench": "data.span1, data.span2", "inline": spec.text_col,
                  }.get(layout, ", ".join(spec.span_cols))
    hs, he, ts, te = spans
    validate_spans(examples["text"].to_list(), hs, he, ts, te, rows=examples["row"].to_numpy(),
                   path=data, columns=span_names, problems=problems)
    if collect:
        return ReadTask(task="relation", layout=layout, examples=examples.drop(REL_COLS),
                        warnings=warnings, rows=table.height, label_col=label_col,
                        pooling=pooling)
    marked, packed = encoder_inputs(examples["text"].to_list(), hs, he, ts, te,
                                    examples["__htype"].to_list(),
                                    examples["__ttype"].to_list())
    return ReadTask(task="relation", layout=layout, examples=examples.drop(REL_COLS),
                    warnings=warnings, rows=table.height, label_col=label_col, pooling=pooling,
                    texts={"mean": TextColumn(marked), "entity": TextColumn(packed)},
                    spans=np.stack(spans, axis=1))


__all__ = ["ReadTask", "read_task"]
