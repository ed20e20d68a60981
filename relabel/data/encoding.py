"""Text files in another encoding than UTF-8 (``--encoding``): Windows-1252 / Latin-1 CSV saved
by spreadsheet programs, UTF-16 "Unicode text" exports, Shift JIS, GB 18030, ...

The readers (:mod:`relabel.data.io`) and writers (:mod:`relabel.data.write`) work on UTF-8. A
file in another encoding is streamed, in chunks, into a UTF-8 copy in the system's temporary
directory, read from there and the copy removed; the input itself is never touched, and its
fingerprint (``run.json``) is of its own bytes. ``export`` writes the cleaned file back in the
input's encoding the same way: UTF-8 first, then encoded chunk by chunk into the output's
temporary name, which is renamed into place. Memory stays flat whatever the file's size; the
disk holds one extra copy meanwhile.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from relabel.errors import RelabelInputError, option

#: bytes per chunk when transcoding
CHUNK_BYTES = 1 << 24


def check_encoding(name: str) -> str:
    """The codec's canonical name (``latin-1`` -> ``iso8859-1``).

    Raises
    ------
    RelabelInputError
        An encoding Python does not know, or one that is not a text encoding.
    """
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise RelabelInputError(f"unknown {option('--encoding')} {name!r} (e.g. cp1252, "
                                "latin-1, utf-16, shift_jis, gb18030)") from None
    if not getattr(info, "_is_text_encoding", True):
        raise RelabelInputError(f"{option('--encoding')} {name!r} is not a text encoding")
    return info.name


def is_utf8(name: str | None) -> bool:
    """True for no encoding (the default) and for UTF-8, with or without a byte-order mark
    (the readers drop one)."""
    return name is None or check_encoding(name) in ("utf-8", "utf-8-sig")


def decoded_chunks(path: str | Path, encoding: str, describe: Callable[[int, int, bytes], str],
                   *, chunk_size: int = CHUNK_BYTES) -> Iterator[str]:
    """The text of ``path`` decoded from ``encoding``, chunk by chunk (memory stays flat).

    Raises
    ------
    RelabelInputError
        At the first byte sequence that is not valid in ``encoding``, with the message
        ``describe(line, byte_offset, chunk)`` (``line`` 1-based, ``chunk`` the raw bytes read).
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    lines_before, offset = 0, 0
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(chunk_size)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeError as exc:  # UnicodeDecodeError, or e.g. UTF-16 without a BOM
                start = exc.start if isinstance(exc, UnicodeDecodeError) else 0
                pos = max(0, min(start, len(chunk)))
                line = lines_before + chunk[:pos].count(b"\n") + 1
                raise RelabelInputError(describe(line, offset + pos, chunk), path=path) from None
            yield text
            if not chunk:
                return
            lines_before += chunk.count(b"\n")
            offset += len(chunk)


@contextlib.contextmanager
def temporary_copy(path: str | Path, prefix: str) -> Iterator[Path]:
    """An empty file in the system's temporary directory with ``path``'s extension (so it
    reads as the same format), for a transformed copy of ``path``; removed on exit."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=Path(path).suffix)
    os.close(fd)
    copy = Path(name)
    try:
        yield copy
    finally:
        copy.unlink(missing_ok=True)


@contextlib.contextmanager
def utf8_copy(path: str | Path, encoding: str) -> Iterator[Path]:
    """A UTF-8 copy of ``path`` (decoded from ``encoding``), with the same extension, removed
    on exit.

    Raises
    ------
    RelabelInputError
        Bytes that are not valid in ``encoding``, with the line and byte offset.
    """
    codec = check_encoding(encoding)
    with temporary_copy(path, "relabel-utf8-") as copy:
        with open(copy, "w", encoding="utf-8", newline="") as out:
            for text in decoded_chunks(
                    path, codec, lambda line, at, _: f"line {line}: bytes that are not "
                    f"{encoding} at byte offset {at}; is {option('--encoding')} right?"):
                out.write(text)
        yield copy


def encode_file(utf8_path: Path, target: Path, encoding: str, *, name: str | Path) -> None:
    """Write the UTF-8 file ``utf8_path`` to ``target`` in ``encoding``, chunk by chunk
    (``name``: the output as the user named it, for messages).

    Raises
    ------
    RelabelInputError
        A character ``encoding`` cannot represent (a label or text the input did not have).
    """
    encoder = codecs.getincrementalencoder(check_encoding(encoding))(errors="strict")
    with open(utf8_path, encoding="utf-8", newline="") as fh, open(target, "wb") as out:
        while True:
            text = fh.read(CHUNK_BYTES)
            try:
                out.write(encoder.encode(text, final=not text))
            except UnicodeEncodeError as exc:
                raise RelabelInputError(
                    f"{exc.object[exc.start:exc.end]!r} cannot be written in {encoding}, the "
                    "input's encoding; export to .parquet, or give that class another name",
                    path=name) from None
            if not text:
                return


__all__ = ["CHUNK_BYTES", "check_encoding", "decoded_chunks", "encode_file", "is_utf8",
           "temporary_copy", "utf8_copy"]
