"""``consensus``: several annotators per item in, one label per item (with its quality, the
items that need a human, and each annotator's record) out.

>>> import relabel
>>> c = relabel.consensus("votes.csv", item="item_id", annotator="worker")  # doctest: +SKIP
>>> c.items          # one row per item: consensus_label, quality, agreement, votes, status
>>> c.annotators     # accuracy with an interval, votes, the classes each one confuses

The input is read into a :class:`~relabel.crowd.votes.Votes` record
(:mod:`relabel.crowd.reading`: long, wide, lists, or a run directory with the
``annotations.parquet`` of ``relabel review pull``). When the items have text, relabel's own
signals take part as one more annotator: the items are encoded (same cache as ``denoise``), the
cross-validated corrector is trained on the majority vote and its out-of-fold probabilities
enter the estimator (:mod:`relabel.crowd.estimate`); otherwise the votes alone decide. Files
written under ``out`` (:class:`~relabel.rundir.RunFiles` names them): ``consensus.parquet`` /
``.csv``, ``annotators.csv``, ``annotator_pairs.csv``, ``agreement.json``, ``votes.parquet``;
with ``to``, the items with the consensus as their label column, in the format of the file
name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from relabel.config import (
    DEFAULT_FOLDS,
    DEFAULT_MAX_LENGTH,
    DEFAULT_MAX_WINDOWS,
    DEFAULT_PRECISION,
    DEFAULT_SEED,
    DEFAULT_TARGET_PRECISION,
    DenoiseConfig,
    abstain_values,
    parse_label_names,
)
from relabel.crowd.consensus import ConsensusResult, estimate_consensus, needs_human_text
from relabel.crowd.reading import (
    GIVEN_ANNOTATOR,
    VoteSpec,
    is_run_dir,
    items_origin,
    read_table_of,
    read_votes,
    writes_back,
)
from relabel.crowd.votes import Votes
from relabel.errors import RelabelInputError, option
from relabel.rundir import RunFiles


@dataclass
class Consensus:
    """What :func:`consensus` returns.

    Attributes
    ----------
    items : polars.DataFrame
        One row per item: ``id, consensus_label, quality, agreement, n_votes, votes,
        annotations, majority_label, needs_review, status`` (and ``model_label, model_prob``
        with a model), then the items' own columns.
    annotators : polars.DataFrame
        ``annotator, votes, accuracy, accuracy_low, accuracy_high, agreement_with_consensus,
        mean_kappa, confuses``.
    pairs : polars.DataFrame
        Cohen's κ per pair of annotators.
    summary : dict
        Counts, agreement coefficients (``agreement.json``).
    out_dir : Path or None
    result : ConsensusResult
        The arrays behind the frames (posteriors, confusion matrices).
    """

    items: pl.DataFrame
    annotators: pl.DataFrame
    pairs: pl.DataFrame
    summary: dict[str, Any]
    out_dir: Path | None
    result: ConsensusResult
    #: what was passed to :func:`consensus`, and how its votes were read (for :meth:`apply`)
    data: Any = field(default=None, repr=False)
    spec: VoteSpec | None = field(default=None, repr=False)

    def apply(self) -> Any:
        """The data with the consensus as its ``label`` column, as a notebook user goes on
        with it.

        Returns
        -------
        object
            Where the data holds one row per item (votes in columns or lists, or the items
            beside long votes: :func:`writes_back`), the data itself in its own type (a
            pandas frame, a ``datasets.Dataset``, ...; a file as a polars frame), every column
            kept, with ``label`` added or replaced. Otherwise (long votes) one row per item as
            a polars frame: ``id``, the items' own columns and ``label``. Labels are the
            classes' codes where :func:`consensus` was given ``label_names``. The quality and
            the status of each consensus are in :attr:`items`.

        Raises
        ------
        RelabelInputError
            A consensus reopened with :func:`load_consensus`, which keeps no data.
        """
        if self.result is None or self.spec is None:
            raise RelabelInputError("a consensus reopened from its files keeps no data: run "
                                    "relabel.consensus(...) again to apply it")
        from relabel.data.frames import like_input, source_type

        kind = source_type(self.data)
        table = labelled_data(self.result, self.data, self.spec).select(
            pl.exclude("consensus_quality", "needs_review", "consensus_status"))
        if not _holds_items(self.data, self.spec) or kind == "file":
            return table
        return like_input(self.data, kind, table, "label", list(range(table.height)))

    @property
    def probabilities(self) -> pl.DataFrame:
        """Each item's calibrated probability of each class (soft labels, for a model that
        learns from the annotators' uncertainty, as in LeWiDi): ``id`` and one column per
        class, rows in :attr:`items` order, each row summing to 1 (:func:`probability_table`;
        the file ``consensus_probabilities.parquet``). ``quality`` is the row's value at
        ``consensus_label``.

        Raises
        ------
        RelabelInputError
            A consensus reopened with :func:`load_consensus` from a directory written before
            relabel wrote that file.
        """
        if self.result is not None:
            return probability_table(self.result)
        files = RunFiles(self.out_dir) if self.out_dir is not None else None
        if files is None or not files.consensus_probs.is_file():
            raise RelabelInputError("this consensus's directory has no "
                                    f"{RunFiles.CONSENSUS_PROBS}: run relabel.consensus(...) "
                                    "again")
        return pl.read_parquet(files.consensus_probs)

    def __repr__(self) -> str:
        s = self.summary
        return (f"<relabel.Consensus: {s['items']} items, {s['annotators']} annotators, "
                f"{s['votes']} votes, {needs_human_text(s)}>")

    def _repr_html_(self) -> str:
        """What a notebook shows: the counts, the items that need a human and the annotators
        (:mod:`relabel.report.notebook`)."""
        from relabel.report.notebook import consensus_html

        return consensus_html(self.summary, self.items, self.annotators)


def model_probabilities(result: Any) -> np.ndarray:
    """``(N, K)`` the model's out-of-fold class probabilities from a scoring result: the
    cross-validated corrector's where it ran, else the neighbours' combined posterior."""
    if "cv" in result.posteriors:
        return np.asarray(result.posteriors["cv"], dtype=np.float64)
    return np.asarray(result.posterior, dtype=np.float64)


def _model_step(votes: Votes, labels: np.ndarray, cfg: DenoiseConfig, files: RunFiles, *,
                embeddings: Any, encoder: Any, progress: bool) -> np.ndarray | None:
    """Encode the items and cross-validate the corrector on ``labels`` (the majority vote,
    :func:`~relabel.crowd.consensus.seed_labels`); None when the items have no text.

    Only items with a vote are learned from: an item without one has no label, and giving it
    one (the seed's fallback) taught the model that fallback. On WRENCH's sms, where 2,719 of
    4,571 messages have no vote, every one of them was seeded with one class and the model
    then got 40% of the messages right. Such items get the probabilities of the corrector
    fitted on all the items with votes (``linear`` and ``head``; with ``finetune`` or
    ``none``, no model vote: a row of zeros)."""
    from relabel.pipeline import (
        Embedded,
        encode_stage,
        make_encoder,
        precomputed_stage,
        score_stage,
    )

    if cfg.text_col not in votes.items.columns and embeddings is None \
            and cfg.embeddings is None:
        return None
    from relabel.correct import make_corrector, resolve_corrector
    from relabel.data.task import read_task

    names = np.asarray(votes.classes, dtype=object)[labels]
    table = votes.items.with_columns(pl.Series("label", names.tolist(), dtype=pl.String))
    if cfg.text_col not in table.columns:  # precomputed vectors of items without text
        table = table.with_columns(pl.lit("(no text)").alias(cfg.text_col))
    task = read_task(table, votes.name, cfg.input_spec, folds=cfg.folds)
    emb = precomputed_stage(task, cfg, embeddings)
    if emb is None:
        emb = encode_stage(task, encoder if encoder is not None else make_encoder(task, cfg),
                           files, progress=progress)
    voted = votes.counts().sum(1) > 0
    if not voted.all():
        if int(voted.sum()) < cfg.folds or len(np.unique(labels[voted])) < 2:
            return None  # too few voted items to learn from
        sub = read_task(table.filter(pl.Series(voted)), votes.name, cfg.input_spec,
                        folds=cfg.folds)
        scored = score_stage(sub, Embedded(embeddings=emb.embeddings[voted],
                                           texts=sub.encoder_texts(sub.pooling), key=emb.key,
                                           stats=emb.stats), cfg, files, progress=progress)
    else:
        scored = score_stage(task, emb, cfg, files, progress=progress)
    probs = np.zeros((votes.n_items, votes.n_classes))
    # score_stage's classes are the labels seen; place them among every class of the votes
    cols = np.searchsorted(votes.classes, scored.classes)
    probs[np.ix_(np.flatnonzero(voted), cols)] = model_probabilities(scored.result)
    name = resolve_corrector(cfg.corrector)
    if not voted.all() and name in ("linear", "head"):
        given = np.searchsorted(scored.classes, names[voted].astype(str))
        model = make_corrector(name, len(scored.classes)).fit(emb.embeddings[voted], given)
        probs[np.ix_(np.flatnonzero(~voted), cols)] = \
            model.predict_proba(emb.embeddings[~voted])
    return probs


def _own_label_note(votes: Votes, result: ConsensusResult, spec: VoteSpec, data: Any
                    ) -> str | None:
    """A warning when the items, a table of one row per item written back with the consensus
    (:func:`labelled_data`, ``export``), have a ``label`` column of their own that is not a
    vote (a distant-supervision or gold label): the consensus replaces it there."""
    own = votes.items
    if not _holds_items(data, spec) or "label" not in own.columns:
        return None
    from relabel.data.validation import labels_named

    before = labels_named(own["label"], spec.label_names)
    differ = int(before.ne_missing(result.items["consensus_label"].cast(pl.String)).sum())
    if not differ:
        return None
    from relabel.errors import on_command_line

    where = "--to, export" if on_command_line() else "to=, apply(), export()"
    return (f"the items' own column 'label' is not among the votes: the consensus replaces it "
            f"where the data is written back ({where}), and differs from it on {differ} of "
            f"{own.height} items")


def probability_table(result: ConsensusResult) -> pl.DataFrame:
    """``id`` and each class's calibrated probability, one row per item (a class named ``id``
    gets the column ``id (class)``)."""
    probs = np.asarray(result.em.calibrated, dtype=np.float64)
    names = [f"{c} (class)" if c == "id" else c for c in result.votes.classes]
    return pl.DataFrame([pl.Series("id", result.items["id"]),
                         *(pl.Series(name, probs[:, k]) for k, name in enumerate(names))])


def write_consensus(result: ConsensusResult, out_dir: str | Path,
                    warnings: Sequence[str] = ()) -> dict[str, Any]:
    """Write the consensus files under ``out_dir`` (atomically); returns the summary, with
    ``warnings`` added to its own."""
    from relabel.data.write import write_json, write_report_csv, write_table

    files = RunFiles(Path(out_dir))
    files.root.mkdir(parents=True, exist_ok=True)
    write_table(result.items, files.consensus)
    write_report_csv(result.items, files.consensus_csv)
    probs = probability_table(result)
    write_table(probs, files.consensus_probs)
    write_report_csv(probs, files.consensus_probs_csv)
    write_report_csv(result.annotators, files.annotators)
    write_report_csv(result.agreement.pairs, files.pairs)
    write_table(result.votes.frame(), files.votes)
    summary = result.summary()
    summary["warnings"] = [*summary["warnings"], *warnings]
    write_json(summary, files.agreement)
    return summary


def labels_as_codes(labels: pl.Series, label_names: tuple[tuple[str, str], ...]) -> pl.Series:
    """``labels`` (class names) as the codes ``label_names`` gives them (``(code, name)``
    pairs): integers where every code is one (as WRENCH's and LeWiDi's files hold them), else
    text. What ``consensus --to`` writes and a votes run's items hold, so that ``export``
    writes codes of the input's kind back."""
    codes = labels.replace({name: code for code, name in label_names})
    if all(code.lstrip("-").isdigit() for code, _ in label_names):
        whole = codes.cast(pl.Int64, strict=False)
        if whole.null_count() == codes.null_count():  # every label was one of the names
            return whole
    return codes


