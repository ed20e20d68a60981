"""Reliability (issue 8): a run killed with SIGKILL resumes from what it saved; no command
changes its input file or lets a Label Studio key into its output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from relabel.cli import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "banking77_noisy.csv"

pytestmark = pytest.mark.slow


def _dataset(path: Path, copies: int = 3) -> Path:
    """The banking77 example, each text ``copies`` times with a distinct reference: 6,000
    distinct texts, so two encoding shards of 4,096."""
    base = pl.read_csv(EXAMPLE).select("id", "text", "label")
    parts = [base.with_columns(pl.col("id") + f"-{c}", pl.col("text") + f" (ref {c})")
             for c in range(copies)]
    pl.concat(parts).write_csv(path)
    return path


def _denoise_cmd(data: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "relabel", "denoise", str(data), "--id-col", "id",
            "--corrector", "head", "--out", str(out), "--quiet"]


def _kill_when(cmd: list[str], ready, timeout: float = 300) -> None:
    """Start ``cmd`` and SIGKILL it as soon as ``ready()`` is true (fails if it ends first)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert proc.poll() is None, f"the run ended before the kill: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "timed out waiting to kill"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _files(root: Path, pattern: str) -> list[Path]:
    return sorted(root.rglob(pattern)) if root.exists() else []


def test_sigkill_during_encoding_and_cross_validation_then_resume(tmp_path):
    data = _dataset(tmp_path / "data.csv")
    before = (data.read_bytes(), os.stat(data).st_mtime_ns)
    # the uninterrupted run to compare with
    subprocess.run(_denoise_cmd(data, tmp_path / "clean"), cwd=ROOT, check=True,
                   capture_output=True)

    out = tmp_path / "run"
    shards = out / "cache" / "embeddings"
    folds = out / "cache" / "oof"
    # 1. killed once the first encoding shard is saved
    _kill_when(_denoise_cmd(data, out), lambda: len(_files(shards, "shard-*.npz")) >= 1)
    first = _files(shards, "shard-*.npz")
    assert len(first) == 1
    stamp = {p: os.stat(p).st_mtime_ns for p in first}
    assert not (out / "scores.parquet").exists()  # nothing half-written in place
    # 2. re-run, killed once the first corrector fold is saved
    _kill_when(_denoise_cmd(data, out), lambda: len(_files(folds, "fold-*.npy")) >= 1)
    assert all(os.stat(p).st_mtime_ns == stamp[p] for p in first)  # shard 1 reused
    assert len(_files(shards, "shard-*.npz")) == 2
    saved_folds = {p: os.stat(p).st_mtime_ns for p in _files(folds, "fold-*.npy")}
    assert 1 <= len(saved_folds) < 5
    # 3. re-run to the end: no text encoded again, the saved folds not trained again
    subprocess.run(_denoise_cmd(data, out), cwd=ROOT, check=True, capture_output=True)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["encoder"]["encoded"] == 0 and summary["encoder"]["cached"] == 6000
    assert summary["corrector"]["reused"] == len(saved_folds)
    assert summary["corrector"]["trained"] == 5 - len(saved_folds)
    assert all(os.stat(p).st_mtime_ns == t for p, t in saved_folds.items())
    assert not _files(out, "*.tmp*")  # every output was renamed into place

    clean = pl.read_parquet(tmp_path / "clean" / "scores.parquet")
    resumed = pl.read_parquet(out / "scores.parquet")
    assert resumed["flagged"].to_list() == clean["flagged"].to_list()
    assert resumed["suggested_label"].to_list() == clean["suggested_label"].to_list()
    np.testing.assert_allclose(resumed["credibility"].to_numpy(),
                               clean["credibility"].to_numpy(), atol=1e-5)
    assert (data.read_bytes(), os.stat(data).st_mtime_ns) == before


TOKEN = "relabel-test-token-5f1c0ffee"


def test_no_command_changes_its_input_or_leaks_the_token(tmp_path, monkeypatch,
                                                         tiny_model_dir):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", TOKEN)
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:9")
    src = pl.read_csv(EXAMPLE).head(400)
    inputs = {"csv": tmp_path / "data.csv", "parquet": tmp_path / "data.parquet",
              "jsonl": tmp_path / "data.jsonl"}
    src.write_csv(inputs["csv"])
    src.write_parquet(inputs["parquet"])
    src.write_ndjson(inputs["jsonl"])
    os.utime(inputs["csv"], ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    before = {p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in inputs.values()}
    model = str(tiny_model_dir)
    run = tmp_path / "run"
    runner = CliRunner()
    commands = [
        ["check", str(inputs["csv"]), "--id-col", "id"],
        ["denoise", str(inputs["csv"]), "--id-col", "id", "--model", model, "--corrector",
         "head", "--folds", "2", "--epochs", "1", "--out", str(run), "-q"],
        ["denoise", str(inputs["parquet"]), "--id-col", "id", "--model", model,
         "--corrector", "none", "--out", str(tmp_path / "run-parquet"), "-q"],
        ["denoise", str(inputs["jsonl"]), "--id-col", "id", "--model", model, "--corrector",
         "none", "--out", str(tmp_path / "run-jsonl"), "-q"],
        ["report", str(run), "--truth-col", "true_label"],
        ["export", str(run), "--to", str(tmp_path / "cleaned.csv")],
        ["noise", str(inputs["csv"]), "--to", str(tmp_path / "noisy.csv"), "--label-col",
         "true_label", "--true-col", "original"],
        ["train", str(inputs["csv"]), "--out", str(tmp_path / "model"), "--model", model,
         "--head-only", "--epochs", "1", "-q"],
        ["evaluate", str(tmp_path / "model"), str(inputs["csv"])],
        # the review commands, against a server that is not there: one line, no key
        ["review", "push", str(run), "--project", "relabel test"],
        ["review", "pull", str(run), "--project", "relabel test"],
    ]
    for args in commands:
        r = runner.invoke(app, args)
        expected = 2 if args[0] == "review" else 0
        assert r.exit_code == expected, (args, r.output)
        assert TOKEN not in r.stdout and TOKEN not in r.stderr, args
        for path, state in before.items():
            assert (path.read_bytes(), os.stat(path).st_mtime_ns) == state, (args, path)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p not in before]
    assert len(written) > 20
    for p in written:
        assert TOKEN.encode() not in p.read_bytes(), p
