"""Several annotators per item (issue 17): consensus accuracy, annotator accuracy estimates and
finding items whose majority vote is wrong, side by side with majority vote, Dawid–Skene and
cleanlab's CROWDLAB.

Sets (``../shared/data``):

- ``temp``, ``wsd``: Snow et al. 2008, 10 MTurk votes per item, expert gold, no text (votes
  only: CROWDLAB gets the class prior as its model, the only model without features);
  ``temp-3``, ``wsd-3``: the same with the votes subsampled to 3 per item (5 seeded repeats);
- ``open_re-3``: CrowdTruth open-domain relations, 14-16 real workers per sentence; 3 of them
  sampled per item (one relation each, from their multi-select answer), 5 repeats; reference =
  the relation most of *all* workers chose (the set's ``gold``). Text and entity spans: the
  model takes part;
- ``banking77-sim``, ``trec-sim``: **simulated** annotators on the gold labels
  (``relabel.data.noise.simulate_annotators``: 30 workers, accuracy uniform in 0.5-0.95, own
  Dirichlet(0.3) confusions, 3-5 votes per item), 5 repeats; text: the model takes part.

Methods, on the same votes and, where a model is used, the same out-of-fold probabilities (the
default corrector, 5 folds, trained on the majority vote; embeddings from
bench/.cache/signals):

- ``mv``: majority vote, ties at random (seeded);
- ``ds``: classic Dawid–Skene (``dawid_skene(smoothing=0)``, no model);
- ``crowdlab``: ``cleanlab.multiannotator.get_label_quality_multiannotator``;
- ``relabel-votes``: relabel's estimator on the votes alone;
- ``relabel``: relabel's estimator with the model as one more annotator (= relabel-votes on
  sets without text).

The two constants of the estimator (``SMOOTHING``, ``TEMPERATURE``) are chosen by
leave-one-dataset-out (``--lodo``): for each held-out set group, the value best on the others
(accuracy for the smoothing, log loss of the quality against the reference for the
temperature), reported on the held-out one.

Usage::

    python bench/bench_consensus.py [--sets temp,wsd,...] [--repeats 5] [--lodo]
        [--markdown FILE]
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
from relabel.crowd.consensus import estimate_consensus, overrules_majority, seed_labels
from relabel.crowd.estimate import (
    MODEL_WEIGHT,
    SMOOTHING,
    calibrate,
    dawid_skene,
    majority_vote,
)
from relabel.crowd.votes import Votes, votes_from_long
from relabel.data.noise import simulate_annotators

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SIGNALS = Path(__file__).resolve().parent / ".cache" / "signals"
SETS = ("temp", "wsd", "temp-3", "wsd-3", "open_re-3", "banking77-sim", "trec-sim")
#: leave-one-dataset-out groups: a set and its subsampled twin are held out together
GROUPS = {"temp": "snow-temp", "temp-3": "snow-temp", "wsd": "snow-wsd", "wsd-3": "snow-wsd",
          "open_re-3": "open_re", "banking77-sim": "banking77", "trec-sim": "trec"}
SMOOTHING_GRID = (0.5, 1.0, 2.0, 5.0, 10.0)
TEMPERATURE_GRID = (0.2, 0.3, 0.5, 0.7, 1.0)
WEIGHT_GRID = (1.0, 2.0, 3.0, 5.0)
MIN_WORKER_ITEMS = 20


def load_snow(task: str, per_item: int | None, seed: int) -> dict:
    a = pl.read_csv(SHARED / "crowd" / f"snow2008_{task}_annotations.csv", infer_schema=False)
    g = pl.read_csv(SHARED / "crowd" / f"snow2008_{task}_items.csv", infer_schema=False)
    if per_item is not None:
        rng = np.random.default_rng(seed)
        a = a.with_columns(pl.Series("r", rng.random(a.height))).sort("item_id", "r") \
            .group_by("item_id", maintain_order=True).head(per_item).drop("r")
    v = votes_from_long(a, f"snow {task}", annotator_col="worker", text_col=None)
    gold = dict(zip(g["item_id"].to_list(), g["gold"].to_list(), strict=True))
    y = np.searchsorted(v.classes, [gold[i] for i in v.item_ids])
    return {"votes": v, "gold": y, "embeddings": None}


def load_open_re(seed: int, per_item: int = 3) -> dict:
    sig = np.load(SIGNALS / "open_re.npz", allow_pickle=True)
    items = pl.read_csv(SHARED / "crowdtruth-open-re" / "open_re.csv", infer_schema_length=0)
    ann = pl.read_csv(SHARED / "crowdtruth-open-re" / "open_re_annotations.csv",
                      infer_schema_length=0)
    ids = items["id"].to_list()
    ann = ann.filter(pl.col("id").is_in(ids))
    rng = np.random.default_rng(seed)
    # one relation per (item, worker) at random from a multi-select answer, then 3 workers
    ann = ann.with_columns(pl.Series("r", rng.random(ann.height))).sort("id", "worker", "r") \
        .unique(["id", "worker"], keep="first", maintain_order=True)
    ann = ann.with_columns(pl.Series("r2", rng.random(ann.height))).sort("id", "r2") \
        .group_by("id", maintain_order=True).head(per_item)
    classes = sorted(set(items["gold"].to_list()) | set(ann["relation"].to_list()))
    frame = ann.select(pl.col("id").alias("item_id"), pl.col("worker").alias("annotator"),
                       pl.col("relation").alias("label"))
    table = items.select(pl.col("id").alias("item_id"), "text")
    v = votes_from_long(frame, "open_re", items=table, classes=classes, text_col=None)
    y = np.searchsorted(classes, items["gold"].to_list())
    assert v.item_ids == ids
    return {"votes": v, "gold": y, "embeddings": sig["embeddings"]}


def load_simulated(name: str, seed: int) -> dict:
    sig = np.load(SIGNALS / f"{name}.npz", allow_pickle=True)
    true = sig["true"]
    classes = [str(c) for c in sig["classes"]]
    item, annotator, label, _ = simulate_annotators(true, len(classes), seed=seed)
    items = [str(i) for i in range(len(true))]
    frame = pl.DataFrame({"item_id": np.asarray(items, dtype=object)[item].tolist(),
                          "annotator": [f"w{a:02d}" for a in annotator],
                          "label": np.asarray(classes, dtype=object)[label].tolist()})
    v = votes_from_long(frame, name, classes=classes, text_col=None)
    rows = [int(i) for i in v.item_ids]  # items in order of first vote
    return {"votes": v, "gold": true[rows], "embeddings": sig["embeddings"][rows]}


def load(name: str, seed: int) -> dict:
    if name in ("temp", "wsd"):
        return load_snow(name, None, seed)
    if name in ("temp-3", "wsd-3"):
        return load_snow(name[:-2], 3, seed)
    if name == "open_re-3":
        return load_open_re(seed)
    if name == "banking77-sim":
        return load_simulated("banking77-clean", seed)
    if name == "trec-sim":
        return load_simulated("trec-gold", seed)
    raise KeyError(name)


def model_probs(votes: Votes, embeddings: np.ndarray, seed: int) -> np.ndarray:
    """The default corrector's out-of-fold probabilities, trained on the majority vote (what
    ``relabel consensus`` computes from text)."""
    from relabel.correct import make_corrector
    from relabel.crowd.api import model_probabilities
    from relabel.detect.score import score_examples

    labels = seed_labels(votes)
    est = make_corrector("auto", votes.n_classes, seed=seed)
    res = score_examples(embeddings.astype(np.float32), labels, votes.n_classes,
                         corrector=est, seed=seed)
    return model_probabilities(res)


def average_precision(target: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(target, score)) if target.any() else float("nan")


def spearman(est: np.ndarray, truth: np.ndarray) -> float:
    from scipy.stats import spearmanr

    ok = np.isfinite(est) & np.isfinite(truth)
    return float(spearmanr(est[ok], truth[ok])[0]) if ok.sum() > 2 else float("nan")


def mv_wrong_score(consensus: np.ndarray, quality: np.ndarray, mv: np.ndarray) -> np.ndarray:
    """How likely the majority vote is wrong, from a consensus and its quality: items whose
    consensus differs from the majority first (the method says the majority is wrong), then
    the rest by lowest consensus quality. The same rule for every method."""
    return (consensus != mv).astype(np.float64) + (1.0 - quality)


def crowdlab(votes: Votes, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import pandas as pd
    from cleanlab.multiannotator import get_label_quality_multiannotator

    matrix = votes.matrix()
    used = ~np.isnan(matrix).all(0)  # cleanlab refuses annotators without a vote
    res = get_label_quality_multiannotator(pd.DataFrame(matrix[:, used]), probs,
                                           verbose=False)
    lq = res["label_quality"]
    quality = np.full(votes.n_annotators, np.nan)
    stats = res["annotator_stats"].sort_index()
    quality[np.flatnonzero(used)[stats.index.to_numpy()]] = stats["annotator_quality"]
    return (lq["consensus_label"].to_numpy(), lq["consensus_quality_score"].to_numpy(),
            quality)


def evaluate(name: str, seed: int) -> dict:
    d = load(name, seed)
    v, y = d["votes"], d["gold"]
    counts = v.counts()
    mv = majority_vote(counts, rng=np.random.default_rng(seed))
    mv_wrong = mv != y
    n_votes = np.bincount(v.annotator, minlength=v.n_annotators)
    worker_acc = np.bincount(v.annotator, weights=(v.label == y[v.item]),
                             minlength=v.n_annotators) / np.maximum(n_votes, 1)
    many = n_votes >= MIN_WORKER_ITEMS
    probs = None
    t0 = time.perf_counter()
    if d["embeddings"] is not None:
        probs = model_probs(v, d["embeddings"], seed)
    t_model = time.perf_counter() - t0
    ds = dawid_skene(v.item, v.annotator, v.label, v.n_items, v.n_annotators, v.n_classes,
                     smoothing=0.0)
    cl_probs = probs if probs is not None else np.tile(counts.sum(0) / counts.sum(),
                                                        (v.n_items, 1))
    cl_label, cl_quality, cl_worker = crowdlab(v, cl_probs)
    out = {"set": name, "seed": seed, "items": v.n_items, "annotators": v.n_annotators,
           "votes": len(v.item), "model_s": round(t_model, 1),
           "mv": float((mv == y).mean()), "ds": float((ds.posterior.argmax(1) == y).mean()),
           "crowdlab": float((cl_label == y).mean()),
           "mv_wrong": int(mv_wrong.sum()),
           "ap_crowdlab": average_precision(mv_wrong, mv_wrong_score(cl_label, cl_quality, mv)),
           "workers_20": int(many.sum()),
           "rho_crowdlab": spearman(cl_worker[many], worker_acc[many])}
    from relabel.crowd.estimate import annotator_accuracy

    acc_ds = annotator_accuracy(v.item, v.annotator, v.label, ds.posterior, v.n_annotators)[0]
    out["rho_ds"] = spearman(acc_ds[many], worker_acc[many])
    grid = {}
    for smoothing in SMOOTHING_GRID:
        for weight in (WEIGHT_GRID if probs is not None else (None,)):
            em = dawid_skene(v.item, v.annotator, v.label, v.n_items, v.n_annotators,
                             v.n_classes, model_probs=probs, smoothing=smoothing,
                             model_weight=weight or MODEL_WEIGHT)
            cell = {"acc": float((em.posterior.argmax(1) == y).mean())}
            for t in TEMPERATURE_GRID:
                p_t = calibrate(em.log_joint, em.prior, t)[np.arange(len(y)), y]
                cell[f"logloss_{t}"] = float(-np.log(np.maximum(p_t, 1e-12)).mean())
            grid[_key(smoothing, weight)] = cell
    # the defaults, through the public core (flags, annotator table, agreement)
    for label, p in (("relabel-votes", None), ("relabel", probs)):
        if label == "relabel" and p is None:
            continue
        res = estimate_consensus(v, model_probs=p)
        em = res.em
        cons = em.posterior.argmax(1)
        quality = res.items["quality"].to_numpy()
        acc_w = res.annotators["accuracy"].to_numpy()[: v.n_annotators]
        needs = res.items["needs_review"].to_numpy()
        out[label] = {
            "acc": float((cons == y).mean()),
            "ap": average_precision(mv_wrong, mv_wrong_score(cons, quality, mv)),
            "ap_p_mv_wrong": average_precision(
                mv_wrong, 1 - em.calibrated[np.arange(len(y)), mv]),  # = p_majority_wrong
            "rho": spearman(acc_w[many], worker_acc[many]),
            "needs_review": int(needs.sum()),
            "ambiguous": int((res.items["status"] == "ambiguous").sum()),
            "resolved_acc": float((cons == y)[~needs].mean()) if (~needs).any() else 1.0,
            "alpha": res.agreement.alpha}
        # where the consensus overrules a strict majority: always held for a human now; the
        # ones that reached the target quality were resolved without one before
        ov = overrules_majority(counts, cons)
        sure = ov & (quality >= res.target_precision)
        out[label].update({
            "overrules": int(ov.sum()), "overrules_right": int((cons == y)[ov].sum()),
            "overrules_mv_right": int((counts.argmax(1) == y)[ov].sum()),
            "overrules_sure": int(sure.sum()), "overrules_sure_right": int((cons == y)[sure].sum()),
            "overrules_sure_quality": float(quality[sure].sum())})
    if probs is None:
        out["relabel"] = out["relabel-votes"]
    out["grid"] = grid
    out["has_model"] = probs is not None
    return out


def _key(smoothing: float, weight: float | None) -> str:
    return f"{smoothing}" if weight is None else f"{smoothing}/{weight}"


def lodo(rows: list[dict]) -> list[dict]:
    """Leave one set group out: the smoothing and model weight (accuracy) and the temperature
    (log loss) best on the other groups, scored on the held-out one."""
    groups = sorted({GROUPS[r["set"]] for r in rows})
    out = []

    def cell(r: dict, smoothing: float, weight: float) -> dict:
        return r["grid"][_key(smoothing, weight if r["has_model"] else None)]

    def mean(rs: list[dict], smoothing: float, weight: float, metric: str) -> float:
        # each set weighs the same, whatever its number of repeats
        per_set: dict[str, list[float]] = {}
        for r in rs:
            per_set.setdefault(r["set"], []).append(cell(r, smoothing, weight)[metric])
        return float(np.mean([np.mean(v) for v in per_set.values()]))

    for held in groups:
        train = [r for r in rows if GROUPS[r["set"]] != held]
        test = [r for r in rows if GROUPS[r["set"]] == held]
        sm, w = max(((s, w) for s in SMOOTHING_GRID for w in WEIGHT_GRID),
                    key=lambda sw: mean(train, sw[0], sw[1], "acc"))
        tm = min(TEMPERATURE_GRID, key=lambda t: mean(train, sm, w, f"logloss_{t}"))
        out.append({"held_out": held, "smoothing": sm, "model_weight": w, "temperature": tm,
                    "held_out_acc": mean(test, sm, w, "acc"),
                    "default_acc": mean(test, SMOOTHING, MODEL_WEIGHT, "acc"),
                    "held_out_logloss": mean(test, sm, w, f"logloss_{tm}")})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--lodo", action="store_true")
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--json", type=Path, default=Path("bench/.cache/consensus.json"))
    args = ap.parse_args()
    rows = []
    for name in args.sets.split(","):
        seeds = [0] if name in ("temp", "wsd") else list(range(args.repeats))
        for seed in seeds:
            t0 = time.perf_counter()
            r = evaluate(name, seed)
            rows.append(r)
            print(f"{name} seed {seed}: mv {r['mv']:.4f} ds {r['ds']:.4f} crowdlab "
                  f"{r['crowdlab']:.4f} relabel-votes {r['relabel-votes']['acc']:.4f} relabel "
                  f"{r['relabel']['acc']:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=1))
    lines = ["| set | items | votes/item | mv | ds | crowdlab | relabel (votes only) | relabel | "
             "AP mv-wrong: crowdlab / relabel (P(mv wrong)) | "
             "annotator ρ (≥20 items): ds / crowdlab / relabel | needs review (resolved acc) |",
             "|" + "---|" * 10]
    for name in args.sets.split(","):
        rs = [r for r in rows if r["set"] == name]

        def m(key: str, rs: list = rs) -> float:
            return float(np.nanmean([r[key] for r in rs]))

        def c(key: str, rs: list = rs, who: str = "relabel") -> float:
            return float(np.nanmean([r[who][key] for r in rs]))

        lines.append(
            f"| {name} | {rs[0]['items']} | {rs[0]['votes'] / rs[0]['items']:.1f} | "
            f"{m('mv'):.4f} | {m('ds'):.4f} | {m('crowdlab'):.4f} | "
            f"{c('acc', who='relabel-votes'):.4f} | {c('acc'):.4f} | "
            f"{m('ap_crowdlab'):.3f} / {c('ap'):.3f} ({c('ap_p_mv_wrong'):.3f}) | "
            f"{m('rho_ds'):.2f} / {m('rho_crowdlab'):.2f} / {c('rho'):.2f} "
            f"({rs[0]['workers_20']}) | {c('needs_review'):.0f} ({c('resolved_acc'):.4f}) |")
    print("\n".join(lines))
    lines += ["", "Where relabel's consensus overrules a strict majority of the item's votes "
              "(summed over the seeds):", "",
              "| set | items overruled | consensus right there | majority right there | "
              "of them at quality ≥ 0.9 (resolved without a human before) | right | "
              "mean quality claimed |", "|" + "---|" * 7]
    for name in args.sets.split(","):
        rs = [r["relabel"] for r in rows if r["set"] == name]
        if "overrules" not in rs[0]:
            continue
        n, sure = sum(r["overrules"] for r in rs), sum(r["overrules_sure"] for r in rs)

        def share(key: str, total: int, rs: list = rs) -> str:
            return f"{sum(r[key] for r in rs) / total:.3f}" if total else "–"

        lines.append(f"| {name} | {n} | {share('overrules_right', n)} | "
                     f"{share('overrules_mv_right', n)} | {sure} | "
                     f"{share('overrules_sure_right', sure)} | "
                     f"{share('overrules_sure_quality', sure)} |")
    print("\n".join(lines[-len(args.sets.split(',')) - 4:]))
    if args.lodo:
        table = lodo(rows)
        lines += ["", "| held out | smoothing / model weight chosen | temperature chosen | "
                  "held-out accuracy (at the defaults) | held-out log loss |",
                  "|---|---|---|---|---|"]
        lines += [f"| {t['held_out']} | {t['smoothing']} / {t['model_weight']} | "
                  f"{t['temperature']} | {t['held_out_acc']:.4f} ({t['default_acc']:.4f}) | "
                  f"{t['held_out_logloss']:.4f} |" for t in table]
        print("\n".join(lines[-len(table) - 2:]))
    if args.markdown:
        append_markdown(args.markdown, lines)


if __name__ == "__main__":
    main()
