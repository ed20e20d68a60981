"""Retrain benchmark (issue 5): train on noisy labels vs. on relabel's cleaned labels.

Usage: python bench/bench_retrain.py [--sets trec,banking77,youtube,example] [--markdown FILE]
       [--corrector auto] [--target-precision 0.9]

For each set: ``relabel denoise`` on the training split, then ``relabel retrain`` (the library
call, :func:`relabel.train.retrain.retrain`) twice: once keeping the flagged rows that relabel
did not relabel (the default) and once with ``--drop-flagged``. Each trains a head-only
classifier (30 epochs on the frozen all-MiniLM-L6-v2) on the labels as given and on the cleaned
labels, evaluates both on the clean test split and gives the gain with a 95% paired-bootstrap
interval. trec and youtube: train = majority vote of the WRENCH weak labels, test = gold;
banking77: train with 20% uniform flips, test split; example: the shipped
``examples/banking77_noisy.csv`` (15% nearest-class flips, 2,000 rows), banking77's test split.
HS-Brexit, ArMIS, MD-Agreement (LeWiDi 2023, several annotators per item): ``denoise`` on the
train split's votes; the baseline model trains on each item's majority vote, the other on
relabel's labels (the consensus with relabel's changes); test = the test split's
``hard_label``, itself the test items' majority vote. ConvAbuse is left out: its votes are a
1 to -3 scale and its hard labels binary, so the two share no classes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_denoise import append_markdown
from bench.devdata import load_banking77, load_wrench
from relabel.config import DenoiseConfig
from relabel.pipeline import denoise
from relabel.train.compare import points
from relabel.train.retrain import retrain


def splits(name: str):
    if name == "banking77":
        return load_banking77(), load_banking77(rate=0.0, split="test")
    if name == "example":
        import polars as pl

        return (pl.read_csv(Path(__file__).resolve().parents[1] / "examples"
                            / "banking77_noisy.csv"),
                load_banking77(rate=0.0, split="test"))
    return load_wrench(name, "train"), load_wrench(name, "test")


def run_crowd_set(name: str, tmp: Path, corrector: str, target_precision: float = 0.9
                  ) -> list[dict]:
    """A LeWiDi set: ``denoise`` on its train split's votes (``annotations`` by
    ``annotators``), then ``retrain`` against the test split's ``hard_label`` (the test items'
    own majority). No gold: the label accuracies are left empty."""
    from bench.bench_lewidi import LEWIDI

    folder = LEWIDI / name
    run_dir = tmp / f"{name}-run"
    t0 = time.perf_counter()
    denoise(folder / f"{name}_train.json", out_dir=run_dir,
            config=DenoiseConfig(votes_col="annotations", annotator_col="annotators",
                                 corrector=corrector, target_precision=target_precision))
    rows = []
    for drop in (False, True):
        t1 = time.perf_counter()
        res = retrain(run_dir, folder / f"{name}_test.json", label_col="hard_label",
                      drop_flagged=drop)
        rows.append({"set": name, "drop_flagged": drop, "train": res.given.train_rows,
                     "test": res.test_examples, "label_acc_noisy": None,
                     "label_acc_clean": None, "res": res,
                     "seconds": round(time.perf_counter() - t1 + (t1 - t0 if not drop else 0),
                                      1)})
    return rows


def run_set(name: str, tmp: Path, corrector: str, target_precision: float = 0.9) -> list[dict]:
    import polars as pl

    from bench.bench_lewidi import SETS

    if name in SETS:
        return run_crowd_set(name, tmp, corrector, target_precision)
    train, test = splits(name)
    train_csv, test_csv = tmp / f"{name}-train.csv", tmp / f"{name}-test.csv"
    train.select("id", "text", "label", "true_label").write_csv(train_csv)
    test.select("text", "label").write_csv(test_csv)
    t0 = time.perf_counter()
    run_dir = tmp / f"{name}-run"
    denoise(train_csv, out_dir=run_dir,
            config=DenoiseConfig(id_col="id", corrector=corrector,
                                 target_precision=target_precision))
    rows = []
    for drop in (False, True):
        t1 = time.perf_counter()
        res = retrain(run_dir, test_csv, drop_flagged=drop)
        clean = pl.read_csv(run_dir / "retrain" / "cleaned" / train_csv.name)
        rows.append({"set": name, "drop_flagged": drop, "train": train.height,
                     "test": res.test_examples,
                     "label_acc_noisy": float((train["label"] == train["true_label"]).mean()),
                     "label_acc_clean": float((clean["label"] == clean["true_label"]).mean()),
                     "res": res, "seconds": round(time.perf_counter() - t1
                                                  + (t1 - t0 if not drop else 0), 1)})
    return rows


def acc(share: float | None) -> str:
    return "n/a" if share is None else f"{100 * share:.1f}"


def differs(res) -> str:
    """A run on votes: the items whose consensus is not the majority vote (the baseline)."""
    return "" if res.majority_differs is None else f" (+{res.majority_differs} consensus)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="trec,banking77,youtube")
    ap.add_argument("--corrector", default="auto")
    ap.add_argument("--target-precision", type=float, default=0.9)
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    lines = ["| set | flagged rows | train rows (cleaned) | test rows | train label acc: "
             "noisy → cleaned | relabelled | left out | test acc, trained on noisy | "
             "trained on cleaned | gain (95% interval) | only cleaned right / only noisy "
             "right | seconds |", "|" + "---|" * 12]
    classes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets.split(","):
            for r in run_set(name, Path(tmp), args.corrector, args.target_precision):
                res = r["res"]
                gain, low, high = (points(v) for v in (res.gain, *res.interval))
                lines.append(
                    f"| {name} | {'left out' if r['drop_flagged'] else 'kept'} | "
                    f"{res.cleaned.train_rows} | {r['test']} | "
                    f"{acc(r['label_acc_noisy'])} → {acc(r['label_acc_clean'])} | "
                    f"{res.relabelled}{differs(res)} | {res.dropped} | "
                    f"{100 * res.given.accuracy:.1f} | "
                    f"{100 * res.cleaned.accuracy:.1f} | **{gain:+.1f}** "
                    f"({low:+.1f} to {high:+.1f}) | {res.only_cleaned_right} / "
                    f"{res.only_given_right} | {r['seconds']} |")
                print(lines[-1], flush=True)
                if res.per_class:
                    moved = [points(k.gain) for k in res.per_class]
                    classes.append(
                        f"- {name}, flagged rows {'left out' if r['drop_flagged'] else 'kept'}"
                        f": of {len(moved)} test classes, accuracy up in "
                        f"{sum(m > 0 for m in moved)}, down in {sum(m < 0 for m in moved)}, "
                        f"same in {sum(m == 0 for m in moved)}; {res.class_line()}")
                    print(classes[-1], flush=True)
    block = "\n".join(lines) + "\n" + ("\n" + "\n".join(classes) + "\n" if classes else "")
    print(block)
    append_markdown(args.markdown, [block])


if __name__ == "__main__":
    main()
