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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from relabel import __version__
from relabel.correct import make_corrector, resolve_corrector
from relabel.correct.crossval import oof_key, out_of_fold_proba
from relabel.correct.suggest import (
    CORRECTOR_MIN_CONFIDENCE,
    CORRECTOR_MIN_MARGIN,
    CORRECTOR_MIN_RATIO,
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_MIN_MARGIN,
    flag_issues,
    per_class_thresholds,
    suggest_labels,
)
from relabel.encode import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_LENGTH,
    Encoder,
    TextEncoder,
    embed_texts,
    text_hashes,
)
from relabel.errors import RelabelInputError
from relabel.io import atomic_path, read_table, write_json, write_table
from relabel.neighbors import build_knn_graph
from relabel.relation import (
    SPAN_COLS,
    TYPE_COLS,
    detect_layout,
    encoder_inputs,
    relation_table,
    validate_spans,
)
from relabel.scores import SCORERS, combine_posteriors, given_label_score, soft_labels
from relabel.scores.combine import PRIOR_FLOOR, balance_prior
from relabel.scores.knn import K_GRID
from relabel.validation import DEFAULT_LABEL_COL, DEFAULT_TEXT_COL, build_examples

log = logging.getLogger("relabel")

#: exponent of each signal in the combined posterior (METHOD.md §5), without a corrector
DEFAULT_WEIGHTS: dict[str, float] = {"knn": 0.5, "kde": 0.5}
#: ... and with one (``cv`` = out-of-fold corrector probabilities). The KDE enters through the
#: soft labels the corrector trains on; giving it a direct weight too (cv .65 / knn .25 / kde .1,
#: or .6 / .2 / .2) lowered AP on trec and youtube and label accuracy on banking77, and raised
#: both only on semeval (bench/RESULTS.md)
CORRECTOR_WEIGHTS: dict[str, float] = {"cv": 0.7, "knn": 0.3}
DEFAULT_FOLDS = 5
#: neighbours shown per suspicious example in the report, and how many examples
REPORT_NEIGHBORS = 5
REPORT_SUSPICIOUS = 200
SUSPICIOUS_FILE = "suspicious.parquet"
#: normalised relation columns carried through validation
REL_COLS = ("__hs", "__he", "__ts", "__te", "__htype", "__ttype")
#: neighbours that count as "near" in the distant-peer loss
PEER_K = 10
#: exponent of the class prior divided out of the combined posterior (scores/combine.py)
DEFAULT_PRIOR_BALANCE = 1.0
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
    batch_size: int = DEFAULT_BATCH_SIZE
    max_length: int = DEFAULT_MAX_LENGTH
    threshold: float | None = None
    #: None = the default for the posterior in use (relabel/correct/suggest.py)
    min_confidence: float | None = None
    min_margin: float | None = None
    min_ratio: float | None = None
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
    #: None = entity for relations, mean for text (relabel/encode.py)
    pooling: str | None = None
    #: precomputed (N, D) embeddings (.npy, row i = input row i) instead of encoding
    embeddings: str | Path | None = None
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


