"""Small samples of the development sets: does ``relabel.denoise`` stay safe on 1k-2k rows?

Usage: python bench/trust_signals.py    # once: the cached embeddings
       python bench/bench_small.py [--sizes 1000,2000] [--seeds 1,2,3,4,5] [--sets ...]
                                    [--corrector auto] [--markdown FILE]  # about 2 minutes
       python bench/bench_small.py --sets sms-gold,... --rare 5,10,20,40 --seeds 1,2

Users bring datasets from 1,000 rows up, often with a rare class of a dozen examples. The
left-out choice of relabel's constants (bench/bench_trust.py) runs on the whole development
sets, where every class has tens of examples or more. This bench draws seeded random samples of
each set (clean and subjective controls and noisy sets alike, sizes and seeds as given; a
set no larger than a size is skipped at that size), runs the real
``relabel.denoise`` with its defaults on each (the set's cached MiniLM embeddings passed as
``embeddings=``, so nothing is encoded; the word model, the folds and the decisions run as in
``relabel denoise``) and scores the automatic changes against the gold labels.

``--rare 5,10,20,40`` draws instead, for each K, K examples of one class (the smaller of two,
else the one of median size) and 1,500 of the others: a rare class, as users often have one.

Per set and size: the runs, the automatic changes (fixes, damaged labels, and changes from one
wrong label to another), the largest share
of rows changed in one run (the clean controls' limit is 0.3%), the share flagged, and the
classes whose labels were held back because the signals did not recognise their own examples
(``summary.json``: ``decisions.unrecognised_classes``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_denoise import append_markdown
from bench.devdata import CLEAN_SETS, NOISY_SETS, RELATION_SETS, SUBJECTIVE_SETS, load_any
from bench.trust_signals import load_signals

SPAN_COLS = ("head_start", "head_end", "tail_start", "tail_end")


#: rows drawn from the other classes beside a rare class (``--rare``)
RARE_OTHERS = 1500


def rare_class(labels: np.ndarray) -> str:
    """The class made rare: the smaller of two, else the one of median size."""
    classes, counts = np.unique(labels, return_counts=True)
    order = np.argsort(counts, kind="stable")
    return str(classes[order[0]] if len(classes) == 2 else classes[order[len(classes) // 2]])


def sample_rows(labels: np.ndarray, size: int, seed: int, keep: int | None = None) -> np.ndarray:
    """Sorted rows of a seeded sample: ``size`` at random, or (``keep``) that many of
    :func:`rare_class` and ``RARE_OTHERS`` of the others."""
    rng = np.random.default_rng(seed)
    if keep is None:
        return np.sort(rng.choice(len(labels), size, replace=False))
    rare = labels == rare_class(labels)
    others = np.flatnonzero(~rare)
    return np.sort(np.concatenate([
        rng.choice(np.flatnonzero(rare), keep, replace=False),
        rng.choice(others, min(len(others), RARE_OTHERS), replace=False)]))


def run_sample(name: str, frame: pl.DataFrame, embeddings: np.ndarray, rows: np.ndarray,
               out: Path, corrector: str = "auto", rare: str | None = None) -> dict:
    """``relabel.denoise`` on ``rows`` of ``frame``; the changes scored against its
    ``true_label``."""
    import relabel

    sample = frame[rows]
    cols = ["id", "text", "label", *[c for c in SPAN_COLS if c in sample.columns]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = relabel.denoise(sample.select(cols), text="text", label="label", id="id",
                              embeddings=embeddings[rows], out=out, corrector=corrector,
                              **({"task": "relation"} if name.split("-")[0] in RELATION_SETS
                                 else {}))
    truth = sample.select(pl.col("id").cast(pl.String), "true_label")
    changed = (run.scores.filter(pl.col("suggested_label").is_not_null())
               .with_columns(pl.col("id").cast(pl.String)).join(truth, on="id"))
    dec = run.summary["decisions"]
    return {"rows": sample.height,
            "changes": changed.height,
            "fixes": int((changed["suggested_label"] == changed["true_label"]).sum()),
            "damage": int((changed["label"] == changed["true_label"]).sum()),
            "wrong_to_wrong": int(((changed["label"] != changed["true_label"])
                                   & (changed["suggested_label"] != changed["true_label"]))
                                  .sum()),
            "flagged": int(run.summary["flagged"]),
            "held_back": list(dec.get("unrecognised_classes") or []),
            "rare_changed": int((changed["label"] == rare).sum()) if rare else 0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default=",".join(CLEAN_SETS + SUBJECTIVE_SETS + NOISY_SETS))
    ap.add_argument("--sizes", default="1000,2000")
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--corrector", default="auto", help="denoise's corrector= (default auto)")
    ap.add_argument("--rare", default=None,
                    help="instead of --sizes: samples of K examples of one class (the smaller "
                         f"of two, else the median one) and {RARE_OTHERS} of the others, "
                         "for each K of this list, e.g. 5,10,20,40")
    ap.add_argument("--markdown", default=None, help="append the table to this file")
    args = ap.parse_args()
    rare = [int(s) for s in args.rare.split(",")] if args.rare else None
    sizes = rare or [int(s) for s in args.sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    lines = ["| set | kind | rows | runs | changes | fixes / damage / wrong to wrong | most "
             "changed in a run | flagged | classes held back (runs) |"
             + (" the rare class's labels changed |" if rare else ""),
             "|---|---|---|---|---|---|---|---|---|" + ("---|" if rare else "")]
    t0 = time.perf_counter()
    for name in args.sets.split(","):
        frame = load_any(name)
        if "true_label" not in frame.columns:
            frame = frame.with_columns(pl.col("label").alias("true_label"))
        embeddings = load_signals(name)["embeddings"]
        if len(embeddings) != frame.height:
            raise SystemExit(f"{name}: {len(embeddings)} cached vectors, {frame.height} rows")
        kind = ("clean" if name in CLEAN_SETS else
                "subjective" if name in SUBJECTIVE_SETS else "noisy")
        labels = frame["label"].to_numpy()
        small = rare_class(labels) if rare else None
        for size in sizes:
            if size >= (int((labels == small).sum()) if rare else frame.height):
                continue
            runs = []
            for seed in seeds:
                rows = sample_rows(labels, size, seed, keep=size if rare else None)
                with tempfile.TemporaryDirectory() as tmp:
                    runs.append(run_sample(name, frame, embeddings, rows, Path(tmp) / "out",
                                           args.corrector, rare=small))
            held: dict[str, int] = defaultdict(int)
            for r in runs:
                for c in r["held_back"]:
                    held[c] += 1
            most = max(100 * r["changes"] / r["rows"] for r in runs)
            flagged = sum(r["flagged"] for r in runs) / sum(r["rows"] for r in runs)
            n_others = min(RARE_OTHERS, int((labels != small).sum()))
            what = f"{size} {small} + {n_others}" if rare else str(size)
            line = (f"| {name} | {kind} | {what} | {len(runs)} | "
                    f"{sum(r['changes'] for r in runs)} | {sum(r['fixes'] for r in runs)} / "
                    f"{sum(r['damage'] for r in runs)} / "
                    f"{sum(r['wrong_to_wrong'] for r in runs)} | {most:.2f}% | "
                    f"{100 * flagged:.1f}% | "
                    + (", ".join(f"{c} ({k})" for c, k in sorted(held.items())) or "-") + " |"
                    + (f" {sum(r['rare_changed'] for r in runs)} of {size * len(runs)} |"
                       if rare else ""))
            lines.append(line)
            print(line, flush=True)
    print(f"\n{time.perf_counter() - t0:.0f} s")
    append_markdown(args.markdown, ["", *lines])


if __name__ == "__main__":
    main()
