"""The CLI through typer's runner and as a subprocess; every bad input is one line, exit 2,
no traceback and nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from relabel.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_denoise_and_export(tmp_path, dataset_csv, tiny_model_dir):
    out = tmp_path / "out"
    r = invoke("denoise", dataset_csv, "--out", out, "--model", tiny_model_dir, "--id-col", "id",
               "--quiet")
    assert r.exit_code == 0, r.output
    assert "90 examples, 3 classes" in r.output
    assert "flagged" in r.output and "time:" in r.output
    # the texts name their classes: the words are left out, and the summary says why
    assert "corrector: linear, 5 folds" in r.output
    assert ("the texts' words were left out: they predict the given labels better than the "
            "embeddings do (skill ") in r.output
    r = invoke("denoise", dataset_csv, "--out", tmp_path / "nw", "--model", tiny_model_dir,
               "--quiet", "--no-words")
    assert r.exit_code == 0 and "corrector: linear, 5 folds" in r.output, r.output
    assert "words" not in r.output
    assert (out / "scores.parquet").exists()
    r = invoke("export", out, "--to", tmp_path / "clean.parquet", "--drop-flagged")
    assert r.exit_code == 0, r.output
    assert "wrote" in r.output
    assert pl.read_parquet(tmp_path / "clean.parquet").columns == ["id", "text", "label",
                                                                    "true_label"]
    assert (tmp_path / "changes.csv").exists()


def test_finetune_corrector_on_cpu(tmp_path, dataset_csv, tiny_model_dir):
    out = tmp_path / "ft"
    r = invoke("denoise", dataset_csv, "--model", tiny_model_dir, "--out", out, "-q",
               "--corrector", "finetune", "--folds", "2", "--epochs", "1", "--grad-accum", "2",
               "--loss", "supcon")
    assert r.exit_code == 0, r.output
    assert "corrector: finetune, 2 folds (2 trained, 0 reused" in r.output
    summary = json.loads((out / "summary.json").read_text())
    params = summary["corrector"]["params"]
    assert params["loss"] == "supcon" and params["epochs"] == 1 and params["grad_accum"] == 2
    assert np.load(out / "oof_probs.npy").shape == (90, 3)


def test_default_out_dir(tmp_path, dataset_csv, tiny_model_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke("denoise", dataset_csv, "--model", tiny_model_dir, "-q")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "relabel-out" / "data" / "scores.csv").exists()


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


BAD_INPUTS = {
    "missing file": (lambda d: d / "nope.csv", [], "nope.csv: no such file"),
    "unknown extension": (lambda d: _write(d / "d.xlsx", "x"), [], "unknown file extension"),
    "spreadsheet": (lambda d: _write(d / "d.xlsx", "x"), [],
                    "from a spreadsheet program, save the sheet as CSV UTF-8"),
    "missing column": (lambda d: _write(d / "d.csv", "sentence,label\na,x\nb,y\n"), [],
                       "no column 'text' (available: sentence, label)"),
    "empty dataset": (lambda d: _write(d / "d.csv", "text,label\n"), [], "dataset is empty"),
    "empty file": (lambda d: _write(d / "d.csv", ""), [], "dataset is empty"),
    "null text": (lambda d: _write(d / "d.csv", "text,label\na,x\n,y\nc,x\n"), [],
                  "row 2, column 'text': null or empty text"),
    "empty label": (lambda d: _write(d / "d.csv", 'text,label\na,x\nb,""\nc,y\n'), [],
                    "row 2, column 'label': null or empty label"),
    "duplicate ids": (lambda d: _write(d / "d.csv", "id,text,label\n1,a,x\n1,b,y\n"),
                      ["--id-col", "id"], "rows 1, 2, column 'id': duplicate ids"),
    "one class": (lambda d: _write(d / "d.csv", "text,label\na,x\nb,x\n"), [],
                  "fewer than two classes"),
    "undecodable": (lambda d: _write(d / "d.csv", b"text,label\na,x\nb\xff,y\n"), [],
                    "line 3: undecodable bytes"),
    "extra field": (lambda d: _write(d / "d.csv", "text,label\na,x\nb,y,z\n"), [],
                    "line 3: 3 fields where the header has 2"),
    "model path missing": (lambda d: _write(d / "d.csv", "text,label\na,x\nb,y\n"),
                           ["--model", "./no/such/model"], "model path does not exist"),
    "not a model": (lambda d: _write(d / "d.csv", "text,label\na,x\nb,y\n"),
                    ["--model", "."], "not a model directory"),
    "one fold": (lambda d: _write(d / "d.csv", "text,label\na,x\nb,y\n"),
                 ["--folds", "1"], "--folds must be at least 2, got 1"),
    "unknown loss": (lambda d: _write(d / "d.csv", "text,label\na,x\nb,y\n"),
                     ["--loss", "triplet"], "--loss must be one of ce, supcon, soft, "
                     "distant_peer, distant_peer_soft, got 'triplet'"),
    "unknown corrector": (lambda d: _write(d / "d.csv", "text,label\na,x\nb,y\n"),
                          ["--corrector", "forest"], "--corrector must be one of auto, none, "
                          "linear, head, finetune, got 'forest'"),
    "zero epochs": (lambda d: _write(d / "d.csv", "text,label\na,x\nb,y\n"),
                    ["--epochs", "0"], "--epochs must be at least 1, got 0"),
    "zero passes": (lambda d: _write(d / "d.csv", "text,label\na,x\nb,y\n"),
                    ["--passes", "0"], "--passes must be at least 1, got 0"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, tmp_path, monkeypatch):
    make, extra, message = BAD_INPUTS[case]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    monkeypatch.chdir(data_dir)
    path = make(data_dir)
    out = tmp_path / "out"
    r = runner.invoke(app, ["denoise", str(path), "--out", str(out), "-q", *extra])
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert "Traceback" not in r.output + r.stderr
    assert not out.exists()


@pytest.mark.parametrize("command, name", [("denoise", "scores.csv"),
                                           ("train", "config.json")])
def test_an_input_among_the_outputs_is_refused_and_left_alone(command, name, tmp_path):
    """``denoise data/scores.csv --out data`` overwrote its input with the run's scores.csv;
    the same for ``train`` and its config.json."""
    data = tmp_path / name
    if name.endswith(".csv"):
        data.write_text("text,label\na b,x\nc d,y\ne f,x\ng h,y\n", encoding="utf-8")
    else:
        data.write_text('[{"text": "a b", "label": "x"}, {"text": "c d", "label": "y"}]',
                        encoding="utf-8")
    before = data.read_bytes()
    extra = ["--head-only"] if command == "train" else []
    r = runner.invoke(app, [command, str(data), "--out", str(tmp_path), "-q", *extra])
    assert r.exit_code == 2, r.output
    assert r.stderr.strip() == (f"error: {tmp_path}: holds the input {name}, which the run "
                                f"would overwrite with its own {name}; choose another --out "
                                "(--out)")
    assert data.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_single_example_class_is_a_warning(tmp_path, tiny_model_dir):
    rows = "".join(f"text {i},{'x' if i % 2 else 'y'}\n" for i in range(12)) + "lonely,z\n"
    path = _write(tmp_path / "d.csv", "text,label\n" + rows)
    r = runner.invoke(app, ["denoise", str(path), "--out", str(tmp_path / "o"), "--model",
                            str(tiny_model_dir), "-q"])
    assert r.exit_code == 0, r.output
    assert "warning:" in r.stderr and "single example ('z')" in r.stderr


def test_drop_invalid_warns_and_runs(tmp_path, tiny_model_dir):
    rows = "".join(f"text {i},{'x' if i % 2 else 'y'}\n" for i in range(12)) + ",x\n"
    path = _write(tmp_path / "d.csv", "text,label\n" + rows)
    r = runner.invoke(app, ["denoise", str(path), "--out", str(tmp_path / "o"), "--model",
                            str(tiny_model_dir), "-q", "--drop-invalid"])
    assert r.exit_code == 0, r.output
    assert "skipped 1 row(s) with a null or empty text (first: 13)" in r.stderr
    assert pl.read_parquet(tmp_path / "o" / "scores.parquet").height == 12


def test_export_errors_are_one_line(tmp_path):
    r = runner.invoke(app, ["export", str(tmp_path), "--to", str(tmp_path / "x.csv")])
    assert r.exit_code == 2
    assert r.stderr.strip().startswith("error: ") and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args, needle", [
    (["review", "push", "{run}", "--project", "proj", "--only", "bogus"], "--only must be one of"),
    (["review", "push", "{run}", "--project", "proj", "--limit", "0"],
     "--limit must be at least 1"),
    (["review", "push", "{empty}", "--project", "proj"], "run `relabel denoise` first"),
    (["review", "next", "{run}", "--project", "proj", "--batch", "0"],
     "one of them at least 1; got --batch 0 --audit 0 --check-changes 0"),
    (["review", "next", "{run}", "--project", "proj", "--audit", "-1"],
     "--batch, --audit and --check-changes must be at least 0"),
    (["review", "next", "{run}", "--project", "proj", "--check-changes", "-2"],
     "got --batch 100 --audit 0 --check-changes -2"),
    (["review", "next", "{run}", "--project", "proj", "--reviewer-error", "0.7"],
     "--reviewer-error must be at least 0 and below 0.5"),
    (["review", "push", "{run}", "--project", "proj"], "LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY "
                                                    "not set"),
    (["review", "pull", "{run}", "--project", "proj"], "LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY "
                                                    "not set"),
    (["export", "{run}", "--to", "{tmp}/x.csv", "--apply", "reviewed"],
     "run `relabel review pull` first"),
    (["export", "{run}", "--to", "{tmp}/x.csv", "--apply", "bogus"], "--apply must be one of"),
    (["review", "push", "{run}", "--project", "p"], "--project: a Label Studio project title has "
                                                    "3 to 50 characters; 'p' has 1"),
])
def test_review_errors_are_one_line(args, needle, tmp_path, dataset_csv, fake_encoder,
                                    monkeypatch):
    from relabel.config import DenoiseConfig
    from relabel.pipeline import denoise

    for var in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("RELABEL_CONFIG", str(tmp_path / "no-config.toml"))
    run = tmp_path / "run"
    denoise(dataset_csv, out_dir=run, config=DenoiseConfig(id_col="id", corrector="none"),
            encoder=fake_encoder)
    (tmp_path / "empty").mkdir()
    fill = {"run": run, "empty": tmp_path / "empty", "tmp": tmp_path}
    r = runner.invoke(app, [a.format(**fill) for a in args])
    assert r.exit_code == 2, r.output
    err = r.stderr.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "x.csv").exists() and not (run / "reviews.parquet").exists()


@pytest.mark.slow
def test_subprocess(tmp_path, dataset_csv, tiny_model_dir):
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "relabel", "denoise", str(dataset_csv), "--out",
                        str(out), "--model", str(tiny_model_dir), "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "examples" in p.stdout
    p = subprocess.run([sys.executable, "-m", "relabel", "denoise", str(tmp_path / "no.csv")],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2
    assert p.stderr.strip() == f"error: {tmp_path / 'no.csv'}: no such file or directory"


def test_progress_in_a_log_is_whole_lines(tmp_path, dataset_csv, tiny_model_dir):
    """stderr to a file (CI, nohup): progress as plain lines, never a redrawn bar's carriage
    returns and cursor codes (two bars at once wrote ``ESC[A`` into logs)."""
    from relabel import progress

    log = tmp_path / "stderr.log"
    with open(log, "w", encoding="utf-8") as fh:  # a line at every step of this run
        p = subprocess.run([sys.executable, "-c", "import relabel.progress as p; "
                            "p.LINE_INTERVAL = 0.0; from relabel.cli import main; main()",
                            "denoise", str(dataset_csv), "--out", str(tmp_path / "o"),
                            "--model", str(tiny_model_dir), "--corrector", "head"],
                           stdout=subprocess.DEVNULL, stderr=fh, timeout=300)
    assert p.returncode == 0
    text = log.read_text(encoding="utf-8")
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert any(line.startswith("scoring: ") and line.endswith(" s") for line in lines), text
    assert any(line.startswith("head corrector: 5/5 folds (100%)") for line in lines), text
    bar = progress.progress_bar(True, "encoding", total=4, unit="text")  # stderr: not a tty here
    assert isinstance(bar, progress.LineBar)


def test_help_lists_commands():
    r = invoke("--help")
    assert r.exit_code == 0 and "denoise" in r.output and "export" in r.output
    assert "review" in r.output
    # each command's help on whole lines in the list (a docstring's line breaks cut it)
    import relabel
    from relabel.cli._util import review_app

    version = invoke("--version")
    assert version.exit_code == 0 and version.output == f"relabel {relabel.__version__}\n"

    for info in app.registered_commands + review_app.registered_commands:
        assert info.help and "\n" not in info.help.split("\n\n")[0], info.name


def test_a_dataset_smaller_than_the_folds_per_class_runs(tmp_path):
    """8 rows, 4 per class, 5 folds: the run completes (it printed sklearn's traceback)."""
    path = tmp_path / "tiny.csv"
    pl.DataFrame({"text": [f"text {i}" for i in range(8)],
                  "label": ["pos", "neg"] * 4}).write_csv(path)
    np.save(tmp_path / "emb.npy", np.random.default_rng(0).normal(size=(8, 8)).astype("f4"))
    r = invoke("denoise", path, "--embeddings", tmp_path / "emb.npy", "--corrector", "linear",
               "--out", tmp_path / "run", "--quiet")
    assert r.exit_code == 0, r.output
    assert "8 examples, 2 classes" in r.output
    assert "fewer than 5 examples" in r.output  # and it says why its folds are thin


def test_a_class_the_signals_cannot_tell_apart_is_named_and_never_changed(tmp_path):
    """Twelve examples of a class among 300 that look the same (trec's ABBR among DESC on a
    1,000-row sample: all 12 had been changed): never changed, and named."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(2, 16))
    labels = ["a"] * 300 + ["b"] * 300 + ["rare"] * 12
    where = [0] * 300 + [1] * 300 + [0] * 12  # the rare class sits inside class a
    emb = (centers[where] + 0.3 * rng.normal(size=(len(labels), 16))).astype("f4")
    path = tmp_path / "rare.csv"
    pl.DataFrame({"text": [f"text {i}" for i in range(len(labels))],
                  "label": labels}).write_csv(path)
    np.save(tmp_path / "emb.npy", emb)
    r = invoke("denoise", path, "--embeddings", tmp_path / "emb.npy", "--corrector", "linear",
               "--out", tmp_path / "run", "--quiet")
    assert r.exit_code == 0, r.output
    assert ("warning: 1 class(es) whose own examples the signals do not recognise better than "
            "chance ('rare')") in r.output.replace("\n", " ")
    dec = json.loads((tmp_path / "run" / "summary.json").read_text())["decisions"]
    assert dec["unrecognised_classes"] == ["rare"]
    scores = pl.read_parquet(tmp_path / "run" / "scores.parquet").filter(
        pl.col("label") == "rare")
    assert scores["flagged"].any() and scores["suggested_label"].is_null().all()
    assert set(scores.filter(pl.col("flagged"))["reason"]) == {"class_not_learned"}
    assert "class_not_learned" in r.output  # flagged by reason
