"""Precomputed embeddings (``--embeddings FILE.npy`` or an ``(N, D)`` array in Python) in place of
the encoder."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, cast

import numpy as np

from relabel.data.io import file_fingerprint
from relabel.errors import RelabelInputError


class PrecomputedEncoder:
    """Stands in for the encoder when ``--embeddings`` gives the vectors: its key names the file
    or array (by content), so corrector folds cached for other vectors are never reused."""

    pooling = "mean"

    def __init__(self, path: str | Path | None = None, *, array: np.ndarray | None = None
                 ) -> None:
        if (path is None) == (array is None):
            raise ValueError("give a path or an array")
        self.path = Path(path) if path is not None else None
        if array is not None:
            h = hashlib.blake2b(digest_size=12)
            h.update(str(array.shape).encode())
            h.update(np.ascontiguousarray(array).tobytes())
            self._key = "precomputed-array-" + h.hexdigest()
        else:
            self._key = "precomputed-" + file_fingerprint(Path(cast(str, path)))

    @property
    def key(self) -> str:
        return self._key

    def encode(self, texts: Any, *, progress: Any = None) -> np.ndarray:  # pragma: no cover
        raise RuntimeError("precomputed embeddings are loaded, not encoded")


def load_embeddings(path: str | Path, *, n_rows: int, rows: np.ndarray,
                    chunk_size: int = 65536) -> np.ndarray:
    """Precomputed embeddings for the kept input rows, L2-normalised, ``(len(rows), D)`` float32.

    A float32 file of already normalised rows, all of them kept, is returned as a read-only
    memory map: it is scanned once in chunks (finite, norms within ``NORM_TOLERANCE`` of 1) and
    never read whole, so ten million rows cost page cache, not process memory. Otherwise the
    ``.npy`` file is read in chunks of consecutive rows with plain file reads, normalised into
    a new array, so only the result and one chunk are held in memory. Raises RelabelInputError
    for an unreadable file, a shape that is not ``(n_rows, D)``, or non-finite values (naming
    the first bad row, 1-based).
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
    if (not fortran and dtype == np.dtype(np.float32) and len(rows) == n_rows
            and _normalised_on_disk(path, n_rows, chunk_size)):
        # already what relabel would make of it: map the file, never read it whole
        return np.load(path, mmap_mode="r")
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
            out[done:stop] = _normalised(part, want, path)
            done = stop
    return out


#: a mapped file is used as it is when every row's norm is within this of 1
NORM_TOLERANCE = 1e-4


def _normalised_on_disk(path: Path, n_rows: int, chunk_size: int) -> bool:
    """True when the float32 file's rows are all finite and L2-normalised, read block by block
    through a memory map (the pages are dropped as the scan moves on). Stops at the first block
    that is not normalised (the caller then reads and normalises the file, checking every row
    as it goes). Raises RelabelInputError naming the first non-finite row before that."""
    mm = np.load(path, mmap_mode="r")
    for start in range(0, n_rows, chunk_size):
        part = np.asarray(mm[start : start + chunk_size])
        finite = np.isfinite(part).all(axis=1)
        if not finite.all():
            raise RelabelInputError("embeddings contain NaN or infinite values", path=path,
                                    rows=[start + int(np.argmin(finite)) + 1])
        norms = np.linalg.norm(part, axis=1)
        if not np.all(np.abs(norms - 1.0) <= NORM_TOLERANCE):
            return False
    return True


def embeddings_from_array(array: Any, *, n_rows: int, rows: np.ndarray) -> np.ndarray:
    """In-memory embeddings (``relabel.denoise(..., embeddings=X)``) for the kept input rows,
    L2-normalised, ``(len(rows), D)`` float32.

    Parameters
    ----------
    array : array-like
        ``(n_rows, D)`` numbers, row i = input row i.
    n_rows : int
        Rows of the input.
    rows : np.ndarray
        ``(M,)`` the input rows kept (0-based).

    Raises
    ------
    RelabelInputError
        Not a 2-D numeric array of ``n_rows`` rows, or non-finite values (naming the first bad
        row, 1-based).
    """
    try:
        arr = np.asarray(array)
    except Exception as exc:  # ragged lists and the like
        raise RelabelInputError(f"embeddings are not an array ({str(exc).splitlines()[0][:120]})",
                                path="embeddings") from None
    if arr.ndim != 2 or arr.shape[0] != n_rows or arr.shape[1] < 1:
        raise RelabelInputError(f"embeddings have shape {tuple(arr.shape)} but the dataset has "
                                f"{n_rows} rows: expected ({n_rows}, D), row i = input row i",
                                path="embeddings")
    if not np.issubdtype(arr.dtype, np.number) or arr.dtype.hasobject:
        raise RelabelInputError(f"embeddings must be numbers, found {arr.dtype}",
                                path="embeddings")
    rows = np.asarray(rows, dtype=np.int64)
    return _normalised(arr[rows].astype(np.float32), rows, "embeddings")


def _normalised(part: np.ndarray, rows: np.ndarray, path: str | Path) -> np.ndarray:
    """``part (M, D)`` float32 rows L2-normalised; RelabelInputError naming the input rows
    (``rows (M,)``, 0-based) of the first non-finite values, or of all-zero vectors (a missing
    embedding filled with zeros: it has no direction, so its cosine to every row is 0 and its
    label would be judged on nothing)."""
    finite = np.isfinite(part).all(axis=1)
    if not finite.all():
        raise RelabelInputError("embeddings contain NaN or infinite values", path=path,
                                rows=[int(rows[int(np.argmin(finite))]) + 1])
    norms = np.linalg.norm(part, axis=1, keepdims=True)
    zero = np.flatnonzero(norms[:, 0] == 0)
    if len(zero):
        raise RelabelInputError("all-zero embedding vectors (no direction to compare); give "
                                "these rows real embeddings or leave them out", path=path,
                                rows=(rows[zero] + 1).tolist())
    return part / norms


__all__ = ["PrecomputedEncoder", "embeddings_from_array", "load_embeddings"]
