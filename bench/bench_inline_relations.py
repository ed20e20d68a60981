"""Relation data that tags its entities inline (``<e1>..</e1> <e2>..</e2>``, SemEval-2010's own
layout): read as relations (the ``inline`` layout, found without options), against the same file
read as plain text (``--task text``: what relabel did before it knew the layout), and against the
same examples with span columns (the ``flat`` layout).

Usage: python bench/bench_inline_relations.py [--sets semeval,spouse]

semeval: WRENCH, noisy label = majority vote of the weak labels, gold = ``label``. spouse: the
flat relation set of ``bench.devdata.load_flat_relation``. Each row's text gets the four tags at
its spans. ``relabel.denoise`` with its defaults (linear corrector), in a temporary directory; AP
of ``p_wrong`` against the rows whose given label is not the gold one, and the automatic
changes (right / all).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import relabel
from bench.devdata import load_flat_relation, load_wrench

SPANS = ("head_start", "head_end", "tail_start", "tail_end")


def tagged(row: dict) -> str:
    """The row's text with ``<e1>`` around its head and ``<e2>`` around its tail."""
    text = row["text"]
    marks = [(row["head_start"], "<e1>"), (row["head_end"], "</e1>"),
             (row["tail_start"], "<e2>"), (row["tail_end"], "</e2>")]
    for pos, tag in sorted(marks, key=lambda m: -m[0]):
        text = text[:pos] + tag + text[pos:]
    return text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="semeval,spouse")
    args = ap.parse_args()
    print("| set | rows | read as | layout | AP of p_wrong | flagged | changes (right) | s |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.sets.split(","):
        df = load_wrench(name) if name == "semeval" else load_flat_relation(name)
        df = df.select("id", "text", *SPANS, "label", "true_label")
        wrong = (df["label"] != df["true_label"]).to_numpy()
        inline = df.with_columns(pl.Series("text", [tagged(r) for r in df.iter_rows(named=True)])
                                 ).drop(*SPANS)
        with tempfile.TemporaryDirectory() as tmp:
            for what, frame, options in (("tagged text, auto", inline, {}),
                                         ("tagged text, --task text", inline, {"task": "text"}),
                                         ("span columns, auto", df, {})):
                path = Path(tmp) / f"{len(options)}-{what[:4]}.csv"
                frame.drop("true_label").write_csv(path)
                t0 = time.perf_counter()
                run = relabel.denoise(path, id="id", out=Path(tmp) / path.stem, progress=False,
                                      **options)
                s = run.scores.sort("row")
                ap_ = average_precision_score(wrong, s["p_wrong"].to_numpy())
                sug = s.filter(pl.col("suggested_label").is_not_null())
                right = int((sug["suggested_label"].to_numpy()
                             == df["true_label"].to_numpy()[sug["row"].to_numpy()]).sum())
                print(f"| {name} | {df.height} | {what} | {run.record.layout or 'text'} | "
                      f"{ap_:.3f} | {int(s['flagged'].sum())} | {sug.height} ({right}) | "
                      f"{time.perf_counter() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    main()
