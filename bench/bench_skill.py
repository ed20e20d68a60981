"""The self-diagnosis on every development set (issue 14): which signals have skill.

Usage: python bench/bench_skill.py [--markdown F]

For each set of the cached signals (``bench/trust_signals.py``) and each corrector path of
``bench/bench_trust.py`` (linear, head, none, pred_probs), this runs the decision rule at its
default gamma and reports the skill the diagnosis reads (``skill``: the corrector's, or without
one the neighbour vote's), the best skill of any signal (``estimate``: what decides whether the
noise is estimated and flagged on), and whether the rule may change labels (skill >= MIN_SKILL)
and flag on its noise estimate (estimate >= MIN_SKILL). A set where ``estimate`` is below
MIN_SKILL would get no flags on the estimate (relabel/detect/decide.py, "Self-diagnosis").
Takes a few seconds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_denoise import append_markdown
from bench.bench_trust import PATHS, path_signals
from bench.devdata import CLEAN_SETS, NOISY_SETS
from bench.trust_signals import SIGNALS, load_signals
from relabel.detect.decide import GAMMA, MIN_SKILL, decide, signal_skill


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", default=None, help="append the table to this file")
    args = ap.parse_args()
    names = [n for n in (*NOISY_SETS, *CLEAN_SETS) if (SIGNALS / f"{n}.npz").is_file()]
    lines = ["| set | " + " | ".join(f"{p}: skill / estimate / flags" for p in PATHS) + " |",
             "|---|" + "---|" * len(PATHS)]
    lowest = {p: (9.0, "") for p in PATHS}
    for name in names:
        s = load_signals(name)
        cells = []
        for path in PATHS:
            post, weights = path_signals(s, path)
            res = decide(s["labels"], post, weights=weights, graph=None, gamma=GAMMA[path])
            dec = res.decisions
            best = max(signal_skill(s["labels"], post[k]) for k in post if k != "kde")
            lowest[path] = min(lowest[path], (best, name))
            mark = "" if dec.can_separate else " (no changes)"
            mark += "" if dec.can_estimate else " (no flags)"
            cells.append(f"{dec.skill:.2f} / {best:.2f} / {int(res.flagged.sum())}{mark}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"MIN_SKILL = {MIN_SKILL}. Lowest best skill per path: "
                 + ", ".join(f"{p} {v:.2f} ({n})" for p, (v, n) in lowest.items()) + ".")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        append_markdown(args.markdown, ["### The self-diagnosis on every development set "
                                        "(`python bench/bench_skill.py`)", "", text])


if __name__ == "__main__":
    main()
