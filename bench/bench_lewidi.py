"""Annotator modelling on real disagreement (issue 17): the LeWiDi 2023 sets.

These sets have text and every annotator's label, but no gold beyond the annotators' own
aggregate, so consensus accuracy cannot be measured. What can be measured without gold is how
well a method models the annotators: for every item with at least two votes one vote is hidden
(seeded), the method sees the rest, and predicts the hidden vote from the annotator's identity.

- ``others``: the item's remaining vote shares, Laplace-smoothed (no annotator model);
- ``relabel-votes``: relabel's estimator on the remaining votes: P(l) = Σ_k T_i[k] π_j[k, l]
  (posterior of the item times the hidden annotator's confusion row);
- ``relabel``: the same with the model annotator (out-of-fold corrector on the packaged encoder's
  embeddings, trained on the majority vote).

Reported: log loss and accuracy of the hidden-vote prediction, Krippendorff's α of the set, and
the share of items relabel sends to a human (ambiguous / low quality). Train splits; ConvAbuse's
1 (not abusive) to -3 scale is binarised as the set's own hard labels are (1 -> 0, else 1).

Usage::

    python bench/bench_lewidi.py [--sets HS-Brexit,ArMIS,MD-Agreement,ConvAbuse] [--markdown F]
    python bench/bench_lewidi.py --check-reader   # the files as relabel reads them (seconds)

``--check-reader`` reads each train file as a user would, ``relabel consensus FILE --votes-col
annotations --annotator-col annotators`` (:func:`relabel.crowd.reading.read_votes`), and checks
that it gives the same votes as this benchmark's own conversion to long format (ConvAbuse's
scale left as it is in the file).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_consensus import model_probs
from bench.bench_denoise import append_markdown
from bench.devdata import LEWIDI
from bench.devdata import SUBJECTIVE_SETS as SETS
from relabel.crowd.consensus import estimate_consensus
from relabel.crowd.votes import votes_from_long

CACHE = Path(__file__).resolve().parent / ".cache" / "embeddings"


def load(name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Items (``item_id, text``) and long votes of a set's train split."""
    raw = json.loads((LEWIDI / name / f"{name}_train.json").read_text(encoding="utf-8"))
    items, votes = [], []
    for key, rec in raw.items():
        items.append({"item_id": key, "text": rec["text"]})
        labels = str(rec["annotations"]).split(",")
        who = str(rec["annotators"]).split(",")
        for a, lab in zip(who, labels, strict=True):
            lab = lab.strip()
            if name == "ConvAbuse":
                lab = "0" if lab == "1" else "1"
            votes.append({"item_id": key, "annotator": a.strip(), "label": lab})
    return pl.DataFrame(items), pl.DataFrame(votes)


def embed(texts: list[str]) -> np.ndarray:
    from relabel.embed.cache import embed_texts
    from relabel.embed.encoder import Encoder

    vectors, _ = embed_texts(texts, Encoder(), cache_dir=CACHE)
    return vectors


