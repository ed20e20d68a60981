"""Reading several annotators' votes: where they are (:class:`VoteSpec`) and the
:class:`~relabel.crowd.votes.Votes` record of any layout :func:`relabel.crowd.api.consensus`
takes (long, wide, lists, a run directory with the ``annotations.parquet`` of
``relabel review pull``), and the user's file behind a run (:func:`items_origin`), which
``export`` writes back where its rows are the items.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from relabel.config import DenoiseConfig
from relabel.crowd.votes import (
    ANNOTATOR_COL,
    ITEM_COL,
    Votes,
    votes_from_lists,
    votes_from_long,
    votes_from_wide,
)
from relabel.errors import Problems, RelabelInputError, option
from relabel.rundir import ItemsOrigin, RunFiles

#: the annotator name of a run's own given labels, when consensus reads a run directory
GIVEN_ANNOTATOR = "(given label)"


def read_table_of(data: Any, name: str | None = None, encoding: str | None = None
                  ) -> tuple[pl.DataFrame, str]:
    """``data`` (a file, or a table in memory) as a polars frame, and its name for messages
    (the path, else ``name`` or the kind of object)."""
    from relabel.data.frames import describe, source_type, to_polars
    from relabel.data.io import read_table

    kind = source_type(data)
    if kind == "file":
        table, _ = read_table(data, encoding=encoding)
        return table, str(data)
    return to_polars(data, kind), name or describe(kind)


def is_run_dir(data: Any) -> bool:
    """``data`` is a run directory (it holds a ``run.json``)."""
    return (isinstance(data, (str, Path)) and Path(data).is_dir()
            and RunFiles(Path(data)).run.is_file())


@dataclass(frozen=True)
class VoteSpec:
    """Where the votes are and what their columns are called
    (:func:`relabel.crowd.api.consensus` documents each field; ``label_cols`` is a wide table's
    annotator columns)."""

    annotations: Any = None
    label_cols: tuple[str, ...] | None = None
    votes_col: str | None = None
    item: str | None = None
    annotator: str | None = None
    label: str = "label"
    text: str = "text"
    classes: tuple[str, ...] | None = None
    dedupe: bool = False
    skip_other_items: bool = False
    multi_select: bool = False
    include_given: bool = True
    #: ``(code, name)`` pairs of integer-coded votes (:func:`relabel.config.parse_label_names`)
    label_names: tuple[tuple[str, str], ...] | None = None
    #: text encoding of the votes' and the items' files (default UTF-8)
    encoding: str | None = None
    #: vote values that are abstentions, not votes (:mod:`relabel.crowd.votes`)
    abstain: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, cfg: DenoiseConfig) -> VoteSpec:
        """The votes' layout that ``denoise`` options describe (``cfg.multi_annotator``):
        in wide and list layouts the items are named by ``--item-col``, else ``--id-col``."""
        return cls(annotations=cfg.annotations, label_cols=cfg.label_cols,
                   votes_col=cfg.votes_col,
                   item=cfg.item_col or (cfg.id_col if cfg.label_cols or cfg.votes_col
                                         else None),
                   annotator=cfg.annotator_col, label=cfg.label_col, text=cfg.text_col,
                   dedupe=cfg.dedupe, skip_other_items=cfg.skip_other_items,
                   multi_select=cfg.multi_select,
                   label_names=cfg.label_names, encoding=cfg.encoding,
                   abstain=cfg.abstain)

    @property
    def item_col(self) -> str:
        return self.item or ITEM_COL

    @property
    def one_row_per_item(self) -> bool:
        """The data holds one row per item, in the items' order: votes in columns or lists, or
        the items beside a file of long votes (not a long table of votes, nor a run
        directory)."""
        return bool(self.label_cols or self.votes_col or self.annotations is not None)

    @property
    def vote_columns(self) -> tuple[str, ...]:
        """The data's columns that hold votes (wide and list layouts)."""
        return tuple(self.label_cols or ()) + ((self.votes_col,) if self.votes_col else ())

    @property
    def annotator_col(self) -> str:
        return self.annotator or ANNOTATOR_COL


def writes_back(spec: VoteSpec, label_col: str = "label") -> bool:
    """Whether the items' new labels go back into the user's table: it holds one row per item
    (:attr:`VoteSpec.one_row_per_item`) and ``label_col`` is not one of its vote columns."""
    return spec.one_row_per_item and label_col not in spec.vote_columns


def items_origin(data: Any, spec: VoteSpec, label_col: str = "label") -> ItemsOrigin | None:
    """``data`` when it is a file (not a run directory), with whether ``export`` writes it back
    with the new labels in ``label_col`` (:func:`writes_back`; else the run's table of items
    is what it writes, its ids named as the file's item column); None otherwise."""
    from relabel.data.io import file_fingerprint, file_layout

    if not isinstance(data, (str, Path)) or is_run_dir(data):
        return None
    path = Path(data).resolve()
    back = writes_back(spec, label_col)
    return ItemsOrigin(path=str(path), format=file_layout(path) or "",
                       fingerprint=file_fingerprint(path), rows_are_items=back,
                       item_col=None if back else spec.item_col)


