"""Trust (issue 14): self-calibrating decisions on every development set, left-out numbers.

Usage: python bench/trust_signals.py   # once: encode, score, cache the signals
       python bench/bench_trust.py [--markdown FILE] [--target-precision 0.9]
       python bench/bench_trust.py --paths linear --per-gamma 1.3,1.4,1.5,1.75

Corrector paths: ``linear`` (what ``--corrector auto`` picks without a GPU), ``head`` and
``none``.

Protocol. The one constant of the decision rule fitted on data, ``gamma`` (the likelihood
exponent of relabel/detect/decide.py; with the corrector and, separately, for
``--corrector none``), is chosen by leave-one-dataset-out over the 22 development sets (11 with
real or injected noise, 7 clean controls whose gold labels are given as labels, and since
2026-12-07 the 4 subjective controls of ``SUBJECTIVE_SETS``, the annotators' majority labels of
the LeWiDi sets): for each set in turn, gamma is the largest value of ``GAMMAS`` (the most
changes) that is *safe* on each of the other sets: a control has at most 0.3% of its rows
changed, and a noisy set's changes are at least P precise (``fixes - P/(1-P) · damage >= 0``);
the set is then scored with that gamma. Paths that apply to some sets only (``linear+words``:
:func:`path_sets`) choose on those. The table shows the left-out numbers beside the in-sample
ones (gamma chosen on all), and the
baselines on the same MiniLM embeddings: cleanlab ``find_label_issues`` on 5-fold
logistic-regression probabilities and a plain kNN vote (k = 10), each applying its own fixes.

Columns: AP / AUROC of relabel's ranking (``suspicion``, the order of its lists; until
2026-12-07 ``1 - credibility``) against the true errors; flagged share and the flags' precision
vs true noise; estimated noise; changes with their estimated and observed precision; label
accuracy before -> after applying relabel's changes; skill and the self-diagnosis.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_denoise import append_markdown, cleanlab_baseline, knn_vote_baseline
from bench.devdata import CLEAN_SETS, NOISY_SETS, SUBJECTIVE_SETS
from bench.trust_signals import SIGNALS, load_signals
from relabel.correct.lexical import average_with_words, words_help
from relabel.detect.decide import CORRECTOR_WEIGHTS, DEFAULT_WEIGHTS, GAMMA, decide
from relabel.detect.neighbors import build_knn_graph
from relabel.metrics import detection_metrics

GAMMAS = (0.5, 0.75, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.75, 2.0)
MAX_CLEAN_CHANGED = 0.003
#: sets held to the clean-control limit: the gold labels given as labels, and the annotators'
#: majority labels of the subjective crowd sets (no label known to be wrong)
CONTROL_SETS = CLEAN_SETS + SUBJECTIVE_SETS
#: corrector paths (``--corrector auto`` is ``linear`` on a CPU); ``pred_probs`` is
#: ``relabel.find_label_issues(labels, pred_probs=P)`` with out-of-fold probabilities alone (the
#: linear corrector's, standing in for a user's model), which uses the linear gamma
PATHS = ("linear+words", "linear", "head", "none", "pred_probs")


def path_signals(s: dict, path: str) -> tuple[dict, dict]:
    """The posteriors and weights ``decide`` sees on a corrector path."""
    if path == "pred_probs":
        return {"cv": s["cv_linear"]}, {"cv": 1.0}
    post = {k: s[k] for k in ("knn", "kde")}
    if path == "none":
        return post, DEFAULT_WEIGHTS
    post["cv"] = s["cv_linear"] if path.startswith("linear") else s["cv"]
    if path == "linear+words":  # as denoise on text classification (relabel/correct/lexical.py)
        post["cv"] = average_with_words(post["cv"], s["cv_words"])
    return post, CORRECTOR_WEIGHTS


def path_sets(path: str, names: list[str], sig: dict) -> list[str]:
    """The sets a path applies to: the word model only where ``denoise`` uses it, on text
    classification (the sets with ``cv_words``) where the words help
    (:func:`relabel.correct.lexical.words_help`); every set otherwise."""
    if path != "linear+words":
        return names
    return [n for n in names if "cv_words" in sig[n]
            and words_help(sig[n]["labels"], sig[n]["cv_linear"], sig[n]["cv_words"])[0]]


def run_decide(s: dict, graph, path: str, gamma: float, target: float) -> dict:
    post, weights = path_signals(s, path)
    graph = None if path == "pred_probs" else graph
    return decide(s["labels"], post, weights=weights, target_precision=target, graph=graph,
                  texts=list(s["texts"]), gamma=gamma)


def outcome(s: dict, d: dict) -> dict:
    y, t = s["labels"], s["true"]
    ch = d.suggested >= 0
    new = np.where(ch, d.suggested, y)
    good = int((new[ch] == t[ch]).sum())
    err = y != t
    det = detection_metrics(err, d.suspicion, d.flagged)
    dec = d.decisions
    return {"n": len(y), "noise": float(err.mean()), "ap": det["ap"], "auroc": det["auroc"],
            "flag_share": float(d.flagged.mean()), "flag_precision": det["precision"],
            "est_noise": dec.noise_rate, "changes": int(ch.sum()), "fixes": good,
            "damage": int(ch.sum()) - good,
            "est_precision": float(np.nanmean(d.confidence[ch])) if ch.any() else float("nan"),
            "acc_before": float((y == t).mean()), "acc_after": float((new == t).mean()),
            "skill": dec.skill, "separates": dec.can_separate,
            "conf": d.confidence[ch], "right": (new[ch] == t[ch])}


def utility(o: dict, target: float) -> float:
    return (o["fixes"] - target / (1 - target) * o["damage"]) / o["n"]


def safe(o: dict, clean: bool, target: float) -> bool:
    """A clean control has at most 0.3% of its rows changed; a noisy set's changes are at least
    ``target`` precise (fixes - target/(1-target) · damage >= 0)."""
    if clean:
        return o["changes"] / o["n"] <= MAX_CLEAN_CHANGED
    return utility(o, target) >= 0


def choose(table: dict, names: list[str], target: float) -> float:
    """The largest gamma (the most changes) that is safe on every set in ``names``."""
    ok = [g for g in GAMMAS if all(safe(table[(m, g)], m in CONTROL_SETS, target) for m in names)]
    return max(ok) if ok else min(GAMMAS)


def row(name: str, o: dict, gamma: float) -> str:
    est = "" if np.isnan(o["est_precision"]) else f"{o['est_precision']:.2f}"
    obs = f"{o['fixes'] / o['changes']:.2f}" if o["changes"] else ""
    ap = "" if np.isnan(o["ap"]) else f"{o['ap']:.3f} / {o['auroc']:.3f}"
    return (f"| {name} | {o['n']} | {100 * o['noise']:.1f} | {gamma:g} | {ap} | "
            f"{100 * o['flag_share']:.1f} | {flag_precision(o)} | {100 * o['est_noise']:.1f} | "
            f"{o['changes']} "
            f"({100 * o['changes'] / o['n']:.2f}%) | {est} | {obs} | {o['fixes']} / {o['damage']} "
            f"| {100 * o['acc_before']:.1f} → {100 * o['acc_after']:.1f} | {o['skill']:.2f}"
            f"{'' if o['separates'] else ' (diagnosed)'} |")


def flag_precision(o: dict) -> str:
    """The share of the flagged rows whose label is wrong (empty when nothing is flagged or on a
    control, where every flag is a right label)."""
    p = o["flag_precision"]
    return "" if o["noise"] == 0 or np.isnan(p) else f"{p:.3f}"


HEADER = ("| set | rows | noise % | gamma | AP / AUROC | flagged % | flag precision | "
          "est. noise % | changed | est. precision | observed precision | fixes / damage | "
          "accuracy % | skill |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def reliability(conf: np.ndarray, right: np.ndarray) -> str:
    bins = [0.9, 0.95, 0.99, 1.0001]
    cells = []
    for lo, hi in itertools.pairwise(bins):
        sel = (conf >= lo) & (conf < hi)
        if sel.any():
            cells.append(f"[{lo:.2f}, {min(hi, 1):.2f}): {int(sel.sum())} at {conf[sel].mean():.3f}"
                         f" est., {right[sel].mean():.3f} obs.")
    return "; ".join(cells)


def loss_ablation(names: list[str], graphs: dict, sig: dict, target: float,
                  losses: list[str]) -> str:
    """AP of the ranking and left-out decisions of the head corrector trained with each loss."""
    avail = [n for n in names if all((SIGNALS / (f"{n}.npz" if loss == "distant_peer" else
                                                 f"{n}__{loss}.npz")).exists() for loss in losses)]
    lines = [f"### Head corrector losses (left-out gamma per loss, target {target:g})", "",
             "| set | " + " | ".join(f"{loss} AP | {loss} fixes / damage" for loss in losses)
             + " |", "|---|" + "---|---|" * len(losses)]
    cells: dict[str, list[str]] = {n: [] for n in avail}
    wins = dict.fromkeys(losses, 0)
    for loss in losses:
        s_loss = {n: sig[n] if loss == "distant_peer" else load_signals(n, loss) for n in avail}
        table = {(n, g): outcome(s_loss[n], run_decide(s_loss[n], graphs[n], "head", g, target))
                 for n in avail for g in GAMMAS}
        for n in avail:
            o = table[(n, choose(table, [m for m in avail if m != n], target))]
            ap_s = "" if np.isnan(o["ap"]) else f"{o['ap']:.3f}"
            cells[n] += [ap_s, f"{o['fixes']} / {o['damage']}"]
    for n in avail:
        aps = [float(c) if c else np.nan for c in cells[n][0::2]]
        if not np.all(np.isnan(aps)):
            wins[losses[int(np.nanargmax(aps))]] += 1
        lines.append(f"| {n} | " + " | ".join(cells[n]) + " |")
    lines += ["", "Best AP per noisy set: " + ", ".join(f"{k} {v}" for k, v in wins.items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--target-precision", type=float, default=0.9)
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--paths", default=",".join(PATHS), help="corrector paths to run")
    ap.add_argument("--losses", default="ce,supcon,soft,distant_peer,distant_peer_soft",
                    help="head losses to compare (signals from trust_signals.py --losses); "
                         "empty to skip")
    ap.add_argument("--per-gamma", default=None,
                    help="comma-separated gammas: print fixes / damage per set at each on the "
                         "--paths' first corrector path ('!' where not safe), and stop")
    args = ap.parse_args()
    target = args.target_precision
    names = list(NOISY_SETS + CONTROL_SETS)
    sig = {n: load_signals(n) for n in names}
    graphs = {n: build_knn_graph(sig[n]["embeddings"], k=50) for n in names}
    if args.per_gamma:
        path = args.paths.split(",")[0]
        gammas = [float(g) for g in args.per_gamma.split(",")]
        print(f"| set ({path}) | " + " | ".join(f"gamma {g:g}" for g in gammas) + " |")
        print("|---|" + "---|" * len(gammas))
        for n in path_sets(path, names, sig):
            cells = []
            for g in gammas:
                o = outcome(sig[n], run_decide(sig[n], graphs[n], path, g, target))
                mark = "" if safe(o, n in CONTROL_SETS, target) else " (not safe)"
                cells.append(f"{o['fixes']} / {o['damage']}{mark}")
            print(f"| {n} | " + " | ".join(cells) + " |")
        return
    blocks = []
    all_names = names
    for path in args.paths.split(","):
        names = path_sets(path, all_names, sig)
        table = {(n, g): outcome(sig[n], run_decide(sig[n], graphs[n], path, g, target))
                 for n in names for g in GAMMAS}
        g_all = choose(table, names, target)
        lines = [f"### Decisions with corrector `{path}` at target precision {target:g} "
                 f"(gamma in-sample: {g_all:g}; relabel's default GAMMA: {GAMMA[path]:g})", "",
                 f"Left out (gamma chosen on the other {len(names) - 1}):", "", HEADER]
        rel = []
        worst = None
        for n in names:
            g = choose(table, [m for m in names if m != n], target)
            o = table[(n, g)]
            lines.append(row(n, o, g))
            if o["changes"] >= 30:
                rel.append(f"- {n}: {reliability(o['conf'], o['right'])}")
            delta = o["acc_after"] - o["acc_before"]
            worst = delta if worst is None else min(worst, delta)
        lines += ["", f"Worst left-out accuracy change: {100 * worst:+.2f} points.", "",
                  f"In-sample (gamma chosen on all {len(names)}):", "", HEADER]
        lines += [row(n, table[(n, g_all)], g_all) for n in names]
        if rel:
            lines += ["", "Reliability of the left-out changes (sets with ≥ 30 changes):", ""]
            lines += rel
        block = "\n".join(lines) + "\n"
        print(block, flush=True)
        blocks.append(block)
    names = all_names
    if args.losses:
        blocks.append(loss_ablation(names, graphs, sig, target, args.losses.split(",")))
        print(blocks[-1], flush=True)
    if not args.no_baselines:
        lines = ["### Baselines on the same embeddings (their own fixes applied)", "",
                 "| set | method | AP | flagged % | changed | fixes / damage | accuracy % |",
                 "|---|---|---|---|---|---|---|"]
        for n in names:
            s = sig[n]
            y, t = s["labels"], s["true"]
            K = s["knn"].shape[1]
            for label, fn in [("kNN vote (k=10)", lambda s=s, y=y, K=K: knn_vote_baseline(
                                  s["embeddings"], y, K)),
                              ("cleanlab (5-fold LR)", lambda s=s, y=y: cleanlab_baseline(
                                  s["embeddings"], y))]:
                score, flagged, new = fn()
                det = detection_metrics(y != t, score, flagged)
                ch = new != y
                good = int((new[ch] == t[ch]).sum())
                ap_s = "" if np.isnan(det["ap"]) else f"{det['ap']:.3f}"
                lines.append(f"| {n} | {label} | {ap_s} | {100 * flagged.mean():.1f} | "
                             f"{int(ch.sum())} | {good} / {int(ch.sum()) - good} | "
                             f"{100 * (y == t).mean():.1f} → {100 * (new == t).mean():.1f} |")
        block = "\n".join(lines) + "\n"
        print(block, flush=True)
        blocks.append(block)
    append_markdown(args.markdown, blocks)


if __name__ == "__main__":
    main()
