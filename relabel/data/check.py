"""``relabel check``: every problem of a dataset in one pass, without loading a model.

It runs the checks ``denoise`` runs before any work (``relabel.data.validation``, the relation
spans, the options, the ``--embeddings`` file's shape), but records every error instead of
stopping at the first, and adds the warnings a run would log. ``denoise`` stops at the first
error of the same checks, in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from relabel.config import DenoiseConfig, check_options
from relabel.data.io import read_table
from relabel.data.label_studio import LABEL_STUDIO_JSON
from relabel.data.task import read_task
from relabel.embed.precomputed import load_embeddings
from relabel.errors import Problems, RelabelInputError


@dataclass
class CheckReport:
    """What ``check_dataset`` found."""

    path: str
    #: data rows read (0 when the file could not be read)
    rows: int = 0
    #: valid examples and their classes (None when errors left nothing to count)
    examples: int | None = None
    classes: int | None = None
    task: str | None = None
    #: a relation file's layout (``flat``, ``tacred``, ``wrench``, ``inline``; see
    #: :data:`relabel.data.relation.LAYOUT_NAMES`)
    layout: str | None = None
    #: for several annotators per item: votes and annotators, and whether the items have
    #: text (votes alone serve ``consensus``, not ``denoise``)
    votes: int | None = None
    annotators: int | None = None
    has_text: bool = True
    errors: list[RelabelInputError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_dataset(data: str | Path, config: DenoiseConfig | None = None) -> CheckReport:
    """Validate ``data`` as ``denoise`` would and collect every problem.

    Parameters
    ----------
    data : str or Path
        Dataset file or Hugging Face dataset directory.
    config : relabel.config.DenoiseConfig, optional
        Columns, task and options, as for ``denoise``.

    Returns
    -------
    CheckReport
        Errors (each a one-line :class:`~relabel.errors.RelabelInputError`) and warnings.
    """
    cfg = config or DenoiseConfig()
    problems = Problems(collect=True)
    report = CheckReport(path=str(data), errors=problems.errors, warnings=problems.warnings)
    try:
        check_options(cfg)
    except RelabelInputError as err:
        problems.error(err)
    from relabel.paths import PathArg, check_path

    for arg in (PathArg("DATA", data, "input", dir_ok=True), *cfg.path_args()):
        try:
            check_path(arg)
        except RelabelInputError as err:
            problems.error(err)
            if arg.option == "DATA":
                return report
    if cfg.encoding is not None:
        from relabel.data.encoding import check_encoding

        try:
            check_encoding(cfg.encoding)
        except RelabelInputError:  # the options' check above said so; nothing can be read
            return report
    try:
        table, fmt = read_table(data, encoding=cfg.encoding)
    except RelabelInputError as err:
        problems.error(err)
        return report
    report.rows = table.height
    if fmt == LABEL_STUDIO_JSON or cfg.multi_annotator:  # votes, as denoise reads them
        return _check_votes(table, data, cfg, report, problems)
    try:
        task = read_task(table, data, cfg.input_spec, folds=cfg.folds, problems=problems)
    except RelabelInputError as err:  # problems that stop the reading of a relation layout
        problems.error(err)
        return report
    report.task, report.layout = task.task, task.layout
    examples = task.examples
    if examples is not None:
        report.examples = examples.height
        report.classes = examples["label"].n_unique()
    if cfg.embeddings is not None:
        try:  # the shape and type only: no rows are read
            load_embeddings(cfg.embeddings, n_rows=table.height, rows=np.empty(0, np.int64))
        except RelabelInputError as err:
            problems.error(err)
    return report


def _check_votes(table: pl.DataFrame, data: str | Path, cfg: DenoiseConfig,
                 report: CheckReport, problems: Problems) -> CheckReport:
    """Several annotators per item, a Label Studio export (one row per task and annotator) or
    the layout ``cfg``'s annotator options describe: the votes checked as ``denoise`` and
    ``consensus`` read them, counted per item."""
    from relabel.crowd.reading import VoteSpec, read_votes
    from relabel.crowd.votes import votes_from_long

    report.task = "votes"
    try:
        if cfg.multi_annotator:
            votes = read_votes(data, VoteSpec.from_config(cfg), problems)
        else:
            votes = votes_from_long(table, str(data), item_col=cfg.item_col or "item_id",
                                    label_col=cfg.label_col, text_col=cfg.text_col,
                                    problems=problems)
    except RelabelInputError as err:
        problems.error(err)
        return report
    report.examples, report.classes = votes.n_items, len(votes.classes)
    report.votes, report.annotators = votes.n_votes, len(votes.annotators)
    report.has_text = cfg.text_col in votes.items.columns
    from relabel.crowd.votes import abstention_hint

    hint = abstention_hint(votes)
    if hint:
        problems.warnings.append(hint)
    return report


__all__ = ["CheckReport", "check_dataset"]
