"""The order of suspicion (issue 14): which ranking finds the wrong labels, left out.

Usage: python bench/trust_signals.py   # once: encode, score, cache the signals
       python bench/bench_suspicion.py [--markdown FILE]

relabel lists the examples (``issues``, ``review push``, ``find_label_issues``, the report) in the
order of ``relabel.detect.decide.suspicion``: ``w * rank(p_wrong) + (1 - w) * rank(1 -
credibility)``, normalised. This script scores each weight of ``WEIGHTS`` (0 = the credibility
alone, the order until 2026-12-07; 1 = the noisy-channel ``p_wrong`` alone) on the 11 noisy
development sets and the five corrector paths of ``bench/bench_trust.py``, at each path's shipped
gamma:

- AP of finding the wrong labels with each order;
- the precision of the ``round(noise rate * N)`` most suspicious rows under each order (the
  flags' count); relabel flags the rows of highest ``p_wrong``, the column ``w=1``;
- the leave-one-dataset-out choice: for each set in turn, the weight with the best mean AP over
  every path of the other sets, and that set's AP at it.

The automatic changes do not depend on the order and are the same under every weight.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_denoise import append_markdown
from bench.bench_trust import PATHS, path_sets, run_decide
from bench.devdata import NOISY_SETS
from bench.trust_signals import load_signals
from relabel.detect.decide import GAMMA, SUSPICION_WEIGHT, suspicion
from relabel.detect.neighbors import build_knn_graph
from relabel.metrics import detection_metrics

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    names = list(NOISY_SETS)
    sig = {n: load_signals(n) for n in names}
    graphs = {n: build_knn_graph(sig[n]["embeddings"], k=50) for n in names}
    ap_of: dict[tuple[str, str, float], float] = {}
    prec_of: dict[tuple[str, str, float], float] = {}
    for path in PATHS:
        for n in path_sets(path, names, sig):
            s = sig[n]
            err = s["labels"] != s["true"]
            d = run_decide(s, graphs[n], path, GAMMA[path], 0.9)
            k = round(d.decisions.noise_rate * len(err)) if d.decisions.can_estimate else 0
            for w in WEIGHTS:
                score = suspicion(d.credibility, d.p_wrong, weight=w)
                ap_of[(path, n, w)] = detection_metrics(err, score, np.zeros(len(err), bool))["ap"]
                top = np.argsort(-score, kind="stable")[:k]
                prec_of[(path, n, w)] = float(err[top].mean()) if k else float("nan")
    keys = sorted({(p, n) for p, n, _ in ap_of})
    lines = ["### The order of suspicion, AP by weight of p_wrong's rank", "",
             "| path | set | " + " | ".join(f"AP w={w:g}" for w in WEIGHTS)
             + " | flag precision w=0 | flag precision w=1 | flag precision "
             f"w={SUSPICION_WEIGHT:g} |",
             "|---|---|" + "---|" * (len(WEIGHTS) + 3)]
    for p, n in keys:
        lines.append(f"| {p} | {n} | " + " | ".join(f"{ap_of[(p, n, w)]:.3f}" for w in WEIGHTS)
                     + f" | {prec_of[(p, n, 0.0)]:.3f} | {prec_of[(p, n, 1.0)]:.3f} | "
                     f"{prec_of[(p, n, SUSPICION_WEIGHT)]:.3f} |")
    lines += ["", "Mean AP per path:", "",
              "| path | " + " | ".join(f"w={w:g}" for w in WEIGHTS) + " |",
              "|---|" + "---|" * len(WEIGHTS)]
    for p in PATHS:
        ks = [k for k in keys if k[0] == p]
        lines.append(f"| {p} | " + " | ".join(
            f"{np.mean([ap_of[(*k, w)] for k in ks]):.4f}" for w in WEIGHTS) + " |")
    lines.append("| all | " + " | ".join(
        f"{np.mean([ap_of[(*k, w)] for k in keys]):.4f}" for w in WEIGHTS) + " |")
    lines += ["", "Left out (the weight chosen on every path of the other 10 sets):", "",
              "| set left out | weight chosen | AP at w=0 → at the weight chosen, per path |",
              "|---|---|---|"]
    for n in names:
        rest = [k for k in keys if k[1] != n]
        best = max(WEIGHTS, key=lambda w: np.mean([ap_of[(*k, w)] for k in rest]))
        mine = [k for k in keys if k[1] == n]
        cells = "; ".join(f"{p} {ap_of[(p, n, 0.0)]:.3f} → {ap_of[(p, n, best)]:.3f}"
                          for p, _ in mine)
        lines.append(f"| {n} | {best:g} | {cells} |")
    block = "\n".join(lines) + "\n"
    print(block)
    if args.markdown:
        append_markdown(args.markdown, [block])


if __name__ == "__main__":
    main()
