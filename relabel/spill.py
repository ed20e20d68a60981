"""Large per-row arrays on disk instead of in memory (issue 19: 10M rows in bounded memory).

The arrays of a run that grow with the number of rows N and a second dimension (the ``(N, k)``
neighbour graph, the ``(N, K)`` posteriors and soft labels) dominate a big run's memory: at
10M rows and 50 classes one float32 posterior is 2 GB, and scoring holds several. Inside
``with spill_to(directory):`` :func:`empty` gives every array of at least ``SPILL_MIN_BYTES`` a
memory map of a file in ``directory`` instead of heap memory. Its blocks are reserved first
(``posix_fallocate``), so a disk without room fails there with ENOSPC rather than with a
SIGBUS in the middle of a computation. The file is unlinked at once, so its pages are
file-backed (the kernel writes them back and drops them when memory runs short,
instead of the process running out of it), its disk space is returned when the array is freed,
and a crash leaves nothing behind. Every computation relabel runs over such arrays works chunk
by chunk of rows, so the temporaries stay bounded too and the memory besides the maps does not
grow with N times K.

Outside ``spill_to`` (the scoring functions called directly, ``find_label_issues``, most
tests) :func:`empty` is ``np.empty``. The directory should be on a real disk: ``denoise`` uses
``cache/spill`` in the run directory, never ``/tmp``, which is often memory itself (tmpfs).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

import numpy as np

#: arrays at least this large go to disk inside ``spill_to`` (1.3M rows of 50 float32)
SPILL_MIN_BYTES = 256 << 20

_DIRECTORY: ContextVar[Path | None] = ContextVar("relabel_spill_directory", default=None)


@contextlib.contextmanager
def spill_to(directory: str | Path | None) -> Iterator[None]:
    """Within this block, large arrays from :func:`empty` are memory maps in ``directory``
    (created if missing; ``None`` turns spilling off)."""
    path = None if directory is None else Path(directory)
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
    token = _DIRECTORY.set(path)
    try:
        yield
    finally:
        _DIRECTORY.reset(token)


def spilling() -> Path | None:
    """The directory large arrays go to now, None when they stay in memory."""
    return _DIRECTORY.get()


def empty(shape: int | tuple[int, ...], dtype: np.typing.DTypeLike) -> np.ndarray:
    """An uninitialised array, like ``np.empty``: a memory map of an unlinked file inside
    :func:`spill_to` when it has at least ``SPILL_MIN_BYTES``.

    Returns
    -------
    np.ndarray
        A plain ndarray (a view of the map where spilled, which keeps the map alive).
    """
    shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
    dtype = np.dtype(dtype)
    directory = _DIRECTORY.get()
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if directory is None or nbytes < SPILL_MIN_BYTES:
        return np.empty(shape, dtype=dtype)
    fd, name = tempfile.mkstemp(prefix="spill-", suffix=".bin", dir=directory)
    try:
        _reserve(fd, max(nbytes, 1))
        mapped = np.memmap(name, dtype=dtype, mode="r+", shape=shape)
    finally:
        os.close(fd)
        os.unlink(name)  # the map keeps the file; its space is freed with the array
    return mapped.view(np.ndarray)


def _reserve(fd: int, nbytes: int) -> None:
    """Give the file ``nbytes`` with its blocks reserved now: a full disk is then an OSError
    (ENOSPC) here, which the CLI reports in one line, instead of a SIGBUS when a page of a
    sparse file is written later. Where the platform or the file system cannot reserve
    (macOS has no ``posix_fallocate``), the file is only extended, sparse."""
    try:
        os.posix_fallocate(fd, 0, nbytes)
    except AttributeError:
        os.ftruncate(fd, nbytes)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise
        os.ftruncate(fd, nbytes)


__all__ = ["SPILL_MIN_BYTES", "empty", "spill_to", "spilling"]
