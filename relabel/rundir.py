"""A run directory: every file name in it, and the record of how the run read its input.

``denoise`` writes, under the run directory (:class:`RunFiles` names them all):

- ``run.json``: the :class:`RunRecord` (input file, its fingerprint and format, the input spec);
- ``examples.parquet``: the validated examples (``row, id, text, label`` and, for relations, the
  entity spans), written once, so ``review`` and ``export`` do not re-validate the input;
- ``input.parquet``: for an in-memory input (a DataFrame, a Dataset, a list of dicts), the input
  itself, so the run can be reopened and exported like a file's;
- ``scores.parquet`` / ``scores.csv``, ``suspicious.parquet``, ``summary.json``,
  ``soft_labels.npy``, ``oof_probs.npy``, ``report.html``;
- ``cache/embeddings`` and ``cache/oof``: the resumable caches; ``cache/spill``: while scoring
  a large dataset, the unlinked files its large arrays are mapped from (:mod:`relabel.spill`).

``consensus`` (and ``denoise`` on several annotators per item) writes ``consensus.parquet`` /
``consensus.csv`` (one row per item), ``annotators.csv``, ``annotator_pairs.csv``,
``agreement.json`` and ``votes.parquet``; ``review pull`` writes every annotator's decision to
``annotations.parquet``.

``review pull`` appends to ``reviews_ledger.jsonl`` (every decision ever pulled, append-only) and
derives ``reviews.parquet`` from it; ``review push`` writes ``review_push.json``, ``review status``
appends to ``review_rounds.jsonl``, and ``review next --audit`` keeps the random audit's size in
``audit.json`` (:mod:`relabel.review.audit`), and ``review next --check-changes`` the spot check's
in ``change_check.json`` (:mod:`relabel.review.spotcheck`).

``export`` re-reads the input (so every column passes through untouched) after
:meth:`RunRecord.read_source` has checked that it did not change since ``denoise``. A run on
several annotators' votes scores its table of items (``input.parquet``); :class:`ItemsOrigin`
records the user's file, and when it holds one row per item (votes in columns or lists, or the
items beside a file of long votes) ``export`` writes it back with the new labels.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from relabel.config import InputSpec
from relabel.data.io import file_fingerprint, read_table
from relabel.errors import RelabelInputError


@dataclass(frozen=True, init=False)
class RunFiles:
    """Every path of a run directory ``root`` (given as a str or a Path)."""

    root: Path

    RUN = "run.json"
    EXAMPLES = "examples.parquet"
    INPUT = "input.parquet"
    SCORES = "scores.parquet"
    SCORES_CSV = "scores.csv"
    SUSPICIOUS = "suspicious.parquet"
    SUMMARY = "summary.json"
    SOFT_LABELS = "soft_labels.npy"
    OOF = "oof_probs.npy"
    REPORT = "report.html"
    REVIEWS = "reviews.parquet"
    LEDGER = "reviews_ledger.jsonl"
    ROUNDS = "review_rounds.jsonl"
    PUSH = "review_push.json"
    AUDIT = "audit.json"
    CHECK = "change_check.json"
    # several annotators per item (relabel/crowd/api.py; annotations.parquet from review pull)
    CONSENSUS = "consensus.parquet"
    CONSENSUS_CSV = "consensus.csv"
    CONSENSUS_PROBS = "consensus_probabilities.parquet"
    CONSENSUS_PROBS_CSV = "consensus_probabilities.csv"
    ANNOTATORS = "annotators.csv"
    PAIRS = "annotator_pairs.csv"
    AGREEMENT = "agreement.json"
    VOTES = "votes.parquet"
    ANNOTATIONS = "annotations.parquet"

    def __init__(self, root: str | Path) -> None:
        object.__setattr__(self, "root", Path(root))

    @property
    def run(self) -> Path:
        return self.root / self.RUN

    @property
    def examples(self) -> Path:
        return self.root / self.EXAMPLES

    @property
    def input(self) -> Path:
        return self.root / self.INPUT

    @property
    def scores(self) -> Path:
        return self.root / self.SCORES

    @property
    def scores_csv(self) -> Path:
        return self.root / self.SCORES_CSV

    @property
    def suspicious(self) -> Path:
        return self.root / self.SUSPICIOUS

    @property
    def summary(self) -> Path:
        return self.root / self.SUMMARY

    @property
    def soft_labels(self) -> Path:
        return self.root / self.SOFT_LABELS

    @property
    def oof(self) -> Path:
        return self.root / self.OOF

    @property
    def report(self) -> Path:
        return self.root / self.REPORT

    @property
    def reviews(self) -> Path:
        return self.root / self.REVIEWS

    @property
    def ledger(self) -> Path:
        return self.root / self.LEDGER

    @property
    def rounds(self) -> Path:
        return self.root / self.ROUNDS

    @property
    def push(self) -> Path:
        return self.root / self.PUSH

    @property
    def audit(self) -> Path:
        return self.root / self.AUDIT

    @property
    def check(self) -> Path:
        return self.root / self.CHECK

    @property
    def consensus(self) -> Path:
        return self.root / self.CONSENSUS

    @property
    def consensus_csv(self) -> Path:
        return self.root / self.CONSENSUS_CSV

    @property
    def consensus_probs(self) -> Path:
        return self.root / self.CONSENSUS_PROBS

    @property
    def consensus_probs_csv(self) -> Path:
        return self.root / self.CONSENSUS_PROBS_CSV

    @property
    def annotators(self) -> Path:
        return self.root / self.ANNOTATORS

    @property
    def pairs(self) -> Path:
        return self.root / self.PAIRS

    @property
    def agreement(self) -> Path:
        return self.root / self.AGREEMENT

    @property
    def votes(self) -> Path:
        return self.root / self.VOTES

    @property
    def annotations(self) -> Path:
        return self.root / self.ANNOTATIONS

    def owned(self) -> tuple[Path, ...]:
        """Every file and directory the run writes (an output file must never be one of them,
        :mod:`relabel.paths`)."""
        names = [v for k, v in vars(type(self)).items() if k.isupper() and isinstance(v, str)]
        return (*[self.root / n for n in names], self.root / "cache")

    @property
    def embedding_cache(self) -> Path:
        return self.root / "cache" / "embeddings"

    @property
    def oof_cache(self) -> Path:
        return self.root / "cache" / "oof"

    @property
    def spill(self) -> Path:
        return self.root / "cache" / "spill"


@dataclass(frozen=True)
class ItemsOrigin:
    """The user's file behind a run on several annotators' votes (the run's own input is its
    table of items, ``input.parquet``).

    Attributes
    ----------
    path : str
        Absolute path of the file.
    format : str
        Its layout (:func:`relabel.data.io.file_layout`: a keyed JSON object, a semicolon CSV).
    fingerprint : str
        Its content fingerprint when ``denoise`` read it.
    rows_are_items : bool
        Its rows are the run's items, in order (:func:`relabel.crowd.votes.votes_from_wide`,
        ``votes_from_lists``, and ``votes_from_long`` with the items in their own file), and
        none of its vote columns is the run's label column: ``export`` writes it back.
    item_col : str or None
        Otherwise (long votes in the file itself), its item id column, which names the ``id``
        column of the table of items that ``export`` writes instead.
    """

    path: str
    format: str
    fingerprint: str
    rows_are_items: bool = True
    item_col: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "fingerprint": self.fingerprint,
                "rows_are_items": self.rows_are_items, "item_col": self.item_col}

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> ItemsOrigin | None:
        return None if not d else cls(path=d["path"], format=d.get("format", ""),
                                      fingerprint=d.get("fingerprint", ""),
                                      rows_are_items=bool(d.get("rows_are_items", True)),
                                      item_col=d.get("item_col"))


def read_checked(path: str | Path, fingerprint: str, encoding: str | None) -> pl.DataFrame:
    """The table of ``path`` after checking that it is the file ``denoise`` read.

    Raises
    ------
    RelabelInputError
        The file is gone or changed since ``denoise``.
    """
    source = Path(path)
    if not source.exists():
        raise RelabelInputError("the input of this run no longer exists", path=source)
    if file_fingerprint(source) != fingerprint:
        raise RelabelInputError("the input changed since `relabel denoise`; run it again",
                                path=source)
    table, _ = read_table(source, encoding=encoding)
    return table


@dataclass(frozen=True)
class RunRecord:
    """``run.json``: how a run read its input.

    Attributes
    ----------
    input : str
        Absolute path of the input (for an in-memory input, the run's ``input.parquet``).
    format : str
        Its format (``csv``, ``parquet``, ``hf``, ...).
    fingerprint : str
        Its content fingerprint when ``denoise`` read it.
    spec : InputSpec
        Columns and task as given.
    label_col : str
        The label column actually read.
    task : str
        ``text`` or ``relation``.
    layout : str or None
        Relation layout.
    source_type : str
        What the user passed: ``file``, or ``polars``, ``pandas``, ``hf_dataset``, ``records``.
    relabel_version : str
    origin : ItemsOrigin or None
        A run on several annotators' votes given as a file: that file (``input`` is then the
        run's table of items).
    """

    input: str
    format: str
    fingerprint: str
    spec: InputSpec
    label_col: str
    task: str
    layout: str | None
    source_type: str = "file"
    relabel_version: str = ""
    origin: ItemsOrigin | None = None

    def to_json(self) -> dict[str, Any]:
        spec = self.spec.to_json()
        return {"input": self.input, "format": self.format, "fingerprint": self.fingerprint,
                **spec, "label_col": self.label_col, "given_label_col": spec["label_col"],
                "task": self.task, "requested_task": spec["task"], "layout": self.layout,
                "source_type": self.source_type, "relabel_version": self.relabel_version,
                "origin": None if self.origin is None else self.origin.to_json()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RunRecord:
        spec = InputSpec.from_json({**d, "label_col": d.get("given_label_col", d["label_col"]),
                                    "task": d.get("requested_task", d.get("task"))})
        return cls(input=d["input"], format=d.get("format", ""),
                   fingerprint=d.get("fingerprint", ""), spec=spec, label_col=d["label_col"],
                   task=d.get("task") or "text", layout=d.get("layout"),
                   source_type=d.get("source_type", "file"),
                   relabel_version=d.get("relabel_version", ""),
                   origin=ItemsOrigin.from_json(d.get("origin")))

    def read_source(self) -> pl.DataFrame:
        """The run's input table, after checking it is the one ``denoise`` scored.

        Raises
        ------
        RelabelInputError
            The input is gone or changed since ``denoise``.
        """
        return read_checked(self.input, self.fingerprint, self.spec.encoding)

    @property
    def data_file(self) -> str:
        """The file the user gave: the input, or the votes' file behind a run on several
        annotators (:class:`ItemsOrigin`); a run's ``input.parquet`` for an in-memory input."""
        return self.input if self.origin is None else self.origin.path

    def read_origin(self) -> pl.DataFrame | None:
        """The user's file of one row per item (:class:`ItemsOrigin` whose rows are the run's
        items), checked as :meth:`read_source` checks the input; None for a run without
        one."""
        if self.origin is None or not self.origin.rows_are_items:
            return None
        return read_checked(self.origin.path, self.origin.fingerprint, self.spec.encoding)


def load_record(run_dir: str | Path) -> RunRecord:
    """Read ``run.json`` of a denoise output directory."""
    files = RunFiles(run_dir)
    if not files.run.is_file():
        raise RelabelInputError(f"no {RunFiles.RUN} here; run `relabel denoise` first",
                                path=run_dir)
    return RunRecord.from_json(json.loads(files.run.read_text(encoding="utf-8")))


def load_run(run_dir: str | Path) -> tuple[RunRecord, pl.DataFrame]:
    """Read ``run.json`` and ``scores.parquet`` of a denoise output directory."""
    files = RunFiles(run_dir)
    for f in (files.run, files.scores):
        if not f.is_file():
            raise RelabelInputError(f"no {f.name} here; run `relabel denoise` first",
                                    path=run_dir)
    return load_record(run_dir), pl.read_parquet(files.scores)


def load_examples(run_dir: str | Path) -> pl.DataFrame:
    """The validated examples ``denoise`` wrote (``row, id, text, label`` and, for relations,
    ``head_start, head_end, tail_start, tail_end``)."""
    path = RunFiles(run_dir).examples
    if not path.is_file():
        raise RelabelInputError(f"no {RunFiles.EXAMPLES} here; run `relabel denoise` again "
                                "(runs of relabel before 0.2 did not write it)", path=run_dir)
    return pl.read_parquet(path)


def run_classes(run_dir: str | Path, scores: pl.DataFrame) -> list[str]:
    """Every class of the run (``summary.json``), else the labels seen in the scores."""
    summary = RunFiles(run_dir).summary
    if summary.is_file():
        classes = json.loads(summary.read_text(encoding="utf-8")).get("label_classes")
        if classes:
            return [str(c) for c in classes]
    return sorted(scores["label"].unique().to_list())


def run_id(run_dir: str | Path) -> str:
    """A short stable id of a run's results: the hash of its ``scores.parquet``."""
    h = hashlib.blake2b(digest_size=6)
    with open(RunFiles(run_dir).scores, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["ItemsOrigin", "RunFiles", "RunRecord", "load_examples", "load_record", "load_run",
           "read_checked", "run_classes", "run_id"]
