"""Writing datasets and run files, atomically: every write goes to a temporary name beside the
target and is renamed into place, so a crash never leaves a half-written output.

The formats are those :mod:`relabel.data.io` reads (CSV, TSV, JSON Lines, JSON, Parquet,
Hugging Face ``datasets`` directories). A dataset written back keeps the input's layout and
line ends (:func:`output_format`, :func:`newline_of`); a CSV written for people to open has its
spreadsheet formulas neutralised (:func:`write_report_csv`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from relabel.data.compressed import compress_file, compression_of, inner_name, open_binary
from relabel.data.encoding import encode_file, is_utf8
from relabel.data.fasttext import FASTTEXT, write_fasttext
from relabel.data.fasttext import check_columns as check_fasttext_columns
from relabel.data.io import (
    _TEXT_FORMATS,
    DELIMITERS,
    EXTENSIONS,
    HF_FORMAT,
    KEYED_JSON,
    PARQUET_DIR,
    SEMICOLON_CSV,
    _keyed_json_text,
    detect_format,
    first_line_end,
)
from relabel.errors import RelabelInputError

#: rows per file of a directory of Parquet files (:data:`relabel.data.io.PARQUET_DIR`)
PART_ROWS = 1_000_000


def output_format(to: str | Path, input_format: str | None) -> str:
    """The format to write ``to`` in: from its extension, but in the input's own layout when
    the extension is the input's (a keyed JSON object as a keyed JSON object, a semicolon CSV
    with semicolons, a directory of Parquet files as one), as ``export``, ``consensus --to`` and
    ``noise --to`` write back."""
    fmt = detect_format(to, for_writing=True)
    if (fmt, input_format) in (("json", KEYED_JSON), ("csv", SEMICOLON_CSV),
                               (HF_FORMAT, PARQUET_DIR)):
        return str(input_format)
    return fmt


def newline_of(path: str | Path | None, encoding: str | None = None,
               probe: int = 1 << 16) -> str:
    """The line end of a text file's first line (``\\r\\n``, a bare ``\\r``, else ``\\n``),
    read in its ``encoding`` (default UTF-8), to write an output of it the same way; ``\\n``
    for what is not a CSV, TSV or fastText file (a Parquet file's bytes hold any)."""
    if path is None or not Path(path).is_file() or \
            EXTENSIONS.get(inner_name(path).suffix.lower()) not in (*DELIMITERS, FASTTEXT):
        return "\n"
    return first_line_end(path, encoding, probe) or "\n"


def utf8_bom(path: str | Path | None, encoding: str | None = None) -> bool:
    """Whether a UTF-8 text file starts with a byte-order mark (read through its compression);
    False for any other file or encoding."""
    import codecs

    if path is None or not Path(path).is_file() or not is_utf8(encoding):
        return False
    with open_binary(path) as fh:
        return fh.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8


def write_like(table: pl.DataFrame, to: str | Path, fmt: str, source: str | Path | None,
               encoding: str | None = None, features: Any = None) -> Path:
    """:func:`write_table` in the conventions of the input ``source`` it came from (None: an
    in-memory input): its text ``encoding``, line ends and UTF-8 byte-order mark, so that a
    written-back dataset differs from its input only where a label changed (``export``,
    ``noise --to``, ``consensus --to``); ``features`` as :func:`write_table` takes them."""
    return write_table(table, to, fmt, features=features, encoding=encoding,
                       newline=newline_of(source, encoding), bom=utf8_bom(source, encoding))


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    Works for files and directories. On failure the temporary path is removed and ``target`` is
    left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        yield tmp
        if tmp.is_dir() and target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            _remove(old)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_leftovers(root: Path, pids: list[int]) -> None:
    """Remove what :func:`atomic_path` left under ``root`` in processes ``pids`` that died
    mid-write: its ``.NAME.*.tmp`` files or directories, and the ``.NAME.old-PID`` of a
    directory being replaced. Only for a tree no live process writes in (the run directory's
    lock, :mod:`relabel.lock`)."""
    old = tuple(f".old-{p}" for p in pids)
    for path in list(root.rglob(".*")):
        if path.name.endswith(".tmp") or path.name.endswith(old):
            with contextlib.suppress(OSError):
                _remove(path)


def write_table(table: pl.DataFrame, path: str | Path, fmt: str | None = None, *,
                features: Any = None,
                encoding: str | None = None, newline: str = "\n", bom: bool = False) -> Path:
    """Write ``table`` to ``path`` atomically, in ``fmt`` (default: from the extension).

    ``features`` (the input's ``datasets.Features``, :func:`relabel.data.io.hf_features_of`)
    gives each column of a dataset directory its input type again where its values fit: a
    ``ClassLabel`` (a column holding a name outside its classes stays a column of names), a
    ``string`` where polars wrote a ``large_string``; a new column of text is a ``string``.
    ``encoding`` writes a CSV, TSV or JSON file in that text encoding instead of UTF-8 (the
    input's, for export), and ``newline`` ends a CSV's or TSV's lines (the input's,
    :func:`relabel.data.io.newline_of`, so a Windows file stays CRLF and a version-controlled
    dataset diffs only where a label changed); ``bom`` starts a UTF-8 CSV or TSV with a
    byte-order mark. :func:`write_like` takes the last three from the input."""
    path = Path(path)
    fmt = fmt or detect_format(path, for_writing=True)
    if fmt == FASTTEXT:
        check_fasttext_columns(table, path)  # named by the user's file, before any write
    compression = compression_of(path)
    if compression:  # cleaned.csv.gz: the file written as cleaned.csv would be, compressed
        with atomic_path(path) as tmp:
            plain = tmp.with_name(tmp.name + inner_name(path).suffix)
            try:
                write_table(table, plain, fmt, features=features, encoding=encoding,
                            newline=newline, bom=bom)
                compress_file(plain, tmp, compression)
            finally:
                plain.unlink(missing_ok=True)
        return path
    if fmt in _TEXT_FORMATS | {KEYED_JSON, SEMICOLON_CSV} and not is_utf8(encoding):
        assert encoding is not None
        with atomic_path(path) as tmp:
            utf8 = tmp.with_name(tmp.name + ".utf8")
            try:
                write_table(table, utf8, fmt, newline=newline)
                encode_file(utf8, tmp, encoding, name=path)
            finally:
                utf8.unlink(missing_ok=True)
        return path
    with atomic_path(path) as tmp:
        if fmt in DELIMITERS:
            _write_delimited(table, tmp, fmt, newline, bom)
        elif fmt == FASTTEXT:
            write_fasttext(table, tmp, newline)
        elif fmt == "jsonl":
            table.write_ndjson(tmp)
        elif fmt == "json":
            table.write_json(tmp)
        elif fmt == KEYED_JSON:
            tmp.write_text(_keyed_json_text(table), encoding="utf-8")
        elif fmt == "parquet":
            table.write_parquet(tmp)
        elif fmt == PARQUET_DIR:
            tmp.mkdir()
            n_parts = max(1, -(-table.height // PART_ROWS))
            for i in range(n_parts):
                table.slice(i * PART_ROWS, PART_ROWS).write_parquet(
                    tmp / f"part-{i:05d}.parquet")
        elif fmt == HF_FORMAT:
            import datasets
            import pyarrow as pa

            # datasets' own bars ("Casting the dataset", "Saving the dataset") would print
            # under relabel's summary; the user's setting is restored after
            quiet = datasets.are_progress_bars_disabled()
            datasets.disable_progress_bars()
            try:
                ds = datasets.Dataset(table.to_arrow())
                if features is not None:  # a new column's text as datasets types it itself
                    features = {col: datasets.Value("string") for col, f in ds.features.items()
                                if f == datasets.Value("large_string")} | dict(features)
                for col, feature in (features or {}).items():
                    if col in ds.column_names and ds.features[col] != feature:
                        try:
                            ds = ds.cast_column(col, feature)
                        except (TypeError, ValueError, pa.ArrowException):
                            pass  # values the input's type cannot hold (a new class): as they are
                ds.save_to_disk(str(tmp))
            finally:
                if not quiet:
                    datasets.enable_progress_bars()
        else:  # pragma: no cover - detect_format guards this
            raise RelabelInputError(f"cannot write format '{fmt}'", path=path)
    return path


def _write_delimited(table: pl.DataFrame, path: Path, fmt: str, newline: str,
                     bom: bool = False) -> None:
    """A CSV, semicolon CSV or TSV file, as the input it came from was written: its line ends,
    a UTF-8 byte-order mark when it had one (Excel's "CSV UTF-8" writes one, and reads a file
    without it as another encoding), and a header with an empty name (pandas' ``to_csv`` index
    column) as ``,text,label``, where polars alone would quote it (``"",text,label``)."""
    import codecs
    import csv
    import io

    table = nested_as_json(table)
    separator = DELIMITERS[fmt]
    options: dict[str, Any] = {"quote_style": "never"} if fmt == "tsv" else {}
    with open(path, "wb") as fh:
        if bom:
            fh.write(codecs.BOM_UTF8)
        own_header = "" in table.columns
        if own_header:
            header = io.StringIO()
            csv.writer(header, delimiter=separator, lineterminator=newline).writerow(
                table.columns)
            fh.write(header.getvalue().encode("utf-8"))
        table.write_csv(fh, separator=separator, line_terminator=newline,
                        include_header=not own_header, **options)


def nested_as_json(table: pl.DataFrame) -> pl.DataFrame:
    """``table`` with each nested column (records, lists) as JSON text, which a CSV cell can
    hold and polars cannot write otherwise: a JSON input's ``other_info: {"a": [1, 2]}`` in a
    ``consensus.csv`` or an export to ``.csv``. Nulls stay empty cells."""
    exprs = []
    for name, dtype in table.schema.items():
        if not dtype.is_nested():
            continue
        col = pl.col(name)
        # a list is encoded inside a one-field record, whose wrapper is then cut off
        text = (col.struct.json_encode() if isinstance(dtype, pl.Struct) else
                pl.struct(col.alias("v")).struct.json_encode()
                .str.strip_prefix('{"v":').str.strip_suffix("}"))
        exprs.append(pl.when(col.is_null()).then(pl.lit(None, dtype=pl.String))
                     .otherwise(text).alias(name))
    return table.with_columns(exprs) if exprs else table


#: a cell a spreadsheet would run as a formula starts with one of these (OWASP "CSV injection")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def neutralise_formulas(table: pl.DataFrame) -> pl.DataFrame:
    """``table`` with every text cell that a spreadsheet would run as a formula prefixed by an
    apostrophe (``'=1+1`` is shown as text by Excel, LibreOffice and Google Sheets). A plain
    number such as ``-1`` or ``+0.5`` is left as it is: a spreadsheet reads it as a number and
    runs nothing. Column names get the same treatment (a class's name heads a column of
    ``consensus_probabilities.csv``)."""
    exprs = []
    renames = {name: f"'{name}" for name in table.columns
               if name.startswith(FORMULA_PREFIXES) and not re.match(_PLAIN_NUMBER, name)}
    if renames and not set(renames.values()) & set(table.columns):
        table = table.rename(renames)
    for name, dtype in table.schema.items():
        if dtype != pl.String:
            continue
        col = pl.col(name)
        risky = col.str.starts_with(FORMULA_PREFIXES[0])
        for prefix in FORMULA_PREFIXES[1:]:
            risky = risky | col.str.starts_with(prefix)
        risky = risky & ~col.str.contains(_PLAIN_NUMBER)
        exprs.append(pl.when(risky).then(pl.lit("'") + col).otherwise(col).alias(name))
    return table.with_columns(exprs) if exprs else table


def write_report_csv(table: pl.DataFrame, path: str | Path) -> Path:
    """A CSV relabel writes for people to open (``scores.csv``, ``changes.csv``,
    ``consensus.csv``, ``annotators.csv``): atomically, with spreadsheet formulas neutralised
    (:func:`neutralise_formulas`). The Parquet twins, and the exported dataset itself, keep
    every value byte for byte."""
    return write_table(neutralise_formulas(table), path, "csv")


def write_text(text: str, path: str | Path) -> Path:
    """Write a text file atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_array(array: Any, path: str | Path) -> Path:
    """Write a numpy array to ``path`` as ``.npy``, atomically."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array)
    return Path(path)


def write_json(obj: Any, path: str | Path) -> Path:
    """Write JSON atomically (sorted keys, indented)."""
    return write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", path)


__all__ = ["FORMULA_PREFIXES", "PART_ROWS", "atomic_path", "neutralise_formulas", "newline_of",
           "output_format", "remove_leftovers", "utf8_bom", "write_array", "write_json",
           "write_like", "write_report_csv", "write_table", "write_text"]
