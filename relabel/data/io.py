"""Reading datasets: CSV, TSV, JSON Lines, JSON, Parquet and Hugging Face ``datasets``
directories (``save_to_disk``), all as polars frames, with one-line errors that name the file,
line and column of a bad record. Input files are only ever opened for reading; writing them
back is :mod:`relabel.data.write`.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import polars as pl

from relabel.data.compressed import compression_of, decompressed_copy, inner_name, open_binary
from relabel.data.encoding import decoded_chunks, is_utf8, temporary_copy, utf8_copy
from relabel.data.fasttext import FASTTEXT, read_fasttext
from relabel.data.label_studio import LABEL_STUDIO_JSON, is_label_studio_export, read_export
from relabel.errors import RelabelInputError, option

#: file extension -> format name
EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": FASTTEXT,
}
#: a ``.csv`` file separated by semicolons, as spreadsheet programs save CSV where the decimal
#: separator is a comma (most of Europe): read so, and written back so by ``export``
SEMICOLON_CSV = "csv-semicolon"
#: the field separator of each delimited format
DELIMITERS = {"csv": ",", SEMICOLON_CSV: ";", "tsv": "\t"}
#: format used for a directory (a Hugging Face dataset saved with ``save_to_disk``)
HF_FORMAT = "hf"
#: a directory of Parquet files holding one table (Spark, Dask, pyarrow datasets write these:
#: ``part-00000.parquet``, ...), read as their rows in file-name order
PARQUET_DIR = "parquet-dir"
#: formats that are directories
DIR_FORMATS = (HF_FORMAT, PARQUET_DIR)
_TEXT_FORMATS = {"csv", "tsv", "jsonl", "json", FASTTEXT}


#: suffixes of compressed files, named as such in the error
COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip", ".7z")


def detect_format(path: str | Path, *, for_writing: bool = False) -> str:
    """Return the format name of ``path`` from its extension, or ``"hf"`` for a dataset directory.

    Raises
    ------
    RelabelInputError
        The file does not exist (when reading) or its extension is not supported.
    """
    path = Path(path)
    if not for_writing and not path.exists():
        raise RelabelInputError("no such file or directory", path=path)
    if path.is_dir() and not for_writing and parquet_parts(path):
        return PARQUET_DIR
    if path.is_dir() or (for_writing and path.suffix == ""):
        return HF_FORMAT
    if compression_of(path):  # data.csv.gz: the format of the file it holds
        inner = inner_name(path)
        fmt = EXTENSIONS.get(inner.suffix.lower())
        if fmt is None or fmt == "parquet":
            known = ", ".join(s for s, f in sorted(EXTENSIONS.items()) if f != "parquet")
            raise RelabelInputError(f"a compressed file ('{path.suffix}') of unknown format "
                                    f"'{inner.suffix}': name it after the file it holds, as in "
                                    f"data.csv{path.suffix} (one of {known}; Parquet compresses "
                                    "itself)", path=path)
        return fmt
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None and path.suffix.lower() in COMPRESSED and not for_writing:
        raise RelabelInputError(f"a compressed file ('{path.suffix}'): decompress it first "
                                f"(e.g. unzip), then give the {path.stem} it holds", path=path)
    if fmt is None:
        known = ", ".join(sorted(EXTENSIONS)) + " or a Hugging Face dataset directory"
        spreadsheet = path.suffix.lower() in (".xlsx", ".xls", ".xlsm", ".ods", ".numbers")
        hint = ("; from a spreadsheet program, save the sheet as CSV UTF-8 (File > Save As) "
                "and give that file" if spreadsheet else
                _delimited_hint(path) if not for_writing and path.is_file() else "")
        raise RelabelInputError(f"unknown file extension '{path.suffix}' (expected {known})"
                                + hint, path=path)
    return fmt


def parquet_parts(path: Path) -> list[Path]:
    """The Parquet files of a directory that is not a saved Hugging Face dataset, in name order
    (what :data:`PARQUET_DIR` reads); empty for any other directory."""
    if any((path / name).exists() for name in ("state.json", "dataset_dict.json", "run.json")):
        return []  # a saved Hugging Face dataset, or a relabel run directory
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".parquet"
                  and not p.name.startswith((".", "_")))


def file_layout(path: str | Path) -> str | None:
    """The format :func:`read_table` reads ``path`` as (``KEYED_JSON``, ``SEMICOLON_CSV`` and
    ``PARQUET_DIR`` included), None for any other directory; without reading it whole."""
    path = Path(path)
    if path.is_dir() and parquet_parts(path):
        return PARQUET_DIR
    if not path.is_file():
        return None
    if compression_of(path):
        with decompressed_copy(path) as copy:
            return file_layout(copy)
    fmt = detect_format(path)
    if fmt == "json" and is_keyed_json(path):
        return KEYED_JSON
    return _delimited_format(path) if fmt == "csv" else fmt


def _delimited_hint(path: Path) -> str:
    """For a text file of another extension (``.txt``, ``.dat``): what its first line looks
    like, so the user knows which extension to give it, else nothing."""
    with open(path, "rb") as fh:
        first = fh.readline(1 << 16)
    name = path.stem
    if b"\t" in first:
        return f"; its first line is tab-separated: name it {name}.tsv"
    if b"," in first or b";" in first:
        return f"; its first line looks comma-separated: name it {name}.csv"
    return ""


def _legacy_hint(chunk: bytes, path: str | Path, encoding_option: bool = True) -> str:
    """How to convert ``path`` when its bytes look UTF-16 (NUL bytes between the characters,
    as "Unicode text" exports write) or read as Windows-1252 (a superset of Latin-1 for text,
    what spreadsheet programs on Windows save CSV files in), else nothing. ``encoding_option``:
    whether ``--encoding`` applies to this file (not to a reviews file, say)."""
    name = Path(path).name
    if chunk[:2] in (b"\xff\xfe", b"\xfe\xff") or chunk[:200].count(b"\x00") > 10:
        source = "utf-16"
        said = "it looks UTF-16 encoded"
    else:
        try:
            chunk.decode("cp1252")
        except UnicodeDecodeError:
            return ""
        source = "cp1252"
        said = "it reads as Windows-1252 / Latin-1, as spreadsheet programs save CSV"
    advice = f"pass {option('--encoding', source)}, or " if encoding_option else ""
    return f"; {said}: {advice}convert it with iconv -f {source} -t utf-8 {name} > utf8-{name}"


def check_utf8(path: str | Path, *, chunk_size: int = 1 << 24,
               encoding_option: bool = True) -> None:
    """Raise a one-line error naming the line of the first byte sequence that is not UTF-8.

    Streams the file in chunks, so memory stays flat for large inputs. ``encoding_option``:
    whether the message may offer ``--encoding`` (the file is the command's data).
    """
    for _ in decoded_chunks(
            path, "utf-8", lambda line, at, chunk: f"line {line}: undecodable bytes at byte "
            f"offset {at} (the file must be UTF-8 encoded"
            f"{_legacy_hint(chunk, path, encoding_option)})",
            chunk_size=chunk_size):
        pass


def read_table(path: str | Path, *, encoding: str | None = None,
               encoding_option: bool = True) -> tuple[pl.DataFrame, str]:
    """Read a dataset file into a polars frame.

    CSV and TSV columns are read as strings (no type guessing), so values pass through unchanged.

    Parameters
    ----------
    path : str or Path
        The dataset: ``.csv``, ``.tsv``, ``.jsonl``/``.ndjson``, ``.json`` (an array of records,
        or a Label Studio export: :mod:`relabel.data.label_studio`), ``.parquet``, fastText
        ``.txt`` (:mod:`relabel.data.fasttext`), any of the text files compressed
        (``data.csv.gz``: :mod:`relabel.data.compressed`), a directory of Parquet files
        (:data:`PARQUET_DIR`) or a directory saved with ``datasets.Dataset.save_to_disk``.
    encoding : str, optional
        The text encoding of a CSV, TSV or JSON file (default UTF-8;
        :mod:`relabel.data.encoding`).
    encoding_option : bool
        Whether ``--encoding`` applies to this file, so that a file that is not UTF-8 gets the
        hint to pass it (False for a side file such as ``--reviews``: convert it instead).

    Returns
    -------
    table : pl.DataFrame
        One row per example, all columns of the input.
    fmt : str
        The format name, for writing the cleaned data back the same way.
    """
    path = Path(path)
    fmt = detect_format(path)
    if compression_of(path) and path.is_file():
        with decompressed_copy(path) as copy:
            return _read_copy(copy, path, encoding=encoding, encoding_option=encoding_option)
    if fmt in _TEXT_FORMATS and path.is_file() and not is_utf8(encoding):
        assert encoding is not None
        with utf8_copy(path, encoding) as copy:
            return _read_copy(copy, path)
    if fmt in _TEXT_FORMATS:
        if path.is_dir():
            raise RelabelInputError("expected a file, found a directory", path=path)
        check_utf8(path, encoding_option=encoding_option)
    if fmt == "csv":
        fmt = _delimited_format(path)
    if fmt in DELIMITERS and _cr_line_ends(path):
        with _lf_copy(path) as copy:
            return _read_copy(copy, path)
    if fmt in _TEXT_FORMATS or fmt == SEMICOLON_CSV:
        check_unique_columns(path, fmt)
    try:
        if fmt == "json" and is_label_studio_export(path):
            table, fmt = read_export(path), LABEL_STUDIO_JSON
        else:
            table = _read(path, fmt)
        if fmt == "json" and KEYED_ID in table.columns and _is_keyed_json(path):
            fmt = KEYED_JSON
    except RelabelInputError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # every parser error becomes one line naming the file (also
        # a Rust panic of a parser, which Python sees as a BaseException)
        where = (_ragged_record(path, fmt) if fmt in DELIMITERS
                 else _bad_json_line(path) if fmt == "jsonl"
                 else _bad_json_record(path) if fmt == "json" else None)
        if where is not None:
            raise RelabelInputError(where, path=path) from None
        raise RelabelInputError(f"cannot read {fmt} data: {_first_line(exc)}", path=path) from None
    if table.columns and table.columns[0].startswith("\ufeff"):
        table = table.rename({table.columns[0]: table.columns[0].lstrip("\ufeff")})
    return table, fmt


def _read_copy(copy: Path, path: Path, **options: Any) -> tuple[pl.DataFrame, str]:
    """:func:`read_table` (with ``options``) of a temporary copy of ``path`` (decompressed,
    transcoded, or with other line ends), its errors named by the user's file instead of the
    copy."""
    try:
        return read_table(copy, **options)
    except RelabelInputError as err:
        inner = inner_name(path)  # the copy's name in a hint is the user's file's
        message = err.message.replace(copy.name, inner.name).replace(copy.stem, inner.stem)
        raise RelabelInputError(message, path=path, rows=err.rows, column=err.column) from None


def first_line_end(path: str | Path, encoding: str | None = None,
                   probe: int = 1 << 16) -> str | None:
    """How a text file's first line ends: ``"\r\n"``, ``"\n"`` or a bare ``"\r"`` (classic
    Mac OS; Excel for Mac's "CSV (Macintosh)"), read in its ``encoding`` (default UTF-8), through
    its compression if it has one; None when the first ``probe`` bytes hold no line end."""
    with open_binary(path) as fh:
        head = fh.read(probe).decode(encoding or "utf-8", errors="replace")
    cr, lf = head.find("\r"), head.find("\n")
    if cr >= 0 and (lf < 0 or cr < lf):
        return "\r\n" if head[cr + 1 : cr + 2] == "\n" else "\r"
    return "\n" if lf >= 0 else None


def _cr_line_ends(path: Path) -> bool:
    """True when a text file's lines end in a bare carriage return: the readers then see one
    long header and no rows."""
    return first_line_end(path) == "\r"


@contextlib.contextmanager
def _lf_copy(path: Path, chunk_size: int = 1 << 20) -> Iterator[Path]:
    """A copy of ``path`` whose line ends are ``\\n`` (from ``\\r`` or ``\\r\\n``), with the same
    extension, in the system's temporary directory, removed on exit; the same lines, so line
    numbers in messages stay right."""
    with temporary_copy(path, "relabel-lf-") as copy:
        with open(path, "rb") as src, open(copy, "wb") as out:
            carry = b""
            for chunk in iter(lambda: src.read(chunk_size), b""):
                chunk = carry + chunk
                # a \r at the end may be the first half of \r\n: decide with the next chunk
                carry = b"\r" if chunk.endswith(b"\r") else b""
                if carry:
                    chunk = chunk[:-1]
                out.write(chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
            out.write(carry.replace(b"\r", b"\n"))
        yield copy


#: JSON Lines records checked for a repeated key (the file is not parsed twice in full)
JSONL_KEY_CHECK_LINES = 10_000


def _duplicate(names: list[str]) -> str | None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    key = _duplicate([k for k, _ in pairs])
    if key is not None:
        raise _RepeatedKey(key)
    return dict(pairs)


def _csv_header(path: Path, fmt: str) -> list[str]:
    """The names of a CSV or TSV file's header row, as written."""
    import csv

    # undecodable bytes are replaced: the encoding is checked (or converted) on its own
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=DELIMITERS[fmt],
                            quoting=csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL)
        return next(reader, [])