def read_votes(data: Any, spec: VoteSpec, problems: Problems | None = None) -> Votes:
    """The votes of ``data`` in any of the layouts :func:`relabel.crowd.api.consensus` reads,
    their classes named by ``spec.label_names`` when given. ``problems`` that collect
    (``relabel check``) record what :func:`~relabel.crowd.votes.votes_from_long` can read past.

    Raises
    ------
    RelabelInputError
        One line naming the file, rows and column.
    """
    votes = _read_votes(data, spec, problems)
    if spec.label_names:
        from relabel.crowd.votes import name_classes

        votes = name_classes(votes, spec.label_names)
    return votes


def _read_votes(data: Any, spec: VoteSpec, problems: Problems | None) -> Votes:
    classes = list(spec.classes) if spec.classes else None
    if is_run_dir(data):
        return _run_votes(Path(data), spec)
    table, name = read_table_of(data, encoding=spec.encoding)
    if spec.label_cols:
        return votes_from_wide(table, name, list(spec.label_cols), item_col=spec.item,
                               text_col=spec.text, classes=classes, abstain=spec.abstain)
    if spec.votes_col:
        # the annotators' list: a column named on purpose, or one called "annotator"
        from relabel.data.columns import expose

        who: str | None = spec.annotator_col
        if spec.annotator in (None, ANNOTATOR_COL) and who not in expose(table, [who]).columns:
            who = None
        return votes_from_lists(table, name, spec.votes_col, annotator_col=who,
                                item_col=spec.item, text_col=spec.text, classes=classes,
                                dedupe=spec.dedupe, abstain=spec.abstain)
    if spec.annotations is not None:
        votes_table, votes_name = read_table_of(spec.annotations, "annotations", spec.encoding)
        return votes_from_long(votes_table, votes_name, item_col=spec.item_col,
                               annotator_col=spec.annotator_col, label_col=spec.label,
                               text_col=spec.text, items=table, items_name=name,
                               classes=classes, dedupe=spec.dedupe, abstain=spec.abstain,
                               problems=problems, skip_other_items=spec.skip_other_items,
                               multi_select=spec.multi_select)
    return votes_from_long(table, name, item_col=spec.item_col,
                           annotator_col=spec.annotator_col, label_col=spec.label,
                           text_col=spec.text, classes=classes, dedupe=spec.dedupe,
                           abstain=spec.abstain, problems=problems,
                           multi_select=spec.multi_select)


def _run_votes(run_dir: Path, spec: VoteSpec) -> Votes:
    """A run directory: its examples are the items, ``annotations.parquet`` (``review pull``)
    or ``spec.annotations`` the votes, and the run's given label one more annotator."""
    from relabel.rundir import load_examples, load_run, run_classes

    files = RunFiles(run_dir)
    examples = load_examples(run_dir)
    _, scores = load_run(run_dir)
    known = run_classes(run_dir, scores)
    if spec.annotations is None:
        if not files.annotations.is_file():
            raise RelabelInputError(
                f"no {RunFiles.ANNOTATIONS} here; run `relabel review pull` first, or give "
                f"the votes with {option('--annotations')}", path=run_dir)
        votes_table, votes_name = pl.read_parquet(files.annotations), str(files.annotations)
        item_col, annotator_col, label_col = "id", "annotator", "label"
    else:
        votes_table, votes_name = read_table_of(spec.annotations, "annotations", spec.encoding)
        item_col, annotator_col, label_col = spec.item_col, spec.annotator_col, spec.label
    if spec.include_given:
        given = examples.select(pl.col("id").alias(item_col),
                                pl.lit(GIVEN_ANNOTATOR).alias(annotator_col),
                                pl.col("label").alias(label_col))
        cast = votes_table.select(pl.col(item_col).cast(pl.String),
                                  pl.col(annotator_col).cast(pl.String),
                                  pl.col(label_col).cast(pl.String)) \
            if {item_col, annotator_col, label_col} <= set(votes_table.columns) else votes_table
        votes_table = pl.concat([given, cast], how="diagonal_relaxed")
    items = examples.drop("row", "label")
    if item_col != "id":
        items = items.rename({"id": item_col})
    return votes_from_long(votes_table, votes_name, item_col=item_col,
                           annotator_col=annotator_col, label_col=label_col, text_col="text",
                           items=items, items_name=str(files.examples),
                           classes=list(spec.classes) if spec.classes else known,
                           dedupe=spec.dedupe, abstain=spec.abstain,
                           skip_other_items=spec.skip_other_items,
                           multi_select=spec.multi_select)

__all__ = ["GIVEN_ANNOTATOR", "VoteSpec", "is_run_dir", "items_origin", "read_table_of",
           "read_votes", "writes_back"]
