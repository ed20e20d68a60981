"""``denoise``: run the stages in order over a work directory.

Stages: read and validate (:mod:`relabel.data.task`) -> encode (cached, resumable) -> score
(:mod:`relabel.detect.score`: kNN graph, kNN vote and KDE, soft labels, cross-validated corrector,
combined posterior, flags and suggestions) -> write scores, summary and the HTML report.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from relabel import __version__
from relabel.correct import make_corrector, resolve_corrector
from relabel.data.io import file_fingerprint, read_table, write_array, write_json, write_table
from relabel.data.relation import SPAN_COLS, TYPE_COLS
from relabel.data.task import PrecomputedEncoder, load_embeddings, read_task
from relabel.data.validation import DEFAULT_LABEL_COL, DEFAULT_TEXT_COL
from relabel.detect.decide import DEFAULT_TARGET_PRECISION
from relabel.detect.score import (
    CORRECTOR_WEIGHTS,
    DEFAULT_FOLDS,
    DEFAULT_PRIOR_BALANCE,
    DEFAULT_WEIGHTS,
    score_examples,
)
from relabel.detect.scorers import SCORERS
from relabel.embed.cache import embed_texts, text_hashes
from relabel.embed.encoder import (
    DEFAULT_MAX_LENGTH,
    DEFAULT_MAX_WINDOWS,
    POOLINGS,
    Encoder,
    TextEncoder,
)
from relabel.engine import check_engine_options, make_engine
from relabel.errors import RelabelInputError

log = logging.getLogger("relabel")

#: suspicious examples listed for the report
REPORT_SUSPICIOUS = 200
SUSPICIOUS_FILE = "suspicious.parquet"
SCORES_FILE = "scores.parquet"
SUMMARY_FILE = "summary.json"
RUN_FILE = "run.json"
SOFT_LABELS_FILE = "soft_labels.npy"
OOF_FILE = "oof_probs.npy"


def default_out_dir(data: str | Path) -> Path:
    """``relabel-out/<input name without extension>``."""
    p = Path(data)
    return Path("relabel-out") / (p.stem if p.suffix else p.name)


@dataclass
class DenoiseConfig:
    """Options of a denoise run; the CLI declares its defaults from these."""

    text_col: str = DEFAULT_TEXT_COL
    label_col: str = DEFAULT_LABEL_COL
    id_col: str | None = None
    model: str | None = None
    #: None = 64 on the CPU; on a GPU up to 2048 texts and 131,072 tokens per batch
    batch_size: int | None = None
    max_length: int = DEFAULT_MAX_LENGTH
    #: windows of max_length tokens per long text, averaged (1 = truncate; mean pooling only)
    max_windows: int = DEFAULT_MAX_WINDOWS
    threshold: float | None = None
    #: change a label only where the estimated probability of being right reaches this
    target_precision: float = DEFAULT_TARGET_PRECISION
    #: None = DEFAULT_WEIGHTS, or CORRECTOR_WEIGHTS with a corrector
    weights: dict[str, float] | None = None
    prior_balance: float = DEFAULT_PRIOR_BALANCE
    corrector: str = "auto"
    folds: int = DEFAULT_FOLDS
    loss: str = "distant_peer"
    #: None = the corrector's own default (head: 12 epochs, lr 3e-3; finetune: 4, 5e-5)
    epochs: int | None = None
    lr: float | None = None
    grad_accum: int = 1
    #: text, relation (entity spans), or auto: relation when span columns are present
    task: str = "auto"
    span_cols: tuple[str, str, str, str] = SPAN_COLS
    type_cols: tuple[str, str] = TYPE_COLS
    #: None = entity for relations, mean for text (relabel/embed/encoder.py)
    pooling: str | None = None
    #: precomputed (N, D) embeddings (.npy, row i = input row i) instead of encoding
    embeddings: str | Path | None = None
    drop_invalid: bool = False
    seed: int = 0
    #: where encoding shards and corrector folds run: local, or dask (with ``scheduler``)
    engine: str = "local"
    scheduler: str | None = None


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


def _progress(enabled: bool, desc: str, total: int | None = None, unit: str = "it") -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=False,
                dynamic_ncols=True)


def _scores_frame(examples: pl.DataFrame, classes: list[str], labels: np.ndarray,
                  result: dict[str, Any]) -> pl.DataFrame:
    cls = np.asarray(classes, dtype=object)
    sugg = result["suggested"]
    alt = result["alternative"]
    rows = np.arange(len(labels))
    columns: dict[str, Any] = {
        "row": examples["row"],
        "id": examples["id"],
        "label": examples["label"],
        "credibility": result["credibility"],
    }
    for name, post in result["posteriors"].items():
        columns[f"{name}_score"] = post[rows, labels]
    columns.update({
        "flagged": result["flagged"],
        "suggested_label": pl.Series([cls[s] if s >= 0 else None for s in sugg], dtype=pl.String),
        "suggestion_confidence": pl.Series(result["confidence"]).fill_nan(None),
        "alternative_label": pl.Series(cls[alt].tolist(), dtype=pl.String),
        "alternative_prob": pl.Series(result["alternative_prob"]).fill_nan(None),
        "p_wrong": result["p_wrong"].astype(np.float32),
        "reason": pl.Series(result["reason"], dtype=pl.String),
    })
    return pl.DataFrame(columns)


def _suspicious(examples: pl.DataFrame, scores: pl.DataFrame, neighbors: np.ndarray
                ) -> pl.DataFrame:
    """The least credible examples with their text and their nearest neighbours' labels."""
    order = np.argsort(scores["credibility"].to_numpy(), kind="stable")[:REPORT_SUSPICIOUS]
    given = scores["label"].to_numpy()
    return scores[order].select(
        "row", "id", "label", "credibility", "flagged", "reason", "suggested_label",
        "suggestion_confidence",
    ).with_columns(
        pl.Series("text", examples["text"].to_numpy()[order], dtype=pl.String),
        pl.Series("neighbor_labels", [given[neighbors[i]].tolist() for i in order],
                  dtype=pl.List(pl.String)),
    )


