"""export: same columns and format as the input, change log, input untouched."""

from __future__ import annotations

import os
from datetime import UTC

import polars as pl
import pytest

from relabel.errors import RelabelInputError
from relabel.export import export_dataset
from relabel.pipeline import denoise
from tests.conftest import make_text_dataset, suggesting_run


@pytest.fixture
def text_dataset():
    return make_text_dataset(n_per_class=200, flip=60)


@pytest.fixture
def run_dir(tmp_path, dataset_csv, text_dataset):
    return suggesting_run(dataset_csv, text_dataset, tmp_path / "run")


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
    with pytest.raises(RelabelInputError, match="would overwrite the input"):
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
    with pytest.raises(RelabelInputError, match="apply must be one of"):
        export_dataset(run_dir, tmp_path / "x.csv", apply="everything")


def _write_reviews(run_dir, rows):
    from datetime import datetime

    from connectors.label_studio.convert import REVIEWS_SCHEMA

    t = datetime(2026, 11, 28, 12, tzinfo=UTC)
    frame = pl.DataFrame([{"given_label": None, "annotator": "ann@example.com", "time": t,
                           "suggested_label": None, "task_id": i, **r}
                          for i, r in enumerate(rows)], schema=REVIEWS_SCHEMA)
    frame.write_parquet(run_dir / "reviews.parquet")


def _expected(scores, human, *, suggestions):
    out = []
    for r in scores.iter_rows(named=True):
        if r["id"] in human:
            out.append(human[r["id"]])
        elif suggestions and r["flagged"] and r["suggested_label"] is not None:
            out.append(r["suggested_label"])
        else:
            out.append(r["label"])
    return out


def test_apply_reviewed_and_reviewed_plus_suggestions(tmp_path, run_dir):
    scores = pl.read_parquet(run_dir / "scores.parquet")
    sugg = scores.filter(pl.col("suggested_label").is_not_null())
    assert sugg.height >= 3
    a, b, c = sugg.row(0, named=True), sugg.row(1, named=True), sugg.row(2, named=True)
    plain = scores.filter(pl.col("suggested_label").is_null()).row(0, named=True)
    other = next(k for k in ("card", "refund", "transfer") if k not in (plain["label"],))
    _write_reviews(run_dir, [
        # reviewer keeps the given label although relabel suggested another: no change at all
        {"id": a["id"], "reviewed_label": a["label"], "status": "accepted"},
        # reviewer takes relabel's suggestion
        {"id": b["id"], "reviewed_label": b["suggested_label"], "status": "changed"},
        # skipped: not a decision, so with +suggestions relabel's suggestion applies
        {"id": c["id"], "reviewed_label": None, "status": "skipped"},
        # reviewer relabels an example relabel had no suggestion for
        {"id": plain["id"], "reviewed_label": other, "status": "changed"},
    ])
    human = {a["id"]: a["label"], b["id"]: b["suggested_label"], plain["id"]: other}

    res = export_dataset(run_dir, tmp_path / "r.csv", apply="reviewed")
    clean = pl.read_csv(tmp_path / "r.csv")
    assert clean["label"].to_list() == _expected(scores, human, suggestions=False)
    changes = pl.read_csv(tmp_path / "changes.csv")
    assert set(changes["id"]) == {b["id"], plain["id"]} and set(changes["source"]) == {"human"}
    assert res.relabelled == res.human == 2
    assert all("human review by ann@example.com" in x for x in changes["reason"])

    res = export_dataset(run_dir, tmp_path / "rs.csv", apply="reviewed+suggestions")
    clean = pl.read_csv(tmp_path / "rs.csv")
    assert clean["label"].to_list() == _expected(scores, human, suggestions=True)
    changes = pl.read_csv(tmp_path / "changes.csv")
    by_id = {r["id"]: r["source"] for r in changes.iter_rows(named=True)}
    assert by_id[b["id"]] == by_id[plain["id"]] == "human"
    assert by_id[c["id"]] == "automatic" and a["id"] not in by_id
    assert res.human == 2 and res.relabelled == changes.height


