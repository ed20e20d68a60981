"""Why three of issue 14's targets stay out of reach with the frozen MiniLM signals (issue 14).

Usage: python bench/trust_signals.py                      # once: the cached signals
       python bench/bench_trust_ceiling.py [--markdown FILE]

Four measurements on the cached signals of the 18 development sets, each with the left-out
protocol of ``bench/bench_trust.py`` (gamma chosen on the other 17 sets, target precision 0.9):

1. **Can any signal name the true class of a wrong label?** For the rows whose given label is
   wrong, the share where each signal's most probable class other than the given one is the
   gold class (kNN vote, linear corrector, head corrector, and the combined posterior the rule
   decides on). No decision rule can fix a row whose true class no signal points to.
2. **Every gamma on the linear path:** banking77's fixes and damage, and the sets on which that
   gamma is not safe (a clean control with more than 0.3% of its rows changed, or a noisy set
   whose changes are less than 90% right).
3. **The linear corrector's L2 strength** ``C`` (0.25, 1, 4, 16; relabel ships 1): the left-out
   decisions with the corrector refitted at each value.
4. **A second round** (EM for a noisy channel): the linear corrector refitted, out of fold, on
   the noisy-channel posterior ``r`` of the first round (at gamma 1, as soft targets) instead of
   the given labels, so that it estimates the true class rather than the given one; then the
   rule decides again. A training row's target depends on neighbours and folds that saw the
   held-out row, so the second round is not strictly out of fold.
5. **The ranking:** AP of ``1 - credibility`` (what relabel ranks by) against ``p_wrong``
   (the rule's estimated probability that the label is wrong), per corrector path.
6. **Gamma fitted on each dataset without gold**: the gamma (0.5 to 3 by 0.05) that maximises
   the likelihood of the given labels under the noisy channel,
   ``P(y_i | x_i) = Σ_c π_i(c) T[c, y_i]`` with ``π_i ∝ L_i ** gamma · P(true = c)`` and
   ``T`` the channel of the confident joint; then the linear path decides at that gamma.

The refitted out-of-fold probabilities are cached in ``bench/.cache/ceiling``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_denoise import append_markdown
from bench.bench_trust import GAMMAS, choose, outcome, path_signals, safe
from bench.devdata import CLEAN_SETS, NOISY_SETS
from bench.trust_signals import ROOT, load_signals
from relabel.correct.crossval import make_folds, out_of_fold_proba
from relabel.correct.linear import LinearCorrector
from relabel.detect.combine import PRIOR_FLOOR, balance_prior, combine_posteriors
from relabel.detect.decide import (
    CORRECTOR_WEIGHTS,
    GAMMA,
    decide,
    estimate_joint,
    true_label_posterior,
)
from relabel.detect.neighbors import build_knn_graph
from relabel.metrics import detection_metrics

CACHE = ROOT / "ceiling"
CS = (0.25, 1.0, 4.0, 16.0)
TARGET = 0.9


def likelihood(s: dict, path: str) -> np.ndarray:
    """``(N, K)`` the prior-balanced combined posterior of a path (what the rule decides on)."""
    post, weights = path_signals(s, path)
    y = s["labels"]
    k = next(iter(post.values())).shape[1]
    prior = np.bincount(y, minlength=k) / len(y)
    return balance_prior(combine_posteriors(post, weights), prior, beta=1.0,
                         floor=PRIOR_FLOOR if "cv" in weights else 0.0)


def fit_soft(x: np.ndarray, targets: np.ndarray, c: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression on soft targets ``(N, K)``, the objective of
    :class:`relabel.correct.linear.LinearCorrector` with the one-hot label replaced."""
    import torch

    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    tt = torch.from_numpy(targets.astype(np.float32))
    w = torch.zeros(x.shape[1], targets.shape[1], requires_grad=True)
    b = torch.zeros(targets.shape[1], requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=300, tolerance_grad=1e-5,
                            tolerance_change=1e-9, history_size=10,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (-c * (tt * torch.log_softmax(xt @ w + b, 1)).sum() + 0.5 * (w * w).sum())
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), b.detach().numpy()


