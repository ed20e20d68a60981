"""Loaders for the development data in ../shared/data (not shipped with relabel).

WRENCH sets: the noisy label is the majority vote of the non-abstaining weak labels; ties and
all-abstain rows are dropped. banking77: clean labels with injected noise.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl

from relabel.data.noise import inject_noise

SHARED = Path(os.environ.get("RELABEL_SHARED_DATA",
                             Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


def majority_vote(weak: list[int]) -> int | None:
    """Majority of non-abstaining (-1) weak labels; None on a tie or when all abstain."""
    votes = Counter(v for v in weak if v != -1)
    if not votes:
        return None
    top = votes.most_common(2)
    if len(top) > 1 and top[0][1] == top[1][1]:
        return None
    return top[0][0]


def load_wrench(name: str, split: str = "train") -> pl.DataFrame:
    """A WRENCH split as a frame ``id, text, label (noisy), true_label`` (+ spans for relations)."""
    base = SHARED / "wrench" / name
    names = json.loads((base / "label.json").read_text())
    data = json.loads((base / f"{split}.json").read_text())
    rows = []
    for key, ex in data.items():
        if split == "train":
            mv = majority_vote(ex["weak_labels"])
            if mv is None:
                continue
        else:
            mv = ex["label"]
        d = ex["data"]
        row = {"id": str(key), "text": d["text"], "label": names[str(mv)],
               "true_label": names[str(ex["label"])]}
        if "span1" in d:
            row.update(head_start=d["span1"][0], head_end=d["span1"][1],
                       tail_start=d["span2"][0], tail_end=d["span2"][1])
        rows.append(row)
    return pl.DataFrame(rows)


def load_banking77(rate: float = 0.2, kind: str = "uniform", seed: int = 0,
                   split: str = "train") -> pl.DataFrame:
    """banking77 with ``rate`` of the labels flipped; ``true_label`` keeps the clean one."""
    df = pl.read_csv(SHARED / "banking77" / f"{split}.csv")
    classes = sorted(df["category"].unique().to_list())
    codes = np.searchsorted(classes, df["category"].to_numpy())
    noisy = inject_noise(codes, len(classes), rate=rate, kind=kind, seed=seed) if rate else codes
    return pl.DataFrame({
        "id": [str(i) for i in range(df.height)],
        "text": df["text"],
        "label": np.asarray(classes)[noisy],
        "true_label": df["category"],
    })


def load(name: str) -> pl.DataFrame:
    """One development set by name: trec, youtube, semeval, sms or banking77 (20% uniform)."""
    if name == "banking77":
        return load_banking77()
    return load_wrench(name)


def load_flat_relation(name: str) -> pl.DataFrame:
    """spouse or open_re (crowdtruth) as ``id, text, spans, label (noisy), true_label``."""
    path = {"spouse": SHARED / "spouse" / "spouse.csv",
            "open_re": SHARED / "crowdtruth-open-re" / "open_re.csv"}[name]
    df = pl.read_csv(path, infer_schema_length=0)
    spans = ["head_start", "head_end", "tail_start", "tail_end"]
    return df.select(
        pl.col("id").cast(pl.String), "text", *[pl.col(c).cast(pl.Int64) for c in spans],
        "label", pl.col("gold").alias("true_label"))


#: LeWiDi 2023 (several annotators per item, offensive and abusive language)
LEWIDI = SHARED / "crowd" / "lewidi2023"


def load_lewidi_hard(name: str) -> pl.DataFrame:
    """A LeWiDi 2023 train split as ``id, text, label, votes, agreement``: each item's hard
    label as the set gives it (the annotators' majority), its number of votes and the share of
    its votes for that label (the set's soft label)."""
    raw = json.loads((LEWIDI / name / f"{name}_train.json").read_text(encoding="utf-8"))
    return pl.DataFrame([
        {"id": key, "text": rec["text"], "label": str(rec["hard_label"]),
         "votes": int(rec["number of annotations"]),
         "agreement": float(rec["soft_label"][str(rec["hard_label"])])}
        for key, rec in raw.items()])


#: noisy development sets (real or injected noise, gold known)
NOISY_SETS = ("trec", "youtube", "sms", "semeval", "hausa", "yoruba", "spouse", "open_re",
              "banking77", "banking77-2k", "example")
#: clean controls: gold labels given as the labels (nothing to fix)
CLEAN_SETS = ("banking77-clean", "banking77-test", "sms-gold", "youtube-gold", "trec-gold",
              "semeval-gold", "banking77-2k-clean")
#: subjective controls: the annotators' majority label of the LeWiDi 2023 sets, where no label
#: is known to be wrong (every change counts against the clean-control limit; ArMIS is Arabic)
SUBJECTIVE_SETS = ("HS-Brexit", "ArMIS", "MD-Agreement", "ConvAbuse")
RELATION_SETS = ("semeval", "spouse", "open_re")


def load_any(name: str) -> pl.DataFrame:
    """A noisy set of ``NOISY_SETS`` or a control of ``CLEAN_SETS`` or ``SUBJECTIVE_SETS``
    by name."""
    if name in SUBJECTIVE_SETS:
        return (load_lewidi_hard(name).select("id", "text", "label")
                .with_columns(pl.col("label").alias("true_label")))
    if name == "banking77-clean":
        return load_banking77(rate=0.0)
    if name == "banking77-test":
        return load_banking77(rate=0.0, split="test")
    if name.startswith("banking77-2k"):  # small data: 2,000 random rows (26 per class)
        df = load_any(name.replace("-2k", "") if name != "banking77-2k" else "banking77")
        return df.sample(2000, seed=0)
    if name.endswith("-gold"):
        return load_any(name[: -len("-gold")]).with_columns(pl.col("true_label").alias("label"))
    if name == "example":  # the shipped sample: 2,000 rows, 15% nearest-class flips
        return pl.read_csv(Path(__file__).resolve().parents[1] / "examples" / "banking77_noisy.csv")
    if name in ("spouse", "open_re"):
        return load_flat_relation(name)
    return load(name)