def test_reviews_that_do_not_match_the_run(tmp_path, run_dir):
    with pytest.raises(RelabelInputError, match="run `relabel review pull` first"):
        export_dataset(run_dir, tmp_path / "x.csv", apply="reviewed")
    first = pl.read_parquet(run_dir / "scores.parquet").row(0, named=True)
    _write_reviews(run_dir, [{"id": first["id"], "reviewed_label": "no-such-class",
                              "status": "changed"}])
    with pytest.raises(RelabelInputError,
                       match=r"no-such-class are not classes of this run.*--reviews DIR"):
        export_dataset(run_dir, tmp_path / "x.csv", apply="reviewed")
    _write_reviews(run_dir, [{"id": "ghost", "reviewed_label": first["label"],
                              "status": "accepted"}])
    with pytest.raises(RelabelInputError, match="not in this run"):
        export_dataset(run_dir, tmp_path / "x.csv", apply="reviewed+suggestions")
    assert not (tmp_path / "x.csv").exists()


def test_label_names_name_the_classes_and_the_export_writes_codes(tmp_path, text_dataset):
    import json

    import relabel

    classes = ["card", "refund", "transfer"]
    coded = text_dataset.with_columns(
        pl.col("label").replace_strict({c: i for i, c in enumerate(classes)}),
        pl.col("true_label").replace_strict({c: i for i, c in enumerate(classes)}))
    src = tmp_path / "codes.csv"
    coded.write_csv(src)
    # WRENCH's label.json: {code: name}
    (tmp_path / "label.json").write_text(json.dumps({str(i): c for i, c in enumerate(classes)}))
    run = suggesting_run(src, text_dataset, tmp_path / "run")  # codes, no names: a baseline
    assert set(pl.read_parquet(run / "scores.parquet")["label"]) == {"0", "1", "2"}
    from relabel.config import DenoiseConfig

    named = denoise(src, out_dir=tmp_path / "named", config=DenoiseConfig(
        id_col="id", embeddings=tmp_path / "emb.npy", corrector="head", target_precision=0.5,
        label_names=str(tmp_path / "label.json")))
    scores = named.scores
    assert set(scores["label"]) == set(classes)
    assert set(scores["suggested_label"].drop_nulls()) <= set(classes)
    changed = scores.filter(pl.col("suggested_label").is_not_null())
    assert changed.height > 0
    res = export_dataset(tmp_path / "named", tmp_path / "clean.csv")
    clean = pl.read_csv(tmp_path / "clean.csv")
    assert clean.schema["label"] == pl.Int64 and res.relabelled == changed.height
    code = {c: i for i, c in enumerate(classes)}
    assert clean["label"].to_list() == [
        code[s] for s in scores["suggested_label"].fill_null(scores["label"]).to_list()]
    changes = pl.read_csv(tmp_path / "changes.csv")
    assert set(changes["new_label"]) <= set(classes)  # the log names the classes
    # the Python API: names as a list, codes back in the frame's own type
    run = relabel.denoise(coded.to_pandas(), id="id", label_names=classes,
                          embeddings=tmp_path / "emb.npy", corrector="head",
                          target_precision=0.5, out=tmp_path / "api", progress=False)
    out = run.apply()
    assert str(out["label"].dtype) == "int64"
    assert out["label"].tolist() == clean["label"].to_list()
    # a code without a name: one line, with its rows
    with pytest.raises(RelabelInputError, match=r"column 'label': label '2' has no name in "
                                                r"label_names \(codes: 0, 1\)"):
        denoise(src, out_dir=tmp_path / "bad", config=DenoiseConfig(
            id_col="id", embeddings=tmp_path / "emb.npy", label_names="x,y"))
    # the report's truth column holds codes too: compared by name
    from relabel.report.html import check_against_truth

    check = check_against_truth(tmp_path / "named", "true_label")
    assert check.is_error.sum() == (coded["label"] != coded["true_label"]).sum() > 0
    assert check.metrics["precision"] > 0.5
    # a label.json beside integer codes is pointed out, and not once it is used
    from relabel.data.check import check_dataset

    report = check_dataset(src, DenoiseConfig(id_col="id"))
    assert any("label_names='" in w and "label.json" in w for w in report.warnings)
    report = check_dataset(src, DenoiseConfig(id_col="id", label_names=tmp_path / "label.json"))
    assert not any("label_names" in w for w in report.warnings) and report.classes == 3


