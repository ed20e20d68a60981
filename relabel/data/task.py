"""Reading a dataset for a task: text or relation, and precomputed embeddings.

``read_task`` validates the table (``relabel.data.validation``; for relations also the spans) and
builds
the encoder's input strings; ``load_embeddings`` reads ``--embeddings`` vectors in chunks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from relabel.data.io import file_fingerprint
from relabel.data.relation import detect_layout, encoder_inputs, relation_table, validate_spans
from relabel.data.validation import Problems, build_examples, few_per_fold_warning
from relabel.errors import RelabelInputError

if TYPE_CHECKING:
    from relabel.pipeline import DenoiseConfig

#: normalised relation columns carried through validation
REL_COLS = ("__hs", "__he", "__ts", "__te", "__htype", "__ttype")


def read_task(table: pl.DataFrame, data: str | Path, cfg: DenoiseConfig,
              problems: Problems | None = None) -> dict[str, Any]:
    """Validate the table for the task and build the encoder's inputs.

    With a collecting ``problems`` (``relabel check``) every problem is recorded instead of the
    first being raised, and only the validation runs: the result then holds ``task``,
    ``layout``, ``examples`` (None when errors left nothing to build) and ``warnings``.

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
            id_col=cfg.id_col, drop_invalid=cfg.drop_invalid, problems=problems)
        if examples is not None:
            warnings += few_per_fold_warning(examples, cfg.folds)
        if problems is not None and problems.collect:
            return {"task": "text", "layout": None, "examples": examples, "warnings": warnings}
        assert examples is not None
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
        drop_invalid=cfg.drop_invalid, extra_cols=REL_COLS, problems=problems)
    collect = problems is not None and problems.collect
    if examples is None:
        return {"task": "relation", "layout": layout, "examples": None, "warnings": warnings}
    warnings += few_per_fold_warning(examples, cfg.folds)
    spans = [examples[c].to_numpy() for c in REL_COLS[:4]]
    span_names = {"tacred": "subj_start, subj_end, obj_start, obj_end",
                  "wrench": "data.span1, data.span2"}.get(layout, ", ".join(cfg.span_cols))
    validate_spans(examples["text"].to_list(), *spans, rows=examples["row"].to_numpy(),
                   path=data, columns=span_names, problems=problems)
    if collect:
        return {"task": "relation", "layout": layout, "examples": examples.drop(REL_COLS),
                "warnings": warnings}
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

    The ``.npy`` file is read in chunks of consecutive rows with plain file reads (not a memory
    map, whose pages would count as resident on top of the result), so only the result and one
    chunk are held in memory. Raises RelabelInputError for an unreadable file, a shape that is
    not ``(n_rows, D)``, or non-finite values (naming the first bad row, 1-based).
    """
    path = Path(path)
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) > 1 and (np.diff(rows) <= 0).any():
        raise ValueError("rows must be strictly increasing")
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(f)
            offset = f.tell()
    except FileNotFoundError:
        raise RelabelInputError("no such file", path=path) from None
    except (OSError, ValueError) as exc:
        raise RelabelInputError(f"cannot read embeddings ({str(exc).splitlines()[0][:120]}); "
                                "expected a .npy array written by numpy.save", path=path) from None
    if len(shape) != 2 or shape[0] != n_rows or shape[1] < 1:
        raise RelabelInputError(f"embeddings have shape {tuple(shape)} but the dataset has "
                                f"{n_rows} rows: expected ({n_rows}, D), row i = input row i",
                                path=path)
    if not np.issubdtype(dtype, np.number) or dtype.hasobject:
        raise RelabelInputError(f"embeddings must be numbers, found {dtype}", path=path)
    if path.stat().st_size < offset + n_rows * shape[1] * dtype.itemsize:
        raise RelabelInputError("embeddings file is truncated", path=path)
    dim = shape[1]
    out = np.empty((len(rows), dim), dtype=np.float32)
    mm = np.load(path, mmap_mode="r") if fortran else None  # rare: column-major files
    done = 0
    with open(path, "rb") as f:
        while done < len(rows):
            # the next block of consecutive file rows holding at most chunk_size wanted rows
            first = int(rows[done])
            stop = int(np.searchsorted(rows, first + chunk_size, side="left"))
            stop = max(stop, done + 1)
            want = rows[done:stop]
            last = int(want[-1]) + 1
            if mm is not None:
                block = np.asarray(mm[first:last])
            else:
                f.seek(offset + first * dim * dtype.itemsize)
                block = np.fromfile(f, dtype=dtype, count=(last - first) * dim)
                block = block.reshape(last - first, dim)
            part = block[want - first].astype(np.float32)
            finite = np.isfinite(part).all(axis=1)
            if not finite.all():
                bad = int(want[int(np.argmin(finite))]) + 1
                raise RelabelInputError("embeddings contain NaN or infinite values", path=path,
                                        rows=[bad])
            norms = np.linalg.norm(part, axis=1, keepdims=True)
            out[done:stop] = part / np.maximum(norms, 1e-12)
            done = stop
    return out
