"""The review loop's two random samples in a run directory: the random audit of the labels
(:mod:`relabel.review.audit`) and the spot check of the automatic changes
(:mod:`relabel.review.spotcheck`). Their sizes after each extension (``audit.json``,
``change_check.json``), the batches that grow them, and their estimates over a run's scores and
decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from relabel.config import DEFAULT_TARGET_PRECISION
from relabel.review.audit import AuditEstimate, counted_sample, estimate_from_audit
from relabel.review.chance import decided_ids, with_decisions
from relabel.review.spotcheck import ChangeCheck, estimate_changes


def _read_chunks(path: Path) -> list[int]:
    """A sample's size after each extension, from its JSON file (``audit.json``,
    ``change_check.json``; empty when none was started; a file with a size alone is one
    chunk)."""
    import json

    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        chunks = [int(c) for c in data.get("chunks") or [data.get("size", 0)]]
    except (ValueError, TypeError, AttributeError):
        return []
    out: list[int] = []
    for c in chunks:  # increasing and positive
        if c > (out[-1] if out else 0):
            out.append(c)
    return out


def _write_chunks(path: Path, size: int, key: bytes) -> None:
    """Record that a sample now has ``size`` examples: a new chunk when it grew
    (atomically)."""
    from relabel.data.write import write_json

    chunks = _read_chunks(path)
    if size > (chunks[-1] if chunks else 0):
        chunks.append(int(size))
    write_json({"size": chunks[-1] if chunks else 0, "chunks": chunks, "key": key.decode()},
               path)


def read_audit_chunks(run_dir: str | Path) -> list[int]:
    """The random audit's size after each extension, from ``audit.json`` (empty when no audit
    was started)."""
    from relabel.rundir import RunFiles

    return _read_chunks(RunFiles(run_dir).audit)


def read_audit_size(run_dir: str | Path) -> int:
    """The random audit's size (0 when no audit was started)."""
    chunks = read_audit_chunks(run_dir)
    return chunks[-1] if chunks else 0


def write_audit_size(run_dir: str | Path, size: int) -> None:
    """Record that the random audit now has ``size`` examples."""
    from relabel.review.audit import AUDIT_KEY
    from relabel.rundir import RunFiles

    _write_chunks(RunFiles(run_dir).audit, size, AUDIT_KEY)


def read_check_chunks(run_dir: str | Path) -> list[int]:
    """The spot check's size after each extension, from ``change_check.json`` (empty when no
    check was started; :mod:`relabel.review.spotcheck`)."""
    from relabel.rundir import RunFiles

    return _read_chunks(RunFiles(run_dir).check)


def write_check_size(run_dir: str | Path, size: int) -> None:
    """Record that the spot check of the automatic changes now has ``size`` changes."""
    from relabel.review.spotcheck import CHECK_KEY
    from relabel.rundir import RunFiles

    _write_chunks(RunFiles(run_dir).check, size, CHECK_KEY)


def _run_decisions(run_dir: str | Path) -> dict:
    """The ``decisions`` block of the run's ``summary.json`` (empty when it has none)."""
    import json

    from relabel.rundir import RunFiles

    path = RunFiles(run_dir).summary
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("decisions") or {}


def run_error_rate(run_dir: str | Path) -> float | None:
    """The run's own estimated noise rate (``summary.json``), None when it has none."""
    rate = _run_decisions(run_dir).get("estimated_noise_rate")
    return None if rate is None else float(rate)


def run_target_precision(run_dir: str | Path) -> float:
    """The target precision the run decided with (``summary.json``; the default without)."""
    return float(_run_decisions(run_dir).get("target_precision", DEFAULT_TARGET_PRECISION))


def audit_estimate(joined: pl.DataFrame, audit_chunks: Sequence[int], *,
                   relabel_error_rate: float | None = None,
                   annotations: pl.DataFrame | None = None,
                   n_classes: int | None = None) -> AuditEstimate | None:
    """The random audit's estimates over its fully decided chunks
    (:func:`relabel.review.audit.estimate_from_audit`; None before it started).

    Parameters
    ----------
    joined : polars.DataFrame
        The run's scores with each example's latest decision (:func:`with_decisions`).
    audit_chunks : sequence of int
        The audit's size after each extension (:func:`read_audit_chunks`).
    relabel_error_rate : float, optional
        The run's own estimated noise rate, which the audit is compared with.
    annotations : polars.DataFrame, optional
        ``id, annotator, label``: every reviewer's own decision (as ``review pull`` writes
        them), which corrects the audit for the reviewers' error where two or more decided the
        same example.
    n_classes : int, optional
        Number of classes (default: the labels seen in ``joined``).
    """
    if not len(audit_chunks) or audit_chunks[-1] <= 0:
        return None
    is_rev = joined["_decision"].is_not_null().to_numpy()
    given = joined["label"].to_numpy()
    decision = joined["_decision"].to_numpy()
    auto = joined["suggested_label"].is_not_null().to_numpy() & ~is_rev
    conf = joined["suggestion_confidence"].fill_null(0.0).to_numpy()[auto]
    votes = None
    if annotations is not None and annotations.height:
        per_id = (annotations.filter(pl.col("label").is_not_null())
                  .group_by("id").agg(pl.col("label")))
        found = dict(zip(per_id["id"].to_list(), per_id["label"].to_list(), strict=True))
        votes = [found.get(i) for i in joined["id"].to_list()]
    k = n_classes if n_classes is not None else max(2, joined["label"].n_unique())
    counted = counted_sample(joined["id"].to_list(), audit_chunks, is_rev)
    return estimate_from_audit(
        given, np.where(is_rev, decision, None),  # type: ignore[call-overload]
        counted, size=int(audit_chunks[-1]),
        confirmed=int((is_rev & (decision != given)).sum()),
        change_confidence=conf, relabel_error_rate=relabel_error_rate, votes=votes,
        n_classes=k)


