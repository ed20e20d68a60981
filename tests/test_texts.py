"""TextColumn: the encoder's inputs as one polars column, used as a sequence of str."""

from __future__ import annotations

import pickle

import numpy as np
import polars as pl
import pytest

from relabel.data.texts import ITER_CHUNK, TextColumn, gather, lengths
from relabel.detect.reasons import duplicate_groups
from relabel.embed.cache import text_hashes


def test_text_column_behaves_as_the_list_it_replaces():
    texts = [f"text {i}" for i in range(ITER_CHUNK + 10)]  # two chunks when iterated
    col = TextColumn(pl.Series("whatever", texts))
    assert len(col) == len(texts)
    assert col[0] == "text 0" and col[-1] == texts[-1]
    assert col[5:9] == texts[5:9] and col[::20000] == texts[::20000] and col[3:1] == []
    assert list(col) == texts
    assert col == texts and col == TextColumn(texts) and col != texts[:-1]
    with pytest.raises(IndexError):
        col[len(texts)]
    rows = np.array([7, 3, ITER_CHUNK + 2])
    assert gather(col, rows) == [texts[i] for i in rows] == gather(texts, rows)
    np.testing.assert_array_equal(lengths(col, rows), [len(texts[i]) for i in rows])
    np.testing.assert_array_equal(lengths(texts, rows), lengths(col, rows))
    assert pickle.loads(pickle.dumps(col)) == col  # a Dask task can carry it
    np.testing.assert_array_equal(text_hashes(col), text_hashes(texts))


def test_duplicate_groups_are_the_same_from_a_column_or_a_list():
    texts = ["Lost my card!", "lost my  card", "new card please", "Lost my card", "other"]
    n = len(texts)
    indices = np.array([[(i + 1) % n] for i in range(n)])
    sims = np.zeros((n, 1), dtype=np.float32)
    groups = duplicate_groups(TextColumn(texts), indices, sims)
    np.testing.assert_array_equal(groups, duplicate_groups(texts, indices, sims))
    assert groups[0] == groups[1] == groups[3] and len(set(groups.tolist())) == 3


def test_non_string_columns_are_read_as_text():
    col = TextColumn(pl.Series([1, 22, 333]))
    assert list(col) == ["1", "22", "333"]
