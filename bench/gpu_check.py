"""GPU checks of issue 7, for one run on a lent GPU machine (the `device` tool's H200).

Usage (on the GPU machine, from the repository root):

    python3 bench/gpu_check.py --model MODEL_DIR --data banking77.jsonl --out DIR

1. Encoding throughput of relabel's ``Encoder`` (bf16 weights, length-sorted dynamic padding) at
   several batch sizes, against sentence-transformers' ``encode`` (fp32 and bf16) on the same
   model and texts (banking77's 10,003 training texts x 10 = 100,030), and the cosine between
   relabel's vector and sentence-transformers' fp32 vector of each text. Target: >= 20k
   sentences/s.
2. ``score_examples`` with the 5-fold fine-tuning corrector (distant-peer loss, 4 epochs) on the
   10,003 banking77 training rows with 20% uniform label noise: wall time (target <= 3 minutes),
   average precision of the credibility for finding the wrong labels, and label accuracy before
   and after applying the suggestions. The head corrector on the GPU for comparison.

The GPU image has torch, transformers and sentence-transformers but neither polars nor faiss, and
nothing can be installed there. Neither is used on these code paths beyond a module-level import
(polars) and the exact neighbour search (faiss), so this script puts a stub ``polars`` module and
a small torch ``faiss.IndexFlatIP`` in their place when they are missing. Results go to
``DIR/gpu.json`` after every step.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import json
import sys
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


DEVICE = "cuda"


def _sync() -> None:
    import torch

    if DEVICE == "cuda":
        torch.cuda.synchronize()


def _install_shims(results: dict) -> None:
    import torch

    shims = []
    try:
        import polars  # noqa: F401
    except ImportError:
        sys.modules["polars"] = types.ModuleType("polars")
        shims.append("polars (stub module: not used on these paths)")
    try:
        import faiss  # noqa: F401
    except ImportError:

        class IndexFlatIP:
            """Exact inner-product search on the GPU, faiss's ``IndexFlatIP`` interface."""

            def __init__(self, d: int) -> None:
                self.x = torch.empty((0, d), device=DEVICE)

            def add(self, x: np.ndarray) -> None:
                self.x = torch.cat([self.x, torch.as_tensor(x, device=DEVICE)])

            def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
                sims, idx = [], []
                for s in range(0, len(q), 8192):
                    part = torch.as_tensor(q[s : s + 8192], device=DEVICE) @ self.x.T
                    v, i = part.topk(min(k, self.x.shape[0]), dim=1)
                    sims.append(v.cpu().numpy())
                    idx.append(i.cpu().numpy())
                return np.concatenate(sims), np.concatenate(idx).astype(np.int64)

        mod = types.ModuleType("faiss")
        mod.__spec__ = importlib.machinery.ModuleSpec("faiss", None)
        mod.IndexFlatIP = IndexFlatIP  # type: ignore[attr-defined]
        sys.modules["faiss"] = mod
        shims.append("faiss (exact IndexFlatIP in torch on the GPU)")
    results["shims"] = shims
    # import what uses the stub now, then take it away again: libraries that only look for
    # polars (datasets, through sentence-transformers) must see it missing

    if sys.modules.get("polars") is not None and not hasattr(sys.modules["polars"], "DataFrame"):
        del sys.modules["polars"]


