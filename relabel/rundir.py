"""Reading back a ``denoise`` output directory: its run record, scores and checked input.

Later stages (``export``, ``review push``) re-read the input rather than copying it, so every
column passes through untouched; :func:`read_source` refuses an input that changed since
``denoise`` (by fingerprint).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import polars as pl

from relabel.data.io import file_fingerprint, read_table
from relabel.errors import RelabelInputError
from relabel.pipeline import RUN_FILE, SCORES_FILE, SUMMARY_FILE


def load_run(run_dir: str | Path) -> tuple[dict[str, Any], pl.DataFrame]:
    """Read ``run.json`` and ``scores.parquet`` of a denoise output directory."""
    run_dir = Path(run_dir)
    run_file, scores_file = run_dir / RUN_FILE, run_dir / SCORES_FILE
    for f in (run_file, scores_file):
        if not f.is_file():
            raise RelabelInputError(f"no {f.name} here; run `relabel denoise` first", path=run_dir)
    return json.loads(run_file.read_text(encoding="utf-8")), pl.read_parquet(scores_file)


def run_classes(run_dir: str | Path, scores: pl.DataFrame) -> list[str]:
    """Every class of the run (``summary.json``), else the labels seen in the scores."""
    summary = Path(run_dir) / SUMMARY_FILE
    if summary.is_file():
        classes = json.loads(summary.read_text(encoding="utf-8")).get("label_classes")
        if classes:
            return [str(c) for c in classes]
    return sorted(scores["label"].unique().to_list())


def run_id(run_dir: str | Path) -> str:
    """A short stable id of a run's results: the hash of its ``scores.parquet``."""
    h = hashlib.blake2b(digest_size=6)
    with open(Path(run_dir) / SCORES_FILE, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_source(run: dict[str, Any]) -> pl.DataFrame:
    """The run's input table, after checking it is the one ``denoise`` scored.

    Raises
    ------
    RelabelInputError
        The input is gone or changed since ``denoise``.
    """
    source = Path(run["input"])
    if not source.exists():
        raise RelabelInputError("the input of this run no longer exists", path=source)
    if file_fingerprint(source) != run["fingerprint"]:
        raise RelabelInputError("the input changed since `relabel denoise`; run it again",
                                path=source)
    table, _ = read_table(source)
    return table


__all__ = ["load_run", "read_source", "run_classes", "run_id"]