def _delimited_format(path: Path) -> str:
    """``csv``, or ``SEMICOLON_CSV`` when the header read with commas is one name holding
    semicolons (``text;label``): the file is separated by semicolons."""
    header = _csv_header(path, "csv")
    return SEMICOLON_CSV if len(header) == 1 and ";" in header[0] else "csv"


def check_unique_columns(path: str | Path, fmt: str) -> None:
    """Raise one line when a column name appears twice: in a CSV or TSV header, or as a key of
    a JSON record (the first ``JSONL_KEY_CHECK_LINES`` records of a JSON Lines file). Readers
    would otherwise keep one of the two silently, or rename one, and the label could come from
    either. Columns without a name in a CSV or TSV header are left to
    :func:`_drop_spreadsheet_padding`."""
    path = Path(path)
    if fmt in DELIMITERS:
        header = _csv_header(path, fmt)
        name = _duplicate([h.strip() for h in header if h.strip()])
        if name is not None:
            cols = [i + 1 for i, h in enumerate(header) if h.strip() == name]
            raise RelabelInputError(
                f"the header names column '{name}' more than once (columns "
                f"{', '.join(map(str, cols))}); rename them so that each name is unique",
                path=path, column=name)
    elif fmt == "jsonl":
        with open(path, encoding="utf-8-sig") as fh:
            for line_no, line in enumerate(fh, start=1):
                if line_no > JSONL_KEY_CHECK_LINES:
                    break
                if not line.strip():
                    continue
                try:
                    json.loads(line, object_pairs_hook=_no_repeats)
                except _RepeatedKey as rep:
                    raise RelabelInputError(
                        f"the record names key '{rep.key}' more than once; which one is "
                        "meant?", path=path, rows=[line_no], column=rep.key) from None
                except ValueError:
                    return  # a parse error: the reader reports it with its own message
    elif fmt == "json":
        try:
            with open(path, encoding="utf-8-sig") as fh:
                json.load(fh, object_pairs_hook=_no_repeats)
        except _RepeatedKey as rep:
            raise RelabelInputError(f"a record names key '{rep.key}' more than once; which "
                                    "one is meant?", path=path, column=rep.key) from None
        except ValueError:
            return