def consensus_as_labels(result: ConsensusResult, label_col: str = "label",
                        onto: pl.DataFrame | None = None) -> pl.DataFrame:
    """The items with the consensus as ``label_col`` (plus ``consensus_quality``,
    ``needs_review`` and ``consensus_status``), as ``--to`` writes them: the items' own columns,
    or every column of ``onto``, the user's table of one row per item in the items' order
    (:func:`writes_back`), its votes included."""
    items = result.items
    own = result.votes.items if onto is None else onto
    if own.height != items.height:
        raise ValueError(f"{own.height} rows for {items.height} items")
    return own.with_columns(
        items["consensus_label"].alias(label_col),
        items["quality"].alias("consensus_quality"),
        items["needs_review"].alias("needs_review"),
        items["status"].alias("consensus_status"))


def _holds_items(data: Any, spec: VoteSpec) -> bool:
    return writes_back(spec) and not is_run_dir(data)


def labelled_data(result: ConsensusResult, data: Any, spec: VoteSpec) -> pl.DataFrame:
    """What ``consensus --to`` writes and :meth:`Consensus.apply` returns: ``data`` with the
    consensus as ``label`` where it holds one row per item (:func:`writes_back`), else the
    items' own columns (:func:`consensus_as_labels`); the classes' codes where ``spec``
    names them (``label_names``), as ``export`` writes them."""
    onto = read_table_of(data, encoding=spec.encoding)[0] if _holds_items(data, spec) else None
    table = consensus_as_labels(result, onto=onto)
    if spec.label_names:
        table = table.with_columns(labels_as_codes(table["label"], spec.label_names))
    return table


