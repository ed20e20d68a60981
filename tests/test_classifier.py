"""relabel train / evaluate: head and finetune, resume after a crash, metrics."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from safetensors.numpy import load_file
from typer.testing import CliRunner

import relabel.correct.train as train_mod
from relabel.cli import app
from relabel.errors import RelabelInputError
from relabel.train.classifier import CHECKPOINT_FILE, evaluate_model, train_classifier

runner = CliRunner()


def test_head_train_and_evaluate(tmp_path, dataset_csv, tiny_model_dir):
    res = train_classifier(dataset_csv, tmp_path / "m", model=str(tiny_model_dir),
                           head_only=True, epochs=20)
    assert res["classes"] == ["card", "refund", "transfer"] and res["resumed_from"] == 0
    assert (tmp_path / "m" / "model.safetensors").exists()
    assert not (tmp_path / "m" / CHECKPOINT_FILE).exists()
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["kind"] == "head" and config["classes"] == res["classes"]
    m = evaluate_model(tmp_path / "m", dataset_csv)
    assert m["examples"] == 90 and 0.0 <= m["accuracy"] <= 1.0
    assert sum(map(sum, m["confusion"])) == 90
    assert set(m["per_class"]) == {"card", "refund", "transfer"}
    # evaluating on the true labels through the CLI, as JSON
    r = runner.invoke(app, ["evaluate", str(tmp_path / "m"), str(dataset_csv), "--label-col",
                            "true_label", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["examples"] == 90
    # a test file of one class is evaluated (it was refused: "fewer than two classes", a check
    # for data whose labels are compared); the table lists the classes the test file has or
    # the model predicted, and counts the rest
    one = tmp_path / "one.csv"
    pl.read_csv(dataset_csv).filter(pl.col("true_label") == "card").head(5).write_csv(one)
    r = runner.invoke(app, ["evaluate", str(tmp_path / "m"), str(one), "--label-col",
                            "true_label"])
    assert r.exit_code == 0, r.output
    res = evaluate_model(tmp_path / "m", one, label_col="true_label")
    names = list(res["per_class"])
    shown = {c for j, c in enumerate(names)
             if res["per_class"][c]["support"] or any(row[j] for row in res["confusion"])}
    rows = {line.split()[0] for line in r.output.splitlines()[3:]
            if line and line.split()[0] in names}
    assert "card" in rows and rows == shown
    if len(shown) < len(names):
        assert (f"({len(names) - len(shown)} more classes of the model have no test example "
                "and were never predicted") in r.output


def test_interrupted_training_resumes_to_the_same_model(tmp_path, dataset_csv, tiny_model_dir,
                                                        monkeypatch):
    kw = {"model": str(tiny_model_dir), "head_only": True, "epochs": 4}
    train_classifier(dataset_csv, tmp_path / "full", **kw)
    real = train_mod.train_model

    def crash_after_two(*args, on_epoch_end=None, **kwargs):
        def hook(state):
            on_epoch_end(state)
            if state["epoch"] == 2:
                raise KeyboardInterrupt  # as if killed after epoch 2 was saved
        return real(*args, on_epoch_end=hook, **kwargs)

    monkeypatch.setattr(train_mod, "train_model", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(dataset_csv, tmp_path / "cut", **kw)
    assert (tmp_path / "cut" / CHECKPOINT_FILE).exists()
    monkeypatch.setattr(train_mod, "train_model", real)
    res = train_classifier(dataset_csv, tmp_path / "cut", **kw)
    assert res["resumed_from"] == 2
    a = load_file(str(tmp_path / "full" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_finetune_train_cli(tmp_path, dataset_csv, tiny_model_dir):
    r = runner.invoke(app, ["train", str(dataset_csv), "--out", str(tmp_path / "ft"), "--model",
                            str(tiny_model_dir), "--epochs", "1", "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "ft" / "config.json").read_text())["kind"] == "finetune"
    r = runner.invoke(app, ["evaluate", str(tmp_path / "ft"), str(dataset_csv)])
    assert r.exit_code == 0 and "90 examples: accuracy" in r.output


def test_train_and_evaluate_errors_are_one_line(tmp_path, dataset_csv):
    r = runner.invoke(app, ["evaluate", str(tmp_path), str(dataset_csv)])
    assert r.exit_code == 2 and "not a model directory" in r.stderr
    r = runner.invoke(app, ["train", str(tmp_path / "none.csv"), "--out", str(tmp_path / "m")])
    assert r.exit_code == 2 and "no such file" in r.stderr


def test_train_and_evaluate_integer_codes_with_names_in_another_encoding(tmp_path, dataset_csv,
                                                                         tiny_model_dir):
    classes = ["card", "refund", "transfer"]
    df = pl.read_csv(dataset_csv).with_columns(
        pl.col(c).replace_strict({n: i for i, n in enumerate(classes)})
        for c in ("label", "true_label")).with_columns(pl.col("text") + " café")
    src = tmp_path / "codes.csv"
    src.write_bytes(df.write_csv().encode("cp1252"))
    r = runner.invoke(app, ["train", str(src), "--out", str(tmp_path / "m"), "--model",
                            str(tiny_model_dir), "--head-only", "--epochs", "3", "-q",
                            "--label-names", ",".join(classes), "--encoding", "cp1252"])
    assert r.exit_code == 0, r.output
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["classes"] == classes
    assert config["label_names"] == [["0", "card"], ["1", "refund"], ["2", "transfer"]]
    # the test file's codes are named as in training, without saying so again
    m = evaluate_model(tmp_path / "m", src, label_col="true_label", encoding="cp1252")
    assert m["examples"] == 90 and set(m["per_class"]) == set(classes)
    assert m["unseen_labels"] == []
    r = runner.invoke(app, ["evaluate", str(tmp_path / "m"), str(src), "--label-col",
                            "true_label"])
    assert r.exit_code == 2 and "pass --encoding cp1252" in r.output


@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "error: --epochs must be at least 1, got 0"),
    (["--lr", "0"], "error: --lr must be positive, got 0.0"),
])
def test_an_explicit_zero_is_refused_not_replaced_by_the_default(tmp_path, dataset_csv,
                                                                 tiny_model_dir, args, message):
    # `--epochs 0` used to train the default 30 epochs without a word
    r = runner.invoke(app, ["train", str(dataset_csv), "--out", str(tmp_path / "m"), "--model",
                            str(tiny_model_dir), "--head-only", *args])
    assert r.exit_code == 2 and r.output.strip() == message, r.output
    assert not (tmp_path / "m").exists()
    # from Python the keyword is named
    with pytest.raises(RelabelInputError, match="batch_size must be at least 1, got 0"):
        train_classifier(dataset_csv, tmp_path / "m", model=str(tiny_model_dir),
                         head_only=True, batch_size=0)