def blank_cell(name: str, dtype: Any = pl.String) -> pl.Expr:
    """A cell with nothing in it: null, or for text only whitespace (found without a stripped
    copy of every value)."""
    if dtype != pl.String:
        return pl.col(name).is_null()
    return pl.col(name).is_null() | pl.col(name).str.contains(r"^\s*$").fill_null(True)


def blank_rows(table: pl.DataFrame) -> pl.Series:
    """``(N,)`` bool: the rows of ``table`` with nothing in any column."""
    if not table.width:
        return pl.repeat(False, table.height, eager=True)
    return table.select(pl.all_horizontal(
        blank_cell(c, dtype) for c, dtype in table.schema.items())).to_series()


def _drop_spreadsheet_padding(table: pl.DataFrame, header: list[str], path: Path
                              ) -> pl.DataFrame:
    """A CSV or TSV table without what spreadsheet programs pad a sheet with: columns with no
    name and no value (``id,text,label,,`` with every row ending in ``,,``), and empty rows at
    the end (``,,,``). They carry nothing; read as they were, they failed as a column named ''
    twice, or as rows with an empty label. A column without a name that holds values is kept
    (pandas' ``to_csv`` writes its index so); two of them are an error, as two columns of one
    name are. Empty rows between data rows are kept: they are reported by their line."""
    # the header's unnamed columns, by name in the table (the reader renames repeats) -> the
    # 1-based position in the header
    unnamed = {table.columns[i]: i + 1 for i, h in enumerate(header[: table.width])
               if not h.strip()}
    if unnamed and table.height:
        blank = table.select(blank_cell(c).all() for c in unnamed).row(0)
        holding = [c for c, b in zip(unnamed, blank, strict=True) if not b]
        if len(holding) > 1:
            raise RelabelInputError(
                f"{len(holding)} columns without a name hold values (columns "
                f"{', '.join(str(unnamed[c]) for c in holding)}); name them in the header",
                path=path)
        table = table.drop([c for c in unnamed if c not in holding])
    elif unnamed:
        table = table.drop(list(unnamed))
    # the last row first: most files have no padding, and need no pass over every row
    if table.height and blank_rows(table.tail(1))[0]:
        filled = (~blank_rows(table)).arg_true()
        table = table.head(int(cast(int, filled.max())) + 1 if filled.len() else 0)
    return table


