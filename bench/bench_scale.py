"""Credibility scoring at scale (issue 7): `relabel denoise --embeddings E.npy --corrector none`
on synthetic clustered embeddings, as a subprocess, with wall time per stage and peak memory.

Usage: python bench/bench_scale.py [--rows 10000,100000,1000000] [--dim 384] [--classes 50]
                                   [--topic-rows R] [--workers 0,1,2] [--work DIR]
                                   [--markdown FILE] [--plot FILE.png]

Data: ``rows`` unit vectors in ``classes`` Gaussian clusters (noise scale 0.6 around random
centres, 384 dims), 10% of the labels flipped uniformly; a CSV with an id, a short text and the
label. ``--topic-rows R`` splits each class into topics of about R rows (``make_data``). The
embeddings are written once as float32 ``.npy`` and memory-mapped by relabel (``--work DIR``
keeps them for the next run). Peak memory is the maximum resident set size of the denoise
process (``/usr/bin/time -v``), and, sampled every 0.2 s from ``/proc``, the peaks of its
anonymous memory (what only the process holds) and of its file-backed pages (the mapped
embeddings and the arrays relabel spills to ``cache/spill``, which the kernel can drop). AP is
the average precision of (1 - credibility) for finding the flipped labels. The score stage is
split into the graph, the kNN vote, the KDE and the decisions (``summary.json``,
``params.seconds``).

``--workers 0,1,2``: 0 is the local engine; W > 0 runs the same data with ``--engine dask`` on a
``LocalCluster`` of W single-threaded worker processes bound to 127.0.0.1 (FAISS still uses its
own OpenMP threads inside a task), and checks that flags, suggestions and credibility equal the
first run's.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_denoise import append_markdown  # noqa: E402


def make_data(work: Path, n: int, dim: int, classes: int, seed: int = 0,
              spread: float = 0.6, topic_rows: int | None = None) -> np.ndarray:
    """Write ``data.csv`` and ``emb.npy`` (chunked); return the flipped-label mask.

    ``topic_rows=None``: every row is its class centre plus Gaussian noise of scale ``spread``
    (one flat cluster per class). With ``topic_rows=R`` each class is split into topics of
    about R rows, as real text embeddings are (paraphrases and near-duplicates close together,
    the rest of the class further away): a row is its class centre, plus its topic's offset
    (scale ``spread``), plus noise of scale ``spread / 2``. Cosine similarity is then about
    0.94 inside a topic, 0.69 between topics of a class and 0 between classes.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)).astype(np.float32)
    true = rng.integers(0, classes, n)
    if topic_rows is not None:  # topic centres, classes x topics, and each row's topic
        per_class = max(1, round(n / classes / topic_rows))
        centres = (centres[:, None, :] + rng.normal(
            scale=spread, size=(classes, per_class, dim)).astype(np.float32)).reshape(-1, dim)
        topic = true * per_class + rng.integers(0, per_class, n)
        spread = spread / 2
    else:
        topic = true
    labels = true.copy()
    flip = rng.random(n) < 0.1
    labels[flip] = (true[flip] + rng.integers(1, classes, flip.sum())) % classes
    emb = np.lib.format.open_memmap(work / "emb.npy", mode="w+", dtype=np.float32,
                                    shape=(n, dim))
    for s in range(0, n, 100_000):
        part = centres[topic[s : s + 100_000]] + rng.normal(
            scale=spread, size=(len(topic[s : s + 100_000]), dim)).astype(np.float32)
        emb[s : s + len(part)] = part / np.linalg.norm(part, axis=1, keepdims=True)
    emb.flush()
    del emb
    pl.DataFrame({"id": np.arange(n).astype(str), "text": [f"t{i}" for i in range(n)],
                  "label": np.char.add("c", labels.astype(str))}).write_csv(work / "data.csv")
    return flip


