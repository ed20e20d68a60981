"""Neighbour graph at scale (issue 7): exact FAISS search vs the blocked inverted-file search of
``relabel/detect/neighbors.py``, time and recall.

Usage: python bench/bench_neighbors.py [--rows 100000,300000] [--dim 384] [--classes 50]
                                       [--nprobe 5] [--real CACHE.npy]

Synthetic clustered unit vectors (Gaussian clusters around random centres, normalised), k = 50.
For each size: wall time of the exact graph and of the approximate graph, and the approximate
graph's recall@50 as ``build_knn_graph`` reports it (against exact search on 1,000 random
queries). ``--real`` instead uses real sentence embeddings: the distinct texts of
``bench_encode.py`` (banking77 and WRENCH, 24,403 texts) encoded with the packaged MiniLM (saved
to CACHE.npy, reused when it exists); there the recall is measured over every row.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relabel.detect.neighbors import build_knn_graph


def clustered(n: int, dim: int, classes: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)).astype(np.float32)
    x = centres[rng.integers(0, classes, n)] + rng.normal(scale=0.6, size=(n, dim)).astype(
        np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def real(cache: Path, nprobes: list[int]) -> None:
    if cache.exists():
        emb = np.load(cache)
    else:
        from bench.bench_encode import gather_texts
        from relabel.embed.encoder import Encoder, default_model_path

        emb = Encoder(default_model_path()).encode(gather_texts(10**6))
        np.save(cache, emb)
    t0 = time.perf_counter()
    exact = build_knn_graph(emb, k=50)
    t_exact = time.perf_counter() - t0
    print(f"{len(emb)} real embeddings; exact graph {t_exact:.1f} s\n"
          "| nprobe | seconds | recall@50 (all rows) | recall@50 (reported, 1,000 rows) |\n"
          "|---|---|---|---|")
    for nprobe in nprobes:
        t0 = time.perf_counter()
        g = build_knn_graph(emb, k=50, exact_max_rows=0, nprobe=nprobe)
        secs = time.perf_counter() - t0
        full = np.mean([len(np.intersect1d(a, b)) / 50
                        for a, b in zip(g.indices, exact.indices, strict=True)])
        print(f"| {nprobe} | {secs:.1f} | {full:.3f} | {g.recall:.3f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="100000,300000")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--classes", type=int, default=50)
    ap.add_argument("--skip-exact-above", type=int, default=300000)
    ap.add_argument("--nprobe", default="5")
    ap.add_argument("--real", default=None)
    args = ap.parse_args()
    if args.real:
        real(Path(args.real), [int(p) for p in args.nprobe.split(",")])
        return
    print("| rows | exact s | approximate s | recall@50 |\n|---|---|---|---|")
    for n in map(int, args.rows.split(",")):
        emb = clustered(n, args.dim, args.classes)
        t_exact = "skipped"
        if n <= args.skip_exact_above:
            t0 = time.perf_counter()
            build_knn_graph(emb, k=50, exact_max_rows=n)
            t_exact = f"{time.perf_counter() - t0:.1f}"
        t0 = time.perf_counter()
        g = build_knn_graph(emb, k=50, exact_max_rows=0, nprobe=int(args.nprobe))
        print(f"| {n} | {t_exact} | {time.perf_counter() - t0:.1f} | {g.recall:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
