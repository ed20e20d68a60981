"""relabel against cleanlab's Datalab label check on the same features (issue 7).

Usage: python bench/bench_datalab.py [--rows 100000] [--dim 384] [--classes 50] [--spread 0.6]
                                     [--markdown FILE]

Data: the synthetic clustered embeddings of ``bench_scale.py`` (unit vectors in ``classes``
Gaussian clusters, noise scale ``spread``, 10% of the labels flipped uniformly). Both tools get
the same vectors and labels, each in its own process timed with ``/usr/bin/time -v``:

- relabel: ``relabel denoise data.csv --embeddings emb.npy --corrector none``;
- cleanlab: ``Datalab(...).find_issues(features=emb, issue_types={"label": {}})``, which derives
  out-of-sample probabilities from a k-nearest-neighbour classifier on the features and runs
  confident learning on them (cleanlab's own recipe when there is no model).

Reported: wall time, peak memory, the flags' precision and recall against the flipped labels,
the AP of each tool's score, and the agreement of the two flag sets (Jaccard, and the share of
each tool's flags the other also raises).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_denoise import append_markdown  # noqa: E402
from bench.bench_scale import make_data  # noqa: E402


def _timed(cmd: list[str]) -> tuple[float, float, str]:
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-3000:])
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    return wall, rss_kb / 1024**2, p.stdout


def datalab_worker(work: Path) -> None:
    """Runs in its own process: Datalab's label check on ``work/emb.npy``."""
    import polars as pl
    from cleanlab import Datalab

    labels = pl.read_csv(work / "data.csv", columns=["label"])["label"].to_numpy()
    emb = np.load(work / "emb.npy")
    lab = Datalab(data={"label": labels}, label_name="label", verbosity=0)
    lab.find_issues(features=emb, issue_types={"label": {}})
    issues = lab.get_issues("label")
    np.savez(work / "datalab.npz", flagged=issues["is_label_issue"].to_numpy(),
             score=issues["label_score"].to_numpy())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--classes", type=int, default=50)
    ap.add_argument("--spread", type=float, default=0.6)
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--worker-datalab", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker_datalab:
        datalab_worker(Path(args.worker_datalab))
        return
    import polars as pl
    from sklearn.metrics import average_precision_score

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        flip = make_data(work, args.rows, args.dim, args.classes, spread=args.spread)
        out = work / "out"
        rel_wall, rel_gb, _ = _timed([sys.executable, "-m", "relabel", "denoise",
                                      str(work / "data.csv"), "--id-col", "id", "--embeddings",
                                      str(work / "emb.npy"), "--corrector", "none", "--out",
                                      str(out), "--quiet"])
        scores = pl.read_parquet(out / "scores.parquet", columns=["flagged", "credibility"])
        rel_flag = scores["flagged"].to_numpy()
        rel_score = 1 - scores["credibility"].to_numpy()
        cl_wall, cl_gb, _ = _timed([sys.executable, str(Path(__file__).resolve()),
                                    "--worker-datalab", str(work)])
        dl = np.load(work / "datalab.npz")
        cl_flag, cl_score = dl["flagged"], 1 - dl["score"]

    def quality(flag: np.ndarray, score: np.ndarray) -> tuple[float, float, float]:
        tp = int((flag & flip).sum())
        return (tp / max(int(flag.sum()), 1), tp / max(int(flip.sum()), 1),
                float(average_precision_score(flip, score)))

    both = int((rel_flag & cl_flag).sum())
    either = int((rel_flag | cl_flag).sum())
    rows = []
    for name, wall, gb, flag, score in (("relabel --corrector none", rel_wall, rel_gb, rel_flag,
                                         rel_score),
                                        ("cleanlab Datalab (label, features)", cl_wall, cl_gb,
                                         cl_flag, cl_score)):
        p, r, a = quality(flag, score)
        rows.append(f"| {name} | {wall:.1f} | {gb:.2f} | {int(flag.sum())} | {p:.3f} | {r:.3f} "
                    f"| {a:.3f} |")
    lines = [f"Command: `python bench/bench_datalab.py --rows {args.rows} --spread {args.spread}`"
             f" ({args.dim} dims, {args.classes} classes, {int(flip.sum())} flipped labels; "
             "2 cores).", "",
             "| tool | wall s | peak GB | flagged | precision | recall | AP |",
             "|---|---|---|---|---|---|---|", *rows, "",
             f"Agreement of the flag sets: Jaccard {both / max(either, 1):.3f}; "
             f"{both / max(int(cl_flag.sum()), 1):.1%} of Datalab's flags are relabel's too, "
             f"{both / max(int(rel_flag.sum()), 1):.1%} of relabel's are Datalab's."]
    print("\n".join(lines))
    append_markdown(args.markdown, lines)


if __name__ == "__main__":
    main()
