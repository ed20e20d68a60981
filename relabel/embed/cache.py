"""Embedding a dataset: a content-addressed on-disk cache of vectors, filled shard by shard, so
an interrupted run resumes at the first unfinished shard and a re-run does not re-encode; the
shards run here or on a Dask cluster (:mod:`relabel.engine`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from relabel.data.texts import gather, lengths
from relabel.data.write import atomic_path
from relabel.embed.encoder import TextEncoder

#: texts per cache shard (each is saved as soon as it is encoded)
DEFAULT_SHARD_SIZE = 4096


def text_hashes(texts: Sequence[str]) -> np.ndarray:
    """``(N,)`` array of 16-byte BLAKE2b digests of the UTF-8 texts (dtype ``S16``)."""
    return np.array([hashlib.blake2b(t.encode("utf-8"), digest_size=16).digest() for t in texts],
                    dtype="S16")


def texts_digest(hashes: np.ndarray) -> str:
    """One 24-hex-digit BLAKE2b digest of every text's hash (``(N,)`` ``S16`` from
    :func:`text_hashes`, in row order): the identity of a run's inputs in the fold cache's key."""
    return hashlib.blake2b(np.ascontiguousarray(hashes).tobytes(), digest_size=12).hexdigest()


#: the layout of a shard; a shard of another layout (another relabel version) is recomputed
CACHE_FORMAT = 2


class EmbeddingCache:
    """Shards of ``(hashes, vectors)`` in one directory per encoder key.

    Each finished shard is written atomically, so after a crash every shard on disk is whole and
    only the unfinished one is encoded again. Each shard also records the encoder key and the
    cache format; on loading, a shard that cannot be read, is truncated, names another encoder
    or format, does not match its own content-derived name, or holds vectors of the wrong shape
    or non-finite values is ignored (with a warning), deleted, and its texts encoded again:
    never used.
    """

    def __init__(self, directory: str | Path, key: str | None = None) -> None:
        self.directory = Path(directory)
        self.key = key if key is not None else self.directory.name

    def _check(self, shard: Path, data: Any) -> tuple[np.ndarray, np.ndarray]:
        import json

        for name in ("hashes", "vectors", "meta"):
            if name not in data.files:
                raise ValueError(f"no '{name}' array (written by another relabel version)")
        meta = json.loads(str(data["meta"]))
        if meta.get("format") != CACHE_FORMAT:
            raise ValueError(f"cache format {meta.get('format')}, expected {CACHE_FORMAT}")
        if meta.get("key") != self.key:
            raise ValueError(f"written by another encoder ({meta.get('key')})")
        hashes, vectors = data["hashes"], data["vectors"]
        if hashes.dtype != np.dtype("S16") or hashes.ndim != 1:
            raise ValueError("hashes of the wrong type")
        if vectors.ndim != 2 or vectors.shape[0] != len(hashes) or vectors.dtype != np.float32:
            raise ValueError(f"vectors of shape {vectors.shape}, expected ({len(hashes)}, D)")
        if shard.name != self._name(hashes):
            raise ValueError("its content does not match its name")
        if not np.isfinite(vectors).all():
            raise ValueError("non-finite values")
        return hashes, vectors

    @staticmethod
    def _name(hashes: np.ndarray) -> str:
        return f"shard-{hashlib.blake2b(hashes.tobytes(), digest_size=8).hexdigest()}.npz"

    def load(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Return sorted ``hashes (M,)`` and matching ``vectors (M, D)`` of every valid cached
        shard (invalid ones are deleted: see the class docstring)."""
        import logging
        import zipfile

        hashes: list[np.ndarray] = []
        vectors: list[np.ndarray] = []
        if self.directory.is_dir():
            for shard in sorted(self.directory.glob("shard-*.npz")):
                try:
                    with np.load(shard, allow_pickle=False) as data:
                        h, v = self._check(shard, data)
                    if vectors and v.shape[1] != vectors[0].shape[1]:
                        raise ValueError(f"dimension {v.shape[1]}, the others have "
                                         f"{vectors[0].shape[1]}")
                except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
                    logging.getLogger("relabel").warning(
                        "%s: ignoring a damaged embedding cache file (%s); its texts are "
                        "encoded again", shard, str(exc).splitlines()[0] if str(exc) else
                        type(exc).__name__)
                    shard.unlink(missing_ok=True)
                    continue
                hashes.append(h)
                vectors.append(v)
        if not hashes:
            return np.empty(0, dtype="S16"), None
        h = np.concatenate(hashes)
        v = np.concatenate(vectors)
        h, first = np.unique(h, return_index=True)
        return h, v[first]

    def add(self, hashes: np.ndarray, vectors: np.ndarray) -> Path:
        """Write one shard atomically; its name is derived from its content."""
        import json

        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / self._name(hashes)
        meta = np.array(json.dumps({"format": CACHE_FORMAT, "key": self.key}))
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, hashes=hashes, vectors=vectors.astype(np.float32, copy=False),
                     meta=meta)
        return target


