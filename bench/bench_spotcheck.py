"""Spot check of relabel's automatic changes (relabel/review/spotcheck.py): does a small random
sample of the changes, decided by a reviewer, tell harmful changes from good ones?

Usage: python bench/trust_signals.py (once; ``--words-only`` for ``--words``), then
       python bench/bench_spotcheck.py [--sizes 10,20,50] [--draws 200] [--markdown FILE]
       [--words]

Sets: every development set and clean control on which relabel changes at least one label at
its defaults (linear corrector, target precision 0.9; scored with ``score_examples`` on the
cached MiniLM embeddings), and two constructions with errors that whole regions share, as
distant supervision makes them (no development set has such noise *and* automatic changes):

- ``banking77-regions-a``: clean banking77; every class is split in 4 k-means clusters of its
  embeddings, and in each cluster drawn with probability 0.25, 85% of the labels are moved to
  the class's nearest other class (by class-mean embedding);
- ``banking77-regions-b``: the same with probability 0.35 and 70%.

For each set: the changes, their true precision against the gold labels, and relabel's own
estimate (mean confidence). Then a simulated reviewer decides a random sample of n changes,
drawn ``--draws`` times (a uniform sample without replacement, as the keyed hash gives with a
random key). The reviewer answers with the gold label, or with a random wrong label 10% of the
time. Per set and n:

- the check's precision against the truth (mean absolute error) and its interval's coverage;
- how often it says "harmful" (export then withholds the unchecked changes) and "below target";
- label accuracy after the export: applying every change, and under the check's verdict (the
  reviewers' decisions on the sample; the other changes only when not harmful).

Finally, for the constructions: what a second round (``denoise --reviews`` with the checked
changes trusted, n = 20, gold reviewer) would change on its own without the withholding.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench.bench_review_loop as loop
from bench.bench_review_loop import run_scoring
from bench.devdata import CLEAN_SETS, NOISY_SETS
from bench.trust_signals import load_signals
from relabel.crowd.estimate import jeffreys_interval
from relabel.detect.decide import DEFAULT_TARGET_PRECISION
from relabel.review.spotcheck import HARMFUL

REGIONS = {"banking77-regions-a": (0.25, 0.85), "banking77-regions-b": (0.35, 0.70)}


def regions(share: float, frac: float, seed: int = 0) -> dict:
    """Clean banking77 with errors shared by whole k-means regions (module docstring)."""
    from sklearn.cluster import KMeans

    s = dict(load_signals("banking77-clean"))
    x, y = s["embeddings"], s["true"].astype(np.int64)
    k = int(y.max()) + 1
    rng = np.random.default_rng(seed)
    means = np.stack([x[y == c].mean(0) for c in range(k)])
    sim = means @ means.T
    np.fill_diagonal(sim, -np.inf)
    nearest = sim.argmax(1)
    labels = y.copy()
    for c in range(k):
        idx = np.flatnonzero(y == c)
        parts = KMeans(4, n_init=2, random_state=seed).fit(x[idx]).labels_
        for j in range(4):
            if rng.random() < share:
                members = idx[parts == j]
                labels[members[rng.random(len(members)) < frac]] = nearest[c]
    s["labels"] = labels
    return s


def answers(true: np.ndarray, k: int, error: float, rng: np.random.Generator) -> np.ndarray:
    wrong = rng.random(len(true)) < error
    return np.where(wrong, (true + rng.integers(1, k, len(true))) % k, true)


def simulate(y: np.ndarray, t: np.ndarray, suggested: np.ndarray, conf: np.ndarray, n: int,
             draws: int, error: float, target: float) -> dict:
    k = int(max(y.max(), t.max(), suggested.max()) + 1)
    rows = np.flatnonzero(suggested >= 0)
    true_prec = float((suggested[rows] == t[rows]).mean())
    rng = np.random.default_rng(0)
    out = {"err": [], "covered": [], "harmful": [], "below": [], "acc_all": [], "acc_check": []}
    applied = np.where(suggested >= 0, suggested, y)
    for _ in range(draws):
        pick = rng.choice(rows, size=min(n, len(rows)), replace=False)
        said = answers(t[pick], k, error, rng)
        m = int((said == suggested[pick]).sum())
        low, high = jeffreys_interval(m, len(pick))
        prec = m / len(pick)
        harmful = high < HARMFUL
        out["err"].append(abs(prec - true_prec))
        out["covered"].append(low <= true_prec <= high)
        out["harmful"].append(harmful)
        out["below"].append(not harmful and high < target)
        # both exports apply the reviewers' decisions on the sample
        new_all = applied.copy()
        new_all[pick] = said
        new_check = (y if harmful else applied).copy()
        new_check[pick] = said
        out["acc_all"].append(float((new_all == t).mean()))
        out["acc_check"].append(float((new_check == t).mean()))
    return {key: float(np.mean(v)) for key, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,20,50")
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--words", action="store_true",
                    help="on text classification the linear corrector also learns from the "
                         "words where they help, as denoise does (relabel/correct/lexical.py)")
    args = ap.parse_args()
    loop.WORDS = args.words
    sizes = [int(x) for x in args.sizes.split(",")]
    target = DEFAULT_TARGET_PRECISION
    lines = ["| set | rows | noise % | changes | true precision | relabel's estimate | n | "
             "reviewer | check: mean abs error | interval covers | harmful | below target | "
             "accuracy: before / all changes / under the check |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    second = ["| set | changes in round 1 (right) | reviewed in round 2 | changes in round 2 "
              "without the withholding (right / damage) |", "|---|---|---|---|"]
    names = [*NOISY_SETS, *CLEAN_SETS, *REGIONS]
    for name in names:
        s = regions(*REGIONS[name]) if name in REGIONS else load_signals(name)
        y, t = s["labels"].astype(np.int64), s["true"].astype(np.int64)
        res, _ = run_scoring(s, y, None)
        sug = res.suggested
        rows = np.flatnonzero(sug >= 0)
        print(f"{name}: {len(rows)} changes", flush=True)
        if not len(rows):
            continue
        conf = np.nan_to_num(res.confidence, nan=0.0)
        true_prec = float((sug[rows] == t[rows]).mean())
        for n in sizes:
            if n > len(rows) and n != sizes[0]:
                continue
            for error in (0.0, 0.1):
                r = simulate(y, t, sug, conf, n, args.draws, error, target)
                lines.append(
                    f"| {name} | {len(y)} | {100 * (y != t).mean():.1f} | {len(rows)} | "
                    f"{true_prec:.2f} | {conf[rows].mean():.2f} | {min(n, len(rows))} | "
                    f"{'gold' if error == 0 else '10% wrong'} | {r['err']:.3f} | "
                    f"{100 * r['covered']:.0f}% | {100 * r['harmful']:.0f}% | "
                    f"{100 * r['below']:.0f}% | {100 * (y == t).mean():.2f} / "
                    f"{100 * r['acc_all']:.2f} / {100 * r['acc_check']:.2f} |")
        if name in REGIONS:
            rng = np.random.default_rng(1)
            pick = rng.choice(rows, size=min(20, len(rows)), replace=False)
            reviewed = np.full(len(y), -1, dtype=np.int64)
            reviewed[pick] = t[pick]
            res2, _ = run_scoring(s, y, reviewed)
            ch2 = (res2.suggested >= 0) & (reviewed < 0)
            right2 = int((res2.suggested[ch2] == t[ch2]).sum())
            second.append(f"| {name} | {len(rows)} ({int((sug[rows] == t[rows]).sum())}) | "
                          f"{len(pick)} | {int(ch2.sum())} ({right2} / "
                          f"{int((ch2 & (y == t)).sum())}) |")
    text = "\n".join(lines) + "\n\nSecond round:\n\n" + "\n".join(second) + "\n"
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
