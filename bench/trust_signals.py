"""Signals of every development set, computed once and cached for the trust benchmarks (issue 14).

Usage: python bench/trust_signals.py [--sets a,b,...] [--losses ce,supcon,soft,distant_peer]

For each noisy set, clean control and subjective control of :mod:`bench.devdata` this runs
relabel's own reading (``read_task``: relation markers, entity pooling), the packaged encoder
(embedding cache in bench/.cache/embeddings), the neighbour signals, the head corrector's and
the linear corrector's 5 out-of-fold folds (fold cache in bench/.cache/oof), and saves
``bench/.cache/signals/<set>.npz`` with ``labels``, ``true`` (-1 where the gold class is not
among the given labels), the posteriors ``knn``, ``kde``, ``cv`` (head), ``cv_linear``
``(N, K)``, the ``embeddings`` and the ``texts`` the encoder read. Decision rules are then
evaluated on these arrays in seconds.

For text classification it also saves ``<set>__words.npz``: ``cv_words``, the out-of-fold
probabilities of the word model (:mod:`relabel.correct.lexical`, on the same folds as the
linear corrector), which ``denoise`` averages with ``cv_linear``. ``--words-only`` computes
just these, from the texts of the cached signals.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.devdata import CLEAN_SETS, NOISY_SETS, SUBJECTIVE_SETS, load_any
from relabel.config import InputSpec
from relabel.correct.head import HeadCorrector
from relabel.correct.linear import LinearCorrector
from relabel.data.task import read_task
from relabel.detect.score import score_examples
from relabel.embed.cache import embed_texts
from relabel.embed.encoder import Encoder

ROOT = Path(__file__).resolve().parent / ".cache"
SIGNALS = ROOT / "signals"


def compute(name: str, encoders: dict[str, Encoder], loss: str = "distant_peer") -> Path:
    df = load_any(name)
    task = read_task(df.drop("true_label"), name, InputSpec(id_col="id"))
    ex = task.examples
    classes = sorted(ex["label"].unique().to_list())
    labels = np.searchsorted(classes, ex["label"].to_numpy()).astype(np.int64)
    true_names = df["true_label"].to_numpy()[ex["row"].to_numpy()]
    pos = {c: i for i, c in enumerate(classes)}
    true = np.array([pos.get(t, -1) for t in true_names], dtype=np.int64)
    pooling = task.pooling
    enc = encoders.setdefault(pooling, Encoder(pooling=pooling))
    texts = task.encoder_texts(pooling)
    t0 = time.perf_counter()
    emb, _ = embed_texts(texts, enc, cache_dir=ROOT / "embeddings")
    t_enc = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = score_examples(emb, labels, len(classes),
                         corrector=HeadCorrector(n_classes=len(classes), loss=loss),
                         oof_cache=ROOT / "oof", inputs_key=f"{name}:{enc.key}")
    t_score = time.perf_counter() - t0
    extra = {}
    if loss == "distant_peer":  # the small-data corrector, once per set
        lin = score_examples(emb, labels, len(classes),
                             corrector=LinearCorrector(n_classes=len(classes)),
                             oof_cache=ROOT / "oof", inputs_key=f"{name}:{enc.key}")
        extra["cv_linear"] = lin.posteriors["cv"]
    SIGNALS.mkdir(parents=True, exist_ok=True)
    out = SIGNALS / (f"{name}.npz" if loss == "distant_peer" else f"{name}__{loss}.npz")
    np.savez_compressed(
        out, labels=labels, true=true, classes=np.asarray(classes, dtype=object),
        knn=res.posteriors["knn"], kde=res.posteriors["kde"], cv=res.posteriors["cv"],
        embeddings=emb, texts=np.asarray(list(task.texts["mean"]), dtype=object),
        task=task.task, encode_s=t_enc, score_s=t_score, **extra)
    print(f"{name}: {len(labels)} rows, {len(classes)} classes, noise "
          f"{np.mean(labels != true):.3f}, encode {t_enc:.1f} s, score {t_score:.1f} s", flush=True)
    return out


def compute_words(name: str) -> Path | None:
    """``cv_words`` of a text-classification set, through relabel's own word features and
    folds (None for a relation set, which ``denoise`` scores without the words)."""
    from relabel.correct.lexical import word_features
    from relabel.detect.score import word_probabilities

    s = load_signals(name, words=False)
    if _is_relation(name, s):
        return None
    k = s["cv_linear"].shape[1]
    t0 = time.perf_counter()
    X = word_features(list(s["texts"]))
    if X is None:
        return None
    p, _ = word_probabilities(X, s["labels"], k, folds=5, seed=0)  # as denoise computes it
    out = SIGNALS / f"{name}__words.npz"
    np.savez_compressed(out, cv_words=p, words_s=time.perf_counter() - t0)
    print(f"{name}: words {X.shape[1]} features, {time.perf_counter() - t0:.1f} s", flush=True)
    return out


def _is_relation(name: str, signals: dict) -> bool:
    """Whether a set is read as relations: the task its signals were saved with, or, for a
    cache written before ``task`` was saved, the set read again."""
    if "task" in signals:
        return str(signals["task"]) != "text"
    df = load_any(name)
    return read_task(df.drop("true_label"), name, InputSpec(id_col="id")).task != "text"


def load_signals(name: str, loss: str = "distant_peer", words: bool = True) -> dict:
    """The cached arrays of one set (run this script first; ``--loss`` for the other losses),
    with ``cv_words`` where it was computed."""
    path = SIGNALS / (f"{name}.npz" if loss == "distant_peer" else f"{name}__{loss}.npz")
    with np.load(path, allow_pickle=True) as z:
        out = {k: z[k] for k in z.files}
    extra = SIGNALS / f"{name}__words.npz"
    if words and extra.is_file():
        with np.load(extra) as z:
            out["cv_words"] = z["cv_words"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default=",".join(NOISY_SETS + CLEAN_SETS + SUBJECTIVE_SETS))
    ap.add_argument("--losses", default="distant_peer",
                    help="head corrector losses, comma-separated (ce, supcon, soft, distant_peer)")
    ap.add_argument("--words-only", action="store_true",
                    help="only the word model's out-of-fold probabilities (cv_words)")
    args = ap.parse_args()
    encoders: dict[str, Encoder] = {}
    if not args.words_only:
        for loss in args.losses.split(","):
            for name in args.sets.split(","):
                compute(name, encoders, loss)
    for name in args.sets.split(","):
        compute_words(name)


if __name__ == "__main__":
    main()