def _summary(scores: pl.DataFrame, classes: list[str], top_n: int = 10) -> dict[str, Any]:
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


def _preload_plotting() -> None:
    """Import matplotlib in a background thread while the encoder runs: the report at the end
    then does not pay the ~0.6 s import on the critical path."""
    import threading

    def load() -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot

    threading.Thread(target=load, name="relabel-preload-matplotlib", daemon=True).start()


def check_options(cfg: DenoiseConfig) -> None:
    """Raise RelabelInputError for the first option out of range (before any work; ``relabel
    check`` reports it too)."""
    from relabel.correct import CORRECTOR_CHOICES
    from relabel.correct.losses import LOSS_CHOICES

    if cfg.threshold is not None and not 0.0 <= cfg.threshold <= 1.0:
        raise RelabelInputError(f"--threshold must be in [0, 1], got {cfg.threshold}")
    if cfg.corrector not in CORRECTOR_CHOICES:
        raise RelabelInputError(f"--corrector must be one of {', '.join(CORRECTOR_CHOICES)}, "
                                f"got {cfg.corrector!r}")
    if cfg.loss not in LOSS_CHOICES:
        raise RelabelInputError(f"--loss must be one of {', '.join(LOSS_CHOICES)}, "
                                f"got {cfg.loss!r}")
    if cfg.task not in ("auto", "text", "relation"):
        raise RelabelInputError(f"--task must be one of auto, text, relation, got {cfg.task!r}")
    if cfg.pooling is not None and cfg.pooling not in POOLINGS:
        raise RelabelInputError(f"--pooling must be one of {', '.join(sorted(POOLINGS))}, "
                                f"got {cfg.pooling!r}")
    if len(cfg.span_cols) != 4:
        raise RelabelInputError("--span-cols needs four column names: head start, head end, "
                                f"tail start, tail end; got {len(cfg.span_cols)}")
    if cfg.folds < 2:
        raise RelabelInputError(f"--folds must be at least 2, got {cfg.folds}")
    check_engine_options(cfg.engine, cfg.scheduler)
    for name in ("epochs", "grad_accum", "max_windows"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise RelabelInputError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if not 0.5 <= cfg.target_precision < 1.0:
        raise RelabelInputError("--target-precision must be in [0.5, 1), got "
                                f"{cfg.target_precision}")
    if cfg.lr is not None and not cfg.lr > 0:
        raise RelabelInputError(f"--lr must be positive, got {cfg.lr}")


def denoise(
    data: str | Path,
    *,
    out_dir: str | Path | None = None,
    config: DenoiseConfig | None = None,
    encoder: TextEncoder | None = None,
    progress: bool = False,
) -> DenoiseResult:
    """Score every example's label, flag suspicious ones and suggest corrections.

    Parameters
    ----------
    data : str or Path
        Dataset file (CSV, TSV, JSONL, JSON, Parquet) or a Hugging Face dataset directory.
    out_dir : str or Path, optional
        Work and output directory; default ``relabel-out/<input name>``.
    config : DenoiseConfig, optional
        Columns, encoder and decision options.
    encoder : TextEncoder, optional
        Use this encoder instead of building one from ``config.model`` (tests, custom models).
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
    cfg = config or DenoiseConfig()
    # options and --model are checked first: a bad value fails before any work
    check_options(cfg)
    engine = make_engine(cfg.engine, cfg.scheduler)
    try:
        return _denoise(data, out_dir, cfg, encoder, progress, engine)
    finally:
        engine.close()


def _denoise(data: str | Path, out_dir: str | Path | None, cfg: DenoiseConfig,
             encoder: TextEncoder | None, progress: bool, engine: Any) -> DenoiseResult:
    out = Path(out_dir) if out_dir is not None else default_out_dir(data)
    timer = _Timer()
    _preload_plotting()
    with timer.stage("read"):
        table, fmt = read_table(data)
        task = read_task(table, data, cfg)
        del table
    examples, warnings, label_col = task["examples"], task["warnings"], task["label_col"]
    precomputed = None
    if cfg.embeddings is not None:
        precomputed = load_embeddings(cfg.embeddings, n_rows=task["rows"],
                                      rows=examples["row"].to_numpy())
        encoder = PrecomputedEncoder(cfg.embeddings)
    if encoder is None:
        encoder = Encoder(cfg.model, batch_size=cfg.batch_size, max_length=cfg.max_length,
                          max_windows=cfg.max_windows,
                          pooling=task["pooling"])
    encoder_texts = task["texts"].get(getattr(encoder, "pooling", "mean"), task["texts"]["mean"])
    for w in warnings:
        log.warning("%s: %s", data, w)

    classes = sorted(examples["label"].unique().to_list())
    labels = np.searchsorted(classes, examples["label"].to_numpy()).astype(np.int64)

    with timer.stage("encode"):
        if precomputed is not None:
            embeddings, enc_stats = precomputed, {"cached": 0, "encoded": 0,
                                                  "precomputed": len(precomputed)}
        else:
            bar = _progress(progress, "encoding", unit="text")
            try:
                embeddings, enc_stats = embed_texts(encoder_texts, encoder,
                                                    cache_dir=out / "cache" / "embeddings",
                                                    progress=bar, engine=engine)
            finally:
                bar.close()
    corrector_name = resolve_corrector(cfg.corrector, np.bincount(labels))
    corrector, corrector_input = None, None
    if corrector_name != "none":
        if len(labels) < cfg.folds:
            raise RelabelInputError(f"--folds {cfg.folds} needs at least {cfg.folds} examples, "
                                    f"got {len(labels)}", path=data)
        # finetune pools the entity markers as the frozen encoder does (relations)
        ft_pooling = "entity" if "entity" in task["texts"] and task["pooling"] == "entity" \
            else "mean"
        corrector = make_corrector(corrector_name, len(classes), loss=cfg.loss,
                                   epochs=cfg.epochs, lr=cfg.lr, grad_accum=cfg.grad_accum,
                                   max_length=cfg.max_length, model=cfg.model, seed=cfg.seed,
                                   pooling=ft_pooling)
        if corrector_name == "finetune":
            corrector_input = np.asarray(task["texts"][ft_pooling], dtype=object)
    inputs_key = encoder.key + ":" + hashlib.blake2b(
        text_hashes(encoder_texts).tobytes(), digest_size=12).hexdigest()
    with timer.stage("score"):
        bar = _progress(progress, "scoring", total=len(SCORERS) + 2, unit="step")
        fold_bar = _progress(progress and corrector is not None,
                             f"{corrector_name} corrector", total=cfg.folds, unit="fold")
        try:
            result = score_examples(embeddings, labels, len(classes), weights=cfg.weights,
                                    threshold=cfg.threshold,
                                    target_precision=cfg.target_precision,
                                    texts=encoder_texts,
                                    prior_balance=cfg.prior_balance, corrector=corrector,
                                    corrector_input=corrector_input,
                                    folds=cfg.folds, oof_cache=out / "cache" / "oof",
                                    inputs_key=inputs_key, seed=cfg.seed, progress=bar,
                                    fold_progress=fold_bar, engine=engine)
        finally:
            bar.close()
            fold_bar.close()
    with timer.stage("write"):
        scores = _scores_frame(examples, classes, labels, result)
        write_table(scores, out / SCORES_FILE)
        write_table(scores, out / "scores.csv")
        write_table(_suspicious(examples, scores, result["neighbors"]), out / SUSPICIOUS_FILE)
        write_array(result["soft_labels"].astype(np.float32), out / SOFT_LABELS_FILE)
        if "cv" in result["posteriors"]:
            write_array(result["posteriors"]["cv"].astype(np.float32), out / OOF_FILE)
        else:  # an earlier run's corrector output would no longer match these scores
            (out / OOF_FILE).unlink(missing_ok=True)
        summary = _summary(scores, classes)
        none = {"name": "none", "requested": cfg.corrector}
        summary.update({
            "relabel_version": __version__,
            "input": str(Path(data).resolve()),
            "encoder": {"key": encoder.key, **enc_stats,
                        **({"embeddings": str(Path(cfg.embeddings).resolve())}
                           if cfg.embeddings is not None else {})},
            "params": result["params"],
            "corrector": ({"name": corrector_name, "requested": cfg.corrector, **result["oof"],
                           "params": {k: v for k, v in corrector.get_params().items()
                                      if k != "device"}}
                          if corrector is not None else none),
            "decisions": {**result["decisions"].summary(
                cfg.target_precision, "cv" if corrector is not None else "knn"),
                "duplicate_conflicts": result["duplicate_conflicts"],
                "outliers": result["outliers"]},
            "weights": cfg.weights or (CORRECTOR_WEIGHTS if corrector is not None
                                       else DEFAULT_WEIGHTS),
            "prior_balance": cfg.prior_balance,
            "engine": engine.describe(),
            "label_classes": classes,
            "warnings": warnings,
        })
        write_json({
            "input": str(Path(data).resolve()),
            "format": fmt,
            "fingerprint": file_fingerprint(data),
            "text_col": cfg.text_col,
            "label_col": label_col,
            "id_col": cfg.id_col,
            "task": task["task"],
            "layout": task["layout"],
            "span_cols": list(cfg.span_cols),
            "type_cols": list(cfg.type_cols),
            "drop_invalid": cfg.drop_invalid,
            "relabel_version": __version__,
        }, out / RUN_FILE)
    summary["seconds"] = timer.seconds
    write_json(summary, out / SUMMARY_FILE)
    with timer.stage("report"):
        from relabel.report.html import build_report

        build_report(out)
    summary["seconds"] = timer.seconds
    write_json(summary, out / SUMMARY_FILE)
    return DenoiseResult(scores=scores, summary=summary, out_dir=out, warnings=warnings)


__all__ = ["DenoiseConfig", "DenoiseResult", "default_out_dir", "denoise"]
