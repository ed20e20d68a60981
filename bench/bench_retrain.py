"""Retrain benchmark (issue 5): train on noisy labels vs. on relabel's cleaned labels.

Usage: python bench/bench_retrain.py [--sets trec,banking77,youtube] [--markdown FILE]
       [--corrector auto] [--target-precision 0.9]

For each set: a head-only classifier (``relabel train --head-only``, 30 epochs on the frozen
all-MiniLM-L6-v2) trained (a) on the noisy training labels and (b) on the labels ``relabel
denoise`` + ``relabel export --drop-flagged`` leave (suggestions applied, flagged rows without a
suggestion dropped), both evaluated on the clean test split. trec and youtube: train = majority
vote of the WRENCH weak labels, test = gold; banking77: train with 20% uniform flips, test split.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_denoise import CACHE, append_markdown
from bench.devdata import load_banking77, load_wrench
from relabel.config import DenoiseConfig
from relabel.export import export_dataset
from relabel.pipeline import denoise
from relabel.train.classifier import evaluate_model, train_classifier


def splits(name: str):
    if name == "banking77":
        return load_banking77(), load_banking77(rate=0.0, split="test")
    return load_wrench(name, "train"), load_wrench(name, "test")


def run_set(name: str, tmp: Path, corrector: str, target_precision: float = 0.9) -> dict:
    train, test = splits(name)
    train_csv, test_csv = tmp / f"{name}-train.csv", tmp / f"{name}-test.csv"
    train.select("id", "text", "label", "true_label").write_csv(train_csv)
    test.select("id", "text", "label").write_csv(test_csv)
    row = {"set": name, "train": train.height, "test": test.height,
           "label_acc_noisy": float((train["label"] == train["true_label"]).mean())}
    kw = {"head_only": True, "cache_dir": CACHE}
    t0 = time.perf_counter()
    train_classifier(train_csv, tmp / f"{name}-noisy", **kw)
    row["test_acc_noisy"] = evaluate_model(tmp / f"{name}-noisy", test_csv,
                                           cache_dir=CACHE)["accuracy"]
    denoise(train_csv, out_dir=tmp / f"{name}-run",
            config=DenoiseConfig(id_col="id", corrector=corrector,
                                 target_precision=target_precision))
    clean_csv = tmp / f"{name}-clean.csv"
    exp = export_dataset(tmp / f"{name}-run", clean_csv, drop_flagged=True)
    import polars as pl

    clean = pl.read_csv(clean_csv)
    row["label_acc_clean"] = float((clean["label"] == clean["true_label"]).mean())
    row["relabelled"], row["dropped"] = exp.relabelled, exp.dropped
    train_classifier(clean_csv, tmp / f"{name}-clean", **kw)
    row["test_acc_clean"] = evaluate_model(tmp / f"{name}-clean", test_csv,
                                           cache_dir=CACHE)["accuracy"]
    row["gain"] = row["test_acc_clean"] - row["test_acc_noisy"]
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="trec,banking77,youtube")
    ap.add_argument("--corrector", default="auto")
    ap.add_argument("--target-precision", type=float, default=0.9)
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    lines = ["| set | train rows | test rows | train label acc: noisy → cleaned | relabelled | "
             "dropped | test acc, trained on noisy | test acc, trained on cleaned | gain | "
             "seconds |", "|" + "---|" * 10]
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets.split(","):
            r = run_set(name, Path(tmp), args.corrector, args.target_precision)
            lines.append(
                f"| {name} | {r['train']} | {r['test']} | {100 * r['label_acc_noisy']:.1f} → "
                f"{100 * r['label_acc_clean']:.1f} | {r['relabelled']} | {r['dropped']} | "
                f"{100 * r['test_acc_noisy']:.1f} | {100 * r['test_acc_clean']:.1f} | "
                f"**{100 * r['gain']:+.1f}** | {r['seconds']} |")
            print(lines[-1], flush=True)
    block = "\n".join(lines) + "\n"
    print(block)
    append_markdown(args.markdown, [block])


if __name__ == "__main__":
    main()
