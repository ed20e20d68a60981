"""A Label Studio JSON export as input (``relabel/data/label_studio.py``): every annotator's
choice on every task in long format, read by ``consensus`` and ``denoise`` as several
annotators per item. The export's layout is Label Studio's own (tasks with ``data`` and
``annotations``, each annotation's ``result`` holding a ``choices`` item); the review-loop tests
build the same from a real server."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from conftest import FakeEncoder, make_text_dataset

import relabel
from relabel.data.io import read_table
from relabel.data.label_studio import LABEL_STUDIO_JSON, export_table
from relabel.errors import RelabelInputError


def _annotation(aid: int, who, choice: str | None, *, control: str = "sentiment",
                cancelled: bool = False, updated: str = "2026-11-01T10:00:00Z") -> dict:
    result = [] if choice is None else [
        {"from_name": control, "to_name": "text", "type": "choices",
         "value": {"choices": [choice]}}]
    return {"id": aid, "completed_by": who, "result": result, "was_cancelled": cancelled,
            "created_at": "2026-11-01T09:00:00Z", "updated_at": updated}


def test_export_table_reads_votes_the_way_label_studio_writes_them():
    tasks = [
        {"id": 11, "data": {"text": "good film", "label": "meta"}, "annotations": [
            _annotation(1, 5, "pos"),
            _annotation(2, {"id": 6, "email": "ann@x.org"}, "neg"),
            _annotation(3, 5, "neg", updated="2026-11-02T10:00:00Z"),  # 5 changed their mind
            _annotation(4, 7, "pos", cancelled=True),  # a skip is no vote
        ]},
        {"id": 12, "data": {"text": "no votes"}, "annotations": []},
        {"id": 13, "data": {"text": "bad film"}, "annotations": [_annotation(5, 7, None),
                                                                _annotation(6, 7, "neg")]},
    ]
    t = export_table(tasks, path="export.json")
    assert t.select("item_id", "annotator", "label", "text").rows() == [
        ("11", "5", "neg", "good film"), ("11", "ann@x.org", "neg", "good film"),
        ("13", "7", "neg", "bad film")]
    assert t["data.label"].to_list() == ["meta", "meta", None]  # a data field named label
    assert t.schema["time"] == pl.Datetime("us", "UTC")
    # several choices controls: one column each, and no guessed 'label'
    two = [{"id": 1, "data": {"text": "x"}, "annotations": [{
        "id": 1, "completed_by": 1, "result": [
            {"from_name": "topic", "type": "choices", "value": {"choices": ["sport"]}},
            {"from_name": "sentiment", "type": "choices", "value": {"choices": ["pos"]}}]}]}]
    t2 = export_table(two, path="e.json")
    assert "label" not in t2.columns and t2.row(0, named=True)["topic"] == "sport"
    assert t2.row(0, named=True)["sentiment"] == "pos"
    with pytest.raises(RelabelInputError, match="no choices annotation"):
        export_table([{"id": 1, "data": {"text": "x"}, "annotations": []}], path="e.json")
    multi = [{"id": 4, "data": {"text": "x"}, "annotations": [{
        "id": 1, "completed_by": 1, "result": [
            {"from_name": "tags", "type": "choices", "value": {"choices": ["a", "b"]}}]}]}]
    with pytest.raises(RelabelInputError, match=r"task 4: an annotation chooses several classes "
                                                r"in 'tags' \(a, b\)"):
        export_table(multi, path="e.json")
    with pytest.raises(RelabelInputError, match="JSON array of tasks"):
        export_table({"id": 1}, path="e.json")


def test_only_the_export_layout_is_taken_for_an_export(tmp_path):
    from relabel.data.label_studio import is_label_studio_export

    plain = tmp_path / "plain.json"  # records that merely have such keys
    plain.write_text(json.dumps([{"text": "a", "label": "x", "data": "raw",
                                  "annotations": "none"}]), encoding="utf-8")
    assert not is_label_studio_export(plain)
    table, fmt = read_table(plain)
    assert fmt == "json" and table.columns == ["text", "label", "data", "annotations"]
    long_first = tmp_path / "long.json"  # a first task longer than the bytes sniffed
    long_first.write_text(json.dumps([{"id": 1, "data": {"text": "w " * 50_000},
                                       "annotations": [_annotation(1, 1, "x")]}]),
                          encoding="utf-8")
    assert is_label_studio_export(long_first)
    assert read_table(long_first)[0]["label"].to_list() == ["x"]


def _export_file(tmp_path, n_per_class: int = 30):
    """A Label Studio export of a text dataset: annotators 1 and 2 right, 3 always 'refund'."""
    df = make_text_dataset(n_per_class=n_per_class, flip=0, seed=5)
    tasks = []
    for i, (text, label) in enumerate(zip(df["text"], df["true_label"], strict=True)):
        tasks.append({"id": 100 + i, "data": {"text": text},
                      "annotations": [_annotation(3 * i, 1, label),
                                      _annotation(3 * i + 1, {"id": 2, "email": "b@x.org"},
                                                  label),
                                      _annotation(3 * i + 2, 3, "refund")]})
    path = tmp_path / "project-1-at-2026-11-01.json"
    path.write_text(json.dumps(tasks), encoding="utf-8")
    return df, path


def test_consensus_and_denoise_read_a_label_studio_export(tmp_path):
    df, path = _export_file(tmp_path)
    before = path.read_bytes()
    table, fmt = read_table(path)
    assert fmt == LABEL_STUDIO_JSON and table.height == 3 * df.height
    from relabel.data.check import check_dataset

    report = check_dataset(path)  # checked as votes, counted per task
    assert report.ok and (report.examples, report.votes, report.annotators) == (
        df.height, 3 * df.height, 3)
    c = relabel.consensus(path, out=tmp_path / "c", encoder=FakeEncoder(), progress=False)
    truth = {str(100 + i): lab for i, lab in enumerate(df["true_label"])}
    assert c.items.height == df.height
    assert np.mean([truth[i] == lab for i, lab in
                    zip(c.items["id"], c.items["consensus_label"], strict=True)]) > 0.95
    worst = c.annotators.sort("accuracy").row(0, named=True)
    assert worst["annotator"] == "3"  # the spammer
    # denoise takes the export's annotators without being told
    run = relabel.denoise(path, out=tmp_path / "d", encoder=FakeEncoder(), corrector="linear",
                          progress=False)
    assert run.summary["examples"] == df.height and "consensus" in run.summary
    assert sorted(run.scores["id"].to_list()) == sorted(truth)
    assert path.read_bytes() == before