def second_round(s: dict) -> np.ndarray:
    """``(N, K)`` out-of-fold probabilities of the linear corrector fitted on the first round's
    noisy-channel posterior (gamma 1)."""
    y = s["labels"]
    lik = likelihood(s, "linear")
    r = np.asarray(true_label_posterior(y, lik, estimate_joint(y, lik), gamma=1.0))
    folds = make_folds(y, 5, 0)
    out = np.zeros(r.shape)
    for f in range(5):
        tr = folds != f
        w, b = fit_soft(s["embeddings"][tr], r[tr])
        logits = s["embeddings"][~tr] @ w + b
        p = np.exp(logits - logits.max(1, keepdims=True))
        out[~tr] = p / p.sum(1, keepdims=True)
    out = np.clip(out, 1e-6, None)
    return out / out.sum(1, keepdims=True)


def cached(name: str, key: str, fn) -> np.ndarray:
    path = CACHE / f"{name}__{key}.npy"
    if path.exists():
        return np.load(path)
    CACHE.mkdir(parents=True, exist_ok=True)
    arr = fn()
    np.save(path, arr)
    return arr


def linear_c(s: dict, c: float) -> np.ndarray:
    k = s["cv_linear"].shape[1]
    return out_of_fold_proba(LinearCorrector(n_classes=k, C=c), s["embeddings"], s["labels"], k,
                             folds=5, seed=0, n_jobs=2)[0]


def decide_with(s: dict, graph, cv: np.ndarray, gamma: float) -> dict:
    post = {"knn": s["knn"], "kde": s["kde"], "cv": cv}
    return outcome(s, decide(s["labels"], post, weights=CORRECTOR_WEIGHTS,
                             target_precision=TARGET, graph=graph, texts=list(s["texts"]),
                             gamma=gamma))


def left_out(names: list[str], table: dict) -> dict[str, tuple[float, dict]]:
    return {n: (g := choose(table, [m for m in names if m != n], TARGET), table[(n, g)])
            for n in names}


def alt_accuracy(y: np.ndarray, t: np.ndarray, post: np.ndarray) -> float:
    """Share of the wrong rows whose most probable class other than the given one is gold."""
    wrong = y != t
    p = np.array(post[wrong], dtype=np.float64)
    p[np.arange(len(p)), y[wrong]] = -1.0
    return float((p.argmax(1) == t[wrong]).mean())


