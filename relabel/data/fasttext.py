"""fastText's labelled text files (``.txt``): one example per line, ``__label__<class> <text>``.

fastText (``fasttext supervised``), and many dumps made for it (Amazon and Yelp reviews,
``train.ft.txt.bz2``), keep labelled text this way. A line is read as the columns ``label`` (the
class without its prefix) and ``text`` (the rest of the line after one space or tab), and written
back as ``__label__<label> <text>``, so an export differs only on the lines whose label changed.
A line with several labels is multi-label data, which relabel does not support; a line without
the prefix is an error naming it. A blank line between examples is a row with neither (the
validation reports it, and ``--drop-invalid`` skips it); blank lines at the end are left out, as
a spreadsheet's empty rows are.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from relabel.errors import RelabelInputError

#: fastText's default label prefix
LABEL_PREFIX = "__label__"
#: format name
FASTTEXT = "fasttext"


def read_fasttext(path: str | Path, hint: Callable[[], str] | None = None) -> pl.DataFrame:
    """``label, text`` of every line of a UTF-8 fastText file.

    Parameters
    ----------
    path : str or Path
        The file.
    hint : callable, optional
        Called only for the error for a first line without the prefix: what the file may be
        instead (e.g. tab-separated), appended to the message.

    Raises
    ------
    RelabelInputError
        A line without the label prefix, or with several labels, naming the line.
    """
    labels: list[str | None] = []
    texts: list[str | None] = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for line_no, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                labels.append(None)
                texts.append(None)
                continue
            if not line.startswith(LABEL_PREFIX):
                raise RelabelInputError(
                    f"line {line_no}: no '{LABEL_PREFIX}' at the start: a .txt file is read as "
                    f"fastText lines, {LABEL_PREFIX}<class> <text>"
                    + (hint() if hint is not None and line_no == 1 else ""), path=path)
            # the label ends at the first space or tab (fastText splits on either)
            cut = min((i for i in (line.find(" "), line.find("\t")) if i >= 0),
                      default=len(line))
            head, text = line[:cut], line[cut + 1:]
            if text.startswith(LABEL_PREFIX):
                raise RelabelInputError(
                    f"line {line_no}: several labels ({head}, {text.split()[0]}, ...): "
                    "multi-label data is not supported; give each example one label", path=path)
            labels.append(head[len(LABEL_PREFIX):])
            texts.append(text)
    while labels and labels[-1] is None and texts[-1] is None:  # blank lines at the end
        labels.pop()
        texts.pop()
    return pl.DataFrame({"label": labels, "text": texts}, schema={"label": pl.String,
                                                               "text": pl.String})


def check_columns(table: pl.DataFrame, path: str | Path) -> None:
    """Raise RelabelInputError (naming ``path``, the file to write) unless ``table``'s columns
    are ``label`` and ``text``: fastText lines cannot hold any other."""
    if sorted(table.columns) != ["label", "text"]:
        raise RelabelInputError(f"a .txt file is written as fastText lines, {LABEL_PREFIX}<class> "
                                "<text>, which hold the columns 'label' and 'text' only; this "
                                f"table has {', '.join(map(repr, table.columns))}: write a .csv, "
                                ".jsonl or .parquet file instead", path=path)
    spaced = table.get_column("label").cast(pl.String).str.contains(r"\s").fill_null(False)
    if spaced.any():  # (a class a reviewer added): the line would read back as another label
        first = table.get_column("label").filter(spaced)[0]
        raise RelabelInputError(f"a fastText label cannot hold a space or tab ({first!r}): "
                                "rename the class, or write a .csv, .jsonl or .parquet file",
                                path=path, rows=(spaced.arg_true() + 1).to_list(),
                                column="label")


def write_fasttext(table: pl.DataFrame, path: str | Path, newline: str = "\n") -> None:
    """Write ``table``'s ``label`` and ``text`` columns as fastText lines (a row with neither
    as a blank line). The caller checks them first (:func:`check_columns`, as
    :func:`relabel.data.write.write_table` does, naming the user's file)."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        for label, text in zip(table.get_column("label").cast(pl.String),
                               table.get_column("text").cast(pl.String), strict=True):
            if label is None and text is None:
                fh.write(newline)
            else:
                fh.write(f"{LABEL_PREFIX}{label or ''} {text or ''}{newline}")
