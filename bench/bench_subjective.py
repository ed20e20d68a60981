"""Subjective tasks as a trust control (issue 14): what ``denoise`` does to crowd majority labels.

The LeWiDi 2023 sets (offensive and hateful language, misogyny, abuse; train splits) carry every
annotator's vote. Their hard label is the annotators' majority, and many items are genuinely
contested. No label here is known to be wrong, so nothing measures fixes. What is measured is
what a user would see on such data with the defaults (``relabel.denoise`` on the hard labels,
as a CSV of ``id, text, label`` would be run; nothing was tuned on these sets):

- how many labels ``denoise`` changes automatically, and how split the annotators were on them:
  a change of a contested item overrides a real majority, a change of a unanimous one overrides
  every annotator;
- whether the flags point at the contested items (the items whose majority holds less than
  ``CONTESTED`` of the votes): their share among the flags against the base rate, and the AUROC
  of ``1 - credibility`` for finding them.

Usage::

    python bench/bench_subjective.py [--sets HS-Brexit,ArMIS,MD-Agreement,ConvAbuse] [--markdown F]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_denoise import append_markdown
from bench.devdata import SUBJECTIVE_SETS as SETS
from bench.devdata import load_lewidi_hard as hard_labels

#: an item is contested when its majority label holds less than this share of its votes
CONTESTED = 0.75


def evaluate(name: str, out_dir: Path) -> dict:
    from sklearn.metrics import roc_auc_score

    import relabel

    data = hard_labels(name)
    t0 = time.perf_counter()
    run = relabel.denoise(data.select("id", "text", "label"), text="text", label="label",
                          id="id", out=str(out_dir / name), progress=False)
    seconds = time.perf_counter() - t0
    s = run.scores.join(data.select("id", "agreement", "votes"), on="id")
    contested = (s["agreement"] < CONTESTED).to_numpy()
    flagged = s["flagged"].to_numpy()
    changed = s["suggested_label"].is_not_null().to_numpy()
    agreement = s["agreement"].to_numpy()
    return {"set": name, "rows": s.height, "votes": float(s["votes"].mean()),
            "contested": float(contested.mean()), "flagged": float(flagged.mean()),
            "contested_in_flags": float(contested[flagged].mean()) if flagged.any() else None,
            "auroc": float(roc_auc_score(contested, 1 - s["credibility"].to_numpy())),
            "changed": int(changed.sum()),
            "changed_contested": int((changed & contested).sum()),
            "changed_unanimous": int((changed & (agreement == 1.0)).sum()),
            # None where the signals cannot separate the classes (the run says so and why)
            "est_noise": run.summary["decisions"]["estimated_noise_rate"],
            "words": bool(run.summary["corrector"].get("words", {}).get("used")),
            "seconds": round(seconds, 1)}


def table(rows: list[dict]) -> str:
    lines = ["| set | rows | votes per item | contested items | flagged | contested among the "
             "flags | AUROC of 1 − credibility for contested items | estimated noise | changed "
             "automatically | of them contested / unanimous | words used | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        among = "–" if r["contested_in_flags"] is None else f"{100 * r['contested_in_flags']:.1f}%"
        noise = ("not estimated" if r["est_noise"] is None else
                 f"{100 * r['est_noise']:.1f}%")
        lines.append(
            f"| {r['set']} | {r['rows']} | {r['votes']:.1f} | {100 * r['contested']:.1f}% | "
            f"{100 * r['flagged']:.1f}% | {among} | {r['auroc']:.3f} | "
            f"{noise} | {r['changed']} ({100 * r['changed'] / r['rows']:.2f}%)"
            f" | {r['changed_contested']} / {r['changed_unanimous']} | "
            f"{'yes' if r['words'] else 'no'} | {r['seconds']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [evaluate(name, Path(tmp)) for name in args.sets.split(",")]
    block = table(rows)
    print(block)
    append_markdown(args.markdown, [block])


if __name__ == "__main__":
    main()
