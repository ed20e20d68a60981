"""The combined posterior's weights set by each signal's skill, against the fixed ones (issue 14).

Usage: python bench/bench_weights.py [--markdown F]

relabel combines the corrector's and the neighbour vote's posteriors with fixed weights
(``CORRECTOR_WEIGHTS`` in relabel/detect/decide.py: cv 0.7, knn 0.3). On the shipped example the
neighbour vote alone ranks the errors better than the combination (AP 0.471 against 0.434), and
its skill there is higher than the corrector's (0.77 against 0.61). This asks whether weights
read from each signal's skill on the dataset itself (``signal_skill``: 1 - CE / H against the
given labels, no gold needed) would rank better everywhere:

- ``fixed``: cv 0.7, knn 0.3 (shipped);
- ``skill``: cv and knn weighted by their skill (summing to 1);
- ``skill-squared``: the same with squared skills (the better signal counts more);
- ``skill+kde``: cv, knn and kde weighted by their skill.

Every scheme runs the decision rule on the linear path at the shipped gamma and target 0.9, on
the cached signals of ``bench/trust_signals.py``. The table gives the AP of 1 - credibility on
each noisy set and the labels changed on each clean control (gamma is not chosen again per
scheme, so the changes show how each scheme moves the rule's safety at the same gamma).
Takes about a minute.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_denoise import append_markdown
from bench.bench_trust import outcome
from bench.devdata import CLEAN_SETS, NOISY_SETS
from bench.trust_signals import SIGNALS, load_signals
from relabel.detect.decide import CORRECTOR_WEIGHTS, GAMMA, decide, signal_skill
from relabel.detect.neighbors import build_knn_graph

SCHEMES = ("fixed", "skill", "skill-squared", "skill+kde")


def scheme_weights(scheme: str, skill: dict[str, float]) -> dict[str, float]:
    """The weights of one scheme from each signal's skill (negative skill counts as 0)."""
    if scheme == "fixed":
        return dict(CORRECTOR_WEIGHTS)
    keys = ("cv", "knn", "kde") if scheme == "skill+kde" else ("cv", "knn")
    power = 2 if scheme == "skill-squared" else 1
    raw = {k: max(skill[k], 0.0) ** power for k in keys}
    total = sum(raw.values())
    return {k: v / total for k, v in raw.items()} if total > 0 else dict(CORRECTOR_WEIGHTS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", default=None, help="append the table to this file")
    args = ap.parse_args()
    names = [n for n in (*NOISY_SETS, *CLEAN_SETS) if (SIGNALS / f"{n}.npz").is_file()]
    lines = ["| set | skill cv / knn / kde | " + " | ".join(SCHEMES) + " |",
             "|---|---|" + "---|" * len(SCHEMES)]
    aps: dict[str, list[float]] = {s: [] for s in SCHEMES}
    for name in names:
        s = load_signals(name)
        graph = build_knn_graph(s["embeddings"], k=50)
        post = {"cv": s["cv_linear"], "knn": s["knn"], "kde": s["kde"]}
        skill = {k: signal_skill(s["labels"], v) for k, v in post.items()}
        cells = []
        for scheme in SCHEMES:
            w = scheme_weights(scheme, skill)
            d = decide(s["labels"], {k: post[k] for k in w}, weights=w, target_precision=0.9,
                       graph=graph, texts=list(s["texts"]), gamma=GAMMA["linear"])
            o = outcome(s, d)
            if name in CLEAN_SETS:
                cells.append(f"{o['changes']} changed")
            else:
                aps[scheme].append(o["ap"])
                cells.append(f"{o['ap']:.3f} ({o['fixes']} / {o['damage']})")
        lines.append(f"| {name} | {skill['cv']:.2f} / {skill['knn']:.2f} / {skill['kde']:.2f} | "
                     + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    lines.append("| mean AP, noisy sets | | " + " | ".join(
        f"{np.mean(aps[s]):.4f}" for s in SCHEMES) + " |")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        append_markdown(args.markdown, table)


if __name__ == "__main__":
    main()