def neighbour_signals(
    embeddings: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    weights: dict[str, float] | None = None,
    prior_balance: float = DEFAULT_PRIOR_BALANCE,
    seed: int = 0,
    progress: Any = None,
) -> dict[str, Any]:
    """Stage 2 of METHOD.md: kNN vote and KDE posteriors, credibility and soft labels.

    Returns
    -------
    dict
        ``graph`` (:class:`~relabel.neighbors.KnnGraph`), ``posteriors`` (name -> ``(N, K)``),
        ``params``, ``credibility (N,)`` under the balanced combination of these signals (prior
        floored at ``PRIOR_FLOOR / K``, as the corrector trained on the soft labels will be),
        ``soft_labels (N, K)`` (METHOD.md §3) and ``radius (N,)`` (similarity of each example's
        ``PEER_K``-th neighbour, which defines "near" for the distant-peer loss).
    """
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    tick = progress.update if progress is not None else (lambda n=1: None)
    graph = build_knn_graph(embeddings, k=max(K_GRID), seed=seed)
    tick(1)
    posteriors: dict[str, np.ndarray] = {}
    params: dict[str, Any] = {}
    for name, scorer in SCORERS.items():
        if weights.get(name, 0.0) > 0 or name == "kde":
            posteriors[name], params[name] = scorer(embeddings, labels, n_classes, graph,
                                                    seed=seed)
        tick(1)
    prior = np.bincount(labels, minlength=n_classes) / len(labels)
    base = {k: v for k, v in weights.items() if k in posteriors}
    posterior = balance_prior(combine_posteriors(posteriors, base or DEFAULT_WEIGHTS), prior,
                              beta=prior_balance, floor=PRIOR_FLOOR)
    credibility = given_label_score(labels, posterior)
    return {
        "graph": graph,
        "posteriors": posteriors,
        "params": {**params, "neighbors": {"method": graph.method, "k": graph.k,
                                           **({"recall_at_k": round(graph.recall, 4)}
                                              if graph.recall is not None else {})}},
        "credibility": credibility,
        "soft_labels": soft_labels(labels, credibility, posteriors["kde"]),
        "radius": graph.sims[:, min(PEER_K, graph.k) - 1].astype(np.float32),
    }


def decide(
    labels: np.ndarray,
    posteriors: dict[str, np.ndarray],
    *,
    weights: dict[str, float],
    prior_balance: float = DEFAULT_PRIOR_BALANCE,
    threshold: float | None = None,
    min_confidence: float | None = None,
    min_margin: float | None = None,
    min_ratio: float | None = None,
) -> dict[str, Any]:
    """Stage 4 of METHOD.md §5: one posterior from the signals, then flags and suggestions.

    The combined posterior is the weighted geometric mean of the signals, balanced by the class
    prior (:mod:`relabel.scores.combine`). When it includes the cross-validated corrector
    (``cv``), suggestions follow the held-out rule of :mod:`relabel.correct.suggest` and every
    suggestion is also a flag.

    Returns
    -------
    dict
        ``posterior (N, K)``, ``credibility (N,)``, ``flagged (N,)``, ``suggested (N,)``
        (-1 = none), ``confidence (N,)``, ``alternative (N,)``, ``thresholds (K,)``.
    """
    n_classes = next(iter(posteriors.values())).shape[1]
    held_out = weights.get("cv", 0.0) > 0 and "cv" in posteriors
    if min_confidence is None:
        min_confidence = CORRECTOR_MIN_CONFIDENCE if held_out else DEFAULT_MIN_CONFIDENCE
    if min_margin is None:
        min_margin = CORRECTOR_MIN_MARGIN if held_out else DEFAULT_MIN_MARGIN
    if min_ratio is None:
        min_ratio = CORRECTOR_MIN_RATIO if held_out else float("inf")
    prior = np.bincount(labels, minlength=n_classes) / len(labels)
    posterior = balance_prior(combine_posteriors(posteriors, weights), prior, beta=prior_balance,
                              floor=PRIOR_FLOOR if held_out else 0.0)
    flagged = flag_issues(labels, posterior, threshold=threshold)
    suggested, confidence, alternative = suggest_labels(
        labels, posterior, flagged, min_confidence=min_confidence, min_margin=min_margin,
        held_out=held_out, min_ratio=min_ratio)
    if held_out:
        flagged = flagged | (suggested >= 0)
    return {
        "posterior": posterior,
        "credibility": given_label_score(labels, posterior),
        "flagged": flagged,
        "suggested": suggested,
        "confidence": confidence,
        "alternative": alternative,
        "thresholds": per_class_thresholds(labels, posterior),
    }


def corrector_fit_params(estimator: Any, signals: dict[str, Any], embeddings: np.ndarray
                         ) -> dict[str, np.ndarray]:
    """Per-example arrays a corrector's ``fit`` takes: soft labels, credibility, kNN radius and,
    for correctors that accept them, the frozen embeddings."""
    import inspect

    params = {"soft_labels": signals["soft_labels"].astype(np.float32),
              "credibility": signals["credibility"].astype(np.float32),
              "radius": signals["radius"]}
    if "frozen" in inspect.signature(estimator.fit).parameters:
        params["frozen"] = embeddings
    return params


