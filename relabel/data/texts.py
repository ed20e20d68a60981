"""The encoder's input texts as one column, not a Python list.

A Python ``list[str]`` costs about 57 bytes per text on top of the characters (a ``str`` object
and a pointer), and it is a second copy of a column the examples frame already holds. At ten
million texts of 130 characters that was about 2 GB of the run's memory that grew with N
(bench/RESULTS.md, issue 19). :class:`TextColumn` is a read-only ``Sequence[str]`` over a polars
string column (sharing its buffers): consumers index it, slice it into small lists, iterate it
chunk by chunk, or :func:`gather` rows of it, and never hold more than a chunk as Python objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import numpy as np
import polars as pl

#: texts turned into Python strings at once when a whole column is iterated
ITER_CHUNK = 65_536


class TextColumn(Sequence[str]):
    """A read-only sequence of texts over a polars string column.

    Parameters
    ----------
    values : polars.Series or sequence of str
        The texts (a list is copied into one column once).
    """

    __slots__ = ("_s",)

    def __init__(self, values: pl.Series | Sequence[str]) -> None:
        if not isinstance(values, pl.Series):
            values = pl.Series(list(values), dtype=pl.String)
        elif values.dtype != pl.String:
            values = values.cast(pl.String)
        self._s = values.rename("text")

    @property
    def series(self) -> pl.Series:
        """The column itself."""
        return self._s

    def __len__(self) -> int:
        return self._s.len()

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step == 1:
                return self._s.slice(start, max(0, stop - start)).to_list()
            return self._s.gather(np.arange(start, stop, step)).to_list()
        n = len(self)
        if not -n <= i < n:
            raise IndexError(i)
        return self._s[int(i)]

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self), ITER_CHUNK):
            yield from self._s.slice(start, ITER_CHUNK).to_list()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TextColumn):
            return self._s.equals(other._s)
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == len(self) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TextColumn({len(self)} texts)"

    def __reduce__(self) -> tuple[Any, ...]:  # pickles as its column (Dask, processes)
        return (TextColumn, (self._s,))


def gather(texts: Sequence[str], rows: np.ndarray) -> list[str]:
    """``texts[rows]`` as a list: one gather on a :class:`TextColumn`, else item by item."""
    rows = np.asarray(rows, dtype=np.int64)
    if isinstance(texts, TextColumn):
        return texts.series.gather(rows).to_list()
    return [texts[i] for i in rows.tolist()]


def lengths(texts: Sequence[str], rows: np.ndarray) -> np.ndarray:
    """``(len(rows),)`` characters of ``texts[rows]``."""
    rows = np.asarray(rows, dtype=np.int64)
    if isinstance(texts, TextColumn):
        return texts.series.gather(rows).str.len_chars().to_numpy().astype(np.int64)
    return np.fromiter((len(texts[i]) for i in rows.tolist()), dtype=np.int64, count=len(rows))


__all__ = ["TextColumn", "gather", "lengths"]
