"""Relation extraction inputs: entity spans, validation and typed entity markers (METHOD.md §1).

A relation example is a text, a head (subject) span, a tail (object) span and a relation label.
Spans are character offsets ``[start, end)`` into the text. Four layouts are read:

- **flat**: columns ``text, head_start, head_end, tail_start, tail_end, label`` (names
  configurable), optional ``head_type, tail_type``;
- **TACRED**: ``token`` (list of words), ``subj_start, subj_end, obj_start, obj_end`` (token
  offsets, inclusive ends), ``subj_type, obj_type``, ``relation``; the text is the tokens joined
  by single spaces;
- **WRENCH**: a JSON object of ``id -> {"label", "data": {"text", "span1", "span2"}}``, read by
  :func:`relabel.data.io.read_table` with the ``data`` fields as ``data.<name>`` columns;
- **inline markers** (SemEval-2010 Task 8, KBP37, Hugging Face ``sem_eval_2010_task_8``): the
  text column itself marks the head as ``<e1>..</e1>`` and the tail as ``<e2>..</e2>``; the
  tags are removed from the text that is encoded, reviewed and reported, and kept in an
  exported file (only its label column changes).

The annotation representation marks the spans with ordinary characters, so a frozen encoder still
understands them:

    ... @ * person * Bill Gates @ founded # ^ organization ^ Microsoft # ...

(without types: ``@ Bill Gates @`` and ``# Microsoft #``). The encoder pools the hidden states at
the two opening markers (concatenated) plus the mean (``pooling="entity"``) or just the mean.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from relabel.config import SPAN_COLS, TYPE_COLS
from relabel.errors import Problems, RelabelInputError

#: flat layout's span columns: head start, head end, tail start, tail end
TACRED_COLS = ("token", "subj_start", "subj_end", "obj_start", "obj_end")
WRENCH_COLS = ("data.text", "data.span1", "data.span2")
#: separates the marker positions from the marked text in the encoder's input string
ENTITY_SEP = "\x1f"
#: each layout (:func:`detect_layout`) as ``relabel check`` and ``denoise``'s summary name it
LAYOUT_NAMES = {"flat": "span columns", "tacred": "TACRED tokens", "wrench": "WRENCH spans",
                "inline": "inline <e1>/<e2> tags"}
#: the inline layout's entity tags (case-insensitive): <e1>, </e1>, <e2>, </e2>
INLINE_TAG = re.compile(r"<(/?)e([12])>", re.IGNORECASE)


def has_inline_tags(text: pl.Series) -> pl.Series:
    """Whether each text holds the four inline entity tags (null texts: null). Plain text,
    the common case, costs one scan for ``<``: only texts holding one are looked at closely."""
    maybe = text.str.contains("<", literal=True)
    if not maybe.any():
        return maybe
    for tag in ("<e1>", "</e1>", "<e2>", "</e2>"):
        maybe = maybe & text.str.contains(f"(?i){tag}")
    return maybe


def detect_layout(table: pl.DataFrame, span_cols: tuple[str, ...] = SPAN_COLS,
                  text_col: str | None = None, *, relation: bool = False) -> str | None:
    """``"tacred"``, ``"wrench"``, ``"flat"``, ``"inline"`` or None (no relation columns).

    ``"inline"`` needs ``text_col``: a text column where at least half of the non-empty texts
    (any one, when ``relation``: ``--task relation`` was asked for) carry all four tags
    ``<e1> </e1> <e2> </e2>``; the rest are then reported as rows without them, not silently
    read as plain text.
    """
    cols = set(table.columns)
    if set(TACRED_COLS) <= cols:
        return "tacred"
    if set(WRENCH_COLS) <= cols:
        return "wrench"
    if set(span_cols) <= cols:
        return "flat"
    if text_col in cols and table.schema[text_col] == pl.String:
        tagged = has_inline_tags(table.get_column(text_col)).drop_nulls()
        share = tagged.sum() / tagged.len() if tagged.len() else 0.0
        if share >= 0.5 or (relation and share > 0):
            return "inline"
    return None


def strip_inline_tags(text: str) -> tuple[str, int, int, int, int] | None:
    """``text`` without its ``<e1>..</e1>`` and ``<e2>..</e2>`` tags, and the character spans
    ``(head_start, head_end, tail_start, tail_end)`` (end exclusive) of e1 and e2 in it; None
    unless each of the four tags occurs once, each opening before its closing."""
    out, pos, at = [], 0, {}
    for m in INLINE_TAG.finditer(text):
        key = (m.group(1), m.group(2))
        if key in at:
            return None
        out.append(text[pos:m.start()])
        at[key] = sum(map(len, out))
        pos = m.end()
    if len(at) != 4:
        return None
    out.append(text[pos:])
    hs, he, ts, te = at[("", "1")], at[("/", "1")], at[("", "2")], at[("/", "2")]
    if he < hs or te < ts:
        return None
    return "".join(out), hs, he, ts, te


def _int_col(table: pl.DataFrame, col: str, path: str | Path) -> np.ndarray:
    s = table.get_column(col)
    cast = s.cast(pl.Int64, strict=False)
    empty = s.is_null().to_numpy()
    if s.dtype == pl.String:
        empty |= s.str.strip_chars().eq("").fill_null(True).to_numpy()
    if empty.any():  # a span not given: say so, rather than "not an integer"
        raise RelabelInputError("empty span offset (every relation needs both entity spans)",
                                path=path, rows=(np.flatnonzero(empty) + 1).tolist(), column=col)
    bad = cast.is_null().to_numpy()
    if bad.any():
        first = s[int(np.flatnonzero(bad)[0])]
        raise RelabelInputError(f"span offsets must be integers (found {first!r})", path=path,
                                rows=(np.flatnonzero(bad) + 1).tolist(), column=col)
    return cast.to_numpy()


def relation_table(table: pl.DataFrame, layout: str, *, path: str | Path,
                   text_col: str = "text", span_cols: tuple[str, ...] = SPAN_COLS,
                   type_cols: tuple[str, ...] = TYPE_COLS) -> pl.DataFrame:
    """The input with normalised columns ``__text, __hs, __he, __ts, __te, __htype, __ttype``
    added (character offsets, end exclusive; types may be null).

    Raises RelabelInputError for a missing or non-integer span column.
    """
    hs: Any  # head and tail spans: lists of ints, or arrays (span columns)
    he: Any
    ts: Any
    te: Any
    if layout == "tacred":
        tokens = table.get_column("token").to_list()
        starts = [np.cumsum([0] + [len(t) + 1 for t in toks[:-1]]) if toks else np.zeros(0)
                  for toks in tokens]
        text = [" ".join(map(str, toks)) if toks else None for toks in tokens]
        offs = {c: _int_col(table, c, path) for c in TACRED_COLS[1:]}

        def char_span(s_col: str, e_col: str) -> tuple[list[int], list[int]]:
            cs, ce = [], []
            for i, toks in enumerate(tokens):
                s, e = int(offs[s_col][i]), int(offs[e_col][i])
                if toks and 0 <= s <= e < len(toks):
                    cs.append(int(starts[i][s]))
                    ce.append(int(starts[i][e] + len(str(toks[e]))))
                else:  # out of range: keep an invalid span for validation to report
                    cs.append(-1)
                    ce.append(-1)
            return cs, ce

        hs, he = char_span("subj_start", "subj_end")
        ts, te = char_span("obj_start", "obj_end")
        types = [table.get_column(c).cast(pl.String) if c in table.columns else None
                 for c in ("subj_type", "obj_type")]
    elif layout == "wrench":
        text = table.get_column("data.text").to_list()
        spans = [table.get_column(c).to_list() for c in ("data.span1", "data.span2")]
        hs, he = ([s[0] if s else -1 for s in spans[0]], [s[1] if s else -1 for s in spans[0]])
        ts, te = ([s[0] if s else -1 for s in spans[1]], [s[1] if s else -1 for s in spans[1]])
        types = [None, None]
    elif layout == "inline":
        raw = table.get_column(text_col).to_list()
        parsed = [strip_inline_tags(t) if isinstance(t, str) else None for t in raw]
        bad = [i for i, (t, p) in enumerate(zip(raw, parsed, strict=True))
               if p is None and isinstance(t, str) and t.strip()]
        if bad:
            raise RelabelInputError(
                "text without its entity tags: each relation text marks the head as "
                "<e1>..</e1> and the tail as <e2>..</e2>, once each", path=path,
                rows=[i + 1 for i in bad], column=text_col)
        text = [p[0] if p else t for t, p in zip(raw, parsed, strict=True)]
        hs, he, ts, te = ([p[j] if p else -1 for p in parsed] for j in range(1, 5))
        types = [table.get_column(c).cast(pl.String) if c in table.columns else None
                 for c in type_cols]
    else:
        from relabel.data.column_hints import require_columns

        require_columns(table, [text_col], path=path, options={text_col: "--text-col"})
        text = table.get_column(text_col).to_list()
        hs, he, ts, te = (_int_col(table, c, path) for c in span_cols)
        types = [table.get_column(c).cast(pl.String) if c in table.columns else None
                 for c in type_cols]
    n = table.height
    return table.with_columns(
        pl.Series("__text", text, dtype=pl.String),
        pl.Series("__hs", hs, dtype=pl.Int64),
        pl.Series("__he", he, dtype=pl.Int64),
        pl.Series("__ts", ts, dtype=pl.Int64),
        pl.Series("__te", te, dtype=pl.Int64),
        (types[0] if types[0] is not None else pl.Series([None] * n, dtype=pl.String)
         ).alias("__htype"),
        (types[1] if types[1] is not None else pl.Series([None] * n, dtype=pl.String)
         ).alias("__ttype"),
    )


def validate_spans(text: list[str], hs: np.ndarray, he: np.ndarray, ts: np.ndarray,
                   te: np.ndarray, rows: np.ndarray, *, path: str | Path,
                   columns: str = "spans", problems: Problems | None = None) -> None:
    """Report spans outside the text, empty spans or overlapping head and tail (raises at the
    first unless ``problems`` collects).

    ``rows`` are the 0-based input rows, reported 1-based.
    """
    problems = problems or Problems()
    length = np.array([len(t) for t in text])
    for name, s, e in (("head", hs, he), ("tail", ts, te)):
        outside = (s < 0) | (e > length)
        if outside.any():
            problems.error(RelabelInputError(f"{name} span outside the text", path=path,
                                             rows=(rows[outside] + 1).tolist(), column=columns))
        empty = e <= s
        if empty.any():
            problems.error(RelabelInputError(f"empty {name} span", path=path,
                                             rows=(rows[empty] + 1).tolist(), column=columns))
    overlap = (np.maximum(hs, ts) < np.minimum(he, te))
    if overlap.any():
        problems.error(RelabelInputError("head and tail spans overlap", path=path,
                                         rows=(rows[overlap] + 1).tolist(), column=columns))


def mark_entities(text: str, hs: int, he: int, ts: int, te: int, htype: str | None = None,
                  ttype: str | None = None) -> tuple[str, int, int]:
    """Insert typed markers around the two spans.

    Returns
    -------
    marked : str
        The text with ``@ * type * head @`` and ``# ^ type ^ tail #``.
    head_pos, tail_pos : int
        Character positions of the opening ``@`` and ``#`` in ``marked``.
    """
    head = f"@ * {htype} * {text[hs:he]} @" if htype else f"@ {text[hs:he]} @"
    tail = f"# ^ {ttype} ^ {text[ts:te]} #" if ttype else f"# {text[ts:te]} #"
    if hs < ts:
        first, second = (hs, he, head), (ts, te, tail)
    else:
        first, second = (ts, te, tail), (hs, he, head)
    before = text[: first[0]]
    middle = text[first[1] : second[0]]
    marked = before + first[2] + middle + second[2] + text[second[1] :]
    p1 = len(before)
    p2 = len(before) + len(first[2]) + len(middle)
    return (marked, p1, p2) if hs < ts else (marked, p2, p1)


def encoder_inputs(text: list[str], hs: np.ndarray, he: np.ndarray, ts: np.ndarray,
                   te: np.ndarray, htype: list[str | None], ttype: list[str | None]
                   ) -> tuple[list[str], list[str]]:
    """Marked texts, and the encoder's input strings ``"<head_pos>\\x1f<tail_pos>\\x1f<marked>"``
    (the positions travel with the text, so the embedding cache keys on both)."""
    marked, packed = [], []
    for i, t in enumerate(text):
        m, p_head, p_tail = mark_entities(t, int(hs[i]), int(he[i]), int(ts[i]), int(te[i]),
                                          htype[i], ttype[i])
        marked.append(m)
        packed.append(f"{p_head}{ENTITY_SEP}{p_tail}{ENTITY_SEP}{m}")
    return marked, packed


def unpack(item: str) -> tuple[str, int, int]:
    """Inverse of the packing in :func:`encoder_inputs`: ``(marked, head_pos, tail_pos)``."""
    p_head, p_tail, marked = item.split(ENTITY_SEP, 2)
    return marked, int(p_head), int(p_tail)