def _read(path: Path, fmt: str) -> pl.DataFrame:
    if fmt in DELIMITERS:
        if path.stat().st_size == 0:
            return pl.DataFrame()
        quote = None if fmt == "tsv" else '"'
        table = pl.read_csv(path, separator=DELIMITERS[fmt], quote_char=quote,
                            infer_schema=False)
        return _drop_spreadsheet_padding(table, _csv_header(path, fmt), path)
    if fmt == "jsonl":
        if path.stat().st_size == 0:
            return pl.DataFrame()
        with open(path, "rb") as fh:
            if fh.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8:  # Windows tools write one
                return pl.read_ndjson(fh, infer_schema_length=None)
        return pl.read_ndjson(path, infer_schema_length=None)
    if fmt == "json":
        if _is_keyed_json(path):
            return _read_keyed_json(path)
        return pl.read_json(path, infer_schema_length=None)
    if fmt == PARQUET_DIR:
        return _read_parquet_parts(path)
    if fmt == FASTTEXT:
        return read_fasttext(path, lambda: _delimited_hint(path))
    if fmt == "parquet":
        # pyarrow's reader raises on a corrupt file where polars' own can panic (a Rust panic
        # prints to stderr before Python sees it; found by tests/test_fuzz_readers.py)
        import pyarrow.parquet as pq

        name = _duplicate(list(pq.read_schema(path).names))
        if name is not None:
            raise RelabelInputError(f"the file has two columns named '{name}'; rename one",
                                    path=path, column=name)
        arrow = pq.read_table(path)
        # nor does it check that strings are UTF-8 (polars then panics on first use): a full
        # validation does (a corrupt byte in a string page, tests/test_fuzz_readers.py)
        arrow.validate(full=True)
        return pl.from_arrow(arrow)  # type: ignore[return-value]
    return _read_hf(path)


