"""Learning from reviewers (issue 16): label accuracy against the number of reviews.

A simulated reviewer answers with the gold label (and, with ``--reviewer-error 0.1``, a random
wrong label 10% of the time). Five rounds of ``--batch`` reviews (200 for banking77) on the same
embeddings (bench/.cache/signals, from ``bench/trust_signals.py``), comparing at equal numbers of
reviews:

- ``loop``: relabel's full loop. Each round re-runs the scoring with every decision so far
  (``score_examples(..., reviewed=...)``: trusted labels, recalibrated decisions), then
  ``relabel.review.batch.next_batch`` picks the next batch. Accuracy = reviewers' labels, then
  that round's automatic changes, then the given labels.
- ``no_feedback``: one relabel run; review down its ``next_batch`` order. Accuracy = reviewers'
  labels, then that run's automatic changes.
- ``cleanlab``: review in cleanlab's order (``get_label_quality_scores`` on 5-fold logistic
  regression, lowest first). Accuracy = reviewers' labels on the given labels (cleanlab's own
  fixes are not applied: on these sets they lower accuracy, bench/RESULTS.md).
- ``random``: review in a random order, same accounting as cleanlab.

Usage::

    python bench/bench_review_loop.py --markdown FILE [--reviewer-error 0.1]
    python bench/bench_review_loop.py --reviewer-error 0.1 --stated-error 0.1
    python bench/bench_review_loop.py --choose-weight 1,3,10,30 --work DIR
    python bench/bench_review_loop.py --words     # as denoise scores text classification now
    python bench/bench_review_loop.py --words --fold-seed 1   # other folds: how much they move it
    python bench/bench_review_loop.py --words --passes 1      # one pass of the rule per scoring

``--stated-error E`` tells the loop the reviewer's error rate, as a user does with ``review next
--reviewer-error E`` (or as the random audit measures it where two reviewers decided the same
examples): it then stops asking where a review is expected to break more right labels than it
fixes (``relabel/review/batch.py``). The other strategies review their whole budget. The table
gives the reviews the loop used; the rounds list adds ``one run with the stop``: ``review next
--reviewer-error`` asked round after round from the first run, without re-scoring.

``--choose-weight`` chooses ``REVIEWED_WEIGHT`` (relabel/detect/score.py) by leave-one-dataset-out:
it runs every set at each weight with both reviewers (gold, 10% wrong; JSON per run kept in
``DIR``, so a rerun resumes), scores each run as loop − no feedback after the last round, 5
points off where the loop's accuracy fell between rounds, and for each set picks the weight
with the best mean score on the other sets.
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
from bench.trust_signals import load_signals
from relabel.correct import make_corrector
from relabel.data.noise import inject_noise
from relabel.detect.score import score_examples
from relabel.outputs import scores_frame
from relabel.review.batch import next_batch

SETS = ("trec", "banking77", "banking77-nc", "hausa", "yoruba", "semeval", "youtube", "sms")
ROUNDS = 5


def load(name: str) -> dict:
    """Signals of a development set; ``banking77-nc`` is clean banking77 with 20% of the labels
    moved to each example's nearest other class (by class-mean embedding), seed 0."""
    if name != "banking77-nc":
        return load_signals(name)
    s = dict(load_signals("banking77-clean"))
    k = int(s["true"].max()) + 1
    s["labels"] = inject_noise(s["true"], k, rate=0.2, kind="nearest-class", seed=0,
                               embeddings=s["embeddings"])
    return s


#: the corrector each scoring trains (``--corrector``)
CORRECTOR = "linear"
#: ``--words``: the linear corrector also learns from the words on text classification (the sets
#: with cached ``cv_words``), as ``denoise`` does by default (relabel/correct/lexical.py)
WORDS = False
#: ``--passes``: passes of the decision rule in each scoring (None: relabel's default,
#: ``relabel.detect.score.PASSES``)
PASSES = None
#: ``--fold-seed``: the seed of the scoring's folds (score_examples), to see how much of a gap
#: between two strategies the folds alone move
FOLD_SEED = 0


