"""Random audit against relabel's own estimate of the label error rate, on every development set.

Usage: python bench/trust_signals.py (once; ``--words-only`` for ``--words``), then
       python bench/bench_audit.py [--sizes 50,100,200] [--draws 200] [--markdown FILE]
       [--words]

For each noisy set and clean control: relabel's decisions at its defaults (linear corrector,
``GAMMA["linear"]``, target precision 0.9) on the cached signals give its estimated noise rate
and its model-based label accuracy after its automatic changes (``review status`` before any
review). Then a simulated reviewer decides a random audit of n examples
(:mod:`relabel.review.audit`), drawn ``--draws`` times with different hash keys. The reviewer
answers with the gold label, or (second table) with a random wrong label 10% of the time; in the
third table two such reviewers decide every audited example, and the audit is corrected for
their error as ``review status`` does when Label Studio tasks have two annotators. Per set
and n:

- the audit's error rate against the true rate: mean absolute error, and the coverage of its 95%
  interval;
- how often ``review status`` warns that relabel's estimate lies outside the audit's interval;
- the label accuracy now, after relabel's automatic changes and the audit's own fixes, as mean
  absolute error against the truth: the audit's estimate, and relabel's model-based one
  (``review status`` without an audit) as shipped, scaled to the run's estimated noise rate
  (:func:`relabel.review.chance.expected_errors`), and as it was before, the plain sum of
  ``p_wrong``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_trust import path_sets, run_decide
from bench.devdata import CLEAN_SETS, NOISY_SETS
from bench.trust_signals import load_signals
from relabel.detect.decide import GAMMA
from relabel.detect.neighbors import build_knn_graph
from relabel.review.audit import audit_sample, estimate_from_audit
from relabel.review.chance import expected_errors


def simulate(s: dict, d, n: int, draws: int, reviewer_error: float, second: bool = False
             ) -> dict:
    y, t = s["labels"], s["true"]
    k = int(max(y.max(), t.max()) + 1)
    ids = [str(i) for i in range(len(y))]
    changed = d.suggested >= 0
    conf = np.nan_to_num(d.confidence, nan=0.0)
    own = float(d.decisions.noise_rate)
    true_rate = float((y != t).mean())
    rows = {"mae": [], "covered": [], "warned": [], "acc_audit": [], "acc_model": [],
            "acc_model_sum": [], "acc_covered": []}
    for draw in range(draws):
        rng = np.random.default_rng(draw)
        audited = audit_sample(ids, n, key=f"bench-{draw}".encode())
        def review(rng: np.random.Generator = rng, audited: np.ndarray = audited
                   ) -> np.ndarray:
            answer = t.copy()
            slip = audited & (rng.random(len(y)) < reviewer_error)
            # a wrong answer: any class but the true one (where the gold class is known)
            answer[slip] = (t[slip] + rng.integers(1, k, slip.sum())) % k
            return answer

        answer = review()
        votes = None
        if second:  # a second reviewer decides every audited example too
            other = review()
            votes = [(int(answer[i]), int(other[i])) if audited[i] else None
                     for i in range(len(y))]
        decision = np.where(audited, answer, -1).astype(object)
        decision[~audited] = None
        fixed = audited & (answer != y)
        est = estimate_from_audit(y.astype(object), decision, audited,
                                  confirmed=int(fixed.sum()),
                                  change_confidence=conf[changed & ~audited],
                                  relabel_error_rate=own, votes=votes, n_classes=k, seed=draw)
        # the labels now: the audit's decisions, then relabel's changes on the rest
        now = np.where(audited, answer, np.where(changed, d.suggested, y))
        acc_now = float((now == t).mean())
        for key, rate in (("acc_model", own), ("acc_model_sum", None)):
            err = expected_errors(d.p_wrong, changed, conf, noise_rate=rate)
            rows[key].append(abs(1 - float(np.where(audited, 0.0, err).sum()) / len(y)
                                 - acc_now))
        rows["mae"].append(abs(est.error_rate - true_rate))
        rows["covered"].append(est.error_low <= true_rate <= est.error_high)
        rows["warned"].append(est.agrees is False)
        rows["acc_audit"].append(abs(est.accuracy_now - acc_now))
        rows["acc_covered"].append(est.accuracy_low <= acc_now <= est.accuracy_high)
    return {k_: float(np.mean(v)) for k_, v in rows.items()} | {"own": own, "true": true_rate}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="50,100,200")
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--words", action="store_true",
                    help="on text classification the linear corrector also learns from the "
                         "words where they help, as denoise does (relabel/correct/lexical.py)")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    names = list(NOISY_SETS + CLEAN_SETS)
    blocks = []
    for error, second in ((0.0, False), (0.1, False), (0.1, True)):
        title = (f"#### Reviewers wrong {100 * error:g}% of the time, two on every audited "
                 f"example ({args.draws} audits per set and size)" if second else
                 f"#### Reviewer wrong {100 * error:g}% of the time ({args.draws} audits per "
                 "set and size)")
        lines = [title, "",
                 "| set | rows | true error % | relabel's estimate % | audit n | audit: mean abs "
                 "error (points) | 95% interval covers the truth | warns | accuracy now, mean "
                 "abs error: audit / relabel's signals / before: sum of p_wrong (points) | "
                 "audit's accuracy interval covers |", "|---|---|---|---|---|---|---|---|---|---|"]
        for name in names:
            s = load_signals(name)
            path = ("linear+words" if args.words and path_sets("linear+words", [name],
                                                                 {name: s}) else "linear")
            d = run_decide(s, build_knn_graph(s["embeddings"], k=50), path, GAMMA[path], 0.9)
            for n in sizes:
                r = simulate(s, d, n, args.draws, error, second)
                lines.append(
                    f"| {name} | {len(s['labels'])} | {100 * r['true']:.1f} | "
                    f"{100 * r['own']:.1f} | {n} | {100 * r['mae']:.1f} | "
                    f"{100 * r['covered']:.0f}% | {100 * r['warned']:.0f}% | "
                    f"{100 * r['acc_audit']:.1f} / {100 * r['acc_model']:.1f} / "
                    f"{100 * r['acc_model_sum']:.1f} | "
                    f"{100 * r['acc_covered']:.0f}% |")
            print(lines[-1], flush=True)
        blocks.append("\n".join(lines) + "\n")
    text = "\n".join(blocks)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
