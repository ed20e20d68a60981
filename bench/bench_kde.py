"""The kernel density's time, and its output against the cached signals (issues 14 and 19).

Usage: python bench/trust_signals.py   # once: encode, score, cache the signals
       python bench/bench_kde.py [--sizes 20000,40000] [--random 30000:1000] [--no-check]

- ``kde_posterior`` on banking77's cached embeddings (10,003 rows, 77 classes);
- on the 384-d development embeddings pooled (each set's classes its own, rows drawn with seed
  0) at each of ``--sizes`` rows;
- on random unit vectors, ``ROWS:CLASSES`` (many classes: the case where the posterior's pass
  over the ``(n, K, m)`` similarities dominates);
- unless ``--no-check``: the posterior of every development set against the ``kde`` array cached
  by ``bench/trust_signals.py`` (the largest absolute difference; 0.0 when the code computes the
  same floats as when the cache was built).

Seconds are wall time of one call on this machine, nothing else running.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.trust_signals import SIGNALS
from relabel.detect.kde import kde_posterior


def timed(emb: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    k = int(labels.max()) + 1
    t0 = time.perf_counter()
    post, _ = kde_posterior(emb, labels, k)
    return time.perf_counter() - t0, post


def cached() -> dict[str, dict[str, np.ndarray]]:
    out = {}
    for path in sorted(SIGNALS.glob("*.npz")):
        if "__" in path.stem:
            continue
        with np.load(path, allow_pickle=True) as z:
            out[path.stem] = {k: z[k] for k in ("embeddings", "labels", "classes", "kde")}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="20000,40000")
    ap.add_argument("--random", default="30000:1000")
    ap.add_argument("--no-check", action="store_true")
    args = ap.parse_args()
    sets = cached()
    rows = ["| rows | classes | data | seconds |", "|---|---|---|---|"]
    b = sets["banking77"]
    sec, _ = timed(b["embeddings"].astype(np.float32), b["labels"])
    rows.append(f"| {len(b['labels'])} | {len(b['classes'])} | banking77 | {sec:.2f} |")
    pool_e, pool_y, offset = [], [], 0
    for s in sets.values():
        if s["embeddings"].shape[1] != 384:
            continue
        pool_e.append(s["embeddings"].astype(np.float32))
        pool_y.append(s["labels"] + offset)
        offset += len(s["classes"])
    emb, lab = np.concatenate(pool_e), np.concatenate(pool_y)
    perm = np.random.default_rng(0).permutation(len(lab))
    for n in (int(x) for x in args.sizes.split(",") if x):
        idx = perm[:n]
        y = np.unique(lab[idx], return_inverse=True)[1]
        sec, _ = timed(emb[idx], y)
        rows.append(f"| {n} | {y.max() + 1} | development embeddings pooled | {sec:.2f} |")
    if args.random:
        n, k = (int(x) for x in args.random.split(":"))
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, 384)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        sec, _ = timed(x, rng.integers(0, k, n))
        rows.append(f"| {n} | {k} | random unit vectors | {sec:.2f} |")
    print("\n".join(rows))
    if not args.no_check:
        print("\n| set | rows | classes | largest difference from the cached kde |\n"
              "|---|---|---|---|")
        for name, s in sets.items():
            post, _ = kde_posterior(s["embeddings"], s["labels"], len(s["classes"]))
            diff = float(np.abs(post - s["kde"]).max())
            print(f"| {name} | {len(s['labels'])} | {len(s['classes'])} | {diff:.1e} |")


if __name__ == "__main__":
    main()
