"""Neighbour graph at scale (issue 7): exact FAISS search vs the blocked inverted-file search of
``relabel/detect/neighbors.py``, time and recall.

Usage: python bench/bench_neighbors.py [--rows 100000,300000] [--dim 384] [--classes 50]
                                       [--nprobe auto,5,10] [--real CACHE.npy] [--hnsw]
                                       [--dev-ap]

Synthetic clustered unit vectors (Gaussian clusters around random centres, normalised), k = 50.
For each size: wall time of the exact graph and of the approximate graph, and the approximate
graph's recall@50 as ``build_knn_graph`` reports it (against exact search on 1,000 random
queries). ``--real`` instead uses real sentence embeddings: the distinct texts of
every development set (banking77, WRENCH text sets, spouse, open-domain relations) encoded with
the packaged MiniLM in fp32 (saved to CACHE.npy, reused when it exists); there the recall is
measured over every row. ``--hnsw`` adds FAISS's HNSW index (M 32, efConstruction 80) beside the
blocked search.
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


def all_dev_texts() -> list[str]:
    """Every distinct development text: banking77, the WRENCH text sets, spouse and the
    open-domain relation set (bench_encode's short and news texts together)."""
    from bench.bench_encode import gather_texts
    from bench.devdata import SHARED, load_wrench

    seen = dict.fromkeys(gather_texts(10**6))
    for name in ("hausa", "yoruba"):
        for split in ("train", "valid", "test"):
            seen.update(dict.fromkeys(load_wrench(name, split)["text"].to_list()))
    import polars as pl

    for path in (SHARED / "spouse" / "spouse.csv", SHARED / "crowdtruth-open-re" / "open_re.csv"):
        seen.update(dict.fromkeys(pl.read_csv(path, infer_schema_length=0)["text"].to_list()))
    return list(seen)


def hnsw_graph(emb: np.ndarray, k: int, m: int, ef_search: int, ef_construction: int = 80
               ) -> tuple[np.ndarray, float, float]:
    """FAISS ``IndexHNSWFlat`` (inner product): build and query every row for k + 1; the
    neighbours itself excluded ``(N, k)``, build seconds, search seconds."""
    import faiss

    from relabel.detect.neighbors import _drop_self

    index = faiss.IndexHNSWFlat(emb.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    t0 = time.perf_counter()
    index.add(emb)
    t_build = time.perf_counter() - t0
    index.hnsw.efSearch = ef_search
    t0 = time.perf_counter()
    sims, idx = index.search(emb, k + 1)
    t_search = time.perf_counter() - t0
    return _drop_self(idx, sims, np.arange(len(emb)), k)[0], t_build, t_search


def setting(nprobe: int | None, g) -> str:
    """How the blocked search was set up: given, or chosen by the default."""
    chosen = f"nprobe {g.search['nprobe']}, candidates factor {g.search['candidates_factor']}"
    return chosen if nprobe is not None else f"default (chose {chosen})"


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    k = exact.shape[1]
    return float(np.mean([len(np.intersect1d(a, b)) / k
                          for a, b in zip(found, exact, strict=True)]))


def real(cache: Path, nprobes: list[int | None], hnsw: bool) -> None:
    if cache.exists():
        emb = np.load(cache)
    else:
        from relabel.embed.encoder import Encoder

        emb = Encoder(precision="fp32").encode(all_dev_texts())
        np.save(cache, emb)
    t0 = time.perf_counter()
    exact = build_knn_graph(emb, k=50)
    t_exact = time.perf_counter() - t0
    print(f"{len(emb)} real embeddings; exact graph {t_exact:.1f} s\n"
          "| index | seconds | recall@50 (all rows) | recall@50 (reported, 1,000 rows) |\n"
          "|---|---|---|---|")
    for nprobe in nprobes:
        t0 = time.perf_counter()
        g = build_knn_graph(emb, k=50, exact_max_rows=0, nprobe=nprobe)
        secs = time.perf_counter() - t0
        print(f"| blocked inverted file, {setting(nprobe, g)} | {secs:.1f} | "
              f"{recall(g.indices, exact.indices):.3f} | {g.recall:.3f} |", flush=True)
    if hnsw:
        for ef in (64, 128):
            idx, t_build, t_search = hnsw_graph(emb, 50, 32, ef)
            print(f"| FAISS HNSW, M 32, efConstruction 80, efSearch {ef} | "
                  f"{t_build + t_search:.1f} (build {t_build:.1f}) | "
                  f"{recall(idx, exact.indices):.3f} | – |", flush=True)


def dev_ap() -> None:
    """AP and accuracy after applying the suggestions on every noisy development set and clean
    control, with the exact graph and with the approximate one forced (``EXACT_MAX_ROWS = 0``):
    ``score_examples`` with the linear corrector (what ``--corrector auto`` runs on a CPU) on
    the cached embeddings of bench/trust_signals.py."""
    import relabel.detect.kde as kde
    import relabel.detect.neighbors as nb
    from bench.bench_trust import outcome
    from bench.devdata import CLEAN_SETS, NOISY_SETS
    from bench.trust_signals import load_signals
    from relabel.correct.linear import LinearCorrector
    from relabel.detect.score import score_examples

    print("| set | rows | graph | recall@50 (reported) | AP | accuracy before → after | "
          "changes | damage |\n|---|---|---|---|---|---|---|---|")
    exact_rows, kde_rows = nb.EXACT_MAX_ROWS, kde.EXACT_MAX_ROWS
    for name in NOISY_SETS + CLEAN_SETS:
        s = load_signals(name)
        k = len(s["classes"])
        for forced in (False, True):
            nb.EXACT_MAX_ROWS = 0 if forced else exact_rows
            kde.EXACT_MAX_ROWS = 0 if forced else kde_rows
            res = score_examples(s["embeddings"].astype(np.float32), s["labels"], k,
                                 corrector=LinearCorrector(n_classes=k),
                                 texts=list(s["texts"]))
            o = outcome(s, res)
            rec = res.params["neighbors"].get("recall_at_k", 1.0)
            ap_txt = "–" if name in CLEAN_SETS else f"{o['ap']:.3f}"
            print(f"| {name} | {o['n']} | {'approximate' if forced else 'exact'} | {rec:.3f} | "
                  f"{ap_txt} | {100 * o['acc_before']:.1f} → {100 * o['acc_after']:.1f} | "
                  f"{o['changes']} | {o['damage']} |", flush=True)
    nb.EXACT_MAX_ROWS, kde.EXACT_MAX_ROWS = exact_rows, kde_rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="100000,300000")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--classes", type=int, default=50)
    ap.add_argument("--skip-exact-above", type=int, default=300000)
    ap.add_argument("--nprobe", default="auto",
                    help="comma-separated nprobe values; auto = the default choice")
    ap.add_argument("--real", default=None)
    ap.add_argument("--hnsw", action="store_true", help="also FAISS HNSW, M 32, efSearch 64")
    ap.add_argument("--dev-ap", action="store_true",
                    help="AP on the development sets with the exact and the approximate graph")
    args = ap.parse_args()
    if args.dev_ap:
        dev_ap()
        return
    nprobes = [None if p == "auto" else int(p) for p in args.nprobe.split(",")]
    if args.real:
        real(Path(args.real), nprobes, args.hnsw)
        return
    print("| rows | exact s | index | seconds | recall@50 (1,000 rows) |\n|---|---|---|---|---|")
    for n in map(int, args.rows.split(",")):
        emb = clustered(n, args.dim, args.classes)
        t_exact = "skipped"
        if n <= args.skip_exact_above:
            t0 = time.perf_counter()
            build_knn_graph(emb, k=50, exact_max_rows=n)
            t_exact = f"{time.perf_counter() - t0:.1f}"
        for nprobe in nprobes:
            t0 = time.perf_counter()
            g = build_knn_graph(emb, k=50, exact_max_rows=0, nprobe=nprobe)
            print(f"| {n} | {t_exact} | blocked inverted file, {setting(nprobe, g)} | "
                  f"{time.perf_counter() - t0:.1f} | {g.recall:.3f} |", flush=True)
        if args.hnsw:
            from relabel.detect.neighbors import _exact_rows

            sample = np.sort(np.random.default_rng(1).choice(n, size=1000, replace=False))
            truth = _exact_rows(emb, sample, 50, 16384)
            idx, t_build, t_search = hnsw_graph(emb, 50, 32, 64)
            print(f"| {n} | {t_exact} | FAISS HNSW, M 32, efSearch 64 | {t_build + t_search:.1f} "
                  f"(build {t_build:.1f}) | {recall(idx[sample], truth):.3f} |", flush=True)


if __name__ == "__main__":
    main()
