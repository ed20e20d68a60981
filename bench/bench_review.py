"""Review loop at scale (issue 4): push 10,000 tasks with predictions to a real Label Studio and
pull 10,000 annotations back.

Usage: python bench/bench_review.py [--rows 10000] [--markdown bench/RESULTS.md]
(``make bench-review`` sets up Label Studio's own virtualenv first.)

Setup (not timed): a throwaway Label Studio 1.23.2 on 127.0.0.1 with SQLite in a temp dir; a
synthetic dataset of ``rows`` short texts in 20 classes with 20% wrong labels, scored by
``relabel denoise --embeddings`` (clustered random vectors, so no encoder time), pushed with
``--only all`` so exactly ``rows`` tasks go. Timed, each through the library call the CLI wraps:

1. first push of ``rows`` tasks (listing the empty project, bulk import in batches of 1,000);
2. the same push again (idempotent: lists the project, sends nothing);
3. the push of a new run over the same data (other signal weights): every task whose data
   changed and that no reviewer touched is deleted and imported again (two bulk requests per
   1,000). Tasks with annotations are patched one request each instead (about 7 tasks/s here,
   measured on 2,000: 282 s), which is why that path is kept for reviewed tasks only;
4. pull of a project where each of the ``rows`` examples has one reviewer annotation (accept,
   change or skip), imported in bulk for the setup (one REST call per annotation runs at about
   13 per second here, measured with 4 threads on 2,000 tasks).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_denoise import append_markdown  # noqa: E402
from connectors.label_studio import pull, push  # noqa: E402
from connectors.label_studio.client import LabelStudioClient  # noqa: E402
from connectors.label_studio.convert import CHOICES_NAME  # noqa: E402
from connectors.label_studio.local_server import (  # noqa: E402
    LABEL_STUDIO_VERSION,
    LocalLabelStudio,
)
from relabel.config import DenoiseConfig  # noqa: E402
from relabel.pipeline import denoise  # noqa: E402


def make_run(workdir: Path, rows: int, classes: int = 20, seed: int = 0) -> Path:
    """A scored run over ``rows`` synthetic examples (precomputed clustered embeddings)."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, classes, rows)
    labels = true.copy()
    wrong = rng.random(rows) < 0.2
    labels[wrong] = (true[wrong] + rng.integers(1, classes, wrong.sum())) % classes
    words = [f"w{i}" for i in range(400)]
    texts = [" ".join(rng.choice(words[c * 20:(c + 1) * 20], 8)) + f" example {i}"
             for i, c in enumerate(true)]
    data = workdir / "data.csv"
    pl.DataFrame({"id": [f"ex{i:07d}" for i in range(rows)], "text": texts,
                  "label": [f"class_{c:02d}" for c in labels]}).write_csv(data)
    centres = rng.normal(size=(classes, 64))
    emb = centres[true] + rng.normal(scale=0.8, size=(rows, 64))
    np.save(workdir / "emb.npy", emb.astype(np.float32))
    out = workdir / "run"
    denoise(data, out_dir=out, config=DenoiseConfig(id_col="id", corrector="none",
                                                    embeddings=workdir / "emb.npy"))
    return out


def rerun(run: Path) -> Path:
    """The same data scored again with other signal weights: a new run whose push updates."""
    import json

    info = json.loads((run / "run.json").read_text())
    out = run.parent / "run2"
    denoise(info["input"], out_dir=out, config=DenoiseConfig(
        id_col="id", corrector="none", embeddings=run.parent / "emb.npy",
        weights={"knn": 0.8, "kde": 0.2}))
    return out


def annotated_project(server: LocalLabelStudio, run: Path, title: str) -> tuple[int, float]:
    """A project holding every example of the run with one reviewer annotation each (accept,
    change or skip, 1:1:1), imported in bulk: creating 10,000 annotations one REST call at a
    time runs at about 13 per second on this machine, too slow to set up a pull benchmark."""
    from connectors.label_studio.convert import label_config, tasks_json
    from relabel.review.reviews import review_items

    items = review_items(run, only="all")
    t0 = time.perf_counter()
    with LabelStudioClient(server.credentials) as c:
        user = int(c.check()["id"])
        pid = int(c.create_project(title, label_config(items.classes), model_version="v")["id"])
        tasks = tasks_json(items.frame.to_dicts(), "v")
        for i, t in enumerate(tasks):
            given, sugg = t["data"]["given_label"], t["data"]["suggested_label"]
            other = next(x for x in items.classes if x != given)
            label = (given, sugg or other, None)[i % 3]
            t["annotations"] = [{
                "completed_by": user, "was_cancelled": label is None,
                "result": [] if label is None else [{
                    "from_name": CHOICES_NAME, "to_name": "text", "type": "choices",
                    "value": {"choices": [label]}}]}]
        for start in range(0, len(tasks), 1000):
            c.import_tasks(pid, tasks[start : start + 1000])
    return pid, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--markdown", default=None, help="append the table to this file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run = make_run(work, args.rows)
        server = LocalLabelStudio(work / "ls")
        t0 = time.perf_counter()
        server.start()
        start_s = time.perf_counter() - t0
        try:
            t0 = time.perf_counter()
            res = push(run, "bench", only="all", credentials=server.credentials)
            push_s = time.perf_counter() - t0
            assert res.created == args.rows, res
            t0 = time.perf_counter()
            again = push(run, "bench", only="all", credentials=server.credentials)
            repush_s = time.perf_counter() - t0
            assert again.unchanged == args.rows and again.created == 0, again
            run2 = rerun(run)
            t0 = time.perf_counter()
            upd = push(run2, "bench", only="all", credentials=server.credentials)
            update_s = time.perf_counter() - t0
            assert upd.created == 0 and upd.updated + upd.unchanged == args.rows, upd
            _, annotate_s = annotated_project(server, run, "bench-pull")
            t0 = time.perf_counter()
            pulled = pull(run, "bench-pull", credentials=server.credentials)
            pull_s = time.perf_counter() - t0
            assert pulled.tasks == args.rows, pulled
        finally:
            server.stop()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        f"Label Studio {LABEL_STUDIO_VERSION} (SQLite, Django dev server) on 127.0.0.1, this "
        f"machine (2 cores); server start {start_s:.0f} s. Command: `python "
        f"bench/bench_review.py --rows {args.rows}`.",
        "",
        "| step | tasks | seconds | tasks/s |",
        "|---|---|---|---|",
        f"| push (create project, bulk import with predictions) | {args.rows} | {push_s:.1f} | "
        f"{args.rows / push_s:.0f} |",
        f"| push again (idempotent: nothing sent) | {args.rows} | {repush_s:.1f} | "
        f"{args.rows / repush_s:.0f} |",
        f"| push of a new run of the same data ({upd.updated} stale tasks, none reviewed yet: "
        f"replaced in bulk) | {args.rows} | {update_s:.1f} | {args.rows / update_s:.0f} |",
        f"| setup (not relabel): import {args.rows} tasks with one annotation each | "
        f"{args.rows} | {annotate_s:.1f} | {args.rows / annotate_s:.0f} |",
        f"| pull ({pulled.accepted} accepted, {pulled.changed} changed, {pulled.skipped} "
        f"skipped) -> reviews.parquet | {args.rows} | {pull_s:.1f} | {args.rows / pull_s:.0f} |",
        "",
        f"Peak RSS of the benchmark process (relabel side, incl. setup): {peak_mb:.0f} MB.",
    ]
    print("\n".join(lines))
    append_markdown(args.markdown, lines)


if __name__ == "__main__":
    main()
