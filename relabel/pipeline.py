"""``denoise``: run the stages in order over a run directory.

Stages, each a function of typed records:

0. on several annotators' votes, :func:`~relabel.crowd.stage.consensus_stage`: the votes -> one
   row per item, the consensus as its given label (:mod:`relabel.crowd`);
1. :func:`read_stage`: the input (a file, or an in-memory frame) -> validated
   :class:`~relabel.data.task.ReadTask` (:mod:`relabel.data`), and with ``--reviews`` the
   reviewers' decisions matched to its examples (:func:`~relabel.review.stage.review_stage`);
2. :func:`encode_stage`: the encoder inputs -> :class:`Embedded` vectors (cached, resumable;
   :mod:`relabel.embed`), or the precomputed ones;
3. :func:`score_stage`: embeddings and labels -> :class:`~relabel.detect.score.ScoringResult`
   (kNN graph, kNN vote and KDE, soft labels, cross-validated corrector, decisions;
   :mod:`relabel.detect`, :mod:`relabel.correct`);
4. :func:`write_stage`: scores, examples, summary (their frames: :mod:`relabel.outputs`), the run
   record, then the HTML report.

The file names of the run directory live in :class:`relabel.rundir.RunFiles`, the options in
:mod:`relabel.config`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl

from relabel import __version__
from relabel.config import DenoiseConfig, check_options
from relabel.crowd.stage import consensus_stage, crowd_arrays
from relabel.data.frames import describe, source_type, to_polars
from relabel.data.io import file_fingerprint, read_table
from relabel.data.task import ReadTask, read_task
from relabel.data.write import write_array, write_json, write_report_csv, write_table
from relabel.errors import RelabelError, RelabelInputError, option
from relabel.outputs import examples_frame, scores_frame, summary_counts, suspicious_frame
from relabel.progress import progress_bar
from relabel.review.stage import inherited_check, review_run_dir, review_stage
from relabel.rundir import ItemsOrigin, RunFiles, RunRecord, load_record
from relabel.spill import spill_to

log = logging.getLogger("relabel")


def default_out_dir(data: str | Path) -> Path:
    """``relabel-out/<input name without extension>``."""
    p = Path(data)
    return Path("relabel-out") / (p.stem if p.suffix else p.name)


def memory_out_dir(data: Any, kind: str) -> Path:
    """``relabel-out/<kind>-<digest>`` for an in-memory input given no ``out``: the digest is
    of its column names and values (polars' row hashes), so the same frame finds its earlier
    run again (its embedding and fold caches, a crashed run to resume) and a changed one gets
    a run of its own. Polars does not promise the same hashes across its versions: after an
    upgrade the same frame may get a new directory."""
    import hashlib

    from relabel.data.frames import to_polars

    table = to_polars(data, kind)
    digest = hashlib.blake2b(digest_size=6)
    digest.update("\x1f".join(table.columns).encode())
    digest.update(str(table.height).encode())
    if table.width and table.height:
        try:
            digest.update(table.hash_rows(seed=0).to_numpy().tobytes())
        except Exception:  # a column type polars cannot hash: its Arrow bytes instead
            import io

            buffer = io.BytesIO()
            table.write_ipc(buffer)
            digest.update(buffer.getvalue())
    return Path("relabel-out") / f"{kind.replace('_', '-')}-{digest.hexdigest()}"


@dataclass(frozen=True)
class Source:
    """The input as a table, and what it was.

    Attributes
    ----------
    table : polars.DataFrame
        Row i = input row i.
    name : str
        The input's name in messages: the file's path, or e.g. ``pandas DataFrame``.
    kind : str
        ``file``, ``polars``, ``pandas``, ``hf_dataset`` or ``records``.
    path : Path or None
        The file (None for an in-memory input).
    format : str
        The file's format (``parquet`` for an in-memory input, stored as ``input.parquet``).
    """

    table: pl.DataFrame
    name: str
    kind: str
    path: Path | None
    format: str


def open_source(data: Any, encoding: str | None = None) -> Source:
    """Read ``data`` (a path or an in-memory input, :mod:`relabel.data.frames`) as a table
    (``encoding``: a text file's, default UTF-8)."""
    kind = source_type(data)
    if kind == "file":
        table, fmt = read_table(data, encoding=encoding)
        return Source(table=table, name=str(data), kind=kind, path=Path(data), format=fmt)
    return Source(table=to_polars(data, kind), name=describe(kind), kind=kind, path=None,
                  format="parquet")


@dataclass(frozen=True)
class Embedded:
    """What the encode stage returns.

    Attributes
    ----------
    embeddings : np.ndarray
        ``(N, D)`` float32, L2-normalised, row i = example i.
    texts : sequence of str
        The encoder inputs, a :class:`~relabel.data.texts.TextColumn` (also used for exact
        duplicates).
    key : str
        The encoder's identity (cache keys).
    stats : dict
        Cached / encoded / precomputed counts, and the embeddings file when given.
    digest : str or None
        :func:`~relabel.embed.cache.texts_digest` of ``texts`` where the encode stage hashed
        them already (None: :attr:`inputs_digest` hashes them).
    """

    embeddings: np.ndarray
    texts: Sequence[str]
    key: str
    stats: dict[str, Any]
    digest: str | None = None

    @property
    def inputs_digest(self) -> str:
        """The digest of the encoder inputs (hashed once per run: the encode stage hashes them
        for its cache and keeps the digest)."""
        if self.digest is None:
            from relabel.embed.cache import text_hashes, texts_digest

            return texts_digest(text_hashes(self.texts))
        return self.digest


@dataclass
class DenoiseResult:
    """What a run produced: the scores frame, the summary and where they were written."""

    scores: pl.DataFrame
    summary: dict[str, Any]
    out_dir: Path
    warnings: list[str]


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - t0, 3)


def _preload_plotting() -> None:
    """Import matplotlib in a background thread while the encoder runs: the report at the end
    then does not pay the ~0.6 s import on the critical path."""
    import threading

    def load() -> None:
        import matplotlib.figure  # noqa: F401 (pyplot is never imported: no backend change)

    threading.Thread(target=load, name="relabel-preload-matplotlib", daemon=True).start()


def read_stage(source: Source, cfg: DenoiseConfig) -> ReadTask:
    """Stage 1: validate the input table for the task (raises on the first problem)."""
    return read_task(source.table, source.name, cfg.input_spec, folds=cfg.folds)


def precomputed_stage(task: ReadTask, cfg: DenoiseConfig, embeddings: Any = None
                      ) -> Embedded | None:
    """Stage 2 without an encoder: ``embeddings`` (an ``(N, D)`` array, N = input rows) or
    ``cfg.embeddings`` (a ``.npy`` file), checked and L2-normalised; None when neither is
    given."""
    from relabel.embed.precomputed import (
        PrecomputedEncoder,
        embeddings_from_array,
        load_embeddings,
    )

    if embeddings is None and cfg.embeddings is None:
        return None
    assert task.examples is not None
    rows = task.examples["row"].to_numpy()
    if embeddings is not None:
        vectors = embeddings_from_array(embeddings, n_rows=task.rows, rows=rows)
        key = PrecomputedEncoder(array=vectors).key
        extra = {}
    else:
        path = Path(cast(str, cfg.embeddings))  # given: checked above
        vectors = load_embeddings(path, n_rows=task.rows, rows=rows)
        key = PrecomputedEncoder(path).key
        extra = {"embeddings": str(path.resolve())}
    vectors.setflags(write=False)  # read-only from here on (a Dask run sends it once)
    return Embedded(embeddings=vectors, texts=task.encoder_texts("mean"), key=key,
                    stats={"cached": 0, "encoded": 0, "precomputed": len(vectors), **extra})


def make_encoder(task: ReadTask, cfg: DenoiseConfig) -> Any:
    """The encoder ``cfg`` asks for (raises RelabelInputError for a bad ``--model`` before any
    work)."""
    from relabel.embed.encoder import Encoder

    return Encoder(cfg.model, batch_size=cfg.batch_size, max_length=cfg.max_length,
                   max_windows=cfg.max_windows, pooling=task.pooling, precision=cfg.precision)


def encode_stage(task: ReadTask, encoder: Any, files: RunFiles, *, progress: bool = False,
                 engine: Any = None) -> Embedded:
    """Stage 2: encode the task's inputs through the resumable cache under
    ``files.embedding_cache``."""
    from relabel.embed.cache import embed_texts, text_hashes, texts_digest

    texts = task.encoder_texts(getattr(encoder, "pooling", "mean"))
    hashes = text_hashes(texts)
    bar = progress_bar(progress, "encoding", unit="text")
    try:
        vectors, stats = embed_texts(texts, encoder, cache_dir=files.embedding_cache,
                                     progress=bar, engine=engine, hashes=hashes)
    finally:
        bar.close()
    precision = getattr(encoder, "resolved_precision", None)
    if precision is not None:
        stats = {**stats, "precision": precision}
        if getattr(encoder, "precision_probe", None):
            stats["precision_probe"] = encoder.precision_probe
    vectors.setflags(write=False)  # read-only from here on (a Dask run sends it once)
    return Embedded(embeddings=vectors, texts=texts, key=encoder.key, stats=stats,
                    digest=texts_digest(hashes))


@dataclass(frozen=True)
class Scored:
    """What the score stage returns: the result, the classes and the corrector used."""

    result: Any  # relabel.detect.score.ScoringResult
    classes: list[str]
    labels: np.ndarray
    corrector_name: str
    corrector: Any
    #: ``(N,)`` reviewer's class per example, -1 where none (None without reviews)
    reviewed: np.ndarray | None = None


def score_stage(task: ReadTask, emb: Embedded, cfg: DenoiseConfig, files: RunFiles, *,
                progress: bool = False, engine: Any = None,
                reviews: pl.DataFrame | None = None, crowd: Any = None) -> Scored:
    """Stage 3: signals, the cross-validated corrector and the decisions (``reviews`` from
    :func:`review_stage`: trusted rows; ``crowd`` from :func:`consensus_stage`: the vote
    counts join the soft labels, ambiguous items go to a human)."""
    from relabel.correct import make_corrector, resolve_corrector
    from relabel.detect.score import SCORERS, score_examples

    assert task.examples is not None
    given = task.examples["label"].unique().to_list()
    extra = reviews["reviewed_label"].unique().to_list() if reviews is not None else []
    crowd_classes = crowd.result.votes.classes if crowd is not None else []
    # a reviewer (or an annotator) may name a class no consensus has
    classes = sorted(set(given) | set(extra) | set(crowd_classes))
    labels = np.searchsorted(classes, task.examples["label"].to_numpy()).astype(np.int64)
    reviewed = None
    if reviews is not None and reviews.height:
        # input rows -> positions among the examples (they differ once drop_invalid skipped)
        pos = np.searchsorted(task.examples["row"].to_numpy(), reviews["row"].to_numpy())
        reviewed = np.full(len(labels), -1, dtype=np.int64)
        reviewed[pos] = np.searchsorted(classes, reviews["reviewed_label"].to_numpy())
    vote_counts, hold = (crowd_arrays(crowd, task, classes) if crowd is not None
                         else (None, None))
    check = inherited_check(cfg.reviews)
    withhold = None
    if check is not None and check.harmful:
        from relabel.review.spotcheck import withheld_message

        withhold = withheld_message(check)
    corrector_name = resolve_corrector(cfg.corrector)
    corrector, corrector_input = None, None
    if corrector_name != "none":
        if len(labels) < cfg.folds:
            raise RelabelInputError(f"{option('--folds', cfg.folds)} needs at least {cfg.folds} "
                                    "examples, "
                                    f"got {len(labels)}")
        # finetune pools the entity markers as the frozen encoder does (relations)
        ft_pooling = "entity" if "entity" in task.texts and task.pooling == "entity" else "mean"
        corrector = make_corrector(corrector_name, len(classes), loss=cfg.loss,
                                   epochs=cfg.epochs, lr=cfg.lr, grad_accum=cfg.grad_accum,
                                   max_length=cfg.max_length, model=cfg.model, seed=cfg.seed,
                                   pooling=ft_pooling)
        if corrector_name == "finetune":
            corrector_input = np.asarray(list(task.texts[ft_pooling]), dtype=object)
    words, no_words = _word_features(cfg, task, corrector_name, emb.texts)
    inputs_key = emb.key + ":" + emb.inputs_digest
    bar = progress_bar(progress, "scoring", total=len(SCORERS) + 2, unit="step")
    fold_bar = progress_bar(progress and corrector is not None, f"{corrector_name} corrector"
                            + (" and words" if words is not None else ""),
                            total=cfg.folds * (2 if words is not None else 1), unit="fold")
    try:
        result = score_examples(emb.embeddings, labels, len(classes), weights=cfg.weights,
                                threshold=cfg.threshold, target_precision=cfg.target_precision,
                                texts=emb.texts, prior_balance=cfg.prior_balance,
                                corrector=corrector, corrector_input=corrector_input,
                                folds=cfg.folds, oof_cache=files.oof_cache,
                                inputs_key=inputs_key, seed=cfg.seed, progress=bar,
                                fold_progress=fold_bar, engine=engine, reviewed=reviewed,
                                vote_counts=vote_counts, hold=hold, withhold=withhold,
                                words=words, passes=cfg.passes)
    finally:
        bar.close()
        fold_bar.close()
    if no_words is not None and result.oof is not None:
        result.oof["words"] = {"used": False, "why": no_words}
    return Scored(result=result, classes=classes, labels=labels, corrector_name=corrector_name,
                  corrector=corrector, reviewed=reviewed)


def _word_features(cfg: DenoiseConfig, task: ReadTask, corrector_name: str,
                   texts: Any) -> tuple[Any, str | None]:
    """The texts' word features for the word model (:mod:`relabel.correct.lexical`), or None:
    only for text classification with the linear corrector, up to ``LEXICAL_MAX_ROWS`` rows,
    unless ``cfg.words`` is off. Second: why the words were left out of a run they would
    otherwise join (None when used or not applicable), for the summary."""
    from relabel.correct.lexical import LEXICAL_MAX_ROWS, word_features

    if not cfg.words or task.task != "text" or corrector_name != "linear":
        return None, None
    if len(texts) > LEXICAL_MAX_ROWS:
        return None, (f"more than {LEXICAL_MAX_ROWS:,} rows, where fitting them would cost "
                      "about as much as the encoding")
    features = word_features(list(texts))
    return features, None if features is not None else "no word is in two texts"


def write_stage(source: Source, task: ReadTask, emb: Embedded, scored: Scored,
                cfg: DenoiseConfig, files: RunFiles, *, engine: Any,
                reviews: pl.DataFrame | None = None, origin: ItemsOrigin | None = None
                ) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Stage 4: write scores, examples, soft labels, the run record and the summary; returns
    the scores and the summary (``seconds`` are added by :func:`denoise`). ``origin``: for a run
    on several annotators' votes given as a file, that file (the run record keeps it for
    ``export``, which writes it back where its rows are the items)."""
    from relabel.detect.decide import CORRECTOR_WEIGHTS, DEFAULT_WEIGHTS

    assert task.examples is not None
    result, classes = scored.result, scored.classes
    scores = scores_frame(task.examples, classes, scored.labels, result, scored.reviewed)
    write_table(scores, files.scores)
    write_report_csv(scores, files.scores_csv)
    write_table(examples_frame(task), files.examples)
    write_table(suspicious_frame(task.examples, scores, result.neighbors), files.suspicious)
    write_array(result.soft_labels.astype(np.float32, copy=False), files.soft_labels)
    if "cv" in result.posteriors:
        write_array(result.posteriors["cv"].astype(np.float32, copy=False), files.oof)
    else:  # an earlier run's corrector output would no longer match these scores
        files.oof.unlink(missing_ok=True)
    if source.path is not None:
        input_path, fingerprint = source.path.resolve(), file_fingerprint(source.path)
    else:  # the run keeps an in-memory input, so it can be reopened and exported
        write_table(source.table, files.input)
        input_path, fingerprint = files.input.resolve(), file_fingerprint(files.input)
    if reviews is not None and reviews.height:
        # the decisions travel with the run: its ledger, its reviews.parquet, the export
        from relabel.review.reviews import write_reviews

        write_reviews(reviews.rename({"label": "given_label"}), files.root, source="denoise")
        source_dir = review_run_dir(cfg.reviews)
        if source_dir is not None and source_dir.resolve() != files.root.resolve():
            # the review history (the report plots it) and the random audit's size continue
            # in the new round's directory
            from relabel.data.write import write_text

            before = RunFiles(source_dir)
            for old, new in ((before.rounds, files.rounds), (before.audit, files.audit)):
                if old.is_file():
                    write_text(old.read_text(encoding="utf-8"), new)
            if before.annotations.is_file():  # each reviewer's decision (the audit's check)
                write_table(pl.read_parquet(before.annotations), files.annotations)
    corrector = scored.corrector
    summary = summary_counts(scores, classes)
    summary.update({
        "relabel_version": __version__,
        "input": str(input_path),
        "source_type": source.kind,
        "task": task.task,
        "layout": task.layout,
        # the encoder as given (None: the packaged model; precomputed vectors: no encoder),
        # so that `relabel retrain` trains on the vectors this run scored
        "encoder": {"key": emb.key,
                    "model": None if cfg.embeddings is not None or cfg.model is None
                    else str(cfg.model),
                    "max_length": cfg.max_length, **emb.stats},
        "params": result.params,
        "corrector": ({"name": scored.corrector_name, "requested": cfg.corrector,
                       **(result.oof or {}),
                       "params": {k: v for k, v in corrector.get_params().items()
                                  if k != "device"}}
                      if corrector is not None else {"name": "none",
                                                     "requested": cfg.corrector}),
        "decisions": {**result.decisions.summary(
            cfg.target_precision, "cv" if corrector is not None else "knn", classes),
            "duplicate_conflicts": result.duplicate_conflicts,
            "outliers": result.outliers},
        "weights": cfg.weights or (CORRECTOR_WEIGHTS if corrector is not None
                                   else DEFAULT_WEIGHTS),
        "prior_balance": cfg.prior_balance,
        "engine": engine.describe(),
        "label_classes": classes,
        "warnings": task.warnings,
    })
    from relabel.review.samples import audit_summary

    audit = audit_summary(files.root, scores, summary["decisions"]["estimated_noise_rate"],
                          len(classes))
    if audit is not None:
        summary["audit"] = audit
    record = RunRecord(input=str(input_path), format=source.format, fingerprint=fingerprint,
                       spec=cfg.input_spec, label_col=task.label_col, task=task.task,
                       layout=task.layout, source_type=source.kind,
                       relabel_version=__version__, origin=origin)
    write_json(record.to_json(), files.run)
    return scores, summary


def denoise(
    data: Any,
    *,
    out_dir: str | Path | None = None,
    config: DenoiseConfig | None = None,
    encoder: Any = None,
    embeddings: Any = None,
    reviews: Any = None,
    progress: bool = False,
) -> DenoiseResult:
    """Score every example's label, flag suspicious ones and suggest corrections.

    Parameters
    ----------
    data : str, Path, or an in-memory table
        Dataset file (CSV, TSV, JSONL, JSON, Parquet), a Hugging Face dataset directory, or a
        polars / pandas DataFrame, ``datasets.Dataset`` or list of dicts.
    out_dir : str or Path, optional
        Work and output directory; default ``relabel-out/<input name>`` (required for an
        in-memory input).
    config : DenoiseConfig, optional
        Columns, encoder and decision options.
    encoder : TextEncoder, optional
        Use this encoder instead of building one from ``config.model`` (tests, custom models).
    embeddings : array-like, optional
        ``(N, D)`` precomputed embeddings, row i = input row i (instead of encoding).
    reviews : str, Path or DataFrame, optional
        Reviewers' decisions to trust (default ``config.reviews``): see :func:`review_stage`.
    progress : bool
        Show progress bars on stderr.

    Returns
    -------
    DenoiseResult
        Scores (one row per valid input row, in input order), summary, output directory.

    Raises
    ------
    RelabelInputError
        Any problem with the input, the options or the model; nothing is written then.
    """
    from relabel.lock import run_lock
    from relabel.paths import PathArg, check_paths

    cfg = config or DenoiseConfig()
    # options and --model are checked first: a bad value fails before any work
    check_options(cfg)
    if embeddings is not None and cfg.embeddings is not None:
        raise RelabelInputError("give embeddings as an array or as a file "
                                f"({option('--embeddings')}), not both")
    kind = source_type(data)
    if out_dir is None:
        out_dir = default_out_dir(data) if kind == "file" else memory_out_dir(data, kind)
    # every path first: one line before any model is loaded or anything is written
    inputs = tuple(Path(p) for p in (data if kind == "file" else None, cfg.annotations,
                                     cfg.embeddings) if isinstance(p, (str, Path)))
    check_paths([PathArg("DATA", data if kind == "file" else None, "input", dir_ok=True),
                 *cfg.path_args(), PathArg("--out", out_dir, "output_dir", inputs=inputs)])
    files = RunFiles(Path(out_dir))
    _reviews_of_another_input(files, data if kind == "file" else None, cfg)
    with run_lock(files.root, "relabel denoise"):
        return _denoise_locked(data, files, cfg, encoder=encoder, embeddings=embeddings,
                               reviews=reviews, progress=progress)


def _reviews_of_another_input(files: RunFiles, data: Any, cfg: DenoiseConfig) -> None:
    """Refuse a run of the file ``data`` into a directory holding the reviews of a run of
    another input: ``export`` and the review commands read the directory's reviews and would
    apply them, by id, to the new data (a review loop keeps its directory for one input, or
    starts a new one per round with ``--reviews PREVIOUS``). ``--reviews`` given: the user
    carries reviews over on purpose."""
    if data is None or cfg.reviews is not None or not files.run.is_file():
        return
    held = [f.name for f in (files.reviews, files.ledger) if f.is_file()]
    if not held:
        return
    try:
        before = Path(load_record(files.root).data_file)
    except (RelabelError, ValueError, OSError):
        return
    if before.resolve() == Path(data).resolve():
        return
    raise RelabelInputError(
        f"holds the reviews of a run of {before} ({', '.join(held)}); a run of "
        f"{Path(data).name} here would apply them to other data: choose another {option('--out')}, "
        f"or carry them over with {option('--reviews', str(files.root))}", path=files.root)


def _label_studio_export_defaults(data: Any, cfg: DenoiseConfig) -> DenoiseConfig:
    """A Label Studio export (:mod:`relabel.data.label_studio`) holds one row per task and
    annotator: without other annotator options, its ``annotator`` and ``item_id`` columns are
    the votes, so that ``relabel denoise export.json`` scores the consensus of each task."""
    from dataclasses import replace

    from relabel.data.label_studio import is_label_studio_export

    if cfg.multi_annotator or not isinstance(data, (str, Path)) \
            or not is_label_studio_export(data):
        return cfg
    return replace(cfg, annotator_col="annotator", item_col=cfg.item_col or "item_id")


def _denoise_locked(data: Any, files: RunFiles, cfg: DenoiseConfig, *, encoder: Any,
                    embeddings: Any, reviews: Any, progress: bool) -> DenoiseResult:
    """:func:`denoise` once its options and paths are checked and the run's lock is held."""
    from relabel.engine import make_engine

    engine = make_engine(cfg.engine, cfg.scheduler)
    timer = _Timer()
    crowd = None
    try:
        _preload_plotting()
        cfg = _label_studio_export_defaults(data, cfg)
        origin = None
        if cfg.multi_annotator:
            from relabel.crowd.reading import VoteSpec, items_origin

            # a file of one row per item: export writes it back with the new labels
            origin = items_origin(data, VoteSpec.from_config(cfg))
            with timer.stage("consensus"):
                crowd, data, cfg = consensus_stage(data, cfg, files, encoder=encoder,
                                                   embeddings=embeddings, progress=progress)
        with timer.stage("read"):
            source = open_source(data, cfg.encoding)
            task = read_stage(source, cfg)
            # the vectors or the model are checked before the warnings and any work
            decided = review_stage(task, reviews if reviews is not None else cfg.reviews,
                                   source.name, cfg.label_names)
            emb = precomputed_stage(task, cfg, embeddings)
            if emb is None and encoder is None:
                encoder = make_encoder(task, cfg)
            for w in task.warnings:
                log.warning("%s: %s", source.name, w)
        with timer.stage("encode"):
            if emb is None:
                emb = encode_stage(task, encoder, files, progress=progress, engine=engine)
        # the (N, k) graph and (N, K) posteriors of a large run live in mapped files there
        with spill_to(files.spill):
            with timer.stage("score"):
                scored = score_stage(task, emb, cfg, files, progress=progress, engine=engine,
                                     reviews=decided, crowd=crowd)
            with timer.stage("write"):
                scores, summary = write_stage(source, task, emb, scored, cfg, files,
                                              engine=engine, reviews=decided, origin=origin)
    finally:
        engine.close()
        with contextlib.suppress(OSError):  # nothing is left in it: the files were unlinked
            files.spill.rmdir()
    if crowd is not None:
        summary["consensus"] = crowd.summary
    summary["seconds"] = timer.seconds
    write_json(summary, files.summary)
    with timer.stage("report"):
        from relabel.report.html import build_report

        build_report(files.root, scores=scores)
    summary["seconds"] = timer.seconds
    write_json(summary, files.summary)
    return DenoiseResult(scores=scores, summary=summary, out_dir=files.root,
                         warnings=task.warnings)


__all__ = ["DenoiseConfig", "DenoiseResult", "Embedded", "Scored", "Source", "consensus_stage",
           "default_out_dir", "denoise", "encode_stage", "make_encoder", "open_source",
           "precomputed_stage", "read_stage", "score_stage", "write_stage"]
