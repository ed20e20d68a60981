"""Label functions as annotators (issue 17): ``relabel consensus`` on weak-supervision votes.

Weak supervision (WRENCH, Snorkel) labels data with rules, "label functions", that vote for a
class or abstain (-1). A user with such a label matrix runs::

    relabel consensus train.json --votes-col weak_labels --abstain -1 --text-col data.text

This benchmark does the same in Python on WRENCH's six training sets (youtube, sms, trec, hausa,
yoruba, semeval; ``../shared/data/wrench``) and on Snorkel's spouse rules
(``../shared/data/spouse/test_spouse_snorkel.csv``, LF1-LF9, the sentence as the text), and
scores every method against the gold labels:

- ``mv``: majority vote of the votes that are not -1, ties at random (seeded), as WRENCH scores
  it; items without a vote are not covered;
- ``dawid-skene``: relabel's estimator before label functions were told apart
  (``estimator="dawid_skene"``: Dawid–Skene with the model annotator);
- ``crowdlab``: cleanlab's ``get_label_quality_multiannotator`` on the covered items, with the
  same out-of-fold model probabilities as relabel (``now``);
- ``now``: ``relabel.consensus`` as it runs by default (``estimator="auto"``, which takes the
  majority vote here: every rule votes for a single class, relabel/crowd/estimate.py);
- ``model``: the model annotator's own argmax (the default corrector, 5 folds, trained on the
  seed labels).

Columns ``ties: more / fewer / random / model`` are the accuracy, on the items whose votes tie, of
giving the tie to the tied class with more votes overall, with fewer, at random (seeded), and to
the tied class the model puts highest.

``--denoise`` also runs ``relabel.denoise`` on the same votes, as a user cleaning a weakly
labelled set would (``votes_col="weak", abstain="-1"``): the consensus is the given label, items
without a vote are flagged (``no_votes``), and the rule decides the changes. Reported against
gold: the given labels' accuracy, after the automatic changes, the changes (fixed / damaged)
and the flags.

Usage::

    python bench/bench_label_functions.py [--sets youtube,sms,...] [--denoise] [--markdown FILE]
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

from bench.bench_denoise import append_markdown

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = ("youtube", "sms", "trec", "hausa", "yoruba", "semeval", "spouse")


def load(name: str) -> pl.DataFrame:
    """One row per item: ``id``, ``text`` (and the entity spans of semeval), ``weak`` (the
    label functions' votes, -1 = abstain, as the file has them) and ``gold``."""
    if name == "spouse":
        raw = pl.read_csv(SHARED / "spouse" / "test_spouse_snorkel.csv")
        lfs = [f"LF{i}" for i in range(1, 10)]
        return raw.select(pl.int_range(pl.len()).cast(pl.String).alias("id"),
                          pl.col("sentence").alias("text"),
                          pl.concat_list(lfs).alias("weak"), pl.col("label").alias("gold"))
    data = json.loads((SHARED / "wrench" / name / "train.json").read_text(encoding="utf-8"))
    rows = []
    for key, ex in data.items():
        d = ex["data"]
        row = {"id": key, "text": d["text"], "weak": ex["weak_labels"], "gold": ex["label"]}
        if "span1" in d:  # relations: the two entities' character offsets
            row |= {"head_start": d["span1"][0], "head_end": d["span1"][1],
                    "tail_start": d["span2"][0], "tail_end": d["span2"][1]}
        rows.append(row)
    return pl.DataFrame(rows)


def crowdlab(matrix: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """CROWDLAB's consensus (class codes) on items with at least one vote (``matrix (I, A)``,
    NaN = no vote)."""
    import pandas as pd
    from cleanlab.multiannotator import get_label_quality_multiannotator

    used = ~np.isnan(matrix).all(0)
    res = get_label_quality_multiannotator(pd.DataFrame(matrix[:, used]), probs, verbose=False)
    return res["label_quality"]["consensus_label"].to_numpy()


def evaluate(name: str, seed: int = 0) -> dict:
    import warnings

    import relabel

    t0 = time.perf_counter()
    df = load(name)
    runs = {}
    for method, estimator in (("now", "auto"), ("dawid-skene", "dawid_skene")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runs[method] = relabel.consensus(df.drop("gold"), votes_col="weak", abstain="-1",
                                             progress=False, estimator=estimator)
    res = runs["now"].result
    votes, classes = res.votes, res.votes.classes
    gold = np.searchsorted(classes, df["gold"].cast(pl.String).to_numpy())
    assert all(str(g) in classes for g in df["gold"].unique().to_list())
    counts = votes.counts()
    n_votes = counts.sum(1)
    covered = n_votes > 0
    top2 = np.sort(counts, axis=1)[:, -2:]
    tie = covered & (top2[:, 0] == top2[:, 1])
    strict = covered & ~tie
    rng = np.random.default_rng(seed)
    mv = np.argmax(counts + rng.random(counts.shape) * 1e-3, axis=1)
    tied = (counts == counts.max(1, keepdims=True)) & tie[:, None]
    shares = counts.sum(0)
    more = np.argmax(np.where(tied, shares[None, :], -1.0), axis=1)
    fewer = np.argmax(np.where(tied, -shares[None, :], -np.inf), axis=1)
    labels = {"mv": mv, "now": res.labels, "dawid-skene": runs["dawid-skene"].result.labels}
    probs = res.model_probs
    by_model = (np.argmax(np.where(tied, probs, -1.0), axis=1) if probs is not None
                else np.full(len(gold), -1))
    if probs is not None:
        labels["model"] = probs.argmax(1)
        cl = np.full(len(gold), -1)
        cl[covered] = crowdlab(votes.matrix()[covered], probs[covered])
        labels["crowdlab"] = cl

    def acc(lab: np.ndarray, where: np.ndarray) -> float | None:
        return float(np.mean(lab[where] == gold[where])) if where.any() else None

    quality = res.items["quality"].to_numpy()
    resolved = ~res.items["needs_review"].to_numpy()
    right = labels["now"] == gold
    return {
        "set": name, "items": len(gold), "label_functions": votes.n_annotators,
        "classes": len(classes), "votes": len(votes.label), "abstentions": votes.abstained,
        "covered": int(covered.sum()), "strict": int(strict.sum()), "ties": int(tie.sum()),
        "estimator": res.em.estimator,
        "accuracy_covered": {m: acc(lab, covered) for m, lab in labels.items()},
        "accuracy_strict": {m: acc(lab, strict) for m, lab in labels.items()},
        "accuracy_all": {m: acc(lab, np.ones(len(gold), bool)) for m, lab in labels.items()
                         if m not in ("mv", "crowdlab")},
        "ties_more_fewer_random_model": [acc(more, tie), acc(fewer, tie), acc(mv, tie),
                                         acc(by_model, tie)],
        "mean_quality": float(quality.mean()), "observed_accuracy": float(right.mean()),
        "resolved": int(resolved.sum()),
        "resolved_accuracy": float(right[resolved].mean()) if resolved.any() else None,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def denoise_row(name: str) -> dict:
    """``relabel.denoise`` on the set's votes (module docstring), against gold."""
    import tempfile
    import warnings

    import relabel

    df = load(name)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = relabel.denoise(df.drop("gold"), votes_col="weak", abstain="-1", id="id",
                              out=Path(tmp) / "run", progress=False)
        scores = run.scores
    gold = dict(zip(df["id"].to_list(), df["gold"].cast(pl.String).to_list(), strict=True))
    truth = np.array([gold[i] for i in scores["id"].to_list()], dtype=object)
    given = scores["label"].to_numpy().astype(object)
    suggested = scores["suggested_label"].to_numpy().astype(object)
    changed = np.array([s is not None for s in suggested])
    after = np.where(changed, suggested, given)
    flagged = scores["flagged"].to_numpy()
    no_votes = (scores["reason"] == "no_votes").fill_null(False).to_numpy()
    return {"set": name, "items": len(truth), "given": float(np.mean(given == truth)),
            "after": float(np.mean(after == truth)), "changes": int(changed.sum()),
            "fixed": int((changed & (given != truth) & (after == truth)).sum()),
            "damaged": int((changed & (given == truth)).sum()), "flagged": int(flagged.sum()),
            "no_votes": int(no_votes.sum()),
            "seconds": round(time.perf_counter() - t0, 1)}


def denoise_table(rows: list[dict]) -> str:
    head = ("| set | items | given = consensus, accuracy | after the automatic changes | changes "
            "(fixed / damaged) | flagged (of them no_votes) |\n|---|---|---|---|---|---|\n")
    return head + "\n".join(
        f"| {r['set']} | {r['items']} | {r['given']:.3f} | {r['after']:.3f} | {r['changes']} "
        f"({r['fixed']} / {r['damaged']}) | {r['flagged']} ({r['no_votes']}) |" for r in rows)


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def table(rows: list[dict]) -> str:
    head = ("| set | items (rules, classes) | covered (strict majority / ties) | covered: mv / "
            "dawid-skene / crowdlab / model / **now** | strict majority: mv / dawid-skene / "
            "crowdlab / model / **now** | all items: dawid-skene / model / **now** | ties: more "
            "/ fewer / random / model | now: quality mean vs observed; resolved (right) |\n"
            "|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in rows:
        cov, st, al = r["accuracy_covered"], r["accuracy_strict"], r["accuracy_all"]
        order = ("mv", "dawid-skene", "crowdlab", "model", "now")
        lines.append(
            f"| {r['set']} | {r['items']} ({r['label_functions']}, {r['classes']}) | "
            f"{r['covered']} ({r['strict']} / {r['ties']}) | "
            + " / ".join(_f(cov.get(m)) for m in order) + " | "
            + " / ".join(_f(st.get(m)) for m in order) + " | "
            + " / ".join(_f(al.get(m)) for m in ("dawid-skene", "model", "now")) + " | "
            + " / ".join(_f(x) for x in r["ties_more_fewer_random_model"]) + " | "
            f"{r['mean_quality']:.3f} vs {r['observed_accuracy']:.3f}; {r['resolved']} "
            f"({_f(r['resolved_accuracy'])}) |")
    return head + "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--denoise", action="store_true",
                    help="also relabel.denoise on the votes (module docstring)")
    args = ap.parse_args()
    if args.denoise:
        drows = []
        for name in args.sets.split(","):
            drows.append(denoise_row(name))
            print(json.dumps(drows[-1]), flush=True)
        dtext = "#### `relabel denoise` on the votes\n\n" + denoise_table(drows)
        print(dtext)
        if args.markdown:
            append_markdown(args.markdown, [dtext])
    rows = []
    for name in args.sets.split(","):
        r = evaluate(name)
        print(json.dumps(r), flush=True)
        rows.append(r)
    text = ("### Label functions as annotators (`python bench/bench_label_functions.py`)\n\n"
            + table(rows))
    print(text)
    if args.markdown:
        append_markdown(args.markdown, [text])


if __name__ == "__main__":
    main()