def test_a_semicolon_csv_is_read_and_exported_with_semicolons(tmp_path, dataset_csv,
                                                               text_dataset):
    """Spreadsheet programs where the decimal separator is a comma save CSV with semicolons;
    before, the header was one column ("save the file comma-separated")."""
    from relabel.config import DenoiseConfig
    from relabel.data.noise import write_noisy_copy

    suggesting_run(dataset_csv, text_dataset, tmp_path / "base")  # writes the vectors, emb.npy
    src = tmp_path / "semi.csv"
    src.write_text(text_dataset.with_columns(pl.col("text") + ", with a comma")
                   .write_csv(separator=";"), encoding="utf-8")
    res = denoise(src, out_dir=tmp_path / "run", config=DenoiseConfig(
        id_col="id", embeddings=dataset_csv.parent / "emb.npy", corrector="head",
        target_precision=0.5))
    assert res.scores.height == text_dataset.height
    out = export_dataset(tmp_path / "run", tmp_path / "clean.csv")
    assert (tmp_path / "clean.csv").read_text().splitlines()[0] == "id;text;label;true_label"
    clean = pl.read_csv(tmp_path / "clean.csv", separator=";", schema_overrides={"id": pl.String})
    assert clean["text"].to_list() == (text_dataset["text"] + ", with a comma").to_list()
    expected = res.scores["suggested_label"].fill_null(res.scores["label"])
    assert clean["label"].to_list() == expected.to_list() and out.relabelled > 0
    # another extension is written as that format; noise --to keeps the semicolons too
    export_dataset(tmp_path / "run", tmp_path / "clean.parquet")
    assert pl.read_parquet(tmp_path / "clean.parquet").width == 4
    write_noisy_copy(src, tmp_path / "noisy.csv", rate=0.1, true_col="gold")
    assert (tmp_path / "noisy.csv").read_text().splitlines()[0] == "id;text;label;true_label;gold"


def test_a_windows_csv_is_exported_with_its_own_line_ends(tmp_path, dataset_csv, text_dataset):
    """A CSV saved on Windows ends its lines in CRLF; the export wrote LF, so every line of a
    version-controlled dataset changed. Now only the relabelled lines differ, in UTF-8 and in
    the file's own encoding (German Excel: cp1252, semicolons, CRLF)."""
    from relabel.config import DenoiseConfig

    suggesting_run(dataset_csv, text_dataset, tmp_path / "base")  # writes the vectors, emb.npy
    for name, encoding, sep in (("win.csv", None, ","), ("de.csv", "cp1252", ";")):
        src = tmp_path / name
        text = text_dataset.with_columns(pl.col("text") + " – Grüße").write_csv(separator=sep)
        src.write_bytes(text.replace("\n", "\r\n").encode(encoding or "utf-8"))
        res = denoise(src, out_dir=tmp_path / f"run-{name}", config=DenoiseConfig(
            id_col="id", embeddings=dataset_csv.parent / "emb.npy", corrector="head",
            target_precision=0.5, encoding=encoding))
        out = export_dataset(tmp_path / f"run-{name}", tmp_path / f"clean-{name}")
        assert out.relabelled > 0
        before = src.read_bytes().decode(encoding or "utf-8").split("\r\n")
        after = (tmp_path / f"clean-{name}").read_bytes().decode(encoding or "utf-8")
        assert "\n" not in after.replace("\r\n", "")  # every line ends in CRLF
        changed = [a != b for a, b in zip(before, after.split("\r\n"), strict=True)]
        assert sum(changed) == out.relabelled
        assert res.scores.height == text_dataset.height