def _read_parquet_parts(path: Path) -> pl.DataFrame:
    """The rows of every Parquet file of the directory ``path``, in file-name order; a file
    with other columns than the first is one error naming it."""
    tables, first = [], None
    for part in parquet_parts(path):
        try:
            table = _read(part, "parquet")
        except (RelabelInputError, KeyboardInterrupt, SystemExit):  # (named by the part)
            raise
        except BaseException as exc:
            raise RelabelInputError(f"cannot read parquet data: {_first_line(exc)}",
                                    path=part) from None
        if first is None:
            first = (part, table.schema)
        elif sorted(table.columns) == sorted(first[1]):
            table = table.select(list(first[1]))  # the same columns in another order
        else:
            raise RelabelInputError(f"its columns ({', '.join(table.columns)}) are not those of "
                                    f"{first[0].name} ({', '.join(first[1])}): the files of a "
                                    "directory must hold one table", path=part)
        tables.append(table)
    try:
        return pl.concat(tables, how="vertical_relaxed")
    except Exception as exc:  # the same columns in types that do not combine
        raise RelabelInputError(f"its Parquet files hold the same columns in types that do not "
                                f"combine ({_first_line(exc)})", path=path) from None


#: a JSON object of records keyed by id (the WRENCH layout): ``{"<id>": {"label": ..,
#: "data": {"text": .., ..}}, ..}``; read with the key as column ``id`` and one level of nested
#: objects flattened to ``<field>.<sub>`` columns, and written back the same way
KEYED_JSON = "json-keyed"
KEYED_ID = "id"