def run(work: Path, n: int, flip: np.ndarray, scheduler: str | None = None) -> dict:
    out = work / f"out-{'local' if scheduler is None else 'dask'}-{time.time_ns()}"
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "relabel", "denoise",
           str(work / "data.csv"), "--id-col", "id", "--embeddings", str(work / "emb.npy"),
           "--corrector", "none", "--out", str(out), "--quiet"]
    if scheduler is not None:
        cmd += ["--engine", "dask", "--scheduler", scheduler]
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True, cwd=ROOT)
        memory = sample_memory(proc)
        err.seek(0)
        stderr = err.read()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(stderr[-3000:])
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr).group(1))
    summary = json.loads((out / "summary.json").read_text())
    from sklearn.metrics import average_precision_score

    scores = pl.read_parquet(out / "scores.parquet",
                             columns=["credibility", "flagged", "suggested_label"])
    shutil.rmtree(out, ignore_errors=True)
    (work / f"anon-{out.name}.csv").write_text(
        "seconds,anon_kb\n" + "".join(f"{t},{kb}\n" for t, kb in memory.pop("anon_timeline")))
    return {"rows": n, "wall_s": wall, "peak_gb": rss_kb / 1024**2, **memory,
            "stages": summary["seconds"], "score_stages": summary["params"].get("seconds", {}),
            "neighbors": summary["params"].get("neighbors", {}), "scores": scores,
            "ap": float(average_precision_score(flip, 1 - scores["credibility"].to_numpy()))}


def sample_memory(proc: subprocess.Popen, every: float = 0.2) -> dict:
    """Poll the denoise process (the child of ``/usr/bin/time``) until ``proc`` exits: the
    peak of its anonymous resident memory (heap, arrays: what the kernel cannot drop) and of
    its file-backed resident pages (the memory-mapped embeddings and spilled arrays, which the
    kernel can write back and drop), from ``/proc/PID/status``."""
    import psutil

    peak = {"anon": 0, "file": 0}
    timeline = []
    t0 = time.perf_counter()
    target = None
    while proc.poll() is None:
        try:
            if target is None:
                kids = psutil.Process(proc.pid).children()
                target = kids[0].pid if kids else None
            if target is not None:
                status = Path(f"/proc/{target}/status").read_text()
                for key, field in (("anon", "RssAnon"), ("file", "RssFile")):
                    kb = int(re.search(rf"{field}:\s+(\d+)", status).group(1))
                    peak[key] = max(peak[key], kb)
                    if key == "anon":
                        timeline.append((round(time.perf_counter() - t0, 1), kb))
        except (OSError, psutil.Error, AttributeError):
            pass
        time.sleep(every)
    return {"peak_anon_gb": peak["anon"] / 1024**2, "peak_file_gb": peak["file"] / 1024**2,
            "anon_timeline": timeline}


@contextmanager
def _kept(path: Path):
    """A data directory that outlives the run (``--work``)."""
    path.mkdir(parents=True, exist_ok=True)
    yield str(path)


def cluster_address(workers: int, stack) -> str:
    from distributed import LocalCluster

    c = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1,
                                         processes=True, host="127.0.0.1",
                                         dashboard_address=None, protocol="tcp"))
    return c.scheduler_address


