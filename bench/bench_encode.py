"""Encoding on the CPU (issues 7 and 19): relabel's ``Encoder`` at each precision against
sentence-transformers' ``encode`` (fp32) on the same model and the same texts, side by side in
one run.

Usage: python bench/bench_encode.py [--texts 20000] [--sets short,news] [--batch-size 64]
                                    [--precisions fp32,bf16,int8,auto] [--markdown FILE]

Texts. ``short``: the first ``--texts`` distinct texts of banking77 (train, test) and WRENCH
trec, sms, youtube and semeval (train, valid, test), in that order. ``news``: every distinct
development text of 40 to 70 tokens (spouse and the open-domain relation set are news
sentences; WRENCH, banking77), up to ``--texts``. Both libraries load the packaged
all-MiniLM-L6-v2, truncate at relabel's 128 tokens (the model's sentence-transformers config says
256) and use the machine's default torch threads; each is timed once after a warm-up on 512
texts, tokenisation included. Issue 19's target: relabel >= 2.0x sentence-transformers fp32 with
cosine >= 0.999 for every text.
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


def news_texts(n: int, tokenizer) -> list[str]:
    """Distinct development texts of 40 to 70 tokens (news sentences first), up to ``n``."""
    import polars as pl

    from bench.devdata import SHARED

    seen: dict[str, None] = {}
    for path in (SHARED / "spouse" / "spouse.csv", SHARED / "crowdtruth-open-re" / "open_re.csv"):
        for t in pl.read_csv(path, infer_schema_length=0)["text"].to_list():
            seen.setdefault(t, None)
    frames = [load_wrench(name, split) for name in ("sms", "youtube", "hausa", "yoruba", "trec")
              for split in ("train", "valid", "test")]
    for f in frames:
        for t in f["text"].to_list():
            seen.setdefault(t, None)
    texts = list(seen)
    lengths = [len(x) for x in tokenizer(texts, truncation=False)["input_ids"]]
    return [t for t, m in zip(texts, lengths, strict=True) if 40 <= m <= 70][:n]


def run_set(name: str, texts: list[str], args, st) -> list[str]:
    timings, vectors = {}, {}
    for precision in args.precisions.split(","):
        enc = Encoder(str(default_model_path()), device="cpu", batch_size=args.batch_size,
                      precision=precision)
        label = precision if precision != "auto" else f"auto (= {enc.resolved_precision})"
        enc.encode(texts[:512])
        t0 = time.perf_counter()
        vectors[label] = enc.encode(texts)
        timings[label] = time.perf_counter() - t0
    st.encode(texts[:512], batch_size=args.batch_size)
    t0 = time.perf_counter()
    ref = st.encode(texts, batch_size=args.batch_size, convert_to_numpy=True,
                    normalize_embeddings=True, show_progress_bar=False).astype(np.float32)
    st_s = time.perf_counter() - t0
    lengths = [len(x) for x in st.tokenizer(texts, truncation=True, max_length=128)["input_ids"]]
    lines = [f"**{name}**: {len(texts)} texts, {np.mean(lengths):.0f} tokens on average "
             f"(min {min(lengths)}, max {max(lengths)}).", "",
             "| encoder | seconds | texts/s | vs sentence-transformers fp32 | "
             "min cosine to sentence-transformers | texts with cosine >= 0.999 |",
             "|---|---|---|---|---|---|",
             f"| sentence-transformers `encode`, fp32 | {st_s:.1f} | {len(texts) / st_s:.0f} | "
             "1.00x | – | – |"]
    for label, secs in timings.items():
        cos = np.sum(vectors[label] * ref, axis=1)
        lines.append(f"| relabel `Encoder`, {label} | {secs:.1f} | {len(texts) / secs:.0f} | "
                     f"{st_s / secs:.2f}x | {cos.min():.5f} | {100 * (cos >= 0.999).mean():.2f}% |")
    return lines


def main() -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=20_000)
    ap.add_argument("--sets", default="short,news")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--precisions", default="fp32,bf16,int8,auto")
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    st = SentenceTransformer(str(default_model_path()), device="cpu")
    # the same truncation on both sides (the model's own config says 256; relabel keeps 128)
    st.max_seq_length = 128
    lines = [f"torch {torch.__version__} with {torch.get_num_threads()} threads, batch "
             f"{args.batch_size}. Command: `python bench/bench_encode.py --texts {args.texts} "
             f"--sets {args.sets} --precisions {args.precisions}`.", ""]
    for name in args.sets.split(","):
        texts = (gather_texts(args.texts) if name == "short"
                 else news_texts(args.texts, st.tokenizer))
        lines += [*run_set(name, texts, args, st), ""]
        print("\n".join(lines), flush=True)
    append_markdown(args.markdown, lines)


if __name__ == "__main__":
    main()