#: the estimator's options ``consensus(**em_options)`` passes on (:func:`estimate`)
EM_OPTIONS = ("estimator", "smoothing", "temperature", "model_weight", "tol", "max_iter")


def _em_options(options: dict[str, Any], columns: dict[str, Any]) -> dict[str, Any]:
    """The estimator's options among ``consensus``'s extra keywords. ``item_col``,
    ``annotator_col``, ``label_col`` and ``text_col`` (``denoise``'s and the CLI's names) set
    ``columns`` in place; anything else is a TypeError, as ``denoise`` gives, where it used to
    reach the estimator only after the votes were read (so ``annotator_col="worker"`` failed
    as "no column 'annotator'")."""
    from relabel.errors import unexpected_option

    em: dict[str, Any] = {}
    for key, value in options.items():
        short = key.removesuffix("_col")
        if key.endswith("_col") and short in columns:
            columns[short] = value
        elif key in EM_OPTIONS:
            em[key] = value
            if key == "estimator":
                from relabel.crowd.estimate import ESTIMATORS

                if value not in ESTIMATORS:
                    raise RelabelInputError(f"estimator must be one of {', '.join(ESTIMATORS)}, "
                                            f"got {value!r}")
        else:
            raise unexpected_option("consensus", key,
                                    [*columns, *EM_OPTIONS, *(f"{c}_col" for c in columns)])
    return em


