"""Is ONNX Runtime a faster CPU encoder than relabel's PyTorch path, with the same vectors?
(issue 7: "try ONNX Runtime on CPU and keep it only if it measures faster with the same vectors")

Usage: python bench/bench_onnx.py [--texts 20000] [--markdown FILE]

The packaged all-MiniLM-L6-v2 is exported to ONNX (``torch.onnx.export``, dynamic batch and
sequence axes), then run by ONNX Runtime (CPU, 2 intra-op threads, all graph optimisations),
once as exported and once after ``onnxruntime.transformers.optimizer`` fused its attention and
layer norms. Each runs inside relabel's own ``Encoder.encode`` (same tokenisation, length
sorting, dynamic padding, batch 64, mean pooling): only the forward pass changes. Texts: those of
``bench_encode.py``. Reported: seconds, texts/s, ratio to PyTorch and the cosine of every text's
vector to PyTorch's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_denoise import append_markdown  # noqa: E402
from bench.bench_encode import gather_texts  # noqa: E402
from relabel.embed.encoder import Encoder, default_model_path  # noqa: E402


class OrtModel:
    """Stands in for the transformers model inside ``Encoder.encode``."""

    def __init__(self, path: Path, config: Any, threads: int) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.config = config

    def __call__(self, input_ids: Any, attention_mask: Any) -> Any:
        import torch

        (hidden,) = self.session.run(["last_hidden_state"],
                                     {"input_ids": input_ids.numpy(),
                                      "attention_mask": attention_mask.numpy()})

        class Out:
            last_hidden_state = torch.from_numpy(hidden)

        return Out()


def export(model: Any, path: Path) -> None:
    import torch

    class Forward(torch.nn.Module):  # keyword call: transformers 5 reorders positionals
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.model(input_ids=input_ids,
                              attention_mask=attention_mask).last_hidden_state

    ids = torch.ones((2, 16), dtype=torch.int64)
    torch.onnx.export(Forward().eval(), (ids, torch.ones_like(ids)), str(path),
                      input_names=["input_ids", "attention_mask"],
                      output_names=["last_hidden_state"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                    "attention_mask": {0: "batch", 1: "seq"},
                                    "last_hidden_state": {0: "batch", 1: "seq"}},
                      opset_version=17, dynamo=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=20_000)
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    texts = gather_texts(args.texts)
    enc = Encoder(default_model_path())
    enc.encode(texts[:256])  # load and warm up
    t0 = time.perf_counter()
    ref = enc.encode(texts)
    t_torch = time.perf_counter() - t0
    rows = [("PyTorch (relabel `Encoder`)", t_torch, 1.0, 1.0)]
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "model.onnx"
        export(enc._model, plain)
        from onnxruntime.transformers.optimizer import optimize_model

        cfg = enc._model.config
        fused = Path(tmp) / "model-fused.onnx"
        optimize_model(str(plain), model_type="bert", num_heads=cfg.num_attention_heads,
                       hidden_size=cfg.hidden_size).save_model_to_file(str(fused))
        for name, path in (("ONNX Runtime, exported graph", plain),
                           ("ONNX Runtime, fused attention", fused)):
            onnx_enc = Encoder(default_model_path())
            onnx_enc._load()
            onnx_enc._model = OrtModel(path, cfg, threads=2)
            onnx_enc.encode(texts[:256])
            t0 = time.perf_counter()
            vecs = onnx_enc.encode(texts)
            secs = time.perf_counter() - t0
            cos = np.sum(vecs * ref, axis=1)
            rows.append((name, secs, t_torch / secs, float(cos.min())))
    lines = [f"Command: `python bench/bench_onnx.py --texts {len(texts)}` (CPU, 2 threads, "
             "batch 64, max length 128).", "",
             "| forward pass | seconds | texts/s | speed vs PyTorch | min cosine to PyTorch |",
             "|---|---|---|---|---|"]
    lines += [f"| {n} | {s:.1f} | {len(texts) / s:.0f} | {r:.2f}x | {c:.6f} |"
              for n, s, r, c in rows]
    print("\n".join(lines))
    append_markdown(args.markdown, lines)


if __name__ == "__main__":
    main()
