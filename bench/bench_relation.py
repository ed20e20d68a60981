"""Relation extraction (issue 6): annotation representations compared on semeval.

Usage: python bench/bench_relation.py [--markdown FILE] [--cache-dir DIR]

semeval from WRENCH (noisy label = majority vote of the weak labels, gold = ``label``), with the
entity spans. Representations, all from the packaged all-MiniLM-L6-v2: plain text mean-pooled
(what the text benchmarks use), the text with entity markers (untyped: semeval has no entity
types) mean-pooled, and the marked text pooled at the two markers plus the mean
(``--pooling entity``). For each: relabel without and with the head corrector, and the kNN-vote,
cleanlab and OOF-loss baselines on the same vectors.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_correctors import oof_loss_baseline
from bench.bench_denoise import (
    CACHE,
    append_markdown,
    cleanlab_baseline,
    evaluate,
    fmt_table,
    knn_vote_baseline,
)
from bench.devdata import load
from relabel.correct.head import HeadCorrector
from relabel.data.relation import encoder_inputs
from relabel.detect.score import score_examples
from relabel.embed.cache import embed_texts
from relabel.embed.encoder import Encoder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--cache-dir", type=Path, default=CACHE,
                    help="embedding cache (an empty one measures encoding time)")
    args = ap.parse_args()
    df = load("semeval")
    classes = sorted(set(df["label"].to_list()) | set(df["true_label"].to_list()))
    labels = np.searchsorted(classes, df["label"].to_numpy())
    true = np.searchsorted(classes, df["true_label"].to_numpy())
    text = df["text"].to_list()
    spans = [df[c].to_numpy() for c in ("head_start", "head_end", "tail_start", "tail_end")]
    none = [None] * len(text)
    marked, packed = encoder_inputs(text, *spans, none, none)
    reps = [("plain text, mean", Encoder(), text),
            ("entity markers, mean", Encoder(), marked),
            ("entity markers, marker starts + mean", Encoder(pooling="entity"), packed)]
    rows, enc_times = [], []
    for rep, encoder, inputs in reps:
        t0 = time.perf_counter()
        emb, _ = embed_texts(inputs, encoder, cache_dir=args.cache_dir)
        enc_s = time.perf_counter() - t0
        for name, kw in [("relabel, --corrector none", {}),
                         ("relabel, head (default)",
                          {"corrector": HeadCorrector(n_classes=len(classes))})]:
            t0 = time.perf_counter()
            res = score_examples(emb, labels, len(classes), **kw)  # folds trained every run
            new = np.where(res.suggested >= 0, res.suggested, labels)
            row = evaluate(f"{rep}: {name}", 1 - res.credibility, res.flagged, new,
                           labels, true)
            row["seconds"] = round(time.perf_counter() - t0, 1)
            rows.append(row)
        for name, fn in [("kNN vote", lambda e=emb: knn_vote_baseline(e, labels, len(classes))),
                         ("cleanlab", lambda e=emb: cleanlab_baseline(e, labels)),
                         ("OOF loss", lambda e=emb: oof_loss_baseline(e, labels))]:
            rows.append(evaluate(f"{rep}: {name}", *fn(), labels, true))
        enc_times.append(f"{rep} {enc_s:.1f} s")
    block = (f"### semeval relations: {len(labels)} rows, {len(classes)} classes, "
             f"{100 * np.mean(labels != true):.1f}% wrong labels\n\nencode (0 when cached): "
             + "; ".join(enc_times) + "\n\n" + fmt_table(rows) + "\n")
    print(block)
    append_markdown(args.markdown, [block])


if __name__ == "__main__":
    main()
