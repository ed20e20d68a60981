"""Relation extraction: layouts, span checks, entity markers, entity pooling, export round trips."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from relabel.cli import app
from relabel.config import DenoiseConfig
from relabel.data.io import read_table
from relabel.data.relation import (
    encoder_inputs,
    mark_entities,
    strip_inline_tags,
    unpack,
    validate_spans,
)
from relabel.data.write import write_table
from relabel.embed.encoder import Encoder
from relabel.errors import RelabelInputError
from relabel.export import export_dataset
from relabel.pipeline import denoise

runner = CliRunner()
PEOPLE = ["alice", "bob", "carol", "dave", "erin", "frank"]
ORGS = ["acme", "globex", "initech", "umbrella", "hooli"]
PLACES = ["paris", "oslo", "lima", "rome", "kyiv"]


def relation_rows(n: int = 60, flips: int = 4, seed: int = 0) -> list[dict]:
    """Sentences whose verb reveals the relation; ``flips`` labels are wrong."""
    rng = np.random.default_rng(seed)
    kinds = [("works_for", "works for", ORGS), ("born_in", "was born in", PLACES),
             ("knows", "knows", PEOPLE)]
    rows = []
    for i in range(n):
        label, verb, objs = kinds[i % 3]
        head, tail = rng.choice(PEOPLE), rng.choice(objs)
        text = f"{head} {verb} {tail} ."
        rows.append({"id": f"r{i}", "text": text, "head_start": 0, "head_end": len(head),
                     "tail_start": len(head) + len(verb) + 2,
                     "tail_end": len(head) + len(verb) + 2 + len(tail),
                     "label": label, "true_label": label})
    for i in rng.choice(n, size=flips, replace=False):
        rows[i]["label"] = {"works_for": "born_in", "born_in": "knows",
                            "knows": "works_for"}[rows[i]["label"]]
    return rows


def test_markers_and_positions():
    text = "Bill Gates founded Microsoft ."
    marked, ph, pt = mark_entities(text, 0, 10, 19, 28, "person", "organization")
    assert marked == "@ * person * Bill Gates @ founded # ^ organization ^ Microsoft # ."
    assert marked[ph] == "@" and marked[pt] == "#"
    # tail before head, no types
    marked, ph, pt = mark_entities(text, 19, 28, 0, 10)
    assert marked == "# Bill Gates # founded @ Microsoft @ ."
    assert marked[ph] == "@" and marked[pt] == "#" and pt < ph
    _, packed = encoder_inputs([text], np.array([0]), np.array([10]), np.array([19]),
                               np.array([28]), [None], [None])
    assert unpack(packed[0]) == ("@ Bill Gates @ founded # Microsoft # .", 0, 23)


@pytest.mark.parametrize("spans, message", [
    ((0, 40, 5, 8), "head span outside the text"),
    ((3, 3, 5, 8), "empty head span"),
    ((0, 4, 2, 6), "head and tail spans overlap"),
])
def test_bad_spans(spans, message):
    # row 1 (0-based) is fine; row 2 has the bad spans
    hs, he, ts, te = (np.array([ok, bad]) for ok, bad in zip((0, 2, 4, 6), spans, strict=True))
    with pytest.raises(RelabelInputError) as err:
        validate_spans(["abcdefghij", "abcdefghij"], hs, he, ts, te, rows=np.array([0, 1]),
                       path="d.csv", columns="head_start, head_end, tail_start, tail_end")
    assert message in str(err.value) and "row 2," in str(err.value)


def denoise_relations(frame: pl.DataFrame, path, encoder, rows: list[dict]) -> tuple:
    """``frame`` written to the CSV ``path`` and denoised as relations (neighbour signals
    only); the run and its layout. The flipped ``rows`` must be the least credible."""
    frame.write_csv(path)
    res = denoise(path, out_dir=path.parent / "o", encoder=encoder,
                  config=DenoiseConfig(id_col="id", corrector="none", pooling="mean"))
    run = json.loads((path.parent / "o" / "run.json").read_text())
    assert run["task"] == "relation"
    err = np.array([r["label"] != r["true_label"] for r in rows])
    cred = res.scores["credibility"].to_numpy()
    assert set(np.argsort(cred)[: err.sum()]) == set(np.flatnonzero(err))
    return res, run["layout"]


def test_flat_csv_is_detected_and_flips_are_found(tmp_path, fake_encoder):
    rows = relation_rows()
    path = tmp_path / "rel.csv"
    _, layout = denoise_relations(pl.DataFrame(rows), path, fake_encoder, rows)
    assert layout == "flat"
    # the encoder saw the marked texts, not the plain ones
    assert all(t.startswith("@ ") for t in fake_encoder.encoded)
    # --task text ignores the spans
    fake_encoder.encoded.clear()
    denoise(path, out_dir=tmp_path / "t", encoder=fake_encoder,
            config=DenoiseConfig(task="text", corrector="none"))
    assert set(fake_encoder.encoded) == {r["text"] for r in rows}
    # the linear corrector on relations reads the embeddings alone: the sentence's words say
    # nothing about which pair is marked (relabel/correct/lexical.py)
    res = denoise(path, out_dir=tmp_path / "lin", encoder=fake_encoder,
                  config=DenoiseConfig(id_col="id", corrector="linear", folds=3))
    assert res.summary["corrector"]["name"] == "linear" and "words" not in res.summary[
        "corrector"]


def test_tacred_json_round_trip(tmp_path, fake_encoder):
    recs = []
    for r in relation_rows(n=30, flips=2):
        toks = r["text"].split()
        recs.append({"id": r["id"], "token": toks, "subj_start": 0, "subj_end": 0,
                     "obj_start": len(toks) - 2, "obj_end": len(toks) - 2,
                     "subj_type": "PERSON", "obj_type": "THING", "relation": r["label"]})
    path = tmp_path / "tacred.json"
    path.write_text(json.dumps(recs))
    denoise(path, out_dir=tmp_path / "o", encoder=fake_encoder,
            config=DenoiseConfig(id_col="id", corrector="none", pooling="mean"))
    assert all(t.startswith("@ * PERSON * ") for t in fake_encoder.encoded)
    res = export_dataset(tmp_path / "o", tmp_path / "clean.json")
    back = json.loads((tmp_path / "clean.json").read_text())
    assert len(back) == 30 and back[0]["token"] == recs[0]["token"]
    assert set(back[0]) == set(recs[0])
    assert res.relabelled == sum(a["relation"] != b["relation"]
                                 for a, b in zip(recs, back, strict=True))


def test_wrench_keyed_json_round_trip(tmp_path, fake_encoder):
    obj = {}
    for r in relation_rows(n=30, flips=2):
        obj[r["id"][1:]] = {"label": ["works_for", "born_in", "knows"].index(r["label"]),
                            "data": {"text": r["text"],
                                     "span1": [r["head_start"], r["head_end"]],
                                     "span2": [r["tail_start"], r["tail_end"]]},
                            "weak_labels": [-1, 2]}
    path = tmp_path / "train.json"
    path.write_text(json.dumps(obj))
    table, fmt = read_table(path)
    assert fmt == "json-keyed" and "data.span1" in table.columns
    write_table(table, tmp_path / "same.json", fmt)
    assert json.loads((tmp_path / "same.json").read_text()) == obj
    denoise(path, out_dir=tmp_path / "o", encoder=fake_encoder,
            config=DenoiseConfig(corrector="none", pooling="mean"))
    export_dataset(tmp_path / "o", tmp_path / "clean.json")
    back = json.loads((tmp_path / "clean.json").read_text())
    assert list(back) == list(obj)
    assert all(isinstance(v["label"], int) for v in back.values())
    assert all(back[k]["data"] == obj[k]["data"] for k in obj)


def test_inline_tags():
    assert strip_inline_tags("The <e1>author</e1> of a keygen uses a <e2>disassembler</e2> .") == (
        "The author of a keygen uses a disassembler .", 4, 10, 30, 42)
    # tail first, upper case
    assert strip_inline_tags("<E2>rome</E2> is home to <E1>carol</E1>") == (
        "rome is home to carol", 16, 21, 0, 4)
    for bad in ("no tags", "<e1>a</e1> b", "<e1>a</e1> <e2>b</e2> <e2>c</e2>",
                "</e1>a<e1> <e2>b</e2>"):
        assert strip_inline_tags(bad) is None


def test_inline_tagged_text_is_a_relation_and_exports_with_its_tags(tmp_path, fake_encoder):
    """SemEval-2010's layout: the text tags the head <e1>..</e1> and the tail <e2>..</e2>. It is
    read as relations without options, the encoder sees the marked text without the tags,
    and the export keeps the tagged text and changes only labels."""
    rows = relation_rows()
    tagged = []
    for r in rows:
        t = r["text"]
        t = (t[:r["tail_start"]] + "<e2>" + t[r["tail_start"]:r["tail_end"]] + "</e2>"
             + t[r["tail_end"]:])
        t = "<e1>" + t[:r["head_end"]] + "</e1>" + t[r["head_end"]:]
        tagged.append({"id": r["id"], "text": t, "label": r["label"]})
    path = tmp_path / "semeval.csv"
    res, layout = denoise_relations(pl.DataFrame(tagged), path, fake_encoder, rows)
    assert layout == "inline" and res.summary["layout"] == "inline"
    assert [t for t in fake_encoder.encoded if "<e" in t] == []
    assert fake_encoder.encoded[0].startswith("@ ")
    examples = pl.read_parquet(tmp_path / "o" / "examples.parquet")
    assert examples["text"].to_list() == [r["text"] for r in rows]
    assert examples["head_end"].to_list() == [r["head_end"] for r in rows]
    export_dataset(tmp_path / "o", tmp_path / "clean.csv", apply="none")
    assert pl.read_csv(tmp_path / "clean.csv").equals(pl.DataFrame(tagged))
    from relabel.cli.denoise import format_summary

    assert format_summary(res.summary, res.out_dir).startswith(
        f"{len(rows)} examples, 3 classes (relations: inline <e1>/<e2> tags) -> ")
    r = runner.invoke(app, ["check", str(path)])
    assert r.exit_code == 0 and f"{len(rows)} examples, 3 classes (relation: inline <e1>/<e2> " \
        "tags): 0 error(s)" in r.output, r.output


def test_a_few_tagged_texts_are_read_as_text_with_a_warning(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("text,label\n<e1>ab</e1> x <e2>cd</e2>,a\nplain one,b\nplain two,a\n")
    r = runner.invoke(app, ["check", str(path)])
    assert r.exit_code == 0 and "(text)" in r.output
    assert ("1 of 3 texts tag entities as <e1>..</e1> <e2>..</e2>, too few for a relation file: "
            "all are read as plain text (--task relation reads them as relations" in r.output)


def test_entity_pooling_encoder(tiny_model_dir):
    text = ["alice works for acme .", "bob was born in oslo ."]
    _, packed = encoder_inputs(text, np.array([0, 0]), np.array([5, 3]), np.array([16, 16]),
                               np.array([20, 20]), [None, None], [None, None])
    enc = Encoder(str(tiny_model_dir), pooling="entity")
    vec = enc.encode(packed)
    assert vec.shape == (2, 96) and np.allclose(np.linalg.norm(vec, axis=1), 1.0, atol=1e-5)
    # the pooling is part of the cache key (a reduced precision chosen by --precision auto's
    # timing probe may follow it, so the key need not end with it)
    assert "-entity" in enc.key and "-entity" not in Encoder(str(tiny_model_dir)).key
    assert "-mean" in Encoder(str(tiny_model_dir)).key
    # a marker cut off by max_length falls back to the mean
    short = Encoder(str(tiny_model_dir), pooling="entity", max_length=8).encode(packed)
    assert np.isfinite(short).all()


@pytest.mark.parametrize("content, extra, message", [
    ("text,head_start,head_end,tail_start,tail_end,label\nab cd,0,2,1,4,x\nef gh,0,2,3,5,y\n",
     [], "row 1, column 'head_start, head_end, tail_start, tail_end': head and tail spans "
         "overlap"),
    ("text,head_start,head_end,tail_start,tail_end,label\nab cd,0,2,3,5,x\nef gh,0,2,3,9,y\n",
     [], "row 2, column 'head_start, head_end, tail_start, tail_end': tail span outside"),
    ("text,head_start,head_end,tail_start,tail_end,label\nab cd,0,x,3,5,x\nef gh,0,2,3,5,y\n",
     [], "row 1, column 'head_end': span offsets must be integers (found 'x')"),
    ("text,head_start,head_end,tail_start,tail_end,label\nab cd,0,2,3,5,x\nef gh,0,2,,5,y\n",
     [], "row 2, column 'tail_start': empty span offset"),
    ("text,label\nab,x\ncd,y\n", ["--task", "relation"], "--task relation needs entity spans"),
    ("text,label\n<e1>ab</e1> <e2>cd</e2>,x\n<e1>ef</e1> gh,y\n", [],
     "row 2, column 'text': text without its entity tags"),
    # fewer than half tagged is read as text, but not when relations are asked for
    ("text,label\n<e1>ab</e1> <e2>cd</e2>,x\nef gh,y\nij kl,y\n", ["--task", "relation"],
     "rows 2, 3, column 'text': text without its entity tags"),
])
def test_bad_relation_input_is_one_line(tmp_path, content, extra, message):
    path = tmp_path / "d.csv"
    path.write_text(content)
    r = runner.invoke(app, ["denoise", str(path), "--out", str(tmp_path / "o"), "-q", *extra])
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "o").exists()


def test_a_relation_runs_issues_name_the_pair(tmp_path, fake_encoder):
    """run.issues (and the notebook's table) show the head and tail of each flagged pair."""
    import relabel
    from relabel.report.notebook import run_html

    rows = relation_rows()
    denoise_relations(pl.DataFrame(rows), tmp_path / "rel.csv", fake_encoder, rows)
    run = relabel.load_run(tmp_path / "o")
    issues = run.issues
    assert issues.columns[:6] == ["row", "id", "text", "head", "tail", "label"]
    assert issues.height > 0
    for r in issues.iter_rows(named=True):
        src = rows[r["row"]]
        assert r["head"] == src["text"][src["head_start"]:src["head_end"]]
        assert r["tail"] == src["text"][src["tail_start"]:src["tail_end"]]
    assert "<th>head</th><th>tail</th>" in run_html(run.summary, issues, str(run.out_dir))