def run_scoring(s: dict, labels: np.ndarray, reviewed: np.ndarray | None):
    k = int(max(labels.max(), s["true"].max()) + 1)
    words = None
    if WORDS and "cv_words" in s:
        from relabel.correct.lexical import word_features

        if "_words" not in s:
            s["_words"] = word_features(list(s["texts"]))
        words = s["_words"]
    res = score_examples(s["embeddings"], labels, k, corrector=make_corrector(CORRECTOR, k),
                         texts=list(s["texts"]), reviewed=reviewed, words=words,
                         seed=FOLD_SEED, passes=PASSES)
    ex = pl.DataFrame({"row": np.arange(len(labels)), "id": [str(i) for i in range(len(labels))],
                       "label": [str(c) for c in labels]})
    classes = [str(c) for c in range(k)]
    # scores_frame wants string classes sorted as the codes are: index them by code
    frame = scores_frame(ex, classes, labels, res, reviewed)
    return res, frame


def applied(labels: np.ndarray, res, reviewed: np.ndarray | None) -> np.ndarray:
    new = np.where(res.suggested >= 0, res.suggested, labels)
    if reviewed is not None:
        new = np.where(reviewed >= 0, reviewed, new)
    return new


def ledger_of(reviewed: np.ndarray) -> pl.DataFrame:
    """A decisions ledger of the reviewed rows (``reviewed >= 0``), as ``review pull`` keeps one
    (the status is not compared with the given label: every decision counts as one)."""
    from relabel.review.ledger import LEDGER_SCHEMA

    rows = np.flatnonzero(reviewed >= 0)
    n = len(rows)
    return pl.DataFrame({"id": [str(i) for i in rows], "given_label": [None] * n,
                         "reviewed_label": [str(c) for c in reviewed[rows]],
                         "status": ["changed"] * n, "annotator": ["sim"] * n, "time": [None] * n,
                         "source": ["sim"] * n, "recorded_at": [None] * n}, schema=LEDGER_SCHEMA)


def reviewer(true: np.ndarray, k: int, error: float, seed: int) -> np.ndarray:
    """What the simulated reviewer answers for every row (drawn once, so every strategy asks
    the same reviewer)."""
    rng = np.random.default_rng(seed)
    answer = true.copy()
    wrong = rng.random(len(true)) < error
    shift = rng.integers(1, k, size=len(true))
    answer[wrong] = (true[wrong] + shift[wrong]) % k
    return answer


def cleanlab_order(s: dict, labels: np.ndarray) -> np.ndarray:
    from cleanlab.rank import get_label_quality_scores
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    probs = cross_val_predict(LogisticRegression(max_iter=1000), s["embeddings"], labels, cv=5,
                              method="predict_proba")
    return np.argsort(get_label_quality_scores(labels, probs), kind="stable")


def review_rounds(s: dict, labels: np.ndarray, true: np.ndarray, answer: np.ndarray, batch: int,
                  stated: float, res, frame: pl.DataFrame, *, rescore: bool
                  ) -> tuple[list[float], object, int]:
    """``ROUNDS`` rounds of ``next_batch`` (told the reviewer error ``stated``) answered by the
    simulated reviewer, from the scoring ``res`` / ``frame``; with ``rescore`` each round scores
    again with every decision so far (the full loop), else the first scoring stays. Returns the
    accuracy after each round, the last scoring, and the reviews used."""
    keep = true >= 0
    reviewed = np.full(len(labels), -1, dtype=np.int64)
    accuracy = []
    for r in range(ROUNDS + 1):
        accuracy.append(float((applied(labels, res, reviewed) == true)[keep].mean()))
        if r == ROUNDS:
            break
        chosen = next_batch(frame, ledger_of(reviewed), batch, reviewer_error=stated,
                            noise_rate=res.decisions.noise_rate)["row"].to_numpy()
        reviewed[chosen] = answer[chosen]
        if rescore:
            res, frame = run_scoring(s, labels, reviewed)
    return accuracy, res, int((reviewed >= 0).sum())


