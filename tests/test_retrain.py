"""relabel retrain: a model on the labels as given against one on the cleaned labels."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from conftest import make_text_dataset, suggesting_run
from typer.testing import CliRunner

import relabel
from relabel.cli import app
from relabel.errors import RelabelInputError
from relabel.train.compare import class_gains, paired_bootstrap

runner = CliRunner()


def test_paired_bootstrap_interval():
    a = np.array([True] * 50 + [False] * 50)
    assert paired_bootstrap(a, a) == (0.0, 0.0)
    # b is right everywhere a is, and on 20 more: the gain is 0.2, and every resample gains
    b = a.copy()
    b[50:70] = True
    low, high = paired_bootstrap(a, b)
    assert 0.0 < low < 0.2 < high < 0.4
    assert paired_bootstrap(b, a) == pytest.approx((-high, -low))
    # the same seed, the same interval
    assert paired_bootstrap(a, b, seed=3) == paired_bootstrap(a, b, seed=3)


def test_class_gains_per_test_class():
    true = np.array(["a", "a", "b", "b"])
    changes = pl.DataFrame({"action": ["relabel", "relabel", "drop"],
                            "old_label": ["b", "b", "a"], "new_label": ["a", "a", None]})
    a, b = class_gains(true, np.array(["a", "b", "b", "b"]), np.array(["a", "a", "b", "b"]),
                       ["a", "b", "c"], changes)
    # a: 1 of 2 right, then both; its F1: precision 1, recall 1/2 -> 2/3, then 1
    assert (a.label, a.test_examples, a.accuracy_given, a.accuracy_cleaned) == ("a", 2, 0.5, 1.0)
    assert a.gain == 0.5 and a.f1_given == pytest.approx(2 / 3) and a.f1_cleaned == 1.0
    assert a.interval == paired_bootstrap(np.array([True, False]), np.array([True, True]))
    # b: both right under both models (its F1 still gains: precision 2/3 -> 1), so no interval
    assert (b.gain, b.interval, b.beyond_chance) == (0.0, (0.0, 0.0), False)
    assert b.f1_given == pytest.approx(0.8) and b.f1_cleaned == 1.0
    assert (a.relabelled_to, a.relabelled_from, a.dropped) == (2, 0, 1)
    assert (b.relabelled_to, b.relabelled_from, b.dropped) == (0, 2, 0)
    assert a.short() == "'a' +50.0 (n=2)"
    # 'c' has no test example, so no row; without an audit log nothing moved
    (only,) = class_gains(np.array(["c"] * 30), np.array(["c"] * 30), np.array(["a"] * 30),
                          ["a", "c"])
    assert (only.label, only.gain, only.interval, only.relabelled_to) == ("c", -1.0,
                                                                         (-1.0, -1.0), 0)
    assert only.beyond_chance


@pytest.fixture
def text_dataset():
    return make_text_dataset(n_per_class=200, flip=60)  # 600 rows: the run changes labels


@pytest.fixture
def run_and_test(tmp_path, dataset_csv, text_dataset):
    out = suggesting_run(dataset_csv, text_dataset, tmp_path / "run")
    test = tmp_path / "test.csv"
    text_dataset.select("text", pl.col("true_label").alias("label")).write_csv(test)
    return out, test


def test_retrain_trains_on_the_given_and_the_cleaned_labels(run_and_test, text_dataset,
                                                             tiny_model_dir):
    out, test = run_and_test
    run = relabel.load_run(out)
    changed = run.scores.filter(pl.col("label") != pl.col("suggested_label")).filter(
        pl.col("suggested_label").is_not_null())
    res = run.retrain(test, model=str(tiny_model_dir), epochs=3)
    assert res.given.train_rows == res.cleaned.train_rows == text_dataset.height
    assert res.relabelled > 0 and res.dropped == 0
    # the two training files: the input as given, and with exactly the export's changes
    given = pl.read_csv(out / "retrain" / "given" / "data.csv")
    cleaned = pl.read_csv(out / "retrain" / "cleaned" / "data.csv")
    assert given.equals(pl.read_csv(out.parent / "data.csv"))
    diff = given.with_columns(cleaned["label"].alias("new")).filter(
        pl.col("label") != pl.col("new"))
    assert diff.height == res.relabelled
    assert set(diff["id"]) <= set(changed["id"])
    # the scores: both models evaluated on every test row, the gain and its interval agree
    n = res.test_examples
    assert n == text_dataset.height
    assert res.gain == pytest.approx(res.cleaned.accuracy - res.given.accuracy)
    assert res.gain * n == pytest.approx(res.only_cleaned_right - res.only_given_right)
    assert res.interval[0] <= res.gain <= res.interval[1]
    # per class: the recalls weighted by the test examples are the accuracies, and the labels
    # moved to and from each class are the training files' differences
    per = res.per_class_frame()
    assert per.height == len(res.per_class) == text_dataset["true_label"].n_unique()
    assert per["test_examples"].sum() == n
    for m, col in ((res.given, "accuracy_given"), (res.cleaned, "accuracy_cleaned")):
        assert (per[col] * per["test_examples"]).sum() / n == pytest.approx(m.accuracy)
    assert per["gain"].to_list() == sorted(per["gain"].to_list(), reverse=True)
    assert (per["gain_low"] <= per["gain"]).all() and (per["gain"] <= per["gain_high"]).all()
    moved_to = dict(diff.group_by("new").len().iter_rows())
    moved_from = dict(diff.group_by("label").len().iter_rows())
    for k in res.per_class:
        assert (k.relabelled_to, k.relabelled_from, k.dropped) == (
            moved_to.get(k.label, 0), moved_from.get(k.label, 0), 0)
    assert json.loads(res.path.read_text())["per_class"] == per.to_dicts()
    beyond = [k for k in res.per_class if k.beyond_chance]
    assert res.class_line() in res.lines() and res.class_line().startswith(
        "per class, test accuracy beyond chance (95% paired bootstrap on each class's n test "
        "examples): ")
    assert res.class_line().endswith("no class changed (3 classes)" if not beyond else
                                     " of 3 classes")
    for m in (res.given, res.cleaned):
        assert 0.0 <= m.accuracy <= 1.0 and (m.model_dir / "model.safetensors").is_file()
    # the same as relabel evaluate on each model
    for m in (res.given, res.cleaned):
        assert relabel.evaluate_model(m.model_dir, test)["accuracy"] == pytest.approx(m.accuracy)
    assert json.loads(res.path.read_text()) == json.loads(json.dumps(res.to_json()))
    assert res.test_in_training == 600  # the test texts are the training texts
    # in a notebook: both models in a table, the gain and the warning
    html = res._repr_html_()
    assert html.count("<tr><td>") == 2 and "paired bootstrap over 600 test examples" in html
    assert "warning: 600 of the 600 test texts" in html
    assert str(res).splitlines() == res.lines()


def test_retrain_drop_flagged_and_the_command_line(run_and_test, tiny_model_dir):
    out, test = run_and_test
    flagged_unresolved = relabel.load_run(out).scores.filter(
        pl.col("flagged") & pl.col("suggested_label").is_null()).height
    assert flagged_unresolved > 0
    r = runner.invoke(app, ["retrain", str(out), str(test), "--model", str(tiny_model_dir),
                            "--epochs", "2", "--drop-flagged", "--quiet"])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert lines[0].startswith("trained on the labels as given (600 rows): test accuracy ")
    assert f"{flagged_unresolved} flagged rows left out" in lines[1]
    assert lines[2].startswith("gain ") and "paired bootstrap over 600 test examples" in lines[2]
    saved = json.loads((out / "retrain" / "retrain.json").read_text())
    assert lines.pop(3).startswith("per class, test accuracy beyond chance")
    # this test set is the training texts themselves, and the command says so
    assert lines[3].startswith("warning: 600 of the 600 test texts are also in the training "
                               "set (the same text after normalising case, spaces and "
                               "punctuation)")
    assert lines[4].startswith(f"wrote {out / 'retrain' / 'retrain.json'}")
    assert saved["dropped"] == flagged_unresolved
    assert sum(k["dropped"] for k in saved["per_class"]) == flagged_unresolved
    # the run's report shows it
    report = (out / "report.html").read_text()
    assert "<h2>Retrained model</h2>" in report
    assert "<th>training labels moved to / from</th>" in report
    start = report.index("<p>Per class: the share of each class")
    assert report.count("<tr><td>", start, report.index("</table>", start)) == len(
        saved["per_class"])
    assert f"{flagged_unresolved} flagged rows left out for the cleaned set" in report
    assert saved["cleaned"]["train_rows"] == 600 - flagged_unresolved
    r = runner.invoke(app, ["retrain", str(out), str(test), "--model", str(tiny_model_dir),
                            "--epochs", "2", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["dropped"] == 0
    # nothing applied: one training set, so one model and no gain to measure
    r = runner.invoke(app, ["retrain", str(out), str(test), "--model", str(tiny_model_dir),
                            "--epochs", "2", "--apply", "none", "--quiet"])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert lines[0].startswith("the cleaned labels are the labels as given: nothing was "
                               "relabelled or left out, so there is one model (600 rows)")
    assert lines[1].startswith("warning: 600 of the 600 test texts")
    assert lines[2] == (f"wrote {out / 'retrain' / 'retrain.json'} and the report's section; "
                        "the model is in "
                        f"{out / 'retrain' / 'given' / 'model'}")
    saved = json.loads((out / "retrain" / "retrain.json").read_text())
    assert saved["gain"] == 0 and saved["interval"] == [0, 0] and saved["per_class"] == []
    assert saved["cleaned"]["model_dir"] == saved["given"]["model_dir"]


def test_retrain_refuses_a_bad_test_set_before_training(run_and_test, tmp_path,
                                                        tiny_model_dir):
    out, test = run_and_test
    bad = tmp_path / "bad.csv"
    pl.read_csv(test).rename({"label": "category"}).write_csv(bad)
    r = runner.invoke(app, ["retrain", str(out), str(bad), "--model", str(tiny_model_dir)])
    assert r.exit_code == 2
    assert r.output.strip() == (f"error: {bad}: no column 'label' (available: text, category);"
                                " did you mean 'category'? pass --label-col category")
    assert not (out / "retrain").exists()
    with pytest.raises(RelabelInputError, match="pass label_col='category'"):
        relabel.retrain(out, bad, model=str(tiny_model_dir))
    r = runner.invoke(app, ["retrain", str(tmp_path / "nowhere"), str(test)])
    assert r.exit_code == 2 and r.output.startswith("error: ") and len(
        r.output.strip().splitlines()) == 1
    # test texts apart from the training texts: no warning; a class no model saw is named
    other = tmp_path / "other.csv"
    shifted = pl.read_csv(test).with_columns(pl.col("text") + " thanks")
    pl.concat([shifted, pl.DataFrame({"text": ["a brand new question"],
                                      "label": ["brand_new"]})]).write_csv(other)
    res = relabel.retrain(out, other, model=str(tiny_model_dir), epochs=1)
    assert res.test_in_training == 0 and not any("warning" in x for x in res.lines())
    for m in (res.given, res.cleaned):
        assert m.unseen_examples == 1 and m.unseen_classes == ("brand_new",)
        assert (f"1 test example(s) are of class(es) the model trained on the {m.labels} labels "
                "never saw ('brand_new'): it gets them wrong") in res.lines()


def _careless_crowd(tmp_path):
    """120 items, each with one vote of a careful annotator and two of careless ones, who give
    the same wrong label 60% of the time: the majority is wrong on about a quarter of the items
    and the consensus, which learns who is careful, on none."""
    df = make_text_dataset(n_per_class=40, flip=0, seed=7)
    truth = df["true_label"].to_list()
    classes = sorted(set(truth))
    rng = np.random.default_rng(0)
    rows = []
    for i, t in enumerate(truth):
        wrong = classes[(classes.index(t) + 1) % len(classes)]
        for w in (f"c{i % 2}", f"s{i % 3}", f"s{(i + 1) % 3}"):
            rows.append({"item": df["id"][i], "worker": w,
                         "label": t if w[0] == "c" or rng.random() > 0.6 else wrong})
    df.select(pl.col("id").alias("item"), "text").write_csv(tmp_path / "items.csv")
    pl.DataFrame(rows).write_csv(tmp_path / "votes.csv")
    df.select("text", pl.col("true_label").alias("label")).write_csv(tmp_path / "test.csv")
    return df


def test_retrain_on_several_annotators_against_their_majority_vote(tmp_path, tiny_model_dir):
    from conftest import FakeEncoder

    df = _careless_crowd(tmp_path)
    run = relabel.denoise(tmp_path / "items.csv", annotations=tmp_path / "votes.csv",
                          item_col="item", annotator_col="worker", out=tmp_path / "run",
                          encoder=FakeEncoder(), progress=False)
    consensus = pl.read_parquet(tmp_path / "run" / "consensus.parquet")
    majority = dict(zip(consensus["id"], consensus["majority_label"], strict=True))
    differs = int((consensus["majority_label"] != consensus["consensus_label"]).sum())
    assert differs > 20  # the careless pair outvotes the careful annotator
    res = run.retrain(tmp_path / "test.csv", model=str(tiny_model_dir), epochs=2)
    # the baseline trains on each item's plain majority, the other on what export writes:
    # both are the items file with its label column
    given = pl.read_parquet(tmp_path / "run" / "retrain" / "given" / "input.parquet")
    cleaned = pl.read_parquet(tmp_path / "run" / "retrain" / "cleaned" / "input.parquet")
    assert given.columns == cleaned.columns == ["item", "text", "label"]
    assert given["label"].to_list() == [majority[i] for i in given["item"]]
    assert cleaned.equals(run.apply())
    assert res.majority_differs == differs and res.given.labels == "majority"
    assert res.given.train_rows == res.cleaned.train_rows == df.height
    # the classes' moves are the two training files' differences
    moved = given.with_columns(cleaned["label"].alias("new")).filter(
        pl.col("label") != pl.col("new"))
    assert sum(k.relabelled_to for k in res.per_class) == moved.height >= differs - res.relabelled
    for k in res.per_class:
        assert k.relabelled_from == (moved["label"] == k.label).sum()
    lines = res.lines()
    assert lines[0].startswith("trained on the annotators' majority vote (120 rows): test ")
    assert lines[1].startswith(f"trained on relabel's labels (120 rows: the consensus differs "
                               f"from the majority on {differs}, {res.relabelled} relabelled, "
                               "0 flagged rows left out): test accuracy ")
    assert json.loads(res.path.read_text())["majority_differs"] == differs
    # the CLI prints the same
    r = runner.invoke(app, ["retrain", str(tmp_path / "run"), str(tmp_path / "test.csv"),
                            "--model", str(tiny_model_dir), "--epochs", "2", "--quiet"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[:2] == lines[:2]
    # export_majority refuses a run with one label per example
    from relabel.export import export_majority

    plain = relabel.denoise(df.select("id", "text", "label"), out=tmp_path / "plain",
                            encoder=FakeEncoder(), progress=False)
    with pytest.raises(RelabelInputError, match="no majority vote to write"):
        export_majority(plain.out_dir, tmp_path / "m.csv")


def test_training_moves_chain_the_baseline_and_the_cleaned_changes():
    from relabel.export import CHANGES_SCHEMA
    from relabel.train.compare import training_moves

    def log(rows):
        return pl.DataFrame([{"id": str(r[0]), "row": r[0], "action": r[1], "old_label": r[2],
                              "new_label": r[3], "reason": "", "source": ""} for r in rows],
                            schema=CHANGES_SCHEMA)

    # given labels: row 0 a, 1 a, 2 b, 3 c. The majority moves rows 0 and 1 to b; the cleaned
    # set moves row 1 to c, row 2 to a, and drops row 3
    base = log([(0, "relabel", "a", "b"), (1, "relabel", "a", "b")])
    cleaned = log([(1, "relabel", "a", "c"), (2, "relabel", "b", "a"), (3, "drop", "c", None)])
    got = training_moves(base, cleaned)
    assert got.rows() == [(0, "relabel", "b", "a"), (1, "relabel", "b", "c"),
                          (2, "relabel", "b", "a"), (3, "drop", "c", None)]
    # one label per example: no baseline moves, the cleaned audit log as it is
    assert training_moves(log([]), cleaned).rows() == [(1, "relabel", "a", "c"),
                                                       (2, "relabel", "b", "a"),
                                                       (3, "drop", "c", None)]
