"""export: same columns and format as the input, change log, input untouched."""

from __future__ import annotations

import os

import polars as pl
import pytest

from relabel.errors import RelabelInputError
from relabel.export import export_dataset
from relabel.pipeline import DenoiseConfig, denoise


@pytest.fixture
def run_dir(tmp_path, dataset_csv, fake_encoder):
    out = tmp_path / "run"
    denoise(dataset_csv, out_dir=out, config=DenoiseConfig(id_col="id"), encoder=fake_encoder)
    return out


def test_apply_suggestions(tmp_path, run_dir, dataset_csv, text_dataset):
    before = (dataset_csv.read_bytes(), os.stat(dataset_csv).st_mtime_ns)
    res = export_dataset(run_dir, tmp_path / "clean.csv")
    assert (dataset_csv.read_bytes(), os.stat(dataset_csv).st_mtime_ns) == before
    clean = pl.read_csv(tmp_path / "clean.csv")
    assert clean.columns == text_dataset.columns
    assert clean.height == text_dataset.height
    scores = pl.read_parquet(run_dir / "scores.parquet")
    expected = scores["suggested_label"].fill_null(scores["label"])
    assert clean["label"].to_list() == expected.to_list()
    assert clean.drop("label").equals(text_dataset.drop("label"))

    changes = pl.read_csv(tmp_path / "changes.csv")
    assert changes.columns == ["id", "row", "action", "old_label", "new_label", "reason",
                               "source"]
    assert changes.height == res.relabelled > 0
    for r in changes.iter_rows(named=True):
        assert r["action"] == "relabel" and r["source"] == "automatic"
        assert clean["label"][r["row"]] == r["new_label"]
        assert text_dataset["label"][r["row"]] == r["old_label"]
        assert "credibility" in r["reason"]


def test_apply_none_keeps_labels(tmp_path, run_dir, text_dataset):
    res = export_dataset(run_dir, tmp_path / "same.parquet", apply="none")
    assert res.relabelled == 0
    assert pl.read_parquet(tmp_path / "same.parquet").equals(
        text_dataset.with_columns(pl.all().cast(pl.String)))


def test_drop_flagged(tmp_path, run_dir):
    scores = pl.read_parquet(run_dir / "scores.parquet")
    res = export_dataset(run_dir, tmp_path / "clean.jsonl", apply="none", drop_flagged=True)
    assert res.dropped == int(scores["flagged"].sum()) > 0
    clean = pl.read_ndjson(tmp_path / "clean.jsonl")
    assert clean.height == scores.height - res.dropped
    assert set(clean["id"]) == set(scores.filter(~pl.col("flagged"))["id"])
    changes = pl.read_csv(tmp_path / "changes.csv")
    assert (changes["action"] == "drop").sum() == res.dropped


def test_integer_labels_stay_integers(tmp_path, fake_encoder, text_dataset):
    codes = {"card": 0, "refund": 1, "transfer": 2}
    df = text_dataset.with_columns(pl.col("label").replace_strict(codes).alias("label"))
    src = tmp_path / "ints.jsonl"
    df.write_ndjson(src)
    denoise(src, out_dir=tmp_path / "r", encoder=fake_encoder)
    export_dataset(tmp_path / "r", tmp_path / "clean.jsonl")
    clean = pl.read_ndjson(tmp_path / "clean.jsonl")
    assert clean.schema["label"] == pl.Int64


def test_refuses_to_overwrite_input(run_dir, dataset_csv):
    with pytest.raises(RelabelInputError, match="refusing to overwrite the input"):
        export_dataset(run_dir, dataset_csv)


def test_changed_input_is_detected(tmp_path, run_dir, dataset_csv):
    dataset_csv.write_text(dataset_csv.read_text() + "ex-999,new text,card,card\n")
    with pytest.raises(RelabelInputError, match="input changed"):
        export_dataset(run_dir, tmp_path / "clean.csv")
    assert not (tmp_path / "clean.csv").exists()


def test_missing_run(tmp_path):
    with pytest.raises(RelabelInputError, match="run `relabel denoise` first"):
        export_dataset(tmp_path, tmp_path / "x.csv")


def test_unknown_apply(run_dir, tmp_path):
    with pytest.raises(RelabelInputError, match="--apply must be one of"):
        export_dataset(run_dir, tmp_path / "x.csv", apply="everything")
