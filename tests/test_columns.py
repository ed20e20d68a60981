"""Columns named by a dotted path into nested records (``--text-col data.text``): read by
``denoise`` and ``check``, and a nested label written back in place by ``export``, ``apply``
and ``noise``."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
from typer.testing import CliRunner

import relabel
from relabel.cli import app
from relabel.data.columns import assign, expose, nested_path
from tests.conftest import clustered_embeddings, make_text_dataset

NESTED = pl.DataFrame({
    "id": [1, 2, 3],
    "data": [{"text": "a", "meta": {"lab": "x", "n": 1}},
             {"text": "b", "meta": {"lab": "y", "n": 2}}, None],
    "data.text": ["top", "level", "wins"],
})


def test_paths_follow_struct_fields_and_a_top_level_name_wins():
    assert nested_path(NESTED, "data.meta.lab") == ["data", "meta", "lab"]
    assert nested_path(NESTED, "data.text") is None  # a column of that very name
    assert nested_path(NESTED, "data.nope") is None and nested_path(NESTED, "id.x") is None
    shown = expose(NESTED, ["data.meta.lab", "data.text", "missing", None])
    assert shown["data.meta.lab"].to_list() == ["x", "y", None]
    assert shown["data.text"].to_list() == ["top", "level", "wins"]
    assert "missing" not in shown.columns


def test_assign_rewrites_one_field_and_keeps_the_rest():
    out = assign(NESTED, "data.meta.lab", pl.Series(["X", "Y", "Z"]))
    assert out.schema == NESTED.schema
    assert out.to_dicts()[0]["data"] == {"text": "a", "meta": {"lab": "X", "n": 1}}
    assert out["data"][2] is None  # a null record stays null
    assert out.drop("data").equals(NESTED.drop("data"))
    top = assign(NESTED, "id", pl.Series([7, 8, 9]))
    assert top["id"].to_list() == [7, 8, 9] and top["data"].equals(NESTED["data"])


def _nested_jsonl(tmp_path):
    df = make_text_dataset(n_per_class=40, flip=12, seed=5)
    emb = clustered_embeddings(df, spread=0.35)
    path = tmp_path / "nested.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for r in df.iter_rows(named=True):
            fh.write(json.dumps({"id": r["id"], "data": {"text": r["text"], "lang": "en"},
                                 "meta": {"label": r["label"], "source": "weak"},
                                 "true_label": r["true_label"]}) + "\n")
    np.save(tmp_path / "emb.npy", emb)
    return df, emb, path


def test_denoise_and_export_a_nested_jsonl_keep_its_layout(tmp_path):
    df, _, path = _nested_jsonl(tmp_path)
    before = path.read_bytes()
    runner = CliRunner()
    cols = ["--text-col", "data.text", "--label-col", "meta.label", "--id-col", "id"]
    r = runner.invoke(app, ["check", str(path), *cols])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["denoise", str(path), *cols, "--embeddings",
                            str(tmp_path / "emb.npy"), "--corrector", "linear",
                            "--out", str(tmp_path / "run"), "-q"])
    assert r.exit_code == 0, r.output
    scores = pl.read_parquet(tmp_path / "run" / "scores.parquet")
    assert scores["label"].to_list() == df["label"].to_list()
    assert scores["suggested_label"].is_not_null().sum() > 0
    r = runner.invoke(app, ["export", str(tmp_path / "run"), "--to",
                            str(tmp_path / "clean.jsonl")])
    assert r.exit_code == 0, r.output
    assert path.read_bytes() == before  # the input is never modified
    rows = [json.loads(line) for line in (tmp_path / "clean.jsonl").read_text().splitlines()]
    assert [sorted(r) for r in rows[:1]] == [["data", "id", "meta", "true_label"]]
    sugg = scores["suggested_label"].to_list()
    expect = [s if s is not None else g for s, g in zip(sugg, df["label"], strict=True)]
    assert [r["meta"]["label"] for r in rows] == expect
    assert all(r["meta"]["source"] == "weak" and r["data"]["lang"] == "en" for r in rows)
    true = df["true_label"].to_list()
    assert np.mean(np.array(expect) == true) > np.mean(df["label"].to_numpy() == true)
    # a path that names nothing is the usual one-line error
    r = runner.invoke(app, ["check", str(path), "--text-col", "data.body"])
    assert r.exit_code != 0 and "no column 'data.body'" in r.output


def test_apply_writes_a_nested_label_back_into_records(tmp_path):
    df, emb, _ = _nested_jsonl(tmp_path)
    records = [{"id": r["id"], "data": {"text": r["text"]}, "meta": {"label": r["label"]}}
               for r in df.iter_rows(named=True)]
    run = relabel.denoise(records, text="data.text", label="meta.label", id="id",
                          out=tmp_path / "run", embeddings=emb, corrector="linear",
                          progress=False)
    cleaned = run.apply()
    assert isinstance(cleaned, list) and len(cleaned) == len(records)
    sugg = run.scores["suggested_label"].to_list()
    assert [r["meta"]["label"] for r in cleaned] == [
        s if s is not None else g for s, g in zip(sugg, df["label"], strict=True)]
    assert [r["data"] for r in cleaned] == [r["data"] for r in records]
    assert records[0]["meta"]["label"] == df["label"][0]  # the caller's records untouched


def test_noise_flips_a_nested_label_in_place(tmp_path):
    df, _, path = _nested_jsonl(tmp_path)
    r = CliRunner().invoke(app, ["noise", str(path), "--to", str(tmp_path / "noisy.jsonl"),
                                 "--text-col", "data.text", "--label-col", "meta.label",
                                 "--true-col", "was", "--rate", "0.3", "--seed", "1"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in (tmp_path / "noisy.jsonl").read_text().splitlines()]
    assert [r["was"] for r in rows] == df["label"].to_list()
    flipped = sum(r["meta"]["label"] != r["was"] for r in rows)
    assert 0 < flipped < len(rows) and all(r["meta"]["source"] == "weak" for r in rows)



def test_labels_go_back_in_their_column_type():
    """What export, apply and noise write: booleans as booleans (polars cannot cast "true"
    back), numbers as numbers, and strings where a value does not fit the type."""
    from relabel.data.columns import labels_as

    names = pl.Series(["true", "false", "true"])
    assert labels_as(names, pl.Boolean).to_list() == [True, False, True]
    assert labels_as(pl.Series(["3", "1"]), pl.Int64).to_list() == [3, 1]
    assert labels_as(pl.Series(["3", "7"]), pl.Float64).to_list() == [3.0, 7.0]
    kept = labels_as(pl.Series(["true", "maybe"]), pl.Boolean)
    assert kept.dtype == pl.String and kept.to_list() == ["true", "maybe"]


def test_noise_keeps_a_boolean_label_column_boolean(tmp_path):
    df = pl.DataFrame({"text": [f"t{i}" for i in range(40)], "label": [i % 2 == 0
                                                                       for i in range(40)]})
    df.write_parquet(tmp_path / "b.parquet")
    r = CliRunner().invoke(app, ["noise", str(tmp_path / "b.parquet"), "--to",
                                 str(tmp_path / "n.parquet"), "--rate", "0.3"])
    assert r.exit_code == 0, r.output
    out = pl.read_parquet(tmp_path / "n.parquet")
    assert out.schema["label"] == pl.Boolean == out.schema["true_label"]
    assert 0 < (out["label"] != out["true_label"]).sum() < 40
