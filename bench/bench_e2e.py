"""End to end at scale (issue 7): ``relabel denoise --corrector head`` on 100k rows of text, from
an empty output directory (so the encoder runs), with seconds per stage and peak memory.

Usage: python bench/bench_e2e.py [--rows 100000] [--noise 0.1] [--markdown FILE]

Data: banking77's 13,083 train and test texts, each used several times with a distinct reference
appended ("... (ref 4711)"), so every row is a distinct text and is encoded (the encoder encodes
a duplicate text once); ``noise`` of the labels are flipped uniformly to another class. Peak
memory is the maximum resident set size of the denoise process (``/usr/bin/time -v``). AP is the
average precision of (1 - credibility) for the flipped labels; accuracy is the share of right
labels before and after applying the suggestions.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_denoise import append_markdown  # noqa: E402
from bench.devdata import load_banking77  # noqa: E402


def make_rows(n: int, noise: float, seed: int = 0) -> pl.DataFrame:
    base = pl.concat([load_banking77(0.0, split=split).select("text", "label")
                      for split in ("train", "test")])
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, base.height, n)
    texts = [f"{t} (ref {i})" for i, t in enumerate(base["text"].gather(pick).to_list())]
    true = base["label"].gather(pick).to_numpy()
    classes = np.unique(true)
    code = np.searchsorted(classes, true)
    flip = rng.random(n) < noise
    given = code.copy()
    given[flip] = (code[flip] + rng.integers(1, len(classes), int(flip.sum()))) % len(classes)
    return pl.DataFrame({"id": np.arange(n).astype(str), "text": texts,
                         "label": classes[given], "true_label": true})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--noise", type=float, default=0.1)
    ap.add_argument("--corrector", default="head")
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    from sklearn.metrics import average_precision_score

    df = make_rows(args.rows, args.noise)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.csv"
        df.write_csv(data)
        out = Path(tmp) / "out"
        cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "relabel", "denoise", str(data),
               "--id-col", "id", "--corrector", args.corrector, "--out", str(out), "--quiet"]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(p.stderr[-3000:])
        rss_gb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)",
                               p.stderr).group(1)) / 1024**2
        summary = json.loads((out / "summary.json").read_text())
        scores = pl.read_parquet(out / "scores.parquet",
                                 columns=["credibility", "suggested_label"])
    wrong = (df["label"] != df["true_label"]).to_numpy()
    ap_score = average_precision_score(wrong, 1 - scores["credibility"].to_numpy())
    fixed = scores["suggested_label"].fill_null(pl.Series(df["label"])).to_numpy()
    acc_before = float((df["label"] == df["true_label"]).mean())
    acc_after = float(np.mean(fixed == df["true_label"].to_numpy()))
    st = summary["seconds"]
    nb = summary["params"]["neighbors"]
    lines = [f"Command: `python bench/bench_e2e.py --rows {args.rows} --noise {args.noise}` "
             f"(`--corrector {args.corrector}`, 5 folds, packaged MiniLM-L6 on 2 CPU cores).", "",
             "| rows | wall s | " + " | ".join(st) + " | peak GB | AP | accuracy before → after "
             "| neighbour graph |",
             "|---|---|" + "---|" * len(st) + "---|---|---|---|",
             f"| {args.rows} | {wall:.1f} | " + " | ".join(f"{v:.1f}" for v in st.values())
             + f" | {rss_gb:.2f} | {ap_score:.3f} | {100 * acc_before:.1f} → "
             f"{100 * acc_after:.1f} | {nb['method']}"
             + (f", recall@k {nb['recall_at_k']}" if "recall_at_k" in nb else "") + " |"]
    inner = summary["params"].get("seconds", {})
    enc = summary.get("encoder", {})
    lines += ["", "Score stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in inner.items())
              + f". Encoder precision: {enc.get('precision', '?')}"
              + (f" (probe {enc['precision_probe']})" if "precision_probe" in enc else "")
              + f"; graph: {nb}."]
    print("\n".join(lines))
    append_markdown(args.markdown, lines)


if __name__ == "__main__":
    main()
