"""Reduced-precision CPU encoding (issue 19, first measurement): fp32 against bf16 weights
(oneDNN, this CPU has AVX-512 BF16) and int8 dynamic quantisation of the linear layers
(``torch.ao.quantization.quantize_dynamic``), with relabel's own encoder loop (same batching,
same max length), on short texts and on news-length texts.

Short texts: the 2,000 messages of examples/banking77_noisy.csv. News-length: 2,000 texts of
3-4 of those messages joined (40-70 tokens), as no long-text set is among the development data.
For each precision: texts per second (best of ``--repeats`` after one warm-up batch), and the
cosine of every text's vector to its fp32 vector (minimum and 1st percentile).

Usage::

    python bench/bench_precision.py [--threads 2] [--repeats 2]
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relabel.embed.encoder import Encoder

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "banking77_noisy.csv"


def texts_short() -> list[str]:
    return pl.read_csv(EXAMPLE)["text"].to_list()


def texts_news(n: int = 2000, seed: int = 0) -> list[str]:
    base = texts_short()
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(base, size=int(rng.integers(3, 5)), replace=False))
            for _ in range(n)]


def timed(enc: Encoder, texts: list[str], repeats: int) -> tuple[np.ndarray, float]:
    enc.encode(texts[:64])  # warm-up (oneDNN kernels, allocator)
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = enc.encode(texts)
        best = min(best, time.perf_counter() - t0)
    assert out is not None
    return out, len(texts) / best


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    base = Encoder()
    base._load()
    fp32_model = base._model
    variants = {
        "fp32": fp32_model,
        "bf16": copy.deepcopy(fp32_model).to(torch.bfloat16),
        "int8": torch.ao.quantization.quantize_dynamic(copy.deepcopy(fp32_model),
                                                       {torch.nn.Linear}, dtype=torch.qint8),
    }
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("| texts | precision | texts/s | speed vs fp32 | min cosine to fp32 | "
          "1st percentile |")
    print("|---|---|---|---|---|---|")
    for name, texts in (("short (banking77)", texts_short()), ("news-length", texts_news())):
        ref, ref_speed = None, None
        for precision, model in variants.items():
            base._model = model
            vecs, speed = timed(base, texts, args.repeats)
            if precision == "fp32":
                ref, ref_speed = vecs, speed
            cos = (vecs * ref).sum(1)
            print(f"| {name} | {precision} | {speed:.0f} | {speed / ref_speed:.2f}x | "
                  f"{cos.min():.5f} | {np.percentile(cos, 1):.5f} |", flush=True)
    base._model = fp32_model


if __name__ == "__main__":
    main()