def simulate(name: str, batch: int, error: float, seed: int = 0, stated: float = 0.0) -> dict:
    s = load(name)
    labels, true = s["labels"].astype(np.int64), s["true"].astype(np.int64)
    keep = true >= 0
    k = int(max(labels.max(), true.max()) + 1)
    answer = reviewer(true, k, error, seed)
    n = len(labels)
    acc = {m: [] for m in ("loop", "no_feedback", "cleanlab", "random")}
    used = {m: ROUNDS * batch for m in acc}
    t0 = time.perf_counter()
    # the loop (its round 0 is also the run without feedback)
    res0, frame0 = run_scoring(s, labels, None)
    acc["loop"], res, used["loop"] = review_rounds(s, labels, true, answer, batch, stated,
                                                   res0, frame0, rescore=True)
    calibration = res.decisions.calibration
    if stated > 0:
        # `review next --reviewer-error` from the one run, without re-scoring: the reviewers'
        # decisions still scale its chances up where they found more errors than it expected
        acc["one_run_stop"], _, used["one_run_stop"] = review_rounds(
            s, labels, true, answer, batch, stated, res0, frame0, rescore=False)
    # relabel's order without feedback, its whole budget: without the loop's recalibration its
    # chance estimates stop too early where shared errors hide (hausa with the stop: 362
    # reviews, 64.0% against 68.3% with all 500, bench/RESULTS.md)
    order = next_batch(frame0, ledger_of(np.full(n, -1)), ROUNDS * batch)["row"].to_numpy()
    for r in range(ROUNDS + 1):
        rev = np.full(n, -1, dtype=np.int64)
        rev[order[: r * batch]] = answer[order[: r * batch]]
        acc["no_feedback"].append(float((applied(labels, res0, rev) == true)[keep].mean()))
    # cleanlab's and a random order, reviewers' labels on the given ones
    for method, ordering in (("cleanlab", cleanlab_order(s, labels)),
                             ("random", np.random.default_rng(seed).permutation(n))):
        for r in range(ROUNDS + 1):
            new = labels.copy()
            idx = ordering[: r * batch]
            new[idx] = answer[idx]
            acc[method].append(float((new == true)[keep].mean()))
    return {"set": name, "rows": n, "noise": float((labels != true)[keep].mean()),
            "batch": batch, "reviewer_error": error, "stated_error": stated, "accuracy": acc,
            "reviews_used": used,
            "final_calibration": calibration.summary() if calibration is not None else None,
            "seconds": round(time.perf_counter() - t0, 1)}


def verdict(r: dict) -> str:
    a = r["accuracy"]
    loop, nf, cl = a["loop"][-1], a["no_feedback"][-1], a["cleanlab"][-1]
    monotone = all(b >= x - 1e-9 for x, b in zip(a["loop"], a["loop"][1:], strict=False))
    if nf < 0.98:
        ok = loop - nf >= 0.02 and loop - cl >= 0.04
    else:
        ok = loop >= nf - 1e-9
    return ("met" if ok and monotone else "not met") + ("" if monotone else " (fell)")


