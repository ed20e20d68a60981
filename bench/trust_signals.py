"""Signals of every development set, computed once and cached for the trust benchmarks (issue 14).

Usage: python bench/trust_signals.py [--sets a,b,...]

For each noisy set and clean control of :mod:`bench.devdata` this runs relabel's own reading
(``read_task``: relation markers, entity pooling), the packaged encoder (embedding cache in
bench/.cache/embeddings), the neighbour signals and the default head corrector's 5 out-of-fold
folds (fold cache in bench/.cache/oof), and saves ``bench/.cache/signals/<set>.npz`` with
``labels``, ``true`` (-1 where the gold class is not among the given labels), the posteriors
``knn``, ``kde``, ``cv`` ``(N, K)``, the graph's ``indices``/``sims`` and the ``texts`` the
encoder read. Decision rules are then evaluated on these arrays in seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.devdata import CLEAN_SETS, NOISY_SETS, load_any
from relabel.correct.head import HeadCorrector
from relabel.embedding import embed_texts
from relabel.encode import Encoder
from relabel.inputs import read_task
from relabel.pipeline import DenoiseConfig
from relabel.scoring import score_examples

ROOT = Path(__file__).resolve().parent / ".cache"
SIGNALS = ROOT / "signals"


def compute(name: str, encoders: dict[str, Encoder]) -> Path:
    df = load_any(name)
    task = read_task(df.drop("true_label"), name, DenoiseConfig(id_col="id"))
    ex = task["examples"]
    classes = sorted(ex["label"].unique().to_list())
    labels = np.searchsorted(classes, ex["label"].to_numpy()).astype(np.int64)
    true_names = df["true_label"].to_numpy()[ex["row"].to_numpy()]
    pos = {c: i for i, c in enumerate(classes)}
    true = np.array([pos.get(t, -1) for t in true_names], dtype=np.int64)
    pooling = task["pooling"]
    enc = encoders.setdefault(pooling, Encoder(pooling=pooling))
    texts = task["texts"].get(pooling, task["texts"]["mean"])
    t0 = time.perf_counter()
    emb, _ = embed_texts(texts, enc, cache_dir=ROOT / "embeddings")
    t_enc = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = score_examples(emb, labels, len(classes), corrector=HeadCorrector(n_classes=len(classes)),
                         oof_cache=ROOT / "oof", inputs_key=f"{name}:{enc.key}")
    t_score = time.perf_counter() - t0
    SIGNALS.mkdir(parents=True, exist_ok=True)
    out = SIGNALS / f"{name}.npz"
    np.savez_compressed(
        out, labels=labels, true=true, classes=np.asarray(classes, dtype=object),
        knn=res["posteriors"]["knn"], kde=res["posteriors"]["kde"], cv=res["posteriors"]["cv"],
        embeddings=emb, texts=np.asarray(task["texts"]["mean"], dtype=object),
        encode_s=t_enc, score_s=t_score)
    print(f"{name}: {len(labels)} rows, {len(classes)} classes, noise "
          f"{np.mean(labels != true):.3f}, encode {t_enc:.1f} s, score {t_score:.1f} s", flush=True)
    return out


def load_signals(name: str) -> dict:
    """The cached arrays of one set (run this script first)."""
    with np.load(SIGNALS / f"{name}.npz", allow_pickle=True) as z:
        return {k: z[k] for k in z.files}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default=",".join(NOISY_SETS + CLEAN_SETS))
    args = ap.parse_args()
    encoders: dict[str, Encoder] = {}
    for name in args.sets.split(","):
        compute(name, encoders)


if __name__ == "__main__":
    main()
