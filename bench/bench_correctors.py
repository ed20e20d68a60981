"""Ablation of the correctors (issue 3) on the development data, with the baselines.

Usage: python bench/bench_correctors.py [--sets trec,youtube,semeval,banking77]
       [--finetune-sets youtube] [--markdown FILE] [--weights JSON]

Rows per set: kNN vote signal only; + KDE (the ``--corrector none`` default); + head corrector
with cross-entropy only, with supervised contrastive, soft contrastive and distant-peer losses;
finetune with distant-peer (on the sets in --finetune-sets; slow on CPU). Then the baselines on
the same embeddings: plain kNN vote, cleanlab on 5-fold LR out-of-fold probabilities, and ranking
by out-of-fold cross-entropy of the given label (Chong et al. 2022, 5-fold LR). Each row: AP and
AUROC of (1 - credibility), flag P/R/F1, label accuracy before -> after applying suggestions,
changes, fixes, damage and wall seconds (scoring and correctors; encoding is cached and listed
once per set). A reliability table (suggestion confidence bins vs. observed correctness) follows
for the head distant-peer row, the default on CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_denoise import (
    CACHE,
    append_markdown,
    cleanlab_baseline,
    evaluate,
    fmt_table,
    knn_vote_baseline,
)
from bench.devdata import load
from relabel.correct.finetune import FinetuneCorrector
from relabel.correct.head import HeadCorrector
from relabel.detect.score import score_examples
from relabel.embed.cache import embed_texts
from relabel.embed.encoder import Encoder
from relabel.metrics import reliability_table

OOF_CACHE = Path(__file__).resolve().parent / ".cache" / "oof"


def oof_loss_baseline(emb, labels, seed=0):
    """Rank by out-of-fold cross-entropy of the given label (5-fold LR); fix = OOF argmax when
    the argmax differs and the given label's probability is below 0.5."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    counts = np.bincount(labels)
    folds = max(2, int(min(5, counts[counts > 0].min())))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    probs = cross_val_predict(LogisticRegression(max_iter=1000), emb, labels, cv=cv,
                              method="predict_proba")
    p_given = probs[np.arange(len(labels)), labels]
    flagged = (probs.argmax(1) != labels) & (p_given < 0.5)
    return -np.log(np.clip(p_given, 1e-12, None)), flagged, np.where(flagged, probs.argmax(1),
                                                                     labels)


def variants(n_classes: int, texts: np.ndarray, finetune: bool, weights: dict | None):
    yield "kNN signal only (none)", {"weights": {"knn": 1.0}}
    yield "+ KDE (--corrector none)", {}
    for loss, name in [("ce", "cross-entropy"), ("supcon", "supervised contrastive"),
                       ("soft", "soft contrastive"), ("distant_peer", "distant-peer")]:
        yield f"+ head, {name}", {"corrector": HeadCorrector(n_classes=n_classes, loss=loss),
                                  "weights": weights}
    if finetune:
        yield "+ finetune, distant-peer", {
            "corrector": FinetuneCorrector(n_classes=n_classes, loss="distant_peer"),
            "corrector_input": texts, "weights": weights}


def run_set(name: str, encoder: Encoder, finetune: bool, weights: dict | None):
    df = load(name)
    classes = sorted(set(df["label"].to_list()) | set(df["true_label"].to_list()))
    labels = np.searchsorted(classes, df["label"].to_numpy())
    true = np.searchsorted(classes, df["true_label"].to_numpy())
    texts = np.asarray(df["text"].to_list(), dtype=object)
    t0 = time.perf_counter()
    emb, _ = embed_texts(list(texts), encoder, cache_dir=CACHE)
    t_enc = time.perf_counter() - t0
    rows, reliability = [], None
    for label, kwargs in variants(len(classes), texts, finetune, weights):
        t0 = time.perf_counter()
        res = score_examples(emb, labels, len(classes), oof_cache=OOF_CACHE,
                             inputs_key=f"{name}:{encoder.key}", **kwargs)
        secs = time.perf_counter() - t0
        new = np.where(res.suggested >= 0, res.suggested, labels)
        row = evaluate(label, 1 - res.credibility, res.flagged, new, labels, true)
        row["seconds"] = round(secs, 1)
        if res.oof and res.oof["reused"]:
            row["method"] += " (folds cached)"
        rows.append(row)
        if label == "+ head, distant-peer":
            sel = res.suggested >= 0
            reliability = reliability_table(res.confidence[sel],
                                            res.suggested[sel] == true[sel])
    for label, fn in [("kNN vote (k=10)", lambda: knn_vote_baseline(emb, labels, len(classes))),
                      ("cleanlab (5-fold LR)", lambda: cleanlab_baseline(emb, labels)),
                      ("OOF loss ranking (5-fold LR)", lambda: oof_loss_baseline(emb, labels))]:
        t0 = time.perf_counter()
        rows.append(evaluate(label, *fn(), labels, true))
        rows[-1]["seconds"] = round(time.perf_counter() - t0, 1)
    info = {"set": name, "n": len(labels), "classes": len(classes),
            "noise": float(np.mean(labels != true)), "encode_s": round(t_enc, 1)}
    return rows, info, reliability


def fmt_reliability(table) -> str:
    out = ["| confidence bin | suggestions | mean confidence | observed correct |",
           "|---|---|---|---|"]
    for r in table or []:
        out.append(f"| {r['lo']:.1f}–{r['hi']:.1f} | {r['n']} | {r['mean_confidence']:.2f} | "
                   f"{r['accuracy']:.2f} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="trec,youtube,semeval,banking77")
    ap.add_argument("--finetune-sets", default="youtube")
    ap.add_argument("--weights", default=None, help="JSON weights with a corrector")
    ap.add_argument("--markdown", default=None, help="append the tables to this file")
    args = ap.parse_args()
    weights = json.loads(args.weights) if args.weights else None
    ft = set(filter(None, args.finetune_sets.split(",")))
    encoder = Encoder()
    text = []
    for name in args.sets.split(","):
        rows, info, rel = run_set(name, encoder, name in ft, weights)
        block = (f"### {name}: {info['n']} rows, {info['classes']} classes, "
                 f"{100 * info['noise']:.1f}% wrong labels (encode {info['encode_s']} s, "
                 f"0 when cached)\n\n" + fmt_table(rows)
                 + "\n\nReliability of the head distant-peer suggestions:\n\n"
                 + fmt_reliability(rel) + "\n")
        print(block, flush=True)
        text.append(block)
    append_markdown(args.markdown, text)


if __name__ == "__main__":
    main()
