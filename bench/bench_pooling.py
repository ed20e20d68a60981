"""Why relabel pools a sentence-transformers model the way its config says (issue 14's
``--model`` remedy): the packaged all-MiniLM-L6-v2, trained with mean pooling, run as it is and
with its Pooling config switched to the first token (what mean-pooling a first-token model such
as BGE does the other way round).

Usage: python bench/bench_pooling.py

On the shipped example (``examples/banking77_noisy.csv``, 2,000 rows, 15% nearest-class flips):
AP of ``1 - credibility`` against the flipped rows, and the automatic changes.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import polars as pl
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import relabel
from relabel.embed.encoder import default_model_path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    df = pl.read_csv(ROOT / "examples" / "banking77_noisy.csv")
    wrong = (df["label"] != df["true_label"]).to_numpy()
    with tempfile.TemporaryDirectory() as tmp:
        cls = Path(tmp) / "minilm-cls"
        shutil.copytree(default_model_path(), cls)
        config = cls / "1_Pooling" / "config.json"
        flags = json.loads(config.read_text())
        flags.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
        config.write_text(json.dumps(flags))
        print("| pooling | AP of 1 - credibility | automatic changes |\n|---|---|---|")
        for name, model in (("mean (as trained)", None), ("first token", str(cls))):
            run = relabel.denoise(df.drop("true_label"), id="id", model=model,
                                  out=Path(tmp) / name[:5], progress=False)
            s = run.scores.sort("row")
            ap = average_precision_score(wrong, 1 - s["credibility"].to_numpy())
            print(f"| {name} | {ap:.3f} | {int(s['suggested_label'].is_not_null().sum())} |")


if __name__ == "__main__":
    main()