def is_keyed_json(path: Path) -> bool:
    """True when ``path`` is a ``.json`` file holding an object of records keyed by id
    (``KEYED_JSON``), not an array."""
    if not path.is_file() or path.suffix.lower() != ".json":
        return False
    return _is_keyed_json(path)


def _is_keyed_json(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4096).removeprefix(codecs.BOM_UTF8).lstrip()
    return head.startswith(b"{")


def _read_keyed_json(path: Path) -> pl.DataFrame:
    with open(path, encoding="utf-8-sig") as fh:
        obj = json.load(fh)
    if not isinstance(obj, dict) or not all(isinstance(v, dict) for v in obj.values()):
        raise RelabelInputError("a .json file must hold an array of records or an object of "
                                "records keyed by id", path=path)
    rows = []
    for key, rec in obj.items():
        row: dict[str, Any] = {KEYED_ID: str(key)}
        for field, value in rec.items():
            if isinstance(value, dict):
                row.update({f"{field}.{k}": v for k, v in value.items()})
            else:
                row[field] = value
        rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None)


def _keyed_json_text(table: pl.DataFrame) -> str:
    out: dict[str, Any] = {}
    for row in table.iter_rows(named=True):
        rec: dict[str, Any] = {}
        for col, value in row.items():
            if col == KEYED_ID:
                continue
            if "." in col:
                field, sub = col.split(".", 1)
                rec.setdefault(field, {})[sub] = value
            else:
                rec[col] = value
        out[str(row[KEYED_ID])] = rec
    return json.dumps(out, ensure_ascii=False)


def _read_hf(path: Path) -> pl.DataFrame:
    if (path / "dataset_dict.json").exists():
        splits = sorted(p.name for p in path.iterdir() if p.is_dir())
        raise RelabelInputError(
            "this is a DatasetDict; point to one split folder instead "
            f"(one of: {', '.join(splits)})",
            path=path,
        )
    if not (path / "state.json").exists():
        if (path / "run.json").is_file() and (path / "scores.parquet").is_file():
            raise RelabelInputError(
                "this is a relabel run directory, not a dataset: `relabel export` writes its "
                "cleaned dataset, `relabel report` its report", path=path)
        held = sorted(p.name for p in path.iterdir()  # (a .txt there is likely notes)
                      if p.is_file() and EXTENSIONS.get(p.suffix.lower(), FASTTEXT) != FASTTEXT)
        raise RelabelInputError(
            "directory is not a Hugging Face dataset saved with save_to_disk (no state.json)"
            + (f"; it holds {', '.join(held[:3])}{' and more' if len(held) > 3 else ''}: give "
               "one of those files" if held else ""),
            path=path,
        )
    import datasets

    from relabel.data.frames import hf_frame

    return hf_frame(datasets.load_from_disk(str(path)))