def fold_jobs(corrector: Any, folds: int) -> int:
    """Folds to train at the same time: one more than the CPU cores for correctors that allow it
    (the head on CPU, see :mod:`relabel.correct.crossval`), else 1. The head's small steps spend
    much of their time in Python holding the GIL; a third thread on 2 cores overlaps that with
    the others' kernels (5 folds on banking77: 12.3-12.6 s of scoring instead of 13.7-13.9 s with
    two threads, bench/bench_speed.py)."""
    import os

    if not getattr(corrector, "parallel_folds_safe", False):
        return 1
    device = getattr(corrector, "device", None)
    if device is not None and not str(device).startswith("cpu"):
        return 1
    if device is None:
        import torch

        if torch.cuda.is_available():
            return 1
    return max(1, min(folds, (os.cpu_count() or 1) + 1))


def score_examples(
    embeddings: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    weights: dict[str, float] | None = None,
    threshold: float | None = None,
    min_confidence: float | None = None,
    min_margin: float | None = None,
    min_ratio: float | None = None,
    prior_balance: float = DEFAULT_PRIOR_BALANCE,
    corrector: Any = None,
    corrector_input: np.ndarray | None = None,
    folds: int = DEFAULT_FOLDS,
    oof_cache: Path | None = None,
    inputs_key: str = "",
    seed: int = 0,
    progress: Any = None,
    fold_progress: Any = None,
) -> dict[str, Any]:
    """The scoring core: embeddings and labels in, signals and decisions out.

    Parameters
    ----------
    embeddings : np.ndarray
        ``(N, D)`` float32, L2-normalised.
    labels : np.ndarray
        ``(N,)`` int class codes.
    n_classes : int
        Number of classes K.
    weights : dict, optional
        Exponent of each signal (``knn``, ``kde``, ``cv``) in the combined posterior; default
        ``DEFAULT_WEIGHTS``, or ``CORRECTOR_WEIGHTS`` with a corrector.
    threshold, min_confidence, min_margin, min_ratio : float, optional
        Decision options, see :mod:`relabel.correct.suggest` (None = the defaults there).
    prior_balance : float
        Exponent beta of the class prior divided out of the combined posterior.
    corrector : sklearn estimator, optional
        Unfitted corrector; its out-of-fold probabilities become the ``cv`` signal.
    corrector_input : np.ndarray, optional
        ``(N, ...)`` what the corrector reads (default: the embeddings; texts for finetune).
    folds : int
        Cross-validation folds.
    oof_cache : Path, optional
        Directory for finished folds, so a re-run or a crashed run reuses them.
    inputs_key : str
        Identity of the inputs for the fold cache key (encoder key and text hashes).
    seed : int
        Seed for parameter selection and the folds.
    progress, fold_progress : tqdm-like, optional
        ``update(1)`` after each scoring step / each fold.

    Returns
    -------
    dict
        ``posteriors`` (name -> ``(N, K)``), ``posterior (N, K)``, ``credibility (N,)``,
        ``soft_labels (N, K)``, ``flagged (N,)``, ``suggested (N,)`` (-1 = none),
        ``confidence (N,)``, ``alternative (N,)``, ``params`` (what each scorer chose),
        ``thresholds (K,)``, ``oof`` (fold info, or None without a corrector), ``neighbors``
        ``(N, REPORT_NEIGHBORS)`` nearest rows of each example (for the report).
    """
    if weights is None:
        weights = dict(CORRECTOR_WEIGHTS if corrector is not None else DEFAULT_WEIGHTS)
    sig = neighbour_signals(embeddings, labels, n_classes, weights=weights,
                            prior_balance=prior_balance, seed=seed, progress=progress)
    posteriors = dict(sig["posteriors"])
    oof_info = None
    if corrector is not None:
        fit_params = corrector_fit_params(corrector, sig, embeddings)
        cache = None
        if oof_cache is not None:
            cache = Path(oof_cache) / oof_key(corrector, labels, folds, seed, inputs_key,
                                              fit_params)
        posteriors["cv"], oof_info = out_of_fold_proba(
            corrector, embeddings if corrector_input is None else corrector_input, labels,
            n_classes, folds=folds, seed=seed, fit_params=fit_params, cache_dir=cache,
            n_jobs=fold_jobs(corrector, folds), progress=fold_progress)
        oof_info["corrector"] = type(corrector).__name__
    dec = decide(labels, posteriors, weights=weights, prior_balance=prior_balance,
                 threshold=threshold, min_confidence=min_confidence, min_margin=min_margin,
                 min_ratio=min_ratio)
    if progress is not None:
        progress.update(1)
    return {
        "posteriors": posteriors,
        "soft_labels": sig["soft_labels"],
        "params": sig["params"],
        "oof": oof_info,
        "neighbors": sig["graph"].indices[:, :REPORT_NEIGHBORS],
        **dec,
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


def _suspicious(examples: pl.DataFrame, scores: pl.DataFrame, neighbors: np.ndarray
                ) -> pl.DataFrame:
    """The least credible examples with their text and their nearest neighbours' labels."""
    order = np.argsort(scores["credibility"].to_numpy(), kind="stable")[:REPORT_SUSPICIOUS]
    given = scores["label"].to_numpy()
    return scores[order].select(
        "row", "id", "label", "credibility", "flagged", "suggested_label",
        "suggestion_confidence",
    ).with_columns(
        pl.Series("text", examples["text"].to_numpy()[order], dtype=pl.String),
        pl.Series("neighbor_labels", [given[neighbors[i]].tolist() for i in order],
                  dtype=pl.List(pl.String)),
    )


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


def _read_task(table: pl.DataFrame, data: str | Path, cfg: DenoiseConfig) -> dict[str, Any]:
    """Validate the table for the task and build the encoder's inputs.

    Returns ``task`` (text or relation), ``layout`` (relation layout or None), ``examples`` and
    ``warnings`` from :func:`build_examples`, the resolved ``label_col``, the ``pooling`` the
    encoder should use, and ``texts``: pooling name -> encoder input strings (for a relation,
    ``mean`` holds the marked texts and ``entity`` the packed ones).
    """
    layout = detect_layout(table, cfg.span_cols) if cfg.task != "text" else None
    if cfg.task == "relation" and layout is None:
        raise RelabelInputError(
            "--task relation needs entity spans: columns " + ", ".join(cfg.span_cols)
            + " (see --span-cols), TACRED's token/subj_start/subj_end/obj_start/obj_end, or "
            "WRENCH's data.text/data.span1/data.span2", path=data)
    if layout is None:
        if cfg.pooling == "entity":
            raise RelabelInputError("--pooling entity needs a relation dataset (entity spans)",
                                    path=data)
        examples, warnings = build_examples(
            table, path=data, text_col=cfg.text_col, label_col=cfg.label_col,
            id_col=cfg.id_col, drop_invalid=cfg.drop_invalid)
        return {"task": "text", "layout": None, "examples": examples, "warnings": warnings,
                "rows": table.height,
                "label_col": cfg.label_col, "pooling": cfg.pooling or "mean",
                "texts": {"mean": examples["text"].to_list()}}
    rel = relation_table(table, layout, path=data, text_col=cfg.text_col,
                         span_cols=cfg.span_cols, type_cols=cfg.type_cols)
    text_name = {"tacred": "token", "wrench": "data.text"}.get(layout, cfg.text_col)
    rel = rel.with_columns(pl.col("__text").alias(text_name))
    label_col = cfg.label_col
    if layout == "tacred" and label_col not in rel.columns and "relation" in rel.columns:
        label_col = "relation"
    id_col = cfg.id_col or ("id" if layout == "wrench" else None)
    examples, warnings = build_examples(
        rel, path=data, text_col=text_name, label_col=label_col, id_col=id_col,
        drop_invalid=cfg.drop_invalid, extra_cols=REL_COLS)
    spans = [examples[c].to_numpy() for c in REL_COLS[:4]]
    span_names = {"tacred": "subj_start, subj_end, obj_start, obj_end",
                  "wrench": "data.span1, data.span2"}.get(layout, ", ".join(cfg.span_cols))
    validate_spans(examples["text"].to_list(), *spans, rows=examples["row"].to_numpy(),
                   path=data, columns=span_names)
    marked, packed = encoder_inputs(examples["text"].to_list(), *spans,
                                    examples["__htype"].to_list(),
                                    examples["__ttype"].to_list())
    return {"task": "relation", "layout": layout, "examples": examples.drop(REL_COLS),
            "rows": table.height,
            "warnings": warnings, "label_col": label_col, "pooling": cfg.pooling or "entity",
            "texts": {"mean": marked, "entity": packed}}


class PrecomputedEncoder:
    """Stands in for the encoder when ``--embeddings`` gives the vectors: its key names the file
    (and its content), so corrector folds cached for other vectors are never reused."""

    pooling = "mean"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._key = "precomputed-" + file_fingerprint(self.path)

    @property
    def key(self) -> str:
        return self._key

    def encode(self, texts: Any, *, progress: Any = None) -> np.ndarray:  # pragma: no cover
        raise RuntimeError("precomputed embeddings are loaded, not encoded")


def load_embeddings(path: str | Path, *, n_rows: int, rows: np.ndarray,
                    chunk_size: int = 65536) -> np.ndarray:
    """Precomputed embeddings for the kept input rows, L2-normalised, ``(len(rows), D)`` float32.

    The ``.npy`` file is memory-mapped and read in chunks of rows, so only the result is held in
    memory. Raises RelabelInputError for an unreadable file, a shape that is not ``(n_rows, D)``,
    or non-finite values (naming the first bad row, 1-based).
    """
    path = Path(path)
    try:
        mm = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise RelabelInputError("no such file", path=path) from None
    except (OSError, ValueError) as exc:
        raise RelabelInputError(f"cannot read embeddings ({str(exc).splitlines()[0][:120]}); "
                                "expected a .npy array written by numpy.save", path=path) from None
    if mm.ndim != 2 or mm.shape[0] != n_rows or mm.shape[1] < 1:
        raise RelabelInputError(f"embeddings have shape {tuple(mm.shape)} but the dataset has "
                                f"{n_rows} rows: expected ({n_rows}, D), row i = input row i",
                                path=path)
    if not np.issubdtype(mm.dtype, np.number):
        raise RelabelInputError(f"embeddings must be numbers, found {mm.dtype}", path=path)
    out = np.empty((len(rows), mm.shape[1]), dtype=np.float32)
    for start in range(0, len(rows), chunk_size):
        part = np.asarray(mm[rows[start : start + chunk_size]], dtype=np.float32)
        finite = np.isfinite(part).all(axis=1)
        if not finite.all():
            bad = int(rows[start + int(np.argmin(finite))]) + 1
            raise RelabelInputError("embeddings contain NaN or infinite values", path=path,
                                    rows=[bad])
        norms = np.linalg.norm(part, axis=1, keepdims=True)
        out[start : start + len(part)] = part / np.maximum(norms, 1e-12)
    return out


def _preload_plotting() -> None:
    """Import matplotlib in a background thread while the encoder runs: the report at the end
    then does not pay the ~0.6 s import on the critical path."""
    import threading

    def load() -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot

    threading.Thread(target=load, name="relabel-preload-matplotlib", daemon=True).start()


def _check_options(cfg: DenoiseConfig) -> None:
    from relabel.correct import CORRECTOR_CHOICES
    from relabel.losses import LOSS_CHOICES

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
    if cfg.pooling not in (None, "mean", "entity"):
        raise RelabelInputError(f"--pooling must be one of entity, mean, got {cfg.pooling!r}")
    if len(cfg.span_cols) != 4:
        raise RelabelInputError("--span-cols needs four column names: head start, head end, "
                                f"tail start, tail end; got {len(cfg.span_cols)}")
    if cfg.folds < 2:
        raise RelabelInputError(f"--folds must be at least 2, got {cfg.folds}")
    for name in ("epochs", "grad_accum"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise RelabelInputError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if cfg.min_ratio is not None and not cfg.min_ratio >= 1:
        raise RelabelInputError(f"--min-ratio must be at least 1, got {cfg.min_ratio}")
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
    out = Path(out_dir) if out_dir is not None else default_out_dir(data)
    timer = _Timer()
    # options and --model are checked first: a bad value fails before any work
    _check_options(cfg)
    _preload_plotting()
    with timer.stage("read"):
        table, fmt = read_table(data)
        task = _read_task(table, data, cfg)
        del table
    examples, warnings, label_col = task["examples"], task["warnings"], task["label_col"]
    precomputed = None
    if cfg.embeddings is not None:
        precomputed = load_embeddings(cfg.embeddings, n_rows=task["rows"],
                                      rows=examples["row"].to_numpy())
        encoder = PrecomputedEncoder(cfg.embeddings)
    if encoder is None:
        encoder = Encoder(cfg.model, batch_size=cfg.batch_size, max_length=cfg.max_length,
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
                                                    progress=bar)
            finally:
                bar.close()
    corrector_name = resolve_corrector(cfg.corrector, np.bincount(labels))
    corrector, corrector_input = None, None
    if corrector_name != "none":
        if len(labels) < cfg.folds:
            raise RelabelInputError(f"--folds {cfg.folds} needs at least {cfg.folds} examples, "
                                    f"got {len(labels)}", path=data)
        corrector = make_corrector(corrector_name, len(classes), loss=cfg.loss,
                                   epochs=cfg.epochs, lr=cfg.lr, grad_accum=cfg.grad_accum,
                                   max_length=cfg.max_length, model=cfg.model, seed=cfg.seed)
        if corrector_name == "finetune":
            corrector_input = np.asarray(task["texts"]["mean"], dtype=object)
    inputs_key = encoder.key + ":" + hashlib.blake2b(
        text_hashes(encoder_texts).tobytes(), digest_size=12).hexdigest()
    with timer.stage("score"):
        bar = _progress(progress, "scoring", total=len(SCORERS) + 2, unit="step")
        fold_bar = _progress(progress and corrector is not None,
                             f"{corrector_name} corrector", total=cfg.folds, unit="fold")
        try:
            result = score_examples(embeddings, labels, len(classes), weights=cfg.weights,
                                    threshold=cfg.threshold, min_confidence=cfg.min_confidence,
                                    min_margin=cfg.min_margin, min_ratio=cfg.min_ratio,
                                    prior_balance=cfg.prior_balance, corrector=corrector,
                                    corrector_input=corrector_input,
                                    folds=cfg.folds, oof_cache=out / "cache" / "oof",
                                    inputs_key=inputs_key, seed=cfg.seed, progress=bar,
                                    fold_progress=fold_bar)
        finally:
            bar.close()
            fold_bar.close()
    with timer.stage("write"):
        scores = _scores_frame(examples, classes, labels, result)
        write_table(scores, out / SCORES_FILE)
        write_table(scores, out / "scores.csv")
        write_table(_suspicious(examples, scores, result["neighbors"]), out / SUSPICIOUS_FILE)
        with atomic_path(out / SOFT_LABELS_FILE) as tmp, open(tmp, "wb") as fh:
            np.save(fh, result["soft_labels"].astype(np.float32))
        if "cv" in result["posteriors"]:
            with atomic_path(out / OOF_FILE) as tmp, open(tmp, "wb") as fh:
                np.save(fh, result["posteriors"]["cv"].astype(np.float32))
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
            "corrector": ({"name": corrector_name, **result["oof"],
                           "params": {k: v for k, v in corrector.get_params().items()
                                      if k != "device"}}
                          if corrector is not None else none),
            "weights": cfg.weights or (CORRECTOR_WEIGHTS if corrector is not None
                                       else DEFAULT_WEIGHTS),
            "prior_balance": cfg.prior_balance,
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
            "drop_invalid": cfg.drop_invalid,
            "relabel_version": __version__,
        }, out / RUN_FILE)
    summary["seconds"] = timer.seconds
    write_json(summary, out / SUMMARY_FILE)
    with timer.stage("report"):
        from relabel.report import build_report

        build_report(out)
    summary["seconds"] = timer.seconds
    write_json(summary, out / SUMMARY_FILE)
    return DenoiseResult(scores=scores, summary=summary, out_dir=out, warnings=warnings)
