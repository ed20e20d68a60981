"""Reading a dataset for a task: text or relation, and precomputed embeddings.

``read_task`` validates the table (``relabel.validation``; for relations also the spans) and builds
the encoder's input strings; ``load_embeddings`` reads ``--embeddings`` vectors in chunks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from relabel.errors import RelabelInputError
from relabel.io import file_fingerprint
from relabel.relation import detect_layout, encoder_inputs, relation_table, validate_spans
from relabel.validation import build_examples

if TYPE_CHECKING:
    from relabel.pipeline import DenoiseConfig

#: normalised relation columns carried through validation
REL_COLS = ("__hs", "__he", "__ts", "__te", "__htype", "__ttype")


def read_task(table: pl.DataFrame, data: str | Path, cfg: DenoiseConfig) -> dict[str, Any]:
    """Validate the table for the task and build the encoder's inputs.

    Returns ``task`` (text or relation), ``layout`` (relation layout or None), ``examples`` and
    ``warnings`` from :func:`build_examples`, the resolved ``label_col``, the ``pooling`` the
    encoder should use, and ``texts``: pooling name -> encoder input strings (for a relation,
    ``mean`` holds the marked texts and ``entity`` the packed ones, and ``spans`` the ``(N, 4)``
    character offsets head start, head end, tail start, tail end into ``examples["text"]``).
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
            "rows": table.height, "spans": np.stack(spans, axis=1),
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