def hf_features_of(path: str | Path) -> Any:
    """The column types (``datasets.Features``) of a dataset directory saved with
    ``save_to_disk``, for writing a cleaned copy in kind; None for any other input."""
    path = Path(path)
    if not (path.is_dir() and (path / "state.json").exists()):
        return None
    import datasets

    return datasets.load_from_disk(str(path)).features


def _bad_json_line(path: Path) -> str | None:
    """Where a JSON Lines file that polars could not parse first has a line that is not one
    JSON object (``line L: ...``), or None. Streams the file with the standard ``json`` module;
    only called after a parse error. Also a field that holds a list or an object on one line
    and a plain value (or the other) on another, which no column type can hold."""
    seen: dict[str, tuple[str, int]] = {}  # key -> (kind of its first non-null value, line)
    with open(path, encoding="utf-8-sig") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                col = getattr(exc, "colno", None)
                msg = getattr(exc, "msg", str(exc))
                return (f"line {line_no}: not valid JSON ({msg}"
                        + (f" at character {col}" if col else "") + ")")
            if not isinstance(record, dict):
                return f"line {line_no}: not a JSON object (each line must be one record)"
            mixed = _mixed_kinds(record, line_no, seen, "line")
            if mixed:
                return mixed
    return None


def _mixed_kinds(record: dict[str, Any], number: int, seen: dict[str, tuple[str, int]],
                 unit: str) -> str | None:
    """``unit number, key 'k': a list where unit m has a single value; ...`` for the first
    field of ``record`` whose kind of value (a list, an object, a single value) differs from
    the kind ``seen`` first (updated), else None."""
    for key, value in record.items():
        if value is None:
            continue
        kind = ("a list" if isinstance(value, list) else
                "an object" if isinstance(value, dict) else "a single value")
        first = seen.setdefault(key, (kind, number))
        if first[0] != kind:
            return (f"{unit} {number}, key '{key}': {kind} where {unit} {first[1]} has "
                    f"{first[0]}; a field must hold one kind of value in every {unit}"
                    + (" (one label per example: multi-label data is not supported)"
                       if "label" in key.lower() and "a list" in (kind, first[0]) else ""))
    return None


def _bad_json_record(path: Path) -> str | None:
    """Where a JSON file (an array of records, or an object keyed by id) that polars could not
    parse first has a record whose field holds another kind of value than in an earlier one
    (``record N, key 'k': ...``, N counted from 1), or None; only called after a parse
    error."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            data = json.load(fh)
    except ValueError:
        return None
    records = data if isinstance(data, list) else (
        list(data.values()) if isinstance(data, dict) else [])
    seen: dict[str, tuple[str, int]] = {}
    for number, record in enumerate(records, start=1):
        if isinstance(record, dict):
            mixed = _mixed_kinds(record, number, seen, "record")
            if mixed:
                return mixed
    return None


def _ragged_record(path: Path, fmt: str) -> str | None:
    """Where a CSV/TSV file that polars could not parse first has a record with another number
    of fields than its header (``line L: F fields, the header has H``), or None. Streams the file
    with the standard ``csv`` module; only called after a parse error."""
    import csv

    with open(path, encoding="utf-8-sig", newline="") as fh:
        if fmt == "tsv":
            reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        else:
            reader = csv.reader(fh, delimiter=DELIMITERS[fmt], quotechar='"')
        try:
            header = next(reader, None)
            if header is None:
                return None
            start = reader.line_num
            for record in reader:
                if record and len(record) != len(header):
                    return (f"line {start + 1}: {len(record)} fields where the header has "
                            f"{len(header)} (a separator or a quote out of place?)")
                start = reader.line_num
        except csv.Error as exc:
            return f"line {reader.line_num}: {exc}"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


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