def _encode_shard(texts: list[str], encoder: TextEncoder) -> np.ndarray:
    """One shard, on whichever machine runs it."""
    return encoder.encode(texts)


def embed_texts(
    texts: Sequence[str],
    encoder: TextEncoder,
    *,
    cache_dir: str | Path | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    progress: Any = None,
    engine: Any = None,
    hashes: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Embed ``texts`` with ``encoder``, reusing and filling the on-disk cache.

    ``hashes`` are the texts' :func:`text_hashes` where the caller already has them (they are
    computed here otherwise).

    Duplicate texts are encoded once. Texts missing from the cache are sorted by length and
    encoded shard by shard; each shard is saved as soon as it is done. With a Dask ``engine``
    (:mod:`relabel.engine`) the shards are encoded on its workers, which receive the encoder
    once and load its model themselves.

    Returns
    -------
    vectors : np.ndarray
        ``(N, D)`` float32, row i for ``texts[i]``.
    stats : dict
        ``{"cached": texts found in the cache, "encoded": texts encoded now}`` (unique texts).
    """
    if hashes is None:
        hashes = text_hashes(texts)
    uniq, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    cache = (EmbeddingCache(Path(cache_dir) / encoder.key, key=encoder.key)
             if cache_dir is not None else None)
    cached_h, cached_v = cache.load() if cache is not None else (np.empty(0, "S16"), None)

    pos: Any = (np.searchsorted(cached_h, uniq) if len(cached_h)
                else np.zeros(len(uniq), dtype=int))
    pos = np.minimum(pos, max(len(cached_h) - 1, 0))
    hit = (cached_h[pos] == uniq) if len(cached_h) else np.zeros(len(uniq), dtype=bool)
    missing = np.flatnonzero(~hit)
    if progress is not None:
        progress.total = len(missing)
        progress.refresh()

    new_h: list[np.ndarray] = []
    new_v: list[np.ndarray] = []
    if len(missing):
        by_len = missing[np.argsort(lengths(texts, first[missing]), kind="stable")]
        shards = [by_len[start : start + shard_size]
                  for start in range(0, len(by_len), shard_size)]
        remote = engine is not None and engine.name != "local"
        if remote:  # shards on the cluster, each saved here as it comes back
            done = engine.map_unordered(_encode_shard,
                                        [gather(texts, first[part]) for part in shards],
                                        encoder=encoder)
        else:
            done = ((i, encoder.encode(gather(texts, first[part]), progress=progress))
                    for i, part in enumerate(shards))
        for i, vecs in done:
            part = shards[i]
            if cache is not None:
                cache.add(uniq[part], vecs)
            new_h.append(uniq[part])
            new_v.append(vecs)
            if remote and progress is not None:  # the local encoder updates it per batch
                progress.update(len(part))

    dim = (cached_v.shape[1] if cached_v is not None else new_v[0].shape[1])
    uniq_vecs = np.empty((len(uniq), dim), dtype=np.float32)
    if hit.any():
        uniq_vecs[hit] = cached_v[pos[hit]]  # type: ignore[index]
    if new_h:
        order = np.concatenate(new_h)
        where = np.searchsorted(uniq, order)
        uniq_vecs[where] = np.concatenate(new_v)
    stats = {"cached": int(hit.sum()), "encoded": len(missing)}
    return uniq_vecs[inverse.reshape(-1)], stats

