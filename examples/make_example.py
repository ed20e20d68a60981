"""Build examples/banking77_noisy.csv from ../shared/data/banking77 (CC BY 4.0, PolyAI).

2,000 rows sampled from the training split (seed 0); 15% of the labels are flipped towards each
example's most similar other class (the class whose mean all-MiniLM-L6-v2 embedding is nearest),
the kind of mistake a tired annotator makes. ``true_label`` keeps the original label.

Run from the repository root: python examples/make_example.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from relabel.data.noise import inject_noise  # noqa: E402
from relabel.embed.cache import embed_texts  # noqa: E402
from relabel.embed.encoder import Encoder  # noqa: E402

SRC = ROOT.parent / "shared" / "data" / "banking77" / "train.csv"


def main() -> None:
    df = pl.read_csv(SRC)
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(df.height, size=2000, replace=False))
    df = df[pick]
    classes = sorted(df["category"].unique().to_list())
    codes = np.searchsorted(classes, df["category"].to_numpy())
    emb, _ = embed_texts(df["text"].to_list(), Encoder(), cache_dir=ROOT / "bench" / ".cache"
                         / "embeddings")
    noisy = inject_noise(codes, len(classes), rate=0.15, kind="nearest-class", seed=0,
                         embeddings=emb)
    out = pl.DataFrame({
        "id": [f"b77-{i:05d}" for i in pick],
        "text": df["text"],
        "label": np.asarray(classes)[noisy],
        "true_label": df["category"],
    })
    out.write_csv(ROOT / "examples" / "banking77_noisy.csv")
    print(f"wrote {out.height} rows, {int((noisy != codes).sum())} flipped labels")


if __name__ == "__main__":
    main()
