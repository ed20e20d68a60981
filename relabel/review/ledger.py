"""The decisions ledger: every reviewer decision relabel has seen, kept append-only.

``reviews_ledger.jsonl`` in a run directory holds one JSON object per decision, in the order they
were first seen (``review pull``, or ``denoise --reviews`` carrying an earlier round's decisions
into a new run). A line is never rewritten or removed, so a decision pulled once stays even if its
task is later deleted in Label Studio, or the project is. ``reviews.parquet`` is derived from it:
per example, the latest decision (by review time; a skip only where nobody decided).

Appends are whole lines, flushed and synced; a line cut short by a crash is ignored on reading and
the next append starts on a fresh line.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import polars as pl

from relabel.rundir import RunFiles

#: what each ledger line holds
LEDGER_FIELDS = ("id", "given_label", "reviewed_label", "status", "annotator", "time", "source",
                 "recorded_at")
LEDGER_SCHEMA: dict[str, Any] = {
    "id": pl.String, "given_label": pl.String, "reviewed_label": pl.String,
    "status": pl.String, "annotator": pl.String, "time": pl.Datetime("us", "UTC"),
    "source": pl.String, "recorded_at": pl.String}
#: the fields that make two lines the same decision
_KEY = ("id", "reviewed_label", "status", "annotator", "time")


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return str(value)


def read_ledger(run_dir: str | Path) -> pl.DataFrame:
    """Every decision of the ledger, in the order recorded (``LEDGER_SCHEMA``); empty when the
    run has none."""
    path = RunFiles(run_dir).ledger
    rows: list[dict[str, Any]] = []
    if path.is_file():
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:  # a line cut short by a crash
                    continue
                if isinstance(obj, dict) and obj.get("id") is not None:
                    rows.append({k: obj.get(k) for k in LEDGER_FIELDS})
    frame = pl.DataFrame(rows, schema={**LEDGER_SCHEMA, "time": pl.String}, orient="row")
    return frame.with_columns(pl.col("time").str.to_datetime(time_zone="UTC", strict=False)
                              .cast(pl.Datetime("us", "UTC")))


def append_decisions(run_dir: str | Path, reviews: pl.DataFrame, *, source: str) -> int:
    """Append the decisions of ``reviews`` (``id, given_label, reviewed_label, status,
    annotator, time``) that the ledger does not hold yet; returns how many were new."""
    path = RunFiles(run_dir).ledger
    seen = {tuple(_iso(v) if k == "time" else v for k, v in zip(_KEY, r, strict=True))
            for r in read_ledger(run_dir).select(_KEY).iter_rows()}
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    lines = []
    for r in reviews.iter_rows(named=True):
        rec = {"id": str(r["id"]), "given_label": r.get("given_label"),
               "reviewed_label": r.get("reviewed_label"), "status": r.get("status"),
               "annotator": r.get("annotator"), "time": _iso(r.get("time")),
               "source": source, "recorded_at": now}
        key = tuple(rec[k] for k in _KEY)
        if key in seen:
            continue
        seen.add(key)
        lines.append(json.dumps(rec, ensure_ascii=False))
    if not lines:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() > 0:  # start on a fresh line after a crash mid-line
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")
        f.write(("\n".join(lines) + "\n").encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())
    return len(lines)


def latest_per_id(frame: pl.DataFrame, first: tuple[str, ...] = ()) -> pl.DataFrame:
    """One row per ``id``: the last by ``first`` columns, then ``time`` (nulls earliest), then
    row order; ids keep the order of their latest row."""
    return (frame.with_row_index("_order")
            .sort([*first, "time", "_order"], nulls_last=False)
            .group_by("id", maintain_order=True).last()
            .sort("_order").drop("_order"))


def decision_status(frame: pl.DataFrame, given: str = "given_label") -> pl.DataFrame:
    """``status`` of each decision against the given label: ``accepted`` where the reviewer
    kept it, else ``changed``."""
    return frame.with_columns(
        pl.when(pl.col("reviewed_label") == pl.col(given)).then(pl.lit("accepted"))
        .otherwise(pl.lit("changed")).alias("status"))


def latest_decisions(ledger: pl.DataFrame) -> pl.DataFrame:
    """Per example, the latest decision (accepted or changed, by review time then ledger
    order), else its latest skip."""
    if ledger.height == 0:
        return ledger.drop("source", "recorded_at")
    ranked = ledger.with_columns(
        pl.col("status").is_in(["accepted", "changed"]).alias("_decided"))
    return latest_per_id(ranked, ("_decided",)).drop("_decided", "source", "recorded_at")


__all__ = ["LEDGER_FIELDS", "LEDGER_SCHEMA", "append_decisions", "decision_status",
           "latest_decisions", "latest_per_id", "read_ledger"]
