"""Compressed dataset files: ``data.csv.gz``, ``data.jsonl.bz2``, ``data.tsv.xz``, ``.zst``.

A dataset of millions of rows is often kept compressed. relabel reads such a file as the file it
holds (the format is the inner extension: ``data.csv.gz`` is a CSV) through a decompressed
temporary copy, so every check and message of that format applies and rows are numbered as in
the uncompressed file; an output named so (``export --to cleaned.csv.gz``) is written
compressed the same way. gzip, bzip2 and xz come with Python; Zstandard (``.zst``) needs the
``zstandard`` package. The input file itself is only read.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from relabel.data.encoding import temporary_copy
from relabel.errors import RelabelInputError

#: chunk size of the streaming copy
CHUNK = 1 << 20


def _zstd_open(path: str | Path, mode: str = "rb") -> IO[bytes]:
    try:
        import zstandard
    except ImportError:
        raise RelabelInputError("a Zstandard file ('.zst') needs the zstandard package "
                                "(pip install zstandard), or decompress it first (unzstd)",
                                path=path) from None
    return zstandard.open(path, mode)


#: the suffix of each compression this module reads and writes, and how to open it
OPENERS: dict[str, Callable[..., Any]] = {
    ".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open, ".zst": _zstd_open,
}


def compression_of(path: str | Path) -> str | None:
    """The compression suffix of ``path`` (``".gz"`` for ``data.csv.gz``), None for a plain
    file or a suffix this module does not handle."""
    suffix = Path(path).suffix.lower()
    return suffix if suffix in OPENERS else None


def inner_name(path: str | Path) -> Path:
    """``path`` without its compression suffix: ``data.csv.gz`` -> ``data.csv``."""
    path = Path(path)
    return path.with_name(path.stem) if compression_of(path) else path


def open_binary(path: str | Path) -> IO[bytes]:
    """``path`` opened for reading its (decompressed) bytes."""
    comp = compression_of(path)
    return OPENERS[comp](path, "rb") if comp else open(path, "rb")


@contextlib.contextmanager
def decompressed_copy(path: str | Path) -> Iterator[Path]:
    """A decompressed temporary copy of ``path``, named with its inner extension (so it reads
    as that format), removed on exit.

    Raises
    ------
    RelabelInputError
        Bytes that are not of the compression the suffix names (a corrupt or misnamed file).
    """
    with temporary_copy(inner_name(path), "relabel-unpacked-") as copy:
        try:
            with open_binary(path) as src, open(copy, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
        except RelabelInputError:
            raise
        except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
            raise RelabelInputError(f"cannot decompress it as '{compression_of(path)}' ({exc}): "
                                    "is the file complete, and is its suffix right?",
                                    path=path) from None
        yield copy


def compress_file(src: str | Path, dst: str | Path, compression: str) -> None:
    """Write ``src``'s bytes to ``dst`` compressed with ``compression`` (a suffix of
    :data:`OPENERS`)."""
    with open(src, "rb") as fh, OPENERS[compression](dst, "wb") as out:
        shutil.copyfileobj(fh, out, CHUNK)