def consensus(
    data: Any,
    *,
    annotations: Any = None,
    label_cols: list[str] | tuple[str, ...] | str | None = None,
    votes_col: str | None = None,
    item: str | None = None,
    annotator: str | None = None,
    label: str = "label",
    text: str = "text",
    classes: list[str] | None = None,
    dedupe: bool = False,
    skip_other_items: bool = False,
    multi_select: bool = False,
    abstain: str | int | Sequence[str | int] | None = None,
    out: str | Path | None = None,
    to: str | Path | None = None,
    model: str | None = None,
    precision: str = DEFAULT_PRECISION,
    batch_size: int | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
    max_windows: int = DEFAULT_MAX_WINDOWS,
    corrector: str = "auto",
    embeddings: Any = None,
    encoder: Any = None,
    folds: int = DEFAULT_FOLDS,
    seed: int = DEFAULT_SEED,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    include_given: bool = True,
    label_names: Any = None,
    encoding: str | None = None,
    progress: bool = True,
    require_text: bool = False,
    **em_options: Any,
) -> Consensus:
    """One label per item from several annotators' votes.

    Parameters
    ----------
    data : str, Path, DataFrame, Dataset or list of dict
        The votes in long format (``item_id, annotator, label`` and optionally ``text``), the
        items (with ``annotations``), a wide table (with ``label_cols``), a table listing each
        item's votes (with ``votes_col``), a run directory
        of ``relabel denoise`` whose ``annotations.parquet`` ``relabel review pull`` wrote, or a
        Label Studio JSON export (long votes, :mod:`relabel.data.label_studio`).
    annotations : str, Path or DataFrame, optional
        Long votes (``item_id, annotator, label``) when ``data`` holds the items.
    label_cols : list of str or str, optional
        Wide format: one column per annotator (a comma-separated string is split).
    votes_col : str, optional
        One row per item, this column listing its votes (a list, or comma-separated text as in
        the LeWiDi 2023 files); ``annotator`` then names the column listing who cast them, in
        the same order (without one, the j-th vote is annotator ``vote j``).
    item, annotator, label, text : str
        Column names (``item`` defaults to ``item_id``; in wide and list formats to the ``id``
        column when its values are distinct, else the row number). ``item_col``,
        ``annotator_col``, ``label_col`` and ``text_col`` are the same.
    classes : list of str, optional
        The class set (a vote outside it is an error); default the labels seen.
    dedupe : bool
        Keep the last of repeated (item, annotator) votes instead of raising.
    skip_other_items : bool
        With ``annotations``: use only the votes on ``data``'s items, dropping (and counting)
        those on items it lacks, instead of raising.
    multi_select : bool
        Long votes: an annotator's several labels for one item are one multi-select answer,
        each of its m choices a vote of 1/m, instead of an error (the agreement figures take
        its last choice).
    abstain : str, int or sequence of them, optional
        Vote values that mean "no vote" (``-1`` for WRENCH and Snorkel label functions; a
        comma-separated string is split; numbers are compared as text): dropped and counted.
    out : str or Path, optional
        Where to write the files (module docstring); None: write nothing but the caches'
        temporary directory is not kept either.
    to : str or Path, optional
        Also write the items with the consensus as the ``label`` column (format from the
        extension): ``data`` itself, every column kept, where it holds one row per item
        (:func:`writes_back`), else the items' own columns.
    model, corrector, embeddings, encoder, folds, seed
        The model annotator, as in :func:`relabel.denoise` (``corrector="none"``: the
        neighbours only). Items without text: votes only.
    precision, batch_size, max_length, max_windows
        The encoder's settings, as in :func:`relabel.denoise` (``--precision``,
        ``--batch-size``, ``--max-length``, ``--max-windows``).
    target_precision : float
        An item is resolved without a human only where its quality reaches this.
    include_given : bool
        For a run directory: the run's given label counts as one more annotator.
    label_names : optional
        Names of integer-coded votes, in any form ``relabel.denoise`` takes
        (:func:`relabel.config.parse_label_names`); the outputs name the classes.
    encoding : str, optional
        Text encoding of ``data`` and ``annotations`` files (default UTF-8).
    progress : bool
        Progress bars on stderr.
    require_text : bool
        Raise before any work when the items have no text (``denoise`` needs it).
    **em_options
        The estimator's ``estimator`` (``auto``, ``dawid_skene`` or ``majority``:
        :func:`relabel.crowd.estimate.estimate`), ``smoothing``, ``temperature``,
        ``model_weight``, ``tol`` and ``max_iter`` (:func:`relabel.crowd.estimate.dawid_skene`);
        another keyword is a TypeError.

    Returns
    -------
    Consensus

    Raises
    ------
    RelabelInputError
        Bad input (one line naming the file, the rows and the column) or options.
    """
    import tempfile

    from relabel.config import check_options
    from relabel.crowd.consensus import seed_labels
    from relabel.data.encoding import check_encoding

    columns: dict[str, Any] = {"item": item, "annotator": annotator, "label": label,
                               "text": text}
    em_options = _em_options(em_options, columns)
    item, annotator, label, text = (columns[k] for k in ("item", "annotator", "label", "text"))
    cfg = DenoiseConfig(text_col="text" if is_run_dir(data) else text, label_col="label",
                        id_col="id", model=model, precision=precision,
                        batch_size=batch_size, max_length=max_length, max_windows=max_windows,
                        corrector=corrector, folds=folds, seed=seed,
                        target_precision=target_precision,
                        embeddings=embeddings if isinstance(embeddings, (str, Path)) else None)
    check_options(cfg)
    from relabel.paths import PathArg, check_paths

    named = [a for a in (data, annotations) if isinstance(a, (str, Path))]
    check_paths([PathArg("DATA", data if isinstance(data, (str, Path)) else None, "input",
                         dir_ok=True),
                 PathArg("--annotations", annotations if isinstance(annotations, (str, Path))
                         else None, "input"),
                 *[a for a in cfg.path_args() if a.option in ("--embeddings", "--model")],
                 PathArg("--out", out, "output_dir", inputs=tuple(Path(a) for a in named)),
                 PathArg("--to", to, "output_file", dir_ok=True,
                         inputs=tuple(Path(a) for a in named),
                         created=(Path(out),) if out is not None else ())])
    array = None if isinstance(embeddings, (str, Path)) else embeddings
    if isinstance(label_cols, str):
        from relabel.config import split_list

        label_cols = split_list(label_cols)
    if sum(x is not None and x != () for x in (annotations, label_cols, votes_col)) > 1:
        raise RelabelInputError("give the votes one way: annotations (long votes), label_cols "
                                "(one column per annotator) or votes_col (a list per item)")
    spec = VoteSpec(annotations=annotations,
                    label_cols=tuple(label_cols) if label_cols else None, votes_col=votes_col,
                    item=item,
                    annotator=annotator, label=label, text=text,
                    classes=tuple(classes) if classes else None, dedupe=dedupe,
                    skip_other_items=skip_other_items, multi_select=multi_select,
                    include_given=include_given,
                    label_names=None if label_names is None else parse_label_names(label_names),
                    encoding=None if encoding is None else check_encoding(encoding),
                    abstain=abstain_values(abstain))
    votes = read_votes(data, spec)
    if require_text and cfg.text_col not in votes.items.columns:
        raise RelabelInputError(
            f"the items have no text (no column '{cfg.text_col}'): `relabel consensus` works on "
            f"the votes alone, `denoise` needs each item's text ({option('--text-col')}, or the "
            f"items in DATA and the votes with {option('--annotations')})",
            path=data if isinstance(data, (str, Path)) else None)
    if to is not None:
        from relabel.data.io import detect_format

        detect_format(to, for_writing=True)  # a bad extension fails before any work
    labels0 = seed_labels(votes, **em_options)
    from relabel.lock import run_lock

    with tempfile.TemporaryDirectory(prefix="relabel-consensus-") as tmp, \
            run_lock(Path(out) if out is not None else Path(tmp), "relabel consensus"):
        work = RunFiles(Path(out) if out is not None else Path(tmp))
        probs = _model_step(votes, labels0, cfg, work,
                            embeddings=array, encoder=encoder, progress=progress)
        result = estimate_consensus(votes, model_probs=probs,
                                    target_precision=target_precision, **em_options)
        notes = [n for n in (_own_label_note(votes, result, spec, data),) if n]
        if out is not None:
            summary = write_consensus(result, out, notes)
        else:
            summary = result.summary()
            summary["warnings"] = [*summary["warnings"], *notes]
    if to is not None:
        from relabel.data.io import file_layout, hf_features_of
        from relabel.data.write import output_format, write_like

        source = data if isinstance(data, (str, Path)) and not is_run_dir(data) else None
        # in the input's layout (an object of records keyed by id, a semicolon CSV), encoding
        # and line ends, with every column of a table of one row per item
        fmt = output_format(to, None if source is None else file_layout(source))
        table = labelled_data(result, data, spec)
        write_like(table, to, fmt, source, spec.encoding,  # a dataset directory's own types
                   features=hf_features_of(source) if fmt == "hf" and source else None)
    import warnings

    from relabel.errors import RelabelWarning

    for note in summary["warnings"]:  # the CLI prints them in its summary instead
        warnings.warn(note, RelabelWarning, stacklevel=2)
    return Consensus(items=result.items, annotators=result.annotators,
                     pairs=result.agreement.pairs, summary=summary,
                     out_dir=None if out is None else Path(out), result=result, data=data,
                     spec=spec)


def load_consensus(out_dir: str | Path) -> Consensus | None:
    """The consensus files of a directory, or None when it has none (no arrays: ``result`` is
    None)."""
    files = RunFiles(Path(out_dir))
    if not files.consensus.is_file():
        return None
    pairs = pl.read_csv(files.pairs) if files.pairs.is_file() else pl.DataFrame()
    return Consensus(items=pl.read_parquet(files.consensus),
                     annotators=pl.read_csv(files.annotators),
                     pairs=pairs,
                     summary=json.loads(files.agreement.read_text(encoding="utf-8")),
                     out_dir=files.root, result=None)  # type: ignore[arg-type]


__all__ = ["GIVEN_ANNOTATOR", "Consensus", "VoteSpec", "consensus", "consensus_as_labels",
           "items_origin", "labelled_data", "labels_as_codes", "load_consensus",
           "model_probabilities", "probability_table", "read_votes", "write_consensus",
           "writes_back"]
