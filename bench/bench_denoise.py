"""Benchmark ``denoise`` on the development data against cleanlab and a plain kNN vote.

Usage: python bench/bench_denoise.py [--sets trec,youtube,semeval,banking77] [--markdown FILE]

For each set: AP and AUROC of (1 - credibility) against the true errors, precision/recall/F1 of
the flags, correction accuracy on flagged true errors (abstentions count as not corrected), label
accuracy before -> after applying suggestions (or the baseline's fixes), labels changed, wrong
labels fixed, damage (correct labels changed) and seconds per stage (scoring only; encoding is
shown per set). Embeddings are cached in
bench/.cache, so only the first run encodes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.devdata import load
from relabel.detect.neighbors import build_knn_graph
from relabel.detect.score import score_examples
from relabel.embed.cache import embed_texts
from relabel.embed.encoder import Encoder
from relabel.metrics import correction_metrics, detection_metrics

CACHE = Path(__file__).resolve().parent / ".cache" / "embeddings"
SETS = ("trec", "youtube", "semeval", "banking77")


def knn_vote_baseline(emb, labels, n_classes, k=10):
    """Plain (unweighted) kNN vote: score = share of neighbours agreeing; fix = majority."""
    g = build_knn_graph(emb, k=k)
    votes = np.zeros((len(labels), n_classes))
    np.add.at(votes, (np.arange(len(labels))[:, None], labels[g.indices]), 1.0)
    votes /= k
    agree = votes[np.arange(len(labels)), labels]
    maj = votes.argmax(1)
    flagged = maj != labels
    return 1 - agree, flagged, np.where(flagged, maj, labels)


def cleanlab_baseline(emb, labels, seed=0):
    """cleanlab find_label_issues on 5-fold logistic-regression out-of-fold probabilities."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    counts = np.bincount(labels)
    folds = int(min(5, counts[counts > 0].min())) if counts[counts > 0].min() >= 2 else 2
    cv = StratifiedKFold(n_splits=max(2, folds), shuffle=True, random_state=seed)
    probs = cross_val_predict(LogisticRegression(max_iter=1000), emb, labels, cv=cv,
                              method="predict_proba")
    issues = find_label_issues(labels, probs)
    quality = get_label_quality_scores(labels, probs)
    return 1 - quality, issues, np.where(issues, probs.argmax(1), labels)


def evaluate(name, score, flagged, new, labels, true):
    err = labels != true
    return {"method": name, **detection_metrics(err, score, flagged),
            **correction_metrics(labels, true, new, flagged)}


def run_set(name: str, encoder: Encoder, kwargs: dict, cache: Path = CACHE,
            baselines: bool = True) -> tuple[list[dict], dict]:
    df = load(name)
    classes = sorted(set(df["label"].to_list()) | set(df["true_label"].to_list()))
    labels = np.searchsorted(classes, df["label"].to_numpy())
    true = np.searchsorted(classes, df["true_label"].to_numpy())
    t0 = time.perf_counter()
    emb, _ = embed_texts(df["text"].to_list(), encoder, cache_dir=cache)
    t_enc = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = score_examples(emb, labels, len(classes), **kwargs)
    t_score = time.perf_counter() - t0
    new = np.where(res.suggested >= 0, res.suggested, labels)
    rows = [evaluate("relabel", 1 - res.credibility, res.flagged, new, labels, true)]
    rows[0]["seconds"] = round(t_score, 2)
    for sig, post in res.posteriors.items():  # ranking quality of each signal on its own
        det = detection_metrics(labels != true, 1 - post[np.arange(len(labels)), labels],
                                res.flagged)
        rows.append({"method": f"(ranking by {sig} signal alone)", "ap": det["ap"],
                     "auroc": det["auroc"]})
    info = {"set": name, "n": len(labels), "classes": len(classes),
            "noise": float(np.mean(labels != true)), "encode_s": round(t_enc, 2),
            "params": res.params}
    if not baselines:
        return rows, info
    t0 = time.perf_counter()
    rows.append(evaluate("kNN vote (k=10)", *knn_vote_baseline(emb, labels, len(classes)),
                         labels, true))
    rows[-1]["seconds"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    rows.append(evaluate("cleanlab (5-fold LR)", *cleanlab_baseline(emb, labels), labels, true))
    rows[-1]["seconds"] = round(time.perf_counter() - t0, 2)
    return rows, info


def fmt_table(rows: list[dict]) -> str:
    cols = ["method", "ap", "auroc", "precision", "recall", "f1", "correction_acc",
            "acc_before", "acc_after", "n_changed", "fixed", "damage", "seconds"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, "")
            if isinstance(v, float):
                v = f"{v:.3f}" if c in ("ap", "auroc", "precision", "recall", "f1") else f"{v:.1f}"
            cells.append(str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def append_markdown(path: str | None, blocks: list[str]) -> None:
    """Append the printed tables to ``path`` (when given)."""
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("\n".join(blocks) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--markdown", default=None, help="append the tables to this file")
    ap.add_argument("--target-precision", type=float, default=None)
    ap.add_argument("--weights", default=None, help='JSON, e.g. {"knn": 0.5, "kde": 0.5}')
    ap.add_argument("--prior-balance", type=float, default=None)
    ap.add_argument("--no-baselines", action="store_true", help="relabel rows only")
    ap.add_argument("--cache-dir", type=Path, default=CACHE,
                    help="embedding cache (an empty one measures encoding time)")
    args = ap.parse_args()
    kwargs: dict = {}
    if args.target_precision is not None:
        kwargs["target_precision"] = args.target_precision
    if args.prior_balance is not None:
        kwargs["prior_balance"] = args.prior_balance
    if args.weights:
        kwargs["weights"] = json.loads(args.weights)
    encoder = Encoder()
    text = []
    for name in args.sets.split(","):
        rows, info = run_set(name, encoder, kwargs, args.cache_dir,
                             baselines=not args.no_baselines)
        block = (f"### {name}: {info['n']} rows, {info['classes']} classes, "
                 f"{100 * info['noise']:.1f}% wrong labels\n\nencode {info['encode_s']} s "
                 f"(0 when cached); chosen: {json.dumps(info['params'])}\n\n"
                 + fmt_table(rows) + "\n")
        print(block, flush=True)
        text.append(block)
    append_markdown(args.markdown, text)


if __name__ == "__main__":
    main()
