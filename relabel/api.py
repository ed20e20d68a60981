"""The Python API: what ``import relabel`` gives a notebook, and what the CLI commands call.

>>> import relabel
>>> run = relabel.denoise(df, text="text", label="label", out="relabel-out/x")  # doctest: +SKIP
>>> run.issues                          # flagged rows, most suspicious first   # doctest: +SKIP
>>> cleaned = run.apply()               # same type and columns as df          # doctest: +SKIP

- :func:`denoise`: a file path, a polars or pandas DataFrame, a ``datasets.Dataset`` or a list
  of dicts in, a :class:`Run` out (written to a run directory, as ``relabel denoise`` does).
- :func:`load_run`: reopen a run directory.
- :func:`find_label_issues`: arrays in (labels, and your own model's out-of-fold ``pred_probs``
  and / or ``embeddings``), a frame out, under relabel's decision rule.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import polars as pl

from relabel.config import DenoiseConfig
from relabel.detect.issues import find_label_issues
from relabel.errors import RelabelInputError
from relabel.outputs import most_suspicious_first
from relabel.rundir import RunFiles, RunRecord, load_record

#: columns of :attr:`Run.issues`, in order
ISSUE_COLUMNS = ("row", "id", "text", "label", "credibility", "suggested_label", "confidence",
                 "reason", "p_wrong", "suspicion", "alternative_label")


class Run:
    """A denoise run: its scores, its summary, and what can be done with them.

    Made by :func:`denoise` or :func:`load_run`; every method reads and writes the run directory,
    exactly as the CLI commands do.

    Attributes
    ----------
    out_dir : Path
        The run directory.
    record : RunRecord
        How the run read its input (``run.json``).
    """

    def __init__(self, out_dir: str | Path, *, scores: pl.DataFrame | None = None,
                 summary: dict[str, Any] | None = None, data: Any = None,
                 data_holds_items: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self._files = RunFiles(self.out_dir)
        self.record: RunRecord = load_record(self.out_dir)
        self._scores = scores
        self._summary = summary
        # the object the user passed (kept so apply() can return its type untouched)
        self._data = data
        # several annotators' votes in a table of one row per item: the run scored its items
        # (the run's input.parquet), and apply() writes their labels onto that table
        self._data_holds_items = data_holds_items

    def __repr__(self) -> str:
        s = self.summary
        dec = s.get("decisions") or {}
        return (f"<relabel.Run {self.out_dir}: {s['examples']} examples, {s['classes']} classes, "
                f"{s['flagged']} flagged, {dec.get('changes', s['suggested'])} changed "
                f"automatically>")

    def _repr_html_(self) -> str:
        """What a notebook shows: the numbers, the diagnosis and the most suspicious examples
        (:mod:`relabel.report.notebook`)."""
        from relabel.report.notebook import run_html

        return run_html(self.summary, self.issues, str(self.out_dir))

    @property
    def scores(self) -> pl.DataFrame:
        """Every example, in input order (``scores.parquet``): ``row, id, label, credibility``,
        per-signal scores, ``flagged, suggested_label, suggestion_confidence,
        alternative_label, alternative_prob, p_wrong, reason``."""
        if self._scores is None:
            if not self._files.scores.is_file():
                raise RelabelInputError("no scores.parquet here; run `relabel denoise` first",
                                        path=self.out_dir)
            self._scores = pl.read_parquet(self._files.scores)
        return self._scores

    @property
    def summary(self) -> dict[str, Any]:
        """What ``summary.json`` holds."""
        if self._summary is None:
            self._summary = json.loads(self._files.summary.read_text(encoding="utf-8"))
        return self._summary

    @property
    def consensus(self) -> Any:
        """For several annotators per item: the :class:`~relabel.crowd.api.Consensus` this run
        took as its labels (``items``, ``annotators``, ``summary``); None otherwise."""
        from relabel.crowd.api import load_consensus

        return load_consensus(self.out_dir)

    @property
    def classes(self) -> list[str]:
        """Every class of the run, sorted."""
        return [str(c) for c in self.summary["label_classes"]]

    @property
    def issues(self) -> pl.DataFrame:
        """The flagged examples, most suspicious first: ``row, id, text, label, credibility,
        suggested_label, confidence, reason, p_wrong, suspicion, alternative_label``
        (``suggested_label`` is null where relabel abstains and asks a human). A relation run
        adds ``head`` and ``tail`` after ``text``: the two entities the label is about."""
        from relabel.data.task import SPAN_NAMES
        from relabel.rundir import load_examples

        flagged = self.scores.filter(pl.col("flagged"))
        examples = load_examples(self.out_dir)
        columns = list(ISSUE_COLUMNS)
        entities = []
        if all(c in examples.columns for c in SPAN_NAMES):
            hs, he, ts, te = (pl.col(c) for c in SPAN_NAMES)
            entities = [pl.col("text").str.slice(hs, he - hs).alias("head"),
                        pl.col("text").str.slice(ts, te - ts).alias("tail")]
            columns[3:3] = ["head", "tail"]
        texts = examples.select("row", "text", *entities)
        return (flagged.join(texts, on="row", how="left")
                .rename({"suggestion_confidence": "confidence"})
                .pipe(most_suspicious_first)
                .select(columns))

    def _decisions(self, reviews: Any, apply: str) -> pl.DataFrame:
        from relabel.export import run_decisions
        from relabel.review.ledger import decision_status
        from relabel.review.reviews import read_review_source

        if reviews is None or reviews is True:
            return run_decisions(self.out_dir, self.scores, apply)
        # the same reader as denoise --reviews: a reviews.parquet, a run directory, or any
        # table with id and reviewed_label; the status is read off the given label, as there
        decided = read_review_source(reviews).join(
            self.scores.select("id", pl.col("label").alias("given_label")), on="id", how="left")
        return run_decisions(self.out_dir, self.scores, apply, reviews=decision_status(decided))

    def apply(self, suggestions: bool | None = None, reviews: Any = None, *,
              drop_flagged: bool = False) -> Any:
        """The cleaned data, in the input's type with the input's columns.

        Parameters
        ----------
        suggestions : bool, optional
            Apply relabel's confident suggestions (where no reviewer decided). None (default):
            apply them unless reviewers spot-checked them and found them mostly wrong
            (:mod:`relabel.review.spotcheck`, ``review next --check-changes``); ``True``:
            always; ``False``: never.
        reviews : None, bool, str, Path or DataFrame
            Reviewers' decisions to apply first. None (default): the run's own
            (``reviews.parquet``, from ``relabel review pull``, :meth:`pull_from_label_studio`
            or ``denoise --reviews``) when it has any; ``True``: those, and an error when there
            are none; ``False``: none; or a ``reviews.parquet``, a run directory, or a file or
            frame with columns ``id, reviewed_label`` (as ``denoise --reviews`` reads).
        drop_flagged : bool
            Remove flagged rows whose label was neither replaced nor confirmed by a reviewer.

        Returns
        -------
        object
            For an in-memory table given to :func:`denoise` in this session: the same type,
            with only the label column changed. Otherwise (a file input, or a run reopened with
            :func:`load_run`): the input as a polars frame, or rebuilt in the type it had
            (pandas, ``datasets.Dataset``, pyarrow Table, list of dicts, dict of lists) from
            the run's copy. On several annotators' votes given as a table of one row per
            item (votes in columns or lists, or the items beside long votes), that table
            with the run's labels in ``label`` (added where it has none); on long votes, one
            row per item.
        """
        from relabel.data.frames import like_input, source_type, to_polars
        from relabel.export import apply_plan, changes_harmful, cleaned_input, plan_labels

        if suggestions is None:
            suggestions = not changes_harmful(self.out_dir, self.scores)
        if reviews is None and self._files.reviews.is_file():
            reviews = True
        if reviews is None or reviews is False:
            reviews = None
            apply = "suggestions" if suggestions else "none"
        else:
            apply = "reviewed+suggestions" if suggestions else "reviewed"
        plan = plan_labels(self.scores, self._decisions(reviews, apply), apply=apply,
                           drop_flagged=drop_flagged)
        original = self._data
        kind = self.record.source_type if original is None else source_type(original)
        if original is None:  # from the files: the input, or the user's file of the items
            cleaned = cleaned_input(self.record, plan)
        elif self._data_holds_items:
            cleaned = cleaned_input(self.record, plan, to_polars(original, kind))
        else:
            cleaned = apply_plan(to_polars(original, kind), self.record.label_col, plan,
                                 self.record.spec.label_names)
        from relabel.export import removed_line

        removed = removed_line(plan.removed)
        if removed:
            import warnings

            from relabel.errors import RelabelWarning

            warnings.warn(removed, RelabelWarning, stacklevel=2)
        dropped = set(plan.dropped_rows)
        kept = [i for i in range(cleaned.height + len(dropped)) if i not in dropped]
        if original is not None:
            return like_input(original, kind, cleaned, self.record.label_col, kept)
        if kind == "pandas":
            return cleaned.to_pandas()
        if kind == "records":
            return cleaned.to_dicts()
        if kind == "columns":
            return cleaned.to_dict(as_series=False)
        if kind == "arrow":
            return cleaned.to_arrow()
        if kind == "hf_dataset":
            import datasets

            return datasets.Dataset(cleaned.to_arrow())
        return cleaned

    def export(self, to: str | Path, *, apply: str = "auto",
               drop_flagged: bool = False) -> Path:
        """Write the cleaned dataset (format from the extension) and ``changes.csv`` beside
        it, as ``relabel export`` does; returns the path written."""
        from relabel.export import export_dataset

        return export_dataset(self.out_dir, to, apply=apply, drop_flagged=drop_flagged).path

    def report(self, path: str | Path | None = None, *, truth_col: str | None = None) -> Path:
        """Write the HTML report (default ``DIR/report.html``), as ``relabel report`` does."""
        from relabel.report.html import build_report

        return build_report(self.out_dir, truth_col=truth_col, to=path)

    def push_to_label_studio(self, project: str, *, only: str = "flagged",
                             limit: int | None = None) -> Any:
        """Create or update one Label Studio task per example, as ``relabel review push``
        does (server and key from ``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY``)."""
        from connectors.label_studio import push

        return push(self.out_dir, project, only=only, limit=limit)

    def pull_from_label_studio(self, project: str) -> Any:
        """Write the reviewers' decisions to ``reviews.parquet``, as ``relabel review pull``
        does; ``apply(reviews=True)`` then applies them."""
        from connectors.label_studio import pull

        res = pull(self.out_dir, project)
        _warn_new_classes(res, self.out_dir)
        return res

    def review_next(self, project: str, *, batch: int = 100, audit: int = 0,
                    check_changes: int = 0, reviewer_error: float | None = None) -> Any:
        """Pull the decisions so far, then push the next ``batch`` examples by expected gain,
        ``audit`` undecided examples of the random audit and ``check_changes`` of the spot check
        of the automatic changes, as ``relabel review next`` does
        (:func:`connectors.label_studio.review_next`). With ``reviewer_error`` (the reviewers'
        error rate) only examples more likely wrong than that are pushed; the result's
        ``held_back`` counts the others."""
        from connectors.label_studio import review_next

        res = review_next(self.out_dir, project, batch=batch, audit=audit,
                          check_changes=check_changes, reviewer_error=reviewer_error)
        _warn_new_classes(res.pulled, self.out_dir)
        return res

    def review_status(self, project: str | None = None, *,
                      reviewer_error: float | None = None) -> Any:
        """Reviewed so far and the estimated label accuracy, from relabel's signals and, once
        reviewers decided part of the random audit, from the audit
        (:class:`relabel.review.status.ReviewStatus`; ``.audit`` holds the audit's estimates,
        ``.changes`` the spot check's of the automatic changes, ``.worth_reviewing`` how many
        unreviewed examples are more likely wrong than the reviewers' error rate, given as
        ``reviewer_error`` or measured by the audit).
        Pulls from ``project`` first when given; without it no server is needed."""
        if project is not None:  # checks reviewer_error before it pulls
            from connectors.label_studio import review_status

            return review_status(self.out_dir, project, reviewer_error=reviewer_error)
        from relabel.review.batch import check_reviewer_error
        from relabel.review.status import run_review_status

        check_reviewer_error(reviewer_error)
        return run_review_status(self.out_dir, reviewer_error=reviewer_error)

    def retrain(self, test: Any, **options: Any) -> Any:
        """Train a classifier on the labels as given and one on the cleaned labels, and score
        both on the labelled ``test`` set, as ``relabel retrain`` does
        (:func:`relabel.train.retrain.retrain`: ``drop_flagged``, ``head_only``,
        ``epochs``, ...).

        Returns
        -------
        RetrainResult
            Both models' test accuracy and macro F1, the gain and its paired-bootstrap
            interval.
        """
        from relabel.train.retrain import retrain

        return retrain(self.out_dir, test, **options)


def load_run(out_dir: str | Path) -> Run:
    """Reopen a run directory written by :func:`denoise` or ``relabel denoise``.

    Raises
    ------
    RelabelInputError
        ``out_dir`` is not a run directory.
    """
    return Run(out_dir)


_ALIASES = {"text": "text_col", "label": "label_col", "id": "id_col"}


def make_config(config: DenoiseConfig | None = None, **options: Any) -> DenoiseConfig:
    """A :class:`~relabel.config.DenoiseConfig` from keyword options (``text``, ``label``, ``id``
    are short for ``text_col``, ``label_col``, ``id_col``); TypeError for an unknown one."""
    names = set(DenoiseConfig.option_names())
    values: dict[str, Any] = {}
    for key, value in options.items():
        name = _ALIASES.get(key, key)
        if name not in names:
            from relabel.errors import unexpected_option

            raise unexpected_option("denoise", key, names | set(_ALIASES))
        values[name] = value
    for name in ("span_cols", "type_cols", "label_cols"):
        if isinstance(values.get(name), str):
            from relabel.config import split_list

            values[name] = split_list(values[name])
    if "abstain" in values:
        from relabel.config import abstain_values

        values["abstain"] = abstain_values(values["abstain"])
    base = config or DenoiseConfig()
    return dataclasses.replace(base, **values)


def denoise(
    data: Any,
    *,
    text: str | None = None,
    label: str | None = None,
    id: str | None = None,
    out: str | Path | None = None,
    embeddings: Any = None,
    reviews: Any = None,
    config: DenoiseConfig | None = None,
    encoder: Any = None,
    progress: bool = True,
    **options: Any,
) -> Run:
    """Score every example's label, flag suspicious ones and suggest corrections.

    Parameters
    ----------
    data : str, Path, DataFrame (polars, pandas), datasets.Dataset, pyarrow.Table, list or dict
        A dataset file (CSV, TSV, JSONL, JSON, Parquet, fastText ``.txt``; text files may be
        compressed, ``data.csv.gz``), a directory of Parquet files or a Hugging Face dataset
        directory, or an in-memory table: a list of dicts (records), or a dict of columns
        (``{"text": [...], "label": [...]}`` of lists, numpy arrays or pandas Series, as
        ``Dataset[:]`` returns); row order and types are kept.
    text, label, id : str, optional
        Column names (default ``text``, ``label``, and for the id the column ``id`` when the
        input has one with no empty or repeated value, else the 0-based row number).
    out : str or Path, optional
        Run directory (default ``relabel-out/<file name>``; for in-memory data
        ``relabel-out/<type>-<digest of its values>``, the same for the same data).
    embeddings : array-like or str or Path, optional
        ``(N, D)`` precomputed embeddings, row i = input row i, or a ``.npy`` file of them,
        instead of encoding.
    reviews : str, Path or DataFrame, optional
        Reviewers' decisions to trust: a ``reviews.parquet`` (``relabel review pull``), an
        earlier run directory, or a table with columns ``id, reviewed_label``. Reviewed
        examples keep the reviewer's label, are never flagged again, count fully in the
        neighbour votes and the corrector's training, and recalibrate the decisions on the rest.
    config : DenoiseConfig, optional
        Options as a record; keyword ``options`` override its fields.
    encoder : TextEncoder, optional
        An encoder object (``encode(texts) -> (N, D)`` and ``key``) instead of ``model``.
    progress : bool
        Progress bars on stderr.
    **options
        Any field of :class:`~relabel.config.DenoiseConfig`: ``model``, ``corrector``,
        ``target_precision``, ``folds``, ``task``, ``max_length``, ``seed``, ...

    Returns
    -------
    Run

    Raises
    ------
    RelabelInputError
        Bad data or options, with the same one-line messages as the CLI.
    """
    from relabel.pipeline import denoise as run_pipeline

    short = {k: v for k, v in (("text", text), ("label", label), ("id", id)) if v is not None}
    named = _index_ids(data, config, id, options)
    if named is not None:
        short["id"] = named
    if isinstance(embeddings, (str, Path)):
        options["embeddings"], embeddings = embeddings, None
    if isinstance(reviews, (str, Path)):
        options["reviews"], reviews = reviews, None
    cfg = make_config(config, **short, **options)
    result = run_pipeline(data, out_dir=out, config=cfg, encoder=encoder, embeddings=embeddings,
                          reviews=reviews, progress=progress)
    # several annotators per item: the run's input is its table of items (input.parquet), not
    # the votes the user passed; apply() writes the items' labels onto the user's table where
    # it holds one row per item, else rebuilds from the items
    from relabel.crowd.reading import VoteSpec, writes_back

    holds_items = cfg.multi_annotator and writes_back(VoteSpec.from_config(cfg))
    keep = (data if not isinstance(data, (str, Path))
            and (not cfg.multi_annotator or holds_items) else None)
    _warn_decisions(result.summary)
    return Run(result.out_dir, scores=result.scores, summary=result.summary, data=keep,
               data_holds_items=holds_items)


def _index_ids(data: Any, config: DenoiseConfig | None, id: str | None,
               options: dict[str, Any]) -> str | None:
    """The ids of a pandas frame given without an id column: its named, unique index
    (``df.set_index("qid")``), so reviews and suggestions name rows as the user does; None
    where an id is given, the frame has an ``id`` column (the default), or the index is
    unnamed (row positions) or repeats."""
    from relabel.data.frames import pandas_index_name, source_type

    if (id is not None or "id_col" in options or (config is not None and config.id_col)
            or isinstance(data, (str, Path)) or source_type(data) != "pandas"
            or "id" in data.columns):
        return None
    name = pandas_index_name(data)
    return name if name is not None and data.index.is_unique else None


def _warn_new_classes(pulled: Any, out_dir: Path) -> None:
    """Classes the reviewers chose that the run lacks (added in Label Studio), as a
    :class:`~relabel.errors.RelabelWarning` saying how they join the next round."""
    import warnings

    from relabel.errors import RelabelWarning

    if pulled is not None and pulled.new_classes:
        warnings.warn(f"the reviewers chose {len(pulled.new_classes)} class(es) this run lacks "
                      f"({', '.join(pulled.new_classes[:5])}), added in Label Studio; "
                      f"relabel.denoise(data, reviews={str(out_dir)!r}) makes them classes of "
                      "the next round", RelabelWarning, stacklevel=3)


def _warn_decisions(summary: dict[str, Any]) -> None:
    """Why nothing, or nothing of some classes, was changed automatically (the
    self-diagnosis, a spot check that found the changes harmful, classes the signals do not
    recognise), as a :class:`~relabel.errors.RelabelWarning`, so a notebook shows it even when
    the ``Run`` is not displayed (the CLI prints the same in its summary)."""
    import warnings

    from relabel.detect.decisions import decision_notes
    from relabel.errors import RelabelWarning

    for note in decision_notes(summary.get("decisions")):
        warnings.warn(note, RelabelWarning, stacklevel=3)


__all__ = ["ISSUE_COLUMNS", "Run", "denoise", "find_label_issues", "load_run", "make_config"]