def test_a_cp1252_input_is_read_and_exported_in_its_own_encoding(tmp_path, dataset_csv,
                                                                  text_dataset):
    from relabel.config import DenoiseConfig

    suggesting_run(dataset_csv, text_dataset, tmp_path / "base")  # writes the vectors, emb.npy
    accented = text_dataset.with_columns((pl.col("text") + " café – “ok”").alias("text"))
    src = tmp_path / "excel.csv"
    src.write_bytes(accented.write_csv().encode("cp1252"))
    before = src.read_bytes()
    res = denoise(src, out_dir=tmp_path / "run", config=DenoiseConfig(
        id_col="id", embeddings=dataset_csv.parent / "emb.npy", corrector="head",
        target_precision=0.5, encoding="cp1252"))
    assert res.scores["suggested_label"].is_not_null().any()
    out = export_dataset(tmp_path / "run", tmp_path / "clean.csv")
    raw = (tmp_path / "clean.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the input's encoding, not UTF-8
    clean = pl.read_csv(raw.decode("cp1252").encode(), schema_overrides={"id": pl.String})
    assert clean["text"].to_list() == accented["text"].to_list()
    expected = res.scores["suggested_label"].fill_null(res.scores["label"])
    assert clean["label"].to_list() == expected.to_list() and out.relabelled > 0
    assert src.read_bytes() == before
    # a class the encoding cannot hold (a reviewer's new one): one line, and no file
    from relabel.data.write import write_table

    with pytest.raises(RelabelInputError, match=r"clean2\.csv: 'карта' cannot be written in "
                                                r"cp1252, the input's encoding"):
        write_table(clean.with_columns(pl.lit("карта").alias("label")), tmp_path / "clean2.csv",
                    encoding="cp1252")
    assert not list(tmp_path.glob("*clean2*"))


def test_boolean_labels_stay_boolean(tmp_path, fake_encoder, text_dataset):
    """A boolean label column (read as classes ``"true"``/``"false"``) is written back as
    booleans, a changed label included; polars cannot cast those strings back by itself."""
    from relabel.export import LabelPlan, apply_plan

    df = text_dataset.with_columns((pl.col("label") == "card").alias("label"))
    src = tmp_path / "bools.parquet"
    df.write_parquet(src)
    denoise(src, out_dir=tmp_path / "r", encoder=fake_encoder)
    export_dataset(tmp_path / "r", tmp_path / "clean.parquet", apply="none")
    assert pl.read_parquet(tmp_path / "clean.parquet").equals(df)

    plan = LabelPlan(updates=pl.DataFrame({"row": [0, 1], "new": ["false", "true"]}),
                     dropped_rows=[], changes=pl.DataFrame(), automatic=2, human=0)
    cleaned = apply_plan(df, "label", plan)
    assert cleaned.schema["label"] == pl.Boolean
    assert cleaned["label"][:2].to_list() == [False, True]
    assert cleaned["label"][2:].equals(df["label"][2:])


def test_a_gzipped_input_round_trips(tmp_path, fake_encoder, text_dataset):
    """denoise reads data.csv.gz, the summary points the export at cleaned.csv.gz, and the
    export writes that gzipped, with the same rows as a plain export."""
    import gzip

    from relabel.cli.denoise import format_summary

    src = tmp_path / "data.csv.gz"
    src.write_bytes(gzip.compress(text_dataset.write_csv().encode()))
    res = denoise(src, out_dir=tmp_path / "r", encoder=fake_encoder)
    assert res.scores.height == text_dataset.height
    assert format_summary(res.summary, res.out_dir).endswith("--to cleaned.csv.gz")
    export_dataset(tmp_path / "r", tmp_path / "clean.csv.gz")
    export_dataset(tmp_path / "r", tmp_path / "clean.csv")
    assert gzip.decompress((tmp_path / "clean.csv.gz").read_bytes()) == \
        (tmp_path / "clean.csv").read_bytes()


def test_a_directory_of_parquet_files_round_trips(tmp_path, fake_encoder, text_dataset):
    """A directory of Parquet parts (as Spark or Dask write a table) is one dataset, its rows
    in file-name order; the summary points the export at a directory, which it writes as
    Parquet parts again, and a file name gets one file."""
    from relabel.cli.denoise import format_summary

    parts = tmp_path / "table"
    parts.mkdir()
    text_dataset[:250].write_parquet(parts / "part-00000.parquet")
    text_dataset[250:].write_parquet(parts / "part-00001.parquet")
    (parts / "_SUCCESS").write_text("")
    res = denoise(parts, out_dir=tmp_path / "r", encoder=fake_encoder)
    assert res.scores["id"].to_list() == text_dataset["id"].to_list()
    assert format_summary(res.summary, res.out_dir).endswith("--to cleaned")
    out = export_dataset(tmp_path / "r", tmp_path / "cleaned", apply="none", drop_flagged=True)
    written = sorted((tmp_path / "cleaned").iterdir())
    assert [p.name for p in written] == ["part-00000.parquet"]
    kept = text_dataset.filter(~res.scores["flagged"])
    assert pl.read_parquet(written[0]).equals(kept) and out.dropped > 0
    export_dataset(tmp_path / "r", tmp_path / "one.parquet", apply="none")
    assert pl.read_parquet(tmp_path / "one.parquet").equals(text_dataset)


def test_drop_flagged_names_the_classes_it_removes():
    from relabel.export import DECISIONS_SCHEMA, plan_labels, removed_line

    # 'rare' has two rows, both flagged without a suggestion; 'b' keeps one of its two
    scores = pl.DataFrame({
        "row": [0, 1, 2, 3, 4, 5], "id": list("uvwxyz"),
        "label": ["a", "a", "b", "b", "rare", "rare"],
        "credibility": [0.9, 0.9, 0.1, 0.9, 0.1, 0.2],
        "flagged": [False, False, True, False, True, True],
        "suggested_label": [None] * 6, "suggestion_confidence": [None] * 6},
        schema_overrides={"suggested_label": pl.String, "suggestion_confidence": pl.Float64})
    human = pl.DataFrame(schema=DECISIONS_SCHEMA)
    plan = plan_labels(scores, human, apply="suggestions", drop_flagged=True)
    assert plan.dropped_rows == [2, 4, 5] and plan.removed == {"rare": 2}
    assert removed_line(plan.removed) == (
        "the drop removed every row of 1 class(es) ('rare'; 2 rows): all of them were flagged. "
        "A class made only of wrong labels should go, but a model trained on this file cannot "
        "predict these classes: check them before training")
    # a class emptied by relabelling alone is not the drop's doing
    moved = scores.with_columns(
        pl.when(pl.col("label") == "rare").then(pl.lit("a")).alias("suggested_label"),
        pl.when(pl.col("label") == "rare").then(pl.lit(0.95)).alias("suggestion_confidence"))
    plan = plan_labels(moved, human, apply="suggestions", drop_flagged=True)
    assert plan.dropped_rows == [2] and plan.removed == {}
    assert plan_labels(scores, human, apply="suggestions").removed == {}


def test_a_change_of_a_later_pass_says_so_in_the_audit_log():
    from relabel.export import _reason

    row = {"credibility": 0.02, "suggested_label": "b", "suggestion_confidence": 0.93}
    assert _reason({**row, "suggestion_pass": 2}).endswith("0.930 (pass 2 of the rule)")
    # the first pass, and a run written before the column existed
    assert _reason({**row, "suggestion_pass": 1}) == _reason(row)
    assert _reason(row).endswith("with confidence 0.930")
