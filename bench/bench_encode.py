"""Encoding on the CPU (issue 7): relabel's ``Encoder`` against sentence-transformers' ``encode``
on the same model and the same texts, side by side in one run.

Usage: python bench/bench_encode.py [--texts 20000] [--batch-size 64] [--markdown FILE]

Texts: the first ``--texts`` distinct texts of banking77 (train, test) and WRENCH trec, sms,
youtube and semeval (train, valid, test), in that order. Both libraries load the packaged
all-MiniLM-L6-v2, truncate at relabel's 128 tokens (the model's sentence-transformers config says
256) and use the machine's default torch threads; each is timed once after a warm-up on 512
texts, tokenisation included. Target: relabel >= 1.2x sentence-transformers' throughput,
cosine >= 0.999 between the two vectors of each text.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_denoise import append_markdown  # noqa: E402
from bench.devdata import load_banking77, load_wrench  # noqa: E402
from relabel.embed.encoder import Encoder, default_model_path  # noqa: E402


def gather_texts(n: int) -> list[str]:
    seen: dict[str, None] = {}
    frames = [load_banking77(rate=0.0), load_banking77(rate=0.0, split="test")]
    frames += [load_wrench(name, split) for name in ("trec", "sms", "youtube", "semeval")
               for split in ("train", "valid", "test")]
    for f in frames:
        for t in f["text"].to_list():
            seen.setdefault(t, None)
    texts = list(seen)[:n]
    if len(texts) < n:
        print(f"only {len(texts)} distinct texts available", file=sys.stderr)
    return texts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=20_000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    import torch
    from sentence_transformers import SentenceTransformer

    texts = gather_texts(args.texts)
    model = str(default_model_path())
    enc = Encoder(model, device="cpu", batch_size=args.batch_size)
    enc.encode(texts[:512])
    t0 = time.perf_counter()
    ours = enc.encode(texts)
    ours_s = time.perf_counter() - t0
    st = SentenceTransformer(model, device="cpu")
    # the same truncation on both sides (the model's own config says 256; relabel keeps 128)
    st_default_len = st.max_seq_length
    st.max_seq_length = enc.max_length
    st.encode(texts[:512], batch_size=args.batch_size)
    t0 = time.perf_counter()
    ref = st.encode(texts, batch_size=args.batch_size, convert_to_numpy=True,
                    normalize_embeddings=True, show_progress_bar=False)
    st_s = time.perf_counter() - t0
    cos = np.sum(ours * ref.astype(np.float32), axis=1)
    lines = [
        f"{len(texts)} texts, batch {args.batch_size}, torch {torch.__version__} with "
        f"{torch.get_num_threads()} threads. Command: `python bench/bench_encode.py --texts "
        f"{args.texts}`.",
        "",
        "| encoder | seconds | texts/s |",
        "|---|---|---|",
        f"| relabel `Encoder` | {ours_s:.1f} | {len(texts) / ours_s:.0f} |",
        f"| sentence-transformers `encode` | {st_s:.1f} | {len(texts) / st_s:.0f} |",
        "",
        f"Throughput ratio relabel / sentence-transformers: **{st_s / ours_s:.2f}x**. Cosine "
        f"between the two vectors of each text: mean {cos.mean():.6f}, min {cos.min():.6f}, "
        f"{100 * (cos >= 0.999).mean():.2f}% >= 0.999. Both truncate at {enc.max_length} tokens "
        f"(sentence-transformers' own default for this model: {st_default_len}).",
    ]
    print("\n".join(lines))
    append_markdown(args.markdown, lines)


if __name__ == "__main__":
    main()