def _timed(fn, *args, **kwargs):
    _sync()
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    _sync()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="JSON lines with text and label")
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--only-encode", action="store_true")
    ap.add_argument("--limit", type=int, default=None, help="first N rows only (a dry run)")
    args = ap.parse_args()
    global DEVICE
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {}

    def save() -> None:
        (out / "gpu.json").write_text(json.dumps(results, indent=1))
        print(json.dumps(results)[-2000:], flush=True)

    import torch
    import transformers

    DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
    results["env"] = {"torch": torch.__version__, "transformers": transformers.__version__,
                      "gpu": torch.cuda.get_device_name(0) if DEVICE == "cuda" else "none",
                      "python": sys.version.split()[0]}
    _install_shims(results)
    rows = [json.loads(line) for line in Path(args.data).read_text().splitlines() if line]
    rows = rows[: args.limit]
    texts = [r["text"] for r in rows]
    save()

    # 1. encoding throughput
    from relabel.embed.encoder import DEFAULT_GPU_BATCH_SIZE, GPU_TOKENS_PER_BATCH, Encoder

    big = texts * args.repeat
    enc = Encoder(args.model, device=DEVICE)
    enc.encode(texts[:4096])  # warm-up: load, kernels
    enc_res = {"texts": len(big)}
    vectors = None
    # None: the default (on a GPU: 2048 texts, 131,072 tokens); run twice, since the first pass
    # over new batch shapes pays for kernel selection
    for run, bs in enumerate((None, 512, 2048, None)):
        enc.batch_size, enc._token_cap = (bs or DEFAULT_GPU_BATCH_SIZE,
                                          None if bs else GPU_TOKENS_PER_BATCH)
        vecs, secs = _timed(enc.encode, big)
        enc_res[f"relabel_bs{bs or 'default'}_run{run}_per_s"] = round(len(big) / secs)
        if bs is None:
            vectors = vecs
    # where the time goes: tokenising all texts once (part of every encode above)
    _, secs = _timed(enc._tokenizer, big, truncation=True, max_length=enc.max_length,
                     padding=False, return_attention_mask=False)
    enc_res["tokenize_only_s"] = round(secs, 2)
    results["encode"] = enc_res
    save()
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(args.model, device=DEVICE)
    st.encode(texts[:4096], batch_size=512)
    st_vecs, secs = _timed(st.encode, big, batch_size=512, convert_to_numpy=True,
                           normalize_embeddings=True, show_progress_bar=False)
    enc_res["st_fp32_bs512_per_s"] = round(len(big) / secs)
    st_bf16 = st.to(torch.bfloat16)
    st_bf16.encode(texts[:4096], batch_size=512)
    _, secs = _timed(st_bf16.encode, big, batch_size=512, convert_to_numpy=True,
                     normalize_embeddings=True, show_progress_bar=False)
    enc_res["st_bf16_bs512_per_s"] = round(len(big) / secs)
    cos = np.sum(vectors * st_vecs.astype(np.float32), axis=1)
    enc_res["cosine_relabel_vs_st_fp32"] = {"mean": float(cos.mean()), "min": float(cos.min()),
                                            "share_ge_0.999": float((cos >= 0.999).mean())}
    del st, st_bf16, st_vecs
    save()
    if args.only_encode:
        return

    # 2. the 5-fold fine-tuning corrector on 10k rows
    from sklearn.metrics import average_precision_score

    from relabel.correct import make_corrector
    from relabel.detect.score import score_examples

    classes = sorted({r["label"] for r in rows})
    true = np.searchsorted(classes, [r["label"] for r in rows])
    rng = np.random.default_rng(0)
    noisy = true.copy()
    flip = rng.random(len(true)) < 0.2
    noisy[flip] = (true[flip] + rng.integers(1, len(classes), flip.sum())) % len(classes)
    emb = vectors[: len(texts)]
    ft = {"rows": len(texts), "classes": len(classes), "noise": float(flip.mean())}
    for name in ("head", "finetune"):
        corr = make_corrector(name, len(classes), model=args.model, seed=0)
        res, secs = _timed(score_examples, emb, noisy, len(classes), corrector=corr,
                           corrector_input=np.asarray(texts, dtype=object)
                           if name == "finetune" else None, folds=5)
        sugg = res.suggested
        fixed = np.where(sugg >= 0, sugg, noisy)
        ft[name] = {"seconds": round(secs, 1),
                    "ap": float(average_precision_score(flip, 1 - res.credibility)),
                    "accuracy_before": float((noisy == true).mean()),
                    "accuracy_after": float((fixed == true).mean()),
                    "suggested": int((sugg >= 0).sum()),
                    "params": {k: v for k, v in corr.get_params().items() if k != "model"}}
        results["correctors"] = ft
        save()


if __name__ == "__main__":
    main()