def self_fitted_gamma(y: np.ndarray, lik: np.ndarray) -> float:
    """The gamma of ``np.arange(0.5, 3.01, 0.05)`` under which the noisy channel predicts the
    given labels best (mean log-likelihood), fitted without gold labels."""
    joint = estimate_joint(y, lik)
    prior = joint.sum(0)
    channel = joint / np.clip(prior[None, :], 1e-300, None)  # channel[l, c] = P(given l | c)
    log_lik = np.log(np.clip(np.asarray(lik, dtype=np.float64), 1e-300, None))
    grid = np.round(np.arange(0.5, 3.01, 0.05), 2)
    scores = []
    for g in grid:
        a = g * log_lik + np.log(np.clip(prior, 1e-300, None))[None, :]
        a -= a.max(1, keepdims=True)
        pi = np.exp(a)
        pi /= pi.sum(1, keepdims=True)
        scores.append(np.mean(np.log(np.clip((pi * channel[y, :]).sum(1), 1e-300, None))))
    return float(grid[int(np.argmax(scores))])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    names = list(NOISY_SETS + CLEAN_SETS)
    sig = {n: load_signals(n) for n in names}
    graphs = {n: build_knn_graph(sig[n]["embeddings"], k=50) for n in names}
    blocks = []

    lines = ["#### 1. Can a signal name the true class of a wrong label?", "",
             "Share of the wrong rows whose most probable other class is the gold one:", "",
             "| set | wrong rows | kNN vote | linear | head | combined (linear path) |",
             "|---|---|---|---|---|---|"]
    for n in NOISY_SETS:
        s = sig[n]
        y, t = s["labels"], s["true"]
        cells = [alt_accuracy(y, t, s[k]) for k in ("knn", "cv_linear", "cv")]
        cells.append(alt_accuracy(y, t, likelihood(s, "linear")))
        lines.append(f"| {n} | {int((y != t).sum())} | "
                     + " | ".join(f"{c:.3f}" for c in cells) + " |")
    blocks.append("\n".join(lines) + "\n")

    base = {(n, g): decide_with(sig[n], graphs[n], sig[n]["cv_linear"], g)
            for n in names for g in GAMMAS}
    lines = ["#### 2. Every gamma on the linear path", "",
             "| gamma | banking77 fixes / damage | banking77 accuracy % | not safe on |",
             "|---|---|---|---|"]
    for g in GAMMAS:
        o = base[("banking77", g)]
        bad = [f"{n} ({base[(n, g)]['fixes']} / {base[(n, g)]['damage']})" for n in names
               if not safe(base[(n, g)], n in CLEAN_SETS, TARGET)]
        lines.append(f"| {g:g} | {o['fixes']} / {o['damage']} | {100 * o['acc_after']:.1f} | "
                     f"{', '.join(bad) or '–'} |")
    blocks.append("\n".join(lines) + "\n")

    lines = ["#### 3 and 4. The linear corrector's C, and a second round on the noisy-channel "
             "posterior (left out)", "",
             "| corrector | gamma chosen (folds) | banking77 accuracy % | trec accuracy % | "
             "changes on the 7 clean controls | damage on the 11 noisy sets | "
             "mean AP, 11 noisy sets |", "|---|---|---|---|---|---|---|"]
    variants = [(f"linear, C = {c:g}", (lambda n, c=c: sig[n]["cv_linear"] if c == 1.0
                                        else cached(n, f"C{c:g}", lambda: linear_c(sig[n], c))))
                for c in CS]
    variants.append(("second round (C = 1)",
                     lambda n: cached(n, "round2", lambda: second_round(sig[n]))))
    for label, get in variants:
        cv = {n: get(n) for n in names}
        table = base if label == "linear, C = 1" else {
            (n, g): decide_with(sig[n], graphs[n], cv[n], g) for n in names for g in GAMMAS}
        lo = left_out(names, table)
        gs = sorted({g for g, _ in lo.values()})
        clean_ch = sum(lo[n][1]["changes"] for n in CLEAN_SETS)
        dmg = sum(lo[n][1]["damage"] for n in NOISY_SETS)
        mean_ap = np.mean([lo[n][1]["ap"] for n in NOISY_SETS])
        lines.append(f"| {label} | {', '.join(f'{g:g}' for g in gs)} | "
                     f"{100 * lo['banking77'][1]['acc_after']:.1f} | "
                     f"{100 * lo['trec'][1]['acc_after']:.1f} | {clean_ch} | {dmg} | "
                     f"{mean_ap:.3f} |")
    blocks.append("\n".join(lines) + "\n")

    lines = ["#### 5. Ranking by credibility or by the rule's p_wrong (AP)", "",
             "| set | " + " | ".join(f"{p}: 1 - credibility | {p}: p_wrong"
                                    for p in ("linear", "head", "none")) + " |",
             "|---|" + "---|---|" * 3]
    means = {p: [[], []] for p in ("linear", "head", "none")}
    for n in NOISY_SETS:
        s = sig[n]
        err = s["labels"] != s["true"]
        cells = []
        for p in ("linear", "head", "none"):
            post, weights = path_signals(s, p)
            d = decide(s["labels"], post, weights=weights, target_precision=TARGET,
                       gamma=GAMMA[p])
            a = (detection_metrics(err, 1 - d.credibility, d.flagged)["ap"],
                 detection_metrics(err, d.p_wrong, d.flagged)["ap"])
            means[p][0].append(a[0])
            means[p][1].append(a[1])
            cells += [f"{a[0]:.3f}", f"{a[1]:.3f}"]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines.append("| mean | " + " | ".join(f"{np.mean(m[0]):.3f} | {np.mean(m[1]):.3f}"
                                         for m in means.values()) + " |")
    blocks.append("\n".join(lines) + "\n")
    lines = ["#### 6. Gamma fitted on each dataset by the likelihood of its given labels", "",
             "| set | fitted gamma | changes | fixes / damage | accuracy % | safe |",
             "|---|---|---|---|---|---|"]
    for n in names:
        s = sig[n]
        g = self_fitted_gamma(s["labels"], likelihood(s, "linear"))
        o = decide_with(s, graphs[n], s["cv_linear"], g)
        lines.append(f"| {n} | {g:.2f} | {o['changes']} | {o['fixes']} / {o['damage']} | "
                     f"{100 * o['acc_before']:.1f} → {100 * o['acc_after']:.1f} | "
                     f"{'yes' if safe(o, n in CLEAN_SETS, TARGET) else 'no'} |")
    blocks.append("\n".join(lines) + "\n")
    for b in blocks:
        print(b, flush=True)
    append_markdown(args.markdown, blocks)


if __name__ == "__main__":
    main()
