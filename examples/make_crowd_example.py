"""Rebuild ``crowd_items.csv`` and ``crowd_votes.csv``: simulated annotators on 600 messages of
``banking77_noisy.csv`` (the first 600 rows; see README.md for the data's origin and licence).

Eight simulated workers (``relabel.data.noise.simulate_annotators``, seed 0): accuracy uniform
in 0.5-0.95, each with their own confusions, 3-5 votes per item. The votes are simulated; the
texts and ``true_label`` are banking77's.

Usage: python examples/make_crowd_example.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from relabel.data.noise import simulate_annotators

HERE = Path(__file__).resolve().parent


def main() -> None:
    df = pl.read_csv(HERE / "banking77_noisy.csv").head(600)
    classes = sorted(df["true_label"].unique().to_list())
    truth = np.searchsorted(classes, df["true_label"].to_numpy())
    item, annotator, label, _ = simulate_annotators(truth, len(classes), n_annotators=8, seed=0)
    ids = df["id"].cast(pl.String).to_list()
    df.select(pl.col("id").cast(pl.String).alias("item_id"), "text", "true_label").write_csv(
        HERE / "crowd_items.csv")
    pl.DataFrame({"item_id": [ids[i] for i in item],
                  "annotator": [f"annotator-{a + 1}" for a in annotator],
                  "label": [classes[c] for c in label]}).write_csv(HERE / "crowd_votes.csv")


if __name__ == "__main__":
    main()
