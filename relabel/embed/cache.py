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

from relabel.data.io import atomic_path
from relabel.embed.encoder import TextEncoder

#: texts per cache shard (each is saved as soon as it is encoded)
DEFAULT_SHARD_SIZE = 4096


def text_hashes(texts: Sequence[str]) -> np.ndarray:
    """``(N,)`` array of 16-byte BLAKE2b digests of the UTF-8 texts (dtype ``S16``)."""
    return np.array([hashlib.blake2b(t.encode("utf-8"), digest_size=16).digest() for t in texts],
                    dtype="S16")


class EmbeddingCache:
    """Shards of ``(hashes, vectors)`` in one directory per encoder key.

    Each finished shard is written atomically, so after a crash every shard on disk is whole and
    only the unfinished one is encoded again.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def load(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Return sorted ``hashes (M,)`` and matching ``vectors (M, D)`` of every cached shard."""
        hashes, vectors = [], []
        if self.directory.is_dir():
            for shard in sorted(self.directory.glob("shard-*.npz")):
                with np.load(shard) as data:
                    hashes.append(data["hashes"])
                    vectors.append(data["vectors"])
        if not hashes:
            return np.empty(0, dtype="S16"), None
        h = np.concatenate(hashes)
        v = np.concatenate(vectors)
        h, first = np.unique(h, return_index=True)
        return h, v[first]

    def add(self, hashes: np.ndarray, vectors: np.ndarray) -> Path:
        """Write one shard atomically; its name is derived from its content."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = hashlib.blake2b(hashes.tobytes(), digest_size=8).hexdigest()
        target = self.directory / f"shard-{name}.npz"
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, hashes=hashes, vectors=vectors.astype(np.float32, copy=False))
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
) -> tuple[np.ndarray, dict[str, int]]:
    """Embed ``texts`` with ``encoder``, reusing and filling the on-disk cache.

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
    hashes = text_hashes(texts)
    uniq, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    cache = EmbeddingCache(Path(cache_dir) / encoder.key) if cache_dir is not None else None
    cached_h, cached_v = cache.load() if cache is not None else (np.empty(0, "S16"), None)

    pos = np.searchsorted(cached_h, uniq) if len(cached_h) else np.zeros(len(uniq), dtype=int)
    pos = np.minimum(pos, max(len(cached_h) - 1, 0))
    hit = (cached_h[pos] == uniq) if len(cached_h) else np.zeros(len(uniq), dtype=bool)
    missing = np.flatnonzero(~hit)
    if progress is not None:
        progress.total = len(missing)
        progress.refresh()

    new_h: list[np.ndarray] = []
    new_v: list[np.ndarray] = []
    if len(missing):
        by_len = missing[np.argsort([len(texts[first[u]]) for u in missing], kind="stable")]
        shards = [by_len[start : start + shard_size]
                  for start in range(0, len(by_len), shard_size)]
        remote = engine is not None and engine.name != "local"
        if remote:  # shards on the cluster, each saved here as it comes back
            done = engine.map_unordered(_encode_shard,
                                        [[texts[first[u]] for u in part] for part in shards],
                                        encoder=encoder)
        else:
            done = ((i, encoder.encode([texts[first[u]] for u in part], progress=progress))
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

