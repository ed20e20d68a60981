"""``denoise``: run the stages in order over a work directory.

Stages: read and validate -> encode (cached, resumable) -> kNN graph -> scorers (kNN vote, KDE)
-> combined posterior and soft labels -> flags and suggestions -> write scores and summary.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from relabel import __version__
from relabel.correct.suggest import (
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_MIN_MARGIN,
    flag_issues,
    per_class_thresholds,
    suggest_labels,
)
from relabel.encode import DEFAULT_BATCH_SIZE, DEFAULT_MAX_LENGTH, Encoder, TextEncoder, embed_texts
from relabel.errors import RelabelInputError
from relabel.io import atomic_path, read_table, write_json, write_table
from relabel.neighbors import build_knn_graph
from relabel.scores import SCORERS, combine_posteriors, given_label_score, soft_labels
from relabel.scores.combine import balance_prior
from relabel.scores.knn import K_GRID
from relabel.validation import DEFAULT_LABEL_COL, DEFAULT_TEXT_COL, build_examples

log = logging.getLogger("relabel")

#: exponent of each signal in the combined posterior (METHOD.md §5)
DEFAULT_WEIGHTS: dict[str, float] = {"knn": 0.5, "kde": 0.5}
#: exponent of the class prior divided out of the combined posterior (scores/combine.py)
DEFAULT_PRIOR_BALANCE = 1.0
SCORES_FILE = "scores.parquet"
SUMMARY_FILE = "summary.json"
RUN_FILE = "run.json"
SOFT_LABELS_FILE = "soft_labels.npy"


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
    batch_size: int = DEFAULT_BATCH_SIZE
    max_length: int = DEFAULT_MAX_LENGTH
    threshold: float | None = None
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    min_margin: float = DEFAULT_MIN_MARGIN
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    prior_balance: float = DEFAULT_PRIOR_BALANCE
    drop_invalid: bool = False
    seed: int = 0


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


def file_fingerprint(path: str | Path) -> str:
    """BLAKE2b of a file's bytes (or of a directory's files), to tell if an input changed."""
    path = Path(path)
    h = hashlib.blake2b(digest_size=16)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def score_examples(
    embeddings: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    weights: dict[str, float] | None = None,
    threshold: float | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    min_margin: float = DEFAULT_MIN_MARGIN,
    prior_balance: float = DEFAULT_PRIOR_BALANCE,
    seed: int = 0,
    progress: Any = None,
) -> dict[str, Any]:
    """The pure scoring core: embeddings and labels in, signals and decisions out.

    Parameters
    ----------
    embeddings : np.ndarray
        ``(N, D)`` float32, L2-normalised.
    labels : np.ndarray
        ``(N,)`` int class codes.
    n_classes : int
        Number of classes K.
    weights : dict, optional
        Exponent of each signal (``knn``, ``kde``) in the combined posterior.
    threshold, min_confidence, min_margin : float
        Decision options, see :mod:`relabel.correct.suggest`.
    prior_balance : float
        Exponent beta of the class prior divided out of the combined posterior.
    seed : int
        Seed for sampled parameter selection.
    progress : tqdm-like, optional
        ``update(1)`` is called after each step.

    Returns
    -------
    dict
        ``posteriors`` (name -> ``(N, K)``), ``posterior (N, K)``, ``credibility (N,)``,
        ``soft_labels (N, K)``, ``flagged (N,)``, ``suggested (N,)`` (-1 = none),
        ``confidence (N,)``, ``alternative (N,)``, ``params`` (what each scorer chose),
        ``thresholds (K,)``.
    """
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    tick = progress.update if progress is not None else (lambda n=1: None)
    graph = build_knn_graph(embeddings, k=max(K_GRID))
    tick(1)
    posteriors: dict[str, np.ndarray] = {}
    params: dict[str, Any] = {}
    for name, scorer in SCORERS.items():
        if weights.get(name, 0.0) > 0 or name == "kde":
            posteriors[name], params[name] = scorer(embeddings, labels, n_classes, graph,
                                                    seed=seed)
        tick(1)
    prior = np.bincount(labels, minlength=n_classes) / len(labels)
    posterior = balance_prior(combine_posteriors(posteriors, weights), prior, beta=prior_balance)
    credibility = given_label_score(labels, posterior)
    q = soft_labels(labels, credibility, posteriors["kde"])
    flagged = flag_issues(labels, posterior, threshold=threshold)
    suggested, confidence, alternative = suggest_labels(
        labels, posterior, flagged, min_confidence=min_confidence, min_margin=min_margin)
    tick(1)
    return {
        "posteriors": posteriors,
        "posterior": posterior,
        "credibility": credibility,
        "soft_labels": q,
        "flagged": flagged,
        "suggested": suggested,
        "confidence": confidence,
        "alternative": alternative,
        "params": params,
        "thresholds": per_class_thresholds(labels, posterior),
    }


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
        "alternative_prob": result["posterior"][rows, alt],
    })
    return pl.DataFrame(columns)


def _summary(scores: pl.DataFrame, classes: list[str], top_n: int = 10) -> dict[str, Any]:
    flagged = scores.filter(pl.col("flagged"))
    per_class = (flagged.group_by("label").len().sort(["len", "label"], descending=[True, False]))
    conf = (flagged.filter(pl.col("suggested_label").is_not_null())
            .group_by(["label", "suggested_label"]).len()
            .sort(["len", "label", "suggested_label"], descending=[True, False, False])
            .head(top_n))
    return {
        "examples": scores.height,
        "classes": len(classes),
        "flagged": flagged.height,
        "suggested": int(scores["suggested_label"].is_not_null().sum()),
        "abstained": int(flagged["suggested_label"].is_null().sum()),
        "flagged_per_class": {r["label"]: r["len"] for r in per_class.iter_rows(named=True)},
        "top_confusions": [{"given": r["label"], "suggested": r["suggested_label"],
                            "count": r["len"]} for r in conf.iter_rows(named=True)],
    }


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
    out = Path(out_dir) if out_dir is not None else default_out_dir(data)
    timer = _Timer()
    # options and --model are checked first: a bad value fails before any work
    if cfg.threshold is not None and not 0.0 <= cfg.threshold <= 1.0:
        raise RelabelInputError(f"--threshold must be in [0, 1], got {cfg.threshold}")
    if encoder is None:
        encoder = Encoder(cfg.model, batch_size=cfg.batch_size, max_length=cfg.max_length)
    with timer.stage("read"):
        table, fmt = read_table(data)
        examples, warnings = build_examples(
            table, path=data, text_col=cfg.text_col, label_col=cfg.label_col,
            id_col=cfg.id_col, drop_invalid=cfg.drop_invalid)
        del table
    for w in warnings:
        log.warning("%s: %s", data, w)

    classes = sorted(examples["label"].unique().to_list())
    labels = np.searchsorted(classes, examples["label"].to_numpy()).astype(np.int64)

    with timer.stage("encode"):
        bar = _progress(progress, "encoding", unit="text")
        try:
            embeddings, enc_stats = embed_texts(examples["text"].to_list(), encoder,
                                                cache_dir=out / "cache" / "embeddings",
                                                progress=bar)
        finally:
            bar.close()
    with timer.stage("score"):
        bar = _progress(progress, "scoring", total=len(SCORERS) + 2, unit="step")
        try:
            result = score_examples(embeddings, labels, len(classes), weights=cfg.weights,
                                    threshold=cfg.threshold, min_confidence=cfg.min_confidence,
                                    min_margin=cfg.min_margin, prior_balance=cfg.prior_balance,
                                    seed=cfg.seed, progress=bar)
        finally:
            bar.close()
    with timer.stage("write"):
        scores = _scores_frame(examples, classes, labels, result)
        write_table(scores, out / SCORES_FILE)
        write_table(scores, out / "scores.csv")
        with atomic_path(out / SOFT_LABELS_FILE) as tmp, open(tmp, "wb") as fh:
            np.save(fh, result["soft_labels"].astype(np.float32))
        summary = _summary(scores, classes)
        summary.update({
            "relabel_version": __version__,
            "input": str(Path(data).resolve()),
            "encoder": {"key": encoder.key, **enc_stats},
            "params": result["params"],
            "weights": cfg.weights,
            "prior_balance": cfg.prior_balance,
            "label_classes": classes,
            "warnings": warnings,
        })
        write_json({
            "input": str(Path(data).resolve()),
            "format": fmt,
            "fingerprint": file_fingerprint(data),
            "text_col": cfg.text_col,
            "label_col": cfg.label_col,
            "id_col": cfg.id_col,
            "drop_invalid": cfg.drop_invalid,
            "relabel_version": __version__,
        }, out / RUN_FILE)
    summary["seconds"] = timer.seconds
    write_json(summary, out / SUMMARY_FILE)
    return DenoiseResult(scores=scores, summary=summary, out_dir=out, warnings=warnings)
