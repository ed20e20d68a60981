"""Ctrl-C in every stage (issue 18): a real SIGINT, sent by the process to itself at a chosen
point of the real CLI (the corrector's folds, the report, export, train, review push and
pull), ends in one line and exit 130, leaves no partial output under a final name, and the
same command run again resumes and finishes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from conftest import ROOT, make_text_dataset, run_relabel, write_with_embeddings

pytestmark = pytest.mark.slow

MESSAGE = "interrupted; run the same command again to resume"

#: runs the CLI with ``TARGET`` (``module:attribute[.attribute]``) wrapped: its ``N``-th call
#: first sends SIGINT to this process, as Ctrl-C in a terminal does
RUNNER = r"""
import importlib, os, signal, sys
target, nth = sys.argv[1], int(sys.argv[2])
mod_name, _, attr = target.partition(":")
owner = importlib.import_module(mod_name)
*path, name = attr.split(".")
for part in path:
    owner = getattr(owner, part)
original = getattr(owner, name)
calls = [0]
def wrapped(*args, **kwargs):
    calls[0] += 1
    if calls[0] == nth:
        os.kill(os.getpid(), signal.SIGINT)
    return original(*args, **kwargs)
setattr(owner, name, wrapped)  # on a class, a plain function is a method: self passes through
sys.argv = ["relabel", *sys.argv[3:]]
from relabel.cli import main
main()
"""


def _interrupt(target: str, nth: int, *args: str, env: dict | None = None
               ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUNNER, target, str(nth), *args],
                          capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def _assert_interrupted(p: subprocess.CompletedProcess) -> None:
    assert p.returncode == 130, (p.returncode, p.stderr[-2000:])
    # progress bars may precede it (train has no --quiet); the message is the one line after
    lines = [ln for ln in p.stderr.replace("\r", "\n").splitlines() if ln.strip()]
    assert lines[-1] == MESSAGE, p.stderr[-2000:]
    assert "Traceback" not in p.stderr and "KeyboardInterrupt" not in p.stderr


@pytest.fixture
def small_data(tmp_path: Path) -> tuple[Path, Path]:
    return write_with_embeddings(make_text_dataset(n_per_class=60, flip=20, seed=7), tmp_path)


def _denoise_args(data: Path, emb: Path, out: Path) -> list[str]:
    return ["denoise", str(data), "--id-col", "id", "--embeddings", str(emb),
            "--corrector", "linear", "--folds", "3", "--out", str(out), "-q"]


def test_ctrl_c_during_the_corrector_folds_then_resume(small_data, tmp_path) -> None:
    data, emb = small_data
    out = tmp_path / "run"
    # the second fold's save: the first fold is on disk, the second is lost
    p = _interrupt("relabel.correct.crossval:write_array", 2, *_denoise_args(data, emb, out))
    _assert_interrupted(p)
    assert not (out / "scores.parquet").exists() and not (out / "summary.json").exists()
    again = run_relabel(*_denoise_args(data, emb, out))
    assert again.returncode == 0, again.stderr
    corrector = json.loads((out / "summary.json").read_text())["corrector"]
    assert corrector["reused"] >= 1 and corrector["trained"] + corrector["reused"] == 3


def test_ctrl_c_while_writing_the_report_then_resume(small_data, tmp_path) -> None:
    data, emb = small_data
    out = tmp_path / "run"
    p = _interrupt("relabel.report.html:_histogram", 1, *_denoise_args(data, emb, out))
    _assert_interrupted(p)
    assert not (out / "report.html").exists()
    assert not list(out.glob(".*.tmp"))  # no temporary file left behind
    again = run_relabel(*_denoise_args(data, emb, out))
    assert again.returncode == 0, again.stderr
    assert (out / "report.html").is_file()
    corrector = json.loads((out / "summary.json").read_text())["corrector"]
    assert corrector["reused"] == 3  # the folds were kept


def test_ctrl_c_during_export_then_resume(small_data, tmp_path) -> None:
    data, emb = small_data
    out = tmp_path / "run"
    assert run_relabel(*_denoise_args(data, emb, out)).returncode == 0
    to = tmp_path / "clean.csv"
    p = _interrupt("relabel.export:apply_plan", 1, "export", str(out), "--to", str(to))
    _assert_interrupted(p)
    assert not to.exists() and not (tmp_path / "changes.csv").exists()
    again = run_relabel("export", str(out), "--to", str(to))
    assert again.returncode == 0, again.stderr
    assert pl.read_csv(to).height == pl.read_csv(data).height


def test_ctrl_c_during_train_then_resume(small_data, tmp_path) -> None:
    data, _ = small_data
    model = tmp_path / "model"
    args = ["train", str(data), "--out", str(model), "--head-only", "--epochs", "3", "-q"]
    # the second checkpoint save: one epoch is done and saved, the second is being saved
    p = _interrupt("torch:save", 2, *args)
    _assert_interrupted(p)
    assert not (model / "model.safetensors").exists()
    again = run_relabel(*args)
    assert again.returncode == 0, again.stderr
    assert "resumed after epoch 1" in again.stdout and (model / "model.safetensors").is_file()


def test_ctrl_c_during_review_push_and_pull_then_resume(label_studio, small_data,
                                                        tmp_path) -> None:
    data, emb = small_data
    out = tmp_path / "run"
    assert run_relabel(*_denoise_args(data, emb, out)).returncode == 0
    env = {"LABEL_STUDIO_URL": label_studio.url, "LABEL_STUDIO_API_KEY": label_studio.token}
    push = ["review", "push", str(out), "--project", "interrupted", "--only", "all"]
    p = _interrupt("connectors.label_studio.client:LabelStudioClient.import_tasks", 1, *push,
                   env=env)
    _assert_interrupted(p)
    assert not (out / "review_push.json").exists()
    again = run_relabel(*push, env=env)
    assert again.returncode == 0, again.stderr
    pushed = json.loads((out / "review_push.json").read_text())
    assert pushed["selected"] == pl.read_csv(data).height

    pull = ["review", "pull", str(out), "--project", "interrupted"]
    # the connector imported the function by name: patch it where pull() looks it up
    p = _interrupt("connectors.label_studio:reviews_from_tasks", 1, *pull, env=env)
    _assert_interrupted(p)
    assert not (out / "reviews.parquet").exists()
    again = run_relabel(*pull, env=env)
    assert again.returncode == 0, again.stderr
    assert (out / "reviews.parquet").is_file()


def test_ctrl_c_during_encoding_then_resume(tmp_path) -> None:
    """6,000 distinct texts with the packaged encoder: two shards of 4,096. Ctrl-C as the
    second shard is saved; the re-run reads the first from the cache."""
    from test_reliability import _dataset

    data = _dataset(tmp_path / "data.csv")
    out = tmp_path / "run"
    args = ["denoise", str(data), "--id-col", "id", "--corrector", "none", "--out", str(out),
            "-q"]
    p = _interrupt("relabel.embed.cache:EmbeddingCache.add", 2, *args)
    _assert_interrupted(p)
    assert not (out / "scores.parquet").exists()
    assert len(list((out / "cache" / "embeddings").rglob("shard-*.npz"))) == 1
    again = run_relabel(*args)
    assert again.returncode == 0, again.stderr
    encoder = json.loads((out / "summary.json").read_text())["encoder"]
    assert encoder["cached"] == 4096 and encoder["encoded"] == 6000 - 4096