def run_annotations(run_dir: str | Path) -> pl.DataFrame | None:
    """Every reviewer's own decision (``annotations.parquet`` of ``review pull``; None without
    one)."""
    from relabel.rundir import RunFiles

    path = RunFiles(run_dir).annotations
    return pl.read_parquet(path) if path.is_file() else None


def run_audit(run_dir: str | Path, scores: pl.DataFrame, ledger: pl.DataFrame | None = None, *,
              noise_rate: float | None = None, n_classes: int | None = None
              ) -> AuditEstimate | None:
    """:func:`audit_estimate` of a run directory (None where no audit was started). What the
    caller already holds is not read again: ``ledger`` and, while ``denoise`` is still writing
    the run, its ``noise_rate`` and ``n_classes`` (otherwise from ``summary.json``)."""
    from relabel.review.ledger import read_ledger
    from relabel.rundir import run_classes

    chunks = read_audit_chunks(run_dir)
    if not chunks:
        return None
    joined = with_decisions(scores, read_ledger(run_dir) if ledger is None else ledger)
    return audit_estimate(
        joined, chunks,
        relabel_error_rate=run_error_rate(run_dir) if noise_rate is None else noise_rate,
        annotations=run_annotations(run_dir),
        n_classes=len(run_classes(run_dir, scores)) if n_classes is None else n_classes)


def audit_summary(run_dir: str | Path, scores: pl.DataFrame, noise_rate: float,
                  n_classes: int) -> dict | None:
    """What ``summary.json`` records under ``audit`` while ``denoise`` writes a run that
    inherited a random audit (``denoise --reviews`` from a run directory with an
    ``audit.json``): the audit over this run's ``scores``, with its warning; None without a
    decided batch."""
    from relabel.review.audit import audit_message

    est = run_audit(run_dir, scores, noise_rate=noise_rate, n_classes=n_classes)
    if est is None or not est.decided:
        return None
    return {**est.to_json(), "warning": audit_message(est)}


def change_check(joined: pl.DataFrame, chunks: Sequence[int], target: float
                  ) -> ChangeCheck | None:
    """The spot check over the frame of :func:`~relabel.review.chance.with_decisions` (None
    before it started)."""
    if not len(chunks) or chunks[-1] <= 0:
        return None
    decision = joined["_decision"]
    return estimate_changes(
        joined["id"].to_list(), joined["suggested_label"].is_not_null().to_numpy(),
        joined["suggested_label"].to_numpy(),
        np.where(decision.is_not_null().to_numpy(), decision.to_numpy(),  # type: ignore[call-overload]
                 None), chunks,
        joined["suggestion_confidence"].fill_null(0.0).to_numpy(), target=target)


def run_change_check(run_dir: str | Path, scores: pl.DataFrame | None = None
                     ) -> ChangeCheck | None:
    """The spot check of a run directory's automatic changes (None when none was started);
    ``scores`` when the caller holds them, else read from the run."""
    from relabel.review.ledger import read_ledger
    from relabel.rundir import load_run

    chunks = read_check_chunks(run_dir)
    if not chunks:
        return None
    if scores is None:
        _, scores = load_run(run_dir)
    return change_check(with_decisions(scores, read_ledger(run_dir)), chunks,
                         run_target_precision(run_dir))


def audit_batch(scores: pl.DataFrame, ledger: pl.DataFrame, size: int, pending: int
                ) -> tuple[int, list[str]]:
    """Grow the random audit so that ``pending`` of its examples await a reviewer
    (:func:`relabel.review.audit.audit_extension`): returns the new size and their ids."""
    from relabel.review.audit import audit_extension

    ids = scores["id"].to_list()
    mask = scores["id"].is_in(list(decided_ids(scores, ledger))).to_numpy()
    new_size, rows = audit_extension(ids, size, mask, pending)
    return new_size, [ids[i] for i in rows]


def change_batch(scores: pl.DataFrame, ledger: pl.DataFrame, size: int, pending: int
                 ) -> tuple[int, list[str]]:
    """Grow the spot check of the run's automatic changes so that ``pending`` of them await a
    reviewer (:func:`relabel.review.spotcheck.check_extension`): the new size and their ids."""
    from relabel.review.spotcheck import check_extension

    ids = scores["id"].to_list()
    mask = scores["id"].is_in(list(decided_ids(scores, ledger))).to_numpy()
    new_size, rows = check_extension(ids, scores["suggested_label"].is_not_null().to_numpy(),
                                     size, mask, pending)
    return new_size, [ids[i] for i in rows]


__all__ = ["audit_batch", "audit_estimate", "audit_summary", "change_batch", "change_check",
           "read_audit_chunks", "read_audit_size", "read_check_chunks", "run_annotations",
           "run_audit", "run_change_check", "run_error_rate", "run_target_precision",
           "write_audit_size", "write_check_size"]