def table(results: list[dict]) -> str:
    lines = ["| set | rows | noise % | reviews (the loop used) | loop | no feedback "
             "| cleanlab order | random | loop − no feedback | loop − cleanlab | target |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        a = r["accuracy"]
        reviews = ROUNDS * r["batch"]
        u = r.get("reviews_used", {})
        if u and u["loop"] < reviews:
            reviews = f"{reviews} ({u['loop']})"
        lines.append(
            f"| {r['set']} | {r['rows']} | {100 * r['noise']:.1f} | {reviews} | "
            f"{100 * a['loop'][-1]:.1f} | {100 * a['no_feedback'][-1]:.1f} | "
            f"{100 * a['cleanlab'][-1]:.1f} | {100 * a['random'][-1]:.1f} | "
            f"{100 * (a['loop'][-1] - a['no_feedback'][-1]):+.1f} | "
            f"{100 * (a['loop'][-1] - a['cleanlab'][-1]):+.1f} | {verdict(r)} |")
    lines += ["", "Accuracy (%) after 0, 1, ..., 5 rounds:", ""]
    for r in results:
        a = r["accuracy"]
        lines.append(f"- {r['set']}: loop " + " → ".join(f"{100 * x:.1f}" for x in a["loop"])
                     + "; no feedback " + " → ".join(f"{100 * x:.1f}" for x in a["no_feedback"])
                     + "; cleanlab " + " → ".join(f"{100 * x:.1f}" for x in a["cleanlab"])
                     + ("; one run with the stop " + " → ".join(
                         f"{100 * x:.1f}" for x in a["one_run_stop"])
                        + f" ({r['reviews_used']['one_run_stop']} reviews)"
                        if "one_run_stop" in a else ""))
    return "\n".join(lines) + "\n"


def plot(results: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure

    cols = 4
    rows = -(-len(results) // cols)
    fig = Figure(figsize=(4 * cols, 3 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, r in zip(axes, results, strict=False):
        x = [i * r["batch"] for i in range(ROUNDS + 1)]
        for m, style in (("loop", "-o"), ("no_feedback", "-s"), ("cleanlab", "--"),
                         ("random", ":")):
            ax.plot(x, [100 * v for v in r["accuracy"][m]], style, label=m, markersize=3)
        ax.set_title(f"{r['set']} (reviewer error {r['reviewer_error']:g})", fontsize=9)
        ax.set_xlabel("reviews")
        ax.set_ylabel("label accuracy %")
    axes[0].legend(fontsize=7)
    for ax in axes[len(results):]:
        ax.set_visible(False)
    fig.savefig(path, dpi=90)


def batch_for(name: str, batch: int) -> int:
    """Reviews per round: 200 on the banking77 sets (10,003 rows), ``batch`` elsewhere."""
    return 200 if name.startswith("banking77") else batch


def run_score(r: dict) -> float:
    """loop − no feedback after the last round, 0.05 off where the loop fell between rounds."""
    a = r["accuracy"]
    fell = any(b < x - 1e-9 for x, b in zip(a["loop"], a["loop"][1:], strict=False))
    return a["loop"][-1] - a["no_feedback"][-1] - (0.05 if fell else 0.0)


def choose_weight(weights: list[float], sets: list[str], work: Path, batch: int) -> str:
    """Leave-one-dataset-out choice of REVIEWED_WEIGHT (module docstring); returns a report."""
    import relabel.detect.score as score

    work.mkdir(parents=True, exist_ok=True)
    runs: dict[tuple[float, float, str], dict] = {}
    for error in (0.0, 0.1):
        for w in weights:
            for name in sets:
                path = work / f"w{w:g}_e{error:g}_{name}.json"
                if not path.exists():
                    score.REVIEWED_WEIGHT = w
                    r = simulate(name, batch_for(name, batch), error)
                    path.write_text(json.dumps(r))
                    print(f"weight {w:g} error {error:g} {name}: {run_score(r):+.4f} "
                          f"({r['seconds']} s)", flush=True)
                runs[(w, error, name)] = json.loads(path.read_text())

    def mean_score(w: float, names: list[str]) -> float:
        return float(np.mean([run_score(runs[(w, e, n)]) for e in (0.0, 0.1) for n in names]))

    lines = ["in-sample mean score per weight: "
             + ", ".join(f"{w:g}: {mean_score(w, sets):+.4f}" for w in weights), ""]
    lines += ["| held out | weight chosen on the others | reviewer | loop − no feedback at the "
              "chosen weight | at weight 1 | loop − cleanlab at the chosen weight | target |",
              "|---|---|---|---|---|---|---|"]
    for name in sets:
        others = [n for n in sets if n != name]
        w = max(weights, key=lambda x: (mean_score(x, others), -x))
        for e in (0.0, 0.1):
            r, base = runs[(w, e, name)], runs[(1.0, e, name)] if 1.0 in weights else None
            a = r["accuracy"]
            lines.append(
                f"| {name} | {w:g} | {'gold' if e == 0 else '10% wrong'} | "
                f"{100 * (a['loop'][-1] - a['no_feedback'][-1]):+.1f} | "
                + (f"{100 * (base['accuracy']['loop'][-1] - a['no_feedback'][-1]):+.1f}"
                   if base else "–")
                + f" | {100 * (a['loop'][-1] - a['cleanlab'][-1]):+.1f} | {verdict(r)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--reviewer-error", type=float, default=0.0)
    ap.add_argument("--stated-error", type=float, default=0.0,
                    help="the reviewer error rate relabel's strategies are told (module "
                         "docstring); 0: they review their whole budget")
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--plot", default=None)
    ap.add_argument("--pseudo", type=float, default=None,
                    help="recalibration pseudo-reviews (relabel/detect/calibrate.py PSEUDO)")
    ap.add_argument("--reviewed-weight", type=float, default=None,
                    help="reviewed rows' weight in the corrector (relabel/detect/score.py "
                         "REVIEWED_WEIGHT)")
    ap.add_argument("--choose-weight", default=None,
                    help="comma-separated weights: choose REVIEWED_WEIGHT (module docstring)")
    ap.add_argument("--work", default="bench/.cache/review_weight")
    ap.add_argument("--corrector", default="linear", choices=("linear", "head"))
    ap.add_argument("--words", action="store_true",
                    help="the linear corrector also learns from the words (denoise's default)")
    ap.add_argument("--passes", type=int, default=None,
                    help="passes of the decision rule in each scoring (default: relabel's)")
    ap.add_argument("--fold-seed", type=int, default=0,
                    help="seed of the scoring's folds (how much they alone move the results)")
    args = ap.parse_args()
    global CORRECTOR, WORDS, FOLD_SEED, PASSES
    CORRECTOR, WORDS, FOLD_SEED, PASSES = args.corrector, args.words, args.fold_seed, args.passes
    if args.pseudo is not None:
        import relabel.detect.calibrate as calibrate

        calibrate.PSEUDO = args.pseudo
    if args.choose_weight:
        text = choose_weight([float(w) for w in args.choose_weight.split(",")],
                             args.sets.split(","), Path(args.work), args.batch)
        print(text)
        if args.markdown:
            append_markdown(args.markdown, [text])
        return
    if args.reviewed_weight is not None:
        import relabel.detect.score as score

        score.REVIEWED_WEIGHT = args.reviewed_weight
    results = []
    for name in args.sets.split(","):
        r = simulate(name, batch_for(name, args.batch), args.reviewer_error,
                     stated=args.stated_error)
        print(json.dumps({k: v for k, v in r.items() if k != "accuracy"}), flush=True)
        print("  " + json.dumps(r["accuracy"]), flush=True)
        results.append(r)
    from relabel.detect import calibrate

    stated = (f" --stated-error {args.stated_error:g}" if args.stated_error else "")
    text = (f"### Simulated review, reviewer error {args.reviewer_error:g}"
            + (f", relabel told {args.stated_error:g}" if args.stated_error else "")
            + f", pseudo-reviews {calibrate.PSEUDO:g} (`python bench/bench_review_loop.py "
            f"--reviewer-error {args.reviewer_error:g}{stated} --pseudo {calibrate.PSEUDO:g}`)"
            "\n\n" + table(results))
    print(text)
    if args.markdown:
        append_markdown(args.markdown, [text])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if args.plot:
        plot(results, Path(args.plot))


if __name__ == "__main__":
    main()