def main() -> None:
    from contextlib import ExitStack

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="10000,100000,1000000")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--classes", type=int, default=50)
    ap.add_argument("--workers", default="0")
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--plot", default=None)
    ap.add_argument("--topic-rows", type=int, default=None,
                    help="rows per topic inside each class (make_data); default one flat "
                         "cluster per class")
    ap.add_argument("--work", default=None,
                    help="keep the generated data here and reuse it (default: a temporary "
                         "directory per size)")
    args = ap.parse_args()
    results = []
    head = ("| rows | engine | wall s | read | load | score: graph | knn | kde | decide | "
            "write | report | peak RSS GB | of it anonymous | file-backed | AP | neighbour graph | "
            "same as first run |")
    rule = "|" + "---|" * (head.count("|") - 1)
    print(head + "\n" + rule, flush=True)
    lines = []
    for n in map(int, args.rows.split(",")):
        with (tempfile.TemporaryDirectory() if args.work is None
              else _kept(Path(args.work) / f"rows{n}-d{args.dim}-c{args.classes}"
                         f"-t{args.topic_rows}")) as tmp:
            work = Path(tmp)
            if (work / "flip.npy").is_file():  # --work: the data of an earlier run
                flip = np.load(work / "flip.npy")
            else:
                flip = make_data(work, n, args.dim, args.classes,
                                 topic_rows=args.topic_rows)
                if args.work is not None:
                    np.save(work / "flip.npy", flip)
            first = None
            for workers in map(int, args.workers.split(",")):
                with ExitStack() as stack:
                    scheduler = cluster_address(workers, stack) if workers else None
                    r = run(work, n, flip, scheduler)
                r["engine"] = f"dask, {workers} workers" if workers else "local"
                if first is None:
                    first, same = r, "–"
                else:
                    a_, b_ = first["scores"], r["scores"]
                    equal = (a_["flagged"].equals(b_["flagged"])
                             and a_["suggested_label"].equals(b_["suggested_label"]))
                    diff = float(np.abs(a_["credibility"].to_numpy()
                                        - b_["credibility"].to_numpy()).max())
                    same = (f"{'yes' if equal else 'NO'}, credibility within {diff:.1e}")
                results.append(r)
                st, sc, nb = r["stages"], r["score_stages"], r["neighbors"]
                line = (f"| {n} | {r['engine']} | {r['wall_s']:.1f} | {st.get('read', 0):.1f} | "
                        f"{st.get('encode', 0):.1f} | {sc.get('graph', 0):.1f} | "
                        f"{sc.get('knn', 0):.1f} | {sc.get('kde', 0):.1f} | "
                        f"{sc.get('decide', 0):.1f} | {st.get('write', 0):.1f} | "
                        f"{st.get('report', 0):.1f} | {r['peak_gb']:.2f} | "
                        f"{r['peak_anon_gb']:.2f} | {r['peak_file_gb']:.2f} | {r['ap']:.3f} | "
                        f"{nb.get('method', '?')}, recall@k {nb.get('recall_at_k', 'exact')} | "
                        f"{same} |")
                lines.append(line)
                print(line, flush=True)
                print(f"  graph: {nb}", file=sys.stderr, flush=True)
    topics = (f" --topic-rows {args.topic_rows}" if args.topic_rows else "")
    header = [f"Command: `python bench/bench_scale.py --rows {args.rows} --workers "
              f"{args.workers}{topics}` ({args.dim} dims, {args.classes} classes, "
              f"{'topics of about ' + str(args.topic_rows) + ' rows, ' if topics else ''}"
              "10% flipped; 2 cores).",
              "", head, rule]
    append_markdown(args.markdown, [*header, *lines])
    results = [r for r in results if r["engine"] == "local"]
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
        ns = [r["rows"] for r in results]
        exact = [r["neighbors"].get("method") == "exact" for r in results]
        for a, key in ((ax[0], "wall_s"), (ax[1], "peak_gb")):
            ys = [r[key] for r in results]
            a.plot(ns, ys, "-", color="0.6")
            for flag, marker, label in ((True, "s", "exact kNN graph"),
                                        (False, "o", "blocked inverted-file graph")):
                pts = [(x, y) for x, y, e in zip(ns, ys, exact, strict=True) if e == flag]
                if pts:
                    a.plot(*zip(*pts, strict=True), marker, label=label)
            a.set_xscale("log")
        ax[0].set_yscale("log")
        ax[0].axhline(150, ls=":", color="r", label="target at 1M: 150 s")
        ax[0].set(xlabel="rows", ylabel="seconds", title="denoise --embeddings, no corrector")
        ax[1].set(xlabel="rows", ylabel="peak GB", title="peak memory")
        ax[0].legend(fontsize=7)
        ax[1].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)


if __name__ == "__main__":
    main()
