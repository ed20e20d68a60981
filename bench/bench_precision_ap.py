"""What reduced-precision encoding does to the results (issue 19): AP and label accuracy after
applying the suggestions on every development set, with the embeddings of fp32, bf16 and int8.

For each set of :mod:`bench.devdata` (noisy sets and clean controls), the texts relabel reads
(``read_task``: relation markers, entity pooling) are encoded at each precision by relabel's own
``Encoder`` (embedding cache in bench/.cache/embeddings, keyed by precision), then scored the way
``relabel denoise`` does on a CPU (``--corrector auto`` = the linear corrector, 5 folds, default
decisions). Columns: the minimum and 1st-percentile cosine of each text's vector to its fp32
vector, AP of the ranking against the true errors, and accuracy before -> after applying
relabel's changes (changes, damage = right labels changed).

Usage::

    python bench/bench_precision_ap.py [--sets a,b] [--precisions fp32,bf16,int8]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_trust import outcome
from bench.devdata import CLEAN_SETS, NOISY_SETS, load_any
from relabel.config import InputSpec
from relabel.correct.linear import LinearCorrector
from relabel.data.task import read_task
from relabel.detect.score import score_examples
from relabel.embed.cache import embed_texts
from relabel.embed.encoder import Encoder

ROOT = Path(__file__).resolve().parent / ".cache"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default=",".join(NOISY_SETS + CLEAN_SETS))
    ap.add_argument("--precisions", default="fp32,bf16,int8")
    args = ap.parse_args()
    precisions = args.precisions.split(",")
    encoders: dict[tuple[str, str], Encoder] = {}
    print("| set | rows | precision | encode s | min cosine | 1st pct cosine | AP | "
          "accuracy before → after | changes | damage |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.sets.split(","):
        df = load_any(name)
        task = read_task(df.drop("true_label"), name, InputSpec(id_col="id"))
        ex = task.examples
        classes = sorted(ex["label"].unique().to_list())
        labels = np.searchsorted(classes, ex["label"].to_numpy()).astype(np.int64)
        pos = {c: i for i, c in enumerate(classes)}
        true_names = df["true_label"].to_numpy()[ex["row"].to_numpy()]
        true = np.array([pos.get(t, -1) for t in true_names], dtype=np.int64)
        texts = task.encoder_texts(task.pooling)
        ref = None
        for precision in precisions:
            enc = encoders.setdefault((task.pooling, precision),
                                      Encoder(pooling=task.pooling, precision=precision))
            t0 = time.perf_counter()
            emb, _ = embed_texts(texts, enc, cache_dir=ROOT / "embeddings")
            t_enc = time.perf_counter() - t0
            if ref is None:
                ref = emb
            cos = np.sum(emb * ref, axis=1)
            res = score_examples(emb, labels, len(classes),
                                 corrector=LinearCorrector(n_classes=len(classes)),
                                 oof_cache=ROOT / "oof", inputs_key=f"{name}:{enc.key}",
                                 texts=list(task.texts["mean"]))
            o = outcome({"labels": labels, "true": true}, res)
            ap_txt = "–" if name in CLEAN_SETS else f"{o['ap']:.3f}"
            print(f"| {name} | {len(labels)} | {precision} | {t_enc:.1f} | {cos.min():.5f} | "
                  f"{np.percentile(cos, 1):.5f} | {ap_txt} | {100 * o['acc_before']:.1f} → "
                  f"{100 * o['acc_after']:.1f} | {o['changes']} | {o['damage']} |", flush=True)


if __name__ == "__main__":
    main()