def evaluate(name: str, seed: int = 0) -> dict:
    items, votes = load(name)
    full = votes_from_long(votes, name, items=items, text_col=None)
    rng = np.random.default_rng(seed)
    per_item = np.bincount(full.item, minlength=full.n_items)
    # hide one vote of every item with at least two
    hidden = np.zeros(len(full.item), dtype=bool)
    for i in np.flatnonzero(per_item >= 2):
        hidden[rng.choice(np.flatnonzero(full.item == i))] = True
    keep = ~hidden
    seen = votes.filter(pl.Series(keep))
    v = votes_from_long(seen, name, items=items, text_col=None, classes=full.classes)
    assert v.item_ids == full.item_ids
    h_item, h_label = full.item[hidden], full.label[hidden]
    h_ann = np.searchsorted(v.annotators, np.asarray(full.annotators)[full.annotator[hidden]])
    known = np.isin(np.asarray(full.annotators)[full.annotator[hidden]], v.annotators)
    counts = v.counts()
    k = v.n_classes
    out = {"set": name, "items": v.n_items, "annotators": full.n_annotators,
           "votes": len(full.item), "hidden": int(hidden.sum())}

    def score(p: np.ndarray) -> tuple[float, float]:
        p = np.clip(p, 1e-6, 1)
        p = p / p.sum(1, keepdims=True)
        return (float(-np.log(p[np.arange(len(h_label)), h_label]).mean()),
                float((p.argmax(1) == h_label).mean()))

    others = (counts[h_item] + 1.0) / (counts[h_item].sum(1, keepdims=True) + k)
    out["others"] = score(others)
    t0 = time.perf_counter()
    emb = embed(items["text"].to_list())
    probs = model_probs(v, emb, seed)
    out["model_s"] = round(time.perf_counter() - t0, 1)
    for label, p in (("relabel-votes", None), ("relabel", probs)):
        res = estimate_consensus(v, model_probs=p)
        conf = res.em.confusion[np.where(known, h_ann, 0)]  # (H, K, K)
        pred = np.einsum("hk,hkl->hl", res.em.posterior[h_item], conf)
        # an annotator never seen without this vote: the item's posterior alone
        pred[~known] = res.em.posterior[h_item[~known]]
        out[label] = score(pred)
        if label == "relabel":
            s = res.summary()
            out["alpha"] = s["agreement"]["krippendorff_alpha"]
            out["needs_review"] = s["needs_review"]
            out["ambiguous"] = s["ambiguous"]
    return out


def check_reader(name: str) -> str:
    """A table row: relabel's reading of the file against the long conversion of ``load``."""
    from relabel.crowd.reading import VoteSpec, read_votes

    path = LEWIDI / name / f"{name}_train.json"
    t0 = time.perf_counter()
    direct = read_votes(path, VoteSpec(votes_col="annotations", annotator="annotators"))
    seconds = time.perf_counter() - t0
    raw = json.loads(path.read_text(encoding="utf-8"))
    long = pl.DataFrame([{"item_id": key, "annotator": a.strip(), "label": lab.strip()}
                         for key, rec in raw.items()
                         for a, lab in zip(str(rec["annotators"]).split(","),
                                           str(rec["annotations"]).split(","), strict=True)])
    items = pl.DataFrame([{"item_id": k, "text": r["text"]} for k, r in raw.items()])
    ref = votes_from_long(long, name, items=items)

    def triples(v):
        return sorted(zip(np.asarray(v.item_ids)[v.item], np.asarray(v.annotators)[v.annotator],
                          np.asarray(v.classes)[v.label], strict=True))

    same = (direct.item_ids == ref.item_ids and direct.classes == ref.classes
            and direct.annotators == ref.annotators and triples(direct) == triples(ref)
            and direct.items["text"].to_list() == ref.items["text"].to_list())
    return (f"| {name} | {direct.n_items} | {direct.n_annotators} | {len(direct.label)} | "
            f"{', '.join(direct.classes)} | {'yes' if same else 'NO'} | {seconds:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--check-reader", action="store_true",
                    help="only check relabel's reading of the files (--votes-col)")
    args = ap.parse_args()
    if args.check_reader:
        lines = ["| set | items | annotators | votes | classes | same votes as the long "
                 "conversion | read s |", "|" + "---|" * 7]
        lines += [check_reader(name) for name in args.sets.split(",")]
        print("\n".join(lines))
        if args.markdown:
            append_markdown(args.markdown, lines)
        return
    lines = ["| set | items | annotators | votes | Krippendorff's α | hidden-vote log loss: "
             "others / relabel (votes) / relabel | accuracy: others / relabel (votes) / relabel "
             "| need a human (ambiguous) |", "|" + "---|" * 8]
    for name in args.sets.split(","):
        r = evaluate(name)
        lines.append(
            f"| {name} | {r['items']} | {r['annotators']} | {r['votes']} | {r['alpha']:.3f} | "
            f"{r['others'][0]:.3f} / {r['relabel-votes'][0]:.3f} / {r['relabel'][0]:.3f} | "
            f"{r['others'][1]:.3f} / {r['relabel-votes'][1]:.3f} / {r['relabel'][1]:.3f} | "
            f"{r['needs_review']} ({r['ambiguous']}) |")
        print(lines[-1], flush=True)
    if args.markdown:
        append_markdown(args.markdown, lines)


if __name__ == "__main__":
    main()
