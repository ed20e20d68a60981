"""Neighbour graph at scale (issue 7, first step): exact FAISS vs the IVF index, time and recall.

Usage: python bench/bench_neighbors.py [--rows 100000,300000] [--dim 384] [--classes 50]

Synthetic clustered unit vectors (Gaussian clusters around random centres, normalised), k = 50.
For each size: wall time of the exact graph and of the IVF graph, and the IVF graph's recall@50
as ``build_knn_graph`` reports it (measured against exact search on 1,000 random queries).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relabel.neighbors import build_knn_graph


def clustered(n: int, dim: int, classes: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)).astype(np.float32)
    x = centres[rng.integers(0, classes, n)] + rng.normal(scale=0.6, size=(n, dim)).astype(
        np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="100000,300000")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--classes", type=int, default=50)
    ap.add_argument("--skip-exact-above", type=int, default=300000)
    args = ap.parse_args()
    print("| rows | exact s | IVF s | IVF recall@50 |\n|---|---|---|---|")
    for n in map(int, args.rows.split(",")):
        emb = clustered(n, args.dim, args.classes)
        t_exact = "skipped"
        if n <= args.skip_exact_above:
            t0 = time.perf_counter()
            build_knn_graph(emb, k=50, exact_max_rows=n)
            t_exact = f"{time.perf_counter() - t0:.1f}"
        t0 = time.perf_counter()
        g = build_knn_graph(emb, k=50, exact_max_rows=0)
        print(f"| {n} | {t_exact} | {time.perf_counter() - t0:.1f} | {g.recall:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
