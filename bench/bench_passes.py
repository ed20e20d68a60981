"""Passes of the rule (``relabel/detect/score.py``, "Passes"): how many, left out.

Usage: python bench/trust_signals.py    # once: the cached embeddings and word features
       python bench/bench_passes.py [--max-passes 4] [--sets ...] [--markdown FILE]  # ~10 min

For every development set (the noisy sets, the clean controls and the subjective controls of
``bench/devdata.py``) and every number of passes P = 1 ... ``--max-passes``, this runs
``relabel.detect.score.score_examples`` as ``relabel denoise`` does with its defaults (the linear
corrector; on text classification the word model beside it where the words help; the set's
cached MiniLM embeddings) with ``passes=P``, and scores the automatic changes against the gold
labels: fixes, damaged labels (a right label changed), changes from one wrong label to another,
and the label accuracy after applying them.

The choice, for each set left out in turn, uses the other sets only: P passes are acceptable
where

- every clean and subjective control has at most 0.3% of its rows changed (the trust issue's
  limit, as for gamma in ``bench/bench_trust.py``);
- every noisy set's accuracy after applying the changes is at least its accuracy before;
- the changes that pass P adds (rows whose label after P passes differs from the label after
  P - 1), pooled over the noisy sets, are at least the target precision (0.9) right.

The largest P for which 1 ... P are all acceptable is chosen, and the left-out set is scored at
that P.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_denoise import append_markdown
from bench.bench_trust import CONTROL_SETS, MAX_CLEAN_CHANGED
from bench.devdata import NOISY_SETS
from bench.trust_signals import load_signals
from relabel.config import DEFAULT_TARGET_PRECISION
from relabel.correct import make_corrector
from relabel.detect.score import PASSES, score_examples


def run(name: str, passes: int) -> dict:
    """The labels after each of 1 ... ``passes`` passes on set ``name``, scored."""
    s = load_signals(name)
    labels, true = s["labels"].astype(np.int64), s["true"].astype(np.int64)
    k = int(max(labels.max(), true.max()) + 1)
    words = None
    if "cv_words" in s:  # text classification: denoise's word features
        from relabel.correct.lexical import word_features

        words = word_features(list(s["texts"]))
    keep = true >= 0
    out: dict = {"set": name, "n": len(labels), "before": float((labels == true)[keep].mean()),
                 "noisy": name in NOISY_SETS, "by_pass": []}
    previous = labels
    for p in range(1, passes + 1):
        t0 = time.perf_counter()
        res = score_examples(s["embeddings"], labels, k, corrector=make_corrector("linear", k),
                             texts=list(s["texts"]), words=words, passes=p)
        after = np.where(res.suggested >= 0, res.suggested, labels)
        changed = after != labels
        new = after != previous  # what pass p added
        out["by_pass"].append({
            "passes": p, "seconds": round(time.perf_counter() - t0, 1),
            "changes": int(changed.sum()),
            "fixes": int((changed & (after == true) & keep).sum()),
            "damage": int((changed & (labels == true) & keep).sum()),
            "after": float((after == true)[keep].mean()),
            "added": int(new.sum()), "added_right": int((new & (after == true) & keep).sum()),
        })
        previous = after
    return out


def acceptable(results: list[dict], p: int, target: float = DEFAULT_TARGET_PRECISION) -> bool:
    """Whether ``p`` passes are acceptable on ``results`` (module docstring)."""
    added = right = 0
    for r in results:
        b = r["by_pass"][p - 1]
        if not r["noisy"]:
            if b["changes"] / r["n"] > MAX_CLEAN_CHANGED:
                return False
            continue
        if b["after"] < r["before"]:
            return False
        added += b["added"]
        right += b["added_right"]
    return p == 1 or added == 0 or right / added >= target


def choose(results: list[dict], max_passes: int) -> int:
    """The largest P with 1 ... P all acceptable on ``results``."""
    chosen = 1
    for p in range(1, max_passes + 1):
        if not acceptable(results, p):
            break
        chosen = p
    return chosen


def table(results: list[dict], max_passes: int) -> str:
    head = ("| set | kind | rows | accuracy before | " +
            " | ".join(f"{p} pass{'es' if p > 1 else ''}: changes (fixes / damage), accuracy"
                       for p in range(1, max_passes + 1)) +
            " | chosen without it | left-out accuracy after (changed) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    chosen_all = []
    for r in results:
        others = [o for o in results if o["set"] != r["set"]]
        c = choose(others, max_passes)
        chosen_all.append(c)
        b = r["by_pass"][c - 1]
        cells = [f"{x['changes']} ({x['fixes']} / {x['damage']}), {100 * x['after']:.2f}"
                 for x in r["by_pass"]]
        lines.append(f"| {r['set']} | {'noisy' if r['noisy'] else 'control'} | {r['n']} | "
                     f"{100 * r['before']:.2f} | " + " | ".join(cells) +
                     f" | {c} | {100 * b['after']:.2f} ({100 * b['changes'] / r['n']:.2f}%) |")
    pooled = []
    for p in range(2, max_passes + 1):
        added = sum(r["by_pass"][p - 1]["added"] for r in results if r["noisy"])
        right = sum(r["by_pass"][p - 1]["added_right"] for r in results if r["noisy"])
        pooled.append(f"pass {p} adds {added} changes on the noisy sets, "
                      f"{right / added if added else float('nan'):.3f} right")
    counts = {p: chosen_all.count(p) for p in sorted(set(chosen_all))}
    lines += ["", "- " + "; ".join(pooled) + ".",
              f"- Chosen, over the {len(results)} folds: " +
              ", ".join(f"{p} pass{'es' if p > 1 else ''} {n} times" for p, n in counts.items())
              + f"; all sets in-sample: {choose(results, max_passes)}; relabel's default "
              f"(`PASSES['linear']`): {PASSES.get('linear', 1)}.",
              "- Seconds per set at each P: " + "; ".join(
                  f"{r['set']} " + "/".join(str(x['seconds']) for x in r['by_pass'])
                  for r in results) + "."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-passes", type=int, default=4)
    ap.add_argument("--sets", default=",".join(NOISY_SETS + CONTROL_SETS))
    ap.add_argument("--markdown", help="append the table to this file")
    args = ap.parse_args()
    results = []
    for name in args.sets.split(","):
        results.append(run(name, args.max_passes))
        b = results[-1]["by_pass"]
        print(name, " ".join(f"{x['changes']}({x['fixes']}/{x['damage']})" for x in b),
              flush=True)
    text = table(results, args.max_passes)
    print(text)
    append_markdown(args.markdown, ["### Passes of the rule, left out "
                                    "(`python bench/bench_passes.py`)\n\n" + text])


if __name__ == "__main__":
    main()
