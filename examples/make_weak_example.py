"""Rebuild ``youtube_weak_labels.json``: 400 comments sampled (seed 0) from the training split of
WRENCH's youtube set, in WRENCH's own layout (see README.md for the data's origin and licence).

Each record, keyed by its WRENCH id: ``label`` (the gold class: 0 = ham, 1 = spam),
``weak_labels`` (the votes of WRENCH's 10 label functions, -1 = abstain) and ``data.text``.

Usage: python examples/make_weak_example.py   (reads ../shared/data/wrench/youtube/train.json)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[1] / "shared" / "data" / "wrench" / "youtube" / "train.json"


def main() -> None:
    data = json.loads(SOURCE.read_text(encoding="utf-8"))
    keys = sorted(data, key=int)
    picked = sorted(np.random.default_rng(0).choice(len(keys), size=400, replace=False))
    sample = {keys[i]: {"label": data[keys[i]]["label"],
                        "weak_labels": data[keys[i]]["weak_labels"],
                        "data": {"text": data[keys[i]]["data"]["text"]}} for i in picked}
    (HERE / "youtube_weak_labels.json").write_text(json.dumps(sample, ensure_ascii=False),
                                                   encoding="utf-8")


if __name__ == "__main__":
    main()
