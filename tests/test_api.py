"""The Python API (``relabel.denoise``, ``Run``, ``load_run``, ``find_label_issues``): every input
type, ``apply`` in the input's type, bring-your-own signals, bad inputs, and CLI = API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import relabel
from relabel.api import ISSUE_COLUMNS
from relabel.errors import RelabelInputError
from tests.conftest import clustered_embeddings, make_text_dataset


@pytest.fixture(scope="module")
def noisy() -> tuple[pl.DataFrame, np.ndarray]:
    """600 texts, 60 wrong labels, and embeddings clustered by the true class."""
    df = make_text_dataset(n_per_class=200, flip=60, seed=3)
    return df, clustered_embeddings(df, spread=0.35)


def as_kind(df: pl.DataFrame, kind: str, tmp_path):
    if kind == "path":
        path = tmp_path / "data.csv"
        df.write_csv(path)
        return path
    if kind == "polars":
        return df
    if kind == "pandas":
        return df.to_pandas()
    if kind == "hf_dataset":
        import datasets

        return datasets.Dataset.from_dict(df.to_dict(as_series=False))
    if kind == "records":
        return df.to_dicts()
    if kind == "arrow":
        return df.to_arrow()
    if kind == "columns":  # as Dataset[:] gives them; the label column a numpy array
        cols = df.to_dict(as_series=False)
        return {**cols, "label": np.array(cols["label"])}
    raise ValueError(kind)


def column(obj, name: str) -> list:
    """A column of any of the input types, as a list."""
    if isinstance(obj, list):
        return [r[name] for r in obj]
    if isinstance(obj, dict):
        return [str(v) if isinstance(v, np.str_) else v for v in obj[name]]
    if isinstance(obj, pl.DataFrame):
        return obj[name].to_list()
    if type(obj).__module__.startswith("pyarrow"):
        return obj.column(name).to_pylist()
    if type(obj).__module__.startswith("pandas"):
        return obj[name].tolist()
    return list(obj[name])  # datasets.Dataset


KINDS = ["path", "polars", "pandas", "hf_dataset", "arrow", "records", "columns"]


@pytest.fixture(scope="module")
def reference(noisy, tmp_path_factory):
    df, emb = noisy
    out = tmp_path_factory.mktemp("ref") / "run"
    return relabel.denoise(df, id="id", out=out, embeddings=emb, corrector="linear",
                           progress=False)


@pytest.mark.parametrize("kind", KINDS)
def test_every_input_type_gives_the_same_run_and_apply_keeps_the_type(
        kind, noisy, reference, tmp_path):
    df, emb = noisy
    data = as_kind(df, kind, tmp_path)
    run = relabel.denoise(data, text="text", label="label", id="id", out=tmp_path / "run",
                          embeddings=emb, corrector="linear", progress=False)
    # input order, and the same scores whatever the container
    assert run.scores["id"].to_list() == df["id"].to_list()
    assert run.scores.equals(reference.scores)
    assert run.summary["examples"] == df.height and run.summary["source_type"] == (
        "file" if kind == "path" else kind)
    # issues: the flagged rows, most suspicious first, with their text
    issues = run.issues
    assert tuple(issues.columns) == ISSUE_COLUMNS
    assert issues.height == int(run.scores["flagged"].sum()) > 0
    assert issues["suspicion"].is_sorted(descending=True)
    texts = dict(zip(df["id"], df["text"], strict=True))
    assert all(texts[i] == t for i, t in zip(issues["id"], issues["text"], strict=True))
    wrong = set(df.filter(pl.col("label") != pl.col("true_label"))["id"])
    assert len(wrong & set(issues["id"])) >= 0.8 * len(wrong)

    cleaned = run.apply()
    expected_type = pl.DataFrame if kind == "path" else type(data)
    assert type(cleaned) is expected_type
    # every column but the label untouched; the label changed only where relabel suggested
    for col in ("id", "text", "true_label"):
        assert column(cleaned, col) == df[col].to_list()
    new = column(cleaned, "label")
    sugg = dict(zip(run.scores["id"], run.scores["suggested_label"], strict=True))
    for i, old, lab in zip(df["id"], df["label"], new, strict=True):
        assert lab == (sugg[i] if sugg[i] is not None else old)
    true = df["true_label"].to_list()
    before = np.mean([a == b for a, b in zip(df["label"], true, strict=True)])
    after = np.mean([a == b for a, b in zip(new, true, strict=True)])
    assert sum(s is not None for s in sugg.values()) > 0 and after > before
    if kind == "pandas":
        assert list(cleaned.columns) == list(data.columns)
        assert cleaned.index.equals(data.index)
    if kind == "arrow":
        assert cleaned.schema == data.schema
    if kind == "columns":  # each column keeps its container; the label stays a numpy array
        assert list(cleaned) == list(data) and isinstance(cleaned["label"], np.ndarray)
        assert isinstance(cleaned["text"], list)
        kept = run.apply(drop_flagged=True)
        assert len({len(v) for v in kept.values()}) == 1
        assert len(kept["id"]) == df.height - int(
            (run.scores["flagged"] & run.scores["suggested_label"].is_null()).sum())
    # nothing changes and nothing is dropped without suggestions
    assert column(run.apply(suggestions=False), "label") == df["label"].to_list()


def test_a_filtered_hf_dataset_with_class_labels_reads_its_own_rows_by_name(
        noisy, reference, tmp_path):
    """A ``datasets.Dataset`` that is a view (``filter``, ``select``, a split) is read as its
    own rows, not the table under it; ``ClassLabel`` columns read as names and go back to
    codes, in the same feature, in ``apply`` and in an export to a dataset directory."""
    import datasets

    df, emb = noisy
    names = sorted(set(df["label"]))
    feature = datasets.ClassLabel(names=names)
    junk = pl.DataFrame({"text": ["junk row"] * 50, "label": [names[0]] * 50,
                         "true_label": [names[0]] * 50, "id": [f"junk{i}" for i in range(50)]})
    full = pl.concat([junk, df.select(junk.columns)])
    ds = datasets.Dataset.from_dict(
        {**full.to_dict(as_series=False),
         "label": [names.index(x) for x in full["label"]],
         "true_label": [names.index(x) for x in full["true_label"]]},
        features=datasets.Features({"text": datasets.Value("string"), "label": feature,
                                    "true_label": feature, "id": datasets.Value("string")}))
    view = ds.filter(lambda r: not r["id"].startswith("junk"))
    assert len(view) == df.height and len(view.data.table) == full.height
    run = relabel.denoise(view, id="id", out=tmp_path / "run", embeddings=emb,
                          corrector="linear", progress=False)
    assert run.scores.equals(reference.scores)  # the same rows, labels by name
    cleaned = run.apply()
    assert cleaned.features == view.features and len(cleaned) == df.height
    sugg = run.scores["suggested_label"].to_list()
    expect = [s if s is not None else old for s, old in zip(sugg, df["label"], strict=True)]
    assert [names[c] for c in cleaned["label"]] == expect
    assert cleaned["true_label"][:] == view["true_label"][:]
    # a dataset directory: read by name, exported as ClassLabel codes again
    view.save_to_disk(str(tmp_path / "ds"))
    again = relabel.denoise(tmp_path / "ds", id="id", out=tmp_path / "run2", embeddings=emb,
                            corrector="linear", progress=False)
    assert again.scores.equals(reference.scores)
    again.export(tmp_path / "clean")
    out = datasets.load_from_disk(str(tmp_path / "clean"))
    assert out.features["label"] == feature and out.features["true_label"] == feature
    assert [names[c] for c in out["label"]] == expect


def test_load_run_reopens_an_in_memory_run(noisy, tmp_path):
    df, emb = noisy
    out = tmp_path / "run"
    first = relabel.denoise(df.to_pandas(), id="id", out=out, embeddings=emb,
                            corrector="linear", progress=False)
    again = relabel.load_run(out)
    assert again.scores.equals(first.scores)
    assert again.summary == first.summary
    assert again.issues.equals(first.issues)
    assert "flagged" in repr(again)
    # the run kept its input, so apply rebuilds a pandas frame from it
    cleaned = again.apply()
    assert type(cleaned).__module__.startswith("pandas")
    assert cleaned["label"].tolist() == first.apply()["label"].tolist()
    # the same code the CLI runs: report and export
    assert again.report().name == "report.html"
    path = again.export(tmp_path / "clean.parquet")
    assert pl.read_parquet(path)["label"].to_list() == cleaned["label"].tolist()
    assert (tmp_path / "changes.csv").exists()
    dropped = again.apply(drop_flagged=True)
    flagged_kept = first.scores.filter(pl.col("flagged") & pl.col("suggested_label").is_null())
    assert len(dropped) == df.height - flagged_kept.height


def test_a_pandas_frames_named_index_is_its_ids(noisy, tmp_path):
    """``df.set_index("qid")``: the index is the ids of the flags and the reviews (they were the
    row numbers, and ``id="qid"`` failed with "no column 'qid'"); ``apply`` keeps the index;
    an unnamed index (row positions after a filter) is not used."""
    df, emb = noisy
    frame = df.rename({"id": "qid"}).to_pandas().set_index("qid")
    run = relabel.denoise(frame, out=tmp_path / "run", embeddings=emb, corrector="linear",
                          progress=False)
    assert run.scores["id"].to_list() == frame.index.astype(str).tolist()
    named = relabel.denoise(frame, id="qid", out=tmp_path / "run2", embeddings=emb,
                            corrector="linear", progress=False)
    assert named.scores["id"].to_list() == run.scores["id"].to_list()
    cleaned = run.apply()
    assert cleaned.index.equals(frame.index) and list(cleaned.columns) == list(frame.columns)
    assert (cleaned["label"] != frame["label"]).sum() == run.summary["suggested"]
    # the run's copy holds the index as a column, as pandas' to_csv writes it
    assert "qid" in relabel.load_run(tmp_path / "run").apply().columns
    # a repeated index, or an unnamed one: the row numbers, as before
    repeated = frame.reset_index(drop=True).set_axis([0, 1] * (len(frame) // 2)).rename_axis("k")
    rows = relabel.denoise(repeated, out=tmp_path / "run3", embeddings=emb, corrector="linear",
                           progress=False)
    assert rows.scores["id"].to_list() == [str(i) for i in range(len(frame))]
    filtered = df.drop("id").to_pandas().iloc[::2]
    some = relabel.denoise(filtered, out=tmp_path / "run4", embeddings=emb[::2],
                           corrector="linear", progress=False)
    assert some.scores["id"].to_list() == [str(i) for i in range(len(filtered))]


def test_apply_with_reviews(noisy, tmp_path):
    df, emb = noisy
    run = relabel.denoise(df, id="id", out=tmp_path / "run", embeddings=emb,
                          corrector="linear", progress=False)
    first = run.issues.row(0, named=True)
    other = next(c for c in run.classes if c != first["label"])
    reviews = pl.DataFrame({"id": [first["id"]], "given_label": [first["label"]],
                            "reviewed_label": [other], "status": ["changed"],
                            "annotator": ["ann@example.com"],
                            "time": pl.Series([None], dtype=pl.Datetime("us", "UTC"))})
    human_only = run.apply(suggestions=False, reviews=reviews)
    changed = human_only.filter(pl.col("label") != df["label"])
    assert changed["id"].to_list() == [first["id"]] and changed["label"].to_list() == [other]
    # a plain CSV of id, reviewed_label works too (as for denoise --reviews)
    csv = tmp_path / "mine.csv"
    reviews.select("id", "reviewed_label").write_csv(csv)
    assert run.apply(suggestions=False, reviews=csv).equals(human_only)
    with pytest.raises(RelabelInputError, match="reviewed_label"):
        run.apply(reviews=reviews.drop("reviewed_label"))
    with pytest.raises(RelabelInputError, match="review pull"):
        run.apply(reviews=True)  # no reviews.parquet in this run


def test_cli_and_api_give_identical_scores(noisy, tmp_path):
    from relabel.cli import app

    df, emb = noisy
    data = tmp_path / "data.csv"
    df.write_csv(data)
    np.save(tmp_path / "emb.npy", emb)
    r = CliRunner().invoke(app, ["denoise", str(data), "--id-col", "id", "--embeddings",
                                 str(tmp_path / "emb.npy"), "--corrector", "linear",
                                 "--out", str(tmp_path / "cli"), "-q"])
    assert r.exit_code == 0, r.output
    api = relabel.denoise(data, id="id", embeddings=tmp_path / "emb.npy", corrector="linear",
                          out=tmp_path / "api", progress=False)
    cli_scores = pl.read_parquet(tmp_path / "cli" / "scores.parquet")
    assert cli_scores.equals(api.scores)
    arr = relabel.denoise(df, id="id", embeddings=emb, corrector="linear",
                          out=tmp_path / "arr", progress=False)
    assert arr.scores.equals(api.scores)


def test_find_label_issues_with_pred_probs_and_embeddings(noisy):
    df, emb = noisy
    classes = sorted(set(df["true_label"]))
    labels = np.searchsorted(classes, df["label"].to_numpy())
    true = np.searchsorted(classes, df["true_label"].to_numpy())
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(3), size=len(true)) * 0.1
    probs[np.arange(len(true)), true] += 0.9
    wrong = set(np.flatnonzero(labels != true).tolist())
    for kwargs in ({"pred_probs": probs}, {"embeddings": emb},
                   {"pred_probs": probs, "embeddings": emb}):
        issues = relabel.find_label_issues(labels, **kwargs)
        assert issues["suspicion"].is_sorted(descending=True)
        found = set(issues["row"].to_list())
        assert len(found & wrong) >= 0.8 * len(wrong), kwargs
        assert len(found - wrong) <= 0.5 * len(wrong), kwargs
        if "embeddings" not in kwargs:  # no neighbours were given, so none can disagree
            assert set(issues["reason"]) <= {"corrector_disagrees"}, kwargs
        changed = issues.filter(pl.col("suggested_label").is_not_null())
        if "pred_probs" in kwargs:  # a confident model: changes, almost all right
            assert changed.height >= 0.5 * len(wrong)
            right = (changed["suggested_label"].to_numpy() == true[changed["row"].to_numpy()])
            assert right.mean() >= 0.9
    full = relabel.find_label_issues(labels, pred_probs=probs, return_all=True)
    assert full.height == len(labels) and full["row"].to_list() == list(range(len(labels)))
    # class names in, class names out
    names = relabel.find_label_issues(df["label"].to_list(), pred_probs=probs, classes=classes)
    assert set(names["label"]) <= set(classes)
    assert set(names["suggested_label"].drop_nulls()) <= set(classes)


def test_find_label_issues_names_a_class_it_cannot_judge_and_leaves_its_labels():
    """A rare class the model sees as another (a dozen examples it never learned): its rows
    are flagged for a human, not changed, and the warning names it."""
    labels = np.repeat(["big", "other", "rare"], [300, 300, 12])
    probs = np.where(labels[:, None] == np.array(["big", "other", "rare"]), 0.9, 0.05)
    probs[600:] = [0.93, 0.05, 0.02]  # the model sees every "rare" example as "big"
    with pytest.warns(relabel.RelabelWarning, match=r"1 class\(es\) whose own examples .*'rare'"):
        issues = relabel.find_label_issues(labels.tolist(), pred_probs=probs,
                                           classes=["big", "other", "rare"])
    rare = issues.filter(pl.col("label") == "rare")
    assert rare.height == 12 and rare["suggested_label"].is_null().all()


def test_find_label_issues_warns_when_pred_probs_cannot_separate_the_classes(noisy):
    import warnings

    df, emb = noisy
    classes = sorted(set(df["true_label"]))
    labels = np.searchsorted(classes, df["label"].to_numpy())
    true = np.searchsorted(classes, df["true_label"].to_numpy())
    probs = np.full((len(true), 3), 0.05)
    probs[np.arange(len(true)), true] = 0.9
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a model with skill: no warning
        assert relabel.find_label_issues(labels, pred_probs=probs).height
    # columns in another order than the classes: worse than the prior
    with pytest.warns(relabel.RelabelWarning, match=r"skill -?\d\.\d\d < 0\.15.*columns "
                                                     r"follow classes="):
        issues = relabel.find_label_issues(labels, pred_probs=probs[:, [1, 2, 0]])
    assert issues.height == 0  # no flags on an estimate read from signals without skill
    # the embeddings' neighbours still separate the classes: they flag, nothing is changed
    with pytest.warns(relabel.RelabelWarning, match="nothing is changed") as record:
        issues = relabel.find_label_issues(labels, pred_probs=probs[:, [1, 2, 0]],
                                           embeddings=emb)
    assert "flagged" not in str(record[0].message)
    assert issues.height and issues["suggested_label"].is_null().all()


def test_find_label_issues_on_clean_labels_changes_nothing(noisy):
    df, _ = noisy
    classes = sorted(set(df["true_label"]))
    true = np.searchsorted(classes, df["true_label"].to_numpy())
    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.ones(3), size=len(true)) * 0.3
    probs[np.arange(len(true)), true] += 0.7
    full = relabel.find_label_issues(true, pred_probs=probs, return_all=True)
    assert full["suggested_label"].is_null().all()


@pytest.mark.parametrize("case", ["no label column", "embeddings shape", "dataset dict",
                                  "mixed records", "bad option value",
                                  "mixed pandas column", "zero embeddings",
                                  "ragged columns", "a text for a column", "a list of texts",
                                  "a list of pairs"])
def test_bad_inputs_raise_one_line(case, noisy, tmp_path):
    df, emb = noisy
    kwargs: dict = {"out": tmp_path / "run", "progress": False, "embeddings": emb}
    data: object = df
    message = ""
    if case == "no label column":
        data, message = df.drop("label"), "label"
    elif case == "embeddings shape":
        kwargs["embeddings"], message = emb[:10], "shape"
    elif case == "dataset dict":
        import datasets

        data = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a"]})})
        message = "split"
    elif case == "mixed records":
        data, message = [{"text": "a", "label": 1}, {"text": "b", "label": [1, 2]}], "list of"
    elif case == "bad option value":
        kwargs["target_precision"], message = 1.5, "target_precision must be in"
    elif case == "mixed pandas column":  # a number among the texts: the column and its row
        frame = df.to_pandas()
        frame["text"] = frame["text"].astype(object)
        frame.loc[3, "text"] = 12345
        data = frame
        message = r"row 4, column 'text': values of more than one type .*str and int"
    elif case == "ragged columns":
        data = {"text": df["text"].to_list(), "label": df["label"].to_list()[:-1]}
        message = r"columns have different lengths \(text 600, label 599\)"
    elif case == "a text for a column":
        data, message = {"text": "one text", "label": ["a"]}, "'text' holds a str"
    elif case == "a list of texts":
        data, message = df["text"].to_list(), r"pass both as columns, \{'text': texts"
    elif case == "a list of pairs":
        data = list(zip(df["text"], df["label"], strict=True))
        message = r"a list of pairs: pass them as columns"
    elif case == "zero embeddings":  # missing vectors filled with zeros
        zeros = np.array(emb, copy=True)
        zeros[[2, 7]] = 0.0
        kwargs["embeddings"], message = zeros, "rows 3, 8: all-zero embedding vectors"
    with pytest.raises(RelabelInputError, match=message) as err:
        relabel.denoise(data, **kwargs)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "run" / "scores.parquet").exists()


def test_an_in_memory_input_without_out_gets_a_directory_of_its_own(noisy, tmp_path,
                                                                     monkeypatch):
    """``relabel.denoise(df)`` runs: the directory is named by the data, so the same frame
    comes back to its run (caches, resume) and a changed one does not overwrite it."""
    df, emb = noisy
    monkeypatch.chdir(tmp_path)
    frame = df.to_pandas()
    first = relabel.denoise(frame, embeddings=emb, progress=False)
    assert first.out_dir.parent == Path("relabel-out")
    assert first.out_dir.name.startswith("pandas-") and first.scores.height == df.height
    assert relabel.denoise(frame.copy(), embeddings=emb, progress=False).out_dir == \
        first.out_dir
    changed = frame.copy()
    changed.loc[0, "label"] = next(c for c in changed["label"] if c != changed.loc[0, "label"])
    other = relabel.denoise(changed, embeddings=emb, progress=False)
    assert other.out_dir != first.out_dir
    assert relabel.load_run(first.out_dir).scores.equals(first.scores)


def test_messages_name_keywords_in_python_and_options_on_the_command_line(tmp_path):
    """A notebook user is told the keyword to pass (``text_col='sentence'``), a shell user
    the option (``--text-col sentence``): the same check, worded for where it was called."""
    from relabel.cli import app

    df = pl.DataFrame({"sentence": ["a", "b", "c"], "label": ["x", "y", "x"]})
    with pytest.raises(RelabelInputError, match=r"did you mean 'sentence'\? pass "
                                                r"text_col='sentence'$"):
        relabel.denoise(df, out=tmp_path / "o")
    with pytest.raises(RelabelInputError, match=r"folds must be at least 2, got 1$"):
        relabel.denoise(df, text="sentence", folds=1, out=tmp_path / "o")
    df.write_csv(tmp_path / "d.csv")
    r = CliRunner().invoke(app, ["denoise", str(tmp_path / "d.csv"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and r.stderr.strip().endswith(
        "did you mean 'sentence'? pass --text-col sentence"), r.stderr
    r = CliRunner().invoke(app, ["denoise", str(tmp_path / "d.csv"), "-o", str(tmp_path / "o"),
                                 "--text-col", "sentence", "--folds", "1"])
    assert r.exit_code == 2 and "--folds must be at least 2, got 1" in r.stderr, r.stderr
    # the command line's setting ends with its command
    with pytest.raises(RelabelInputError, match=r"pass text_col='sentence'$"):
        relabel.denoise(df, out=tmp_path / "o")


def test_unknown_option_is_a_type_error(noisy, tmp_path):
    df, emb = noisy
    with pytest.raises(TypeError, match="colour"):
        relabel.denoise(df, out=tmp_path / "run", embeddings=emb, colour="red")
    with pytest.raises(TypeError, match="'corector'; did you mean 'corrector'"):
        relabel.denoise(df, out=tmp_path / "run", embeddings=emb, corector="linear")


def test_find_label_issues_bad_arrays():
    labels = np.array([0, 1, 1, 0])
    probs = np.full((4, 2), 0.5)
    with pytest.raises(RelabelInputError, match="give pred_probs"):
        relabel.find_label_issues(labels)
    with pytest.raises(RelabelInputError, match="shape"):
        relabel.find_label_issues(labels, pred_probs=probs[:3])
    bad = probs.copy()
    bad[2, 0] = np.nan
    with pytest.raises(RelabelInputError, match="row 3") as err:
        relabel.find_label_issues(labels, pred_probs=bad)
    assert "logits" not in str(err.value)
    with pytest.raises(RelabelInputError, match="look like logits or log-probabilities"):
        relabel.find_label_issues(labels, pred_probs=np.log(np.full((4, 2), 0.5)))
    with pytest.raises(RelabelInputError, match="not one of the classes"):
        relabel.find_label_issues(np.array(["a", "b", "c", "a"]), pred_probs=probs,
                                  classes=["a", "b"])
    with pytest.raises(RelabelInputError, match="columns"):
        relabel.find_label_issues(labels, pred_probs=np.full((4, 3), 1 / 3), classes=[0, 1])


def test_import_relabel_and_the_cli_load_no_heavy_module():
    code = ("import sys, relabel, relabel.cli; relabel.DenoiseConfig; "
            "heavy = [m for m in ('torch', 'sklearn', 'transformers', 'scipy', 'datasets', "
            "'matplotlib') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "", out


def test_a_notebook_shows_a_run_and_a_consensus_as_escaped_html(noisy, tmp_path):
    """``_repr_html_``: the numbers a user acts on and the first issues, every value of the
    user's data escaped."""
    from conftest import FakeEncoder

    df, emb = noisy
    hostile = df.with_columns(pl.when(pl.col("id") == df["id"][0])
                              .then(pl.lit("<script>alert(1)</script> please help"))
                              .otherwise(pl.col("text")).alias("text"))
    run = relabel.denoise(hostile, id="id", out=tmp_path / "run", embeddings=emb,
                          corrector="linear", progress=False)
    html = run._repr_html_()
    dec = run.summary["decisions"]
    assert f"<th>flagged for review</th><td>{run.summary['flagged']}</td>" in html
    assert f"{dec['changes']} (expected right {dec['expected_right_changes']}" in html
    assert html.count("<tr>") == 7 + 1 + min(10, run.issues.height)  # facts, head, rows
    assert run.issues["id"][0] in html and "<script>" not in html
    votes = pl.DataFrame({"item_id": [f"i{i}" for i in range(40) for _ in range(3)],
                          "annotator": ["a", "b", "c"] * 40,
                          "label": [["x", "y"][i % 2] if w != "c" else "x"
                                    for i in range(40) for w in "abc"],
                          "text": [f"text {i % 2} <b>" for i in range(40) for _ in range(3)]})
    c = relabel.consensus(votes, out=tmp_path / "c", encoder=FakeEncoder(), progress=False)
    chtml = c._repr_html_()
    assert "Krippendorff&#x27;s alpha" in chtml and "least accurate first" in chtml
    assert "<b>relabel consensus</b>" in chtml and chtml.count("<b>") == 1  # texts escaped
    assert chtml.index("<td>c</td>") < chtml.index("<td>a</td>")  # the worst annotator first


def test_a_dict_of_columns_keeps_each_container_and_a_longer_label_is_not_cut():
    """A numpy column of fixed-width text (``<U2``) holds no longer label: the new labels get
    a width that fits, instead of being cut to two characters."""
    import pandas as pd

    from relabel.data.frames import like_input, to_polars

    data = {"text": ("a", "b", "c"), "label": np.array(["xy", "xy", "zz"]),
            "score": pd.Series([0.1, 0.2, 0.3], index=[7, 8, 9], name="score")}
    frame = to_polars(data, "columns")
    assert frame.columns == ["text", "label", "score"] and frame.height == 3
    cleaned = frame.with_columns(pl.Series("label", ["xy", "a-longer-label", "zz"]))
    out = like_input(data, "columns", cleaned.filter(pl.col("text") != "c"), "label", [0, 1])
    assert out["text"] == ("a", "b")
    assert out["label"].tolist() == ["xy", "a-longer-label"]
    assert out["score"].index.tolist() == [7, 8]


def test_integer_codes_in_a_float_column_are_classes_by_their_integer(tmp_path):
    """pandas turns an int label column with a missing value into floats: the classes are
    4, 7, ... (not "4.0"), and apply writes the new labels back as the column's floats."""
    pd = pytest.importorskip("pandas")
    base = make_text_dataset(n_per_class=40, flip=6, seed=3)
    codes = {c: i for i, c in enumerate(sorted(set(base["label"])))}
    df = base.to_pandas()
    df["label"] = df["label"].map(codes).astype(float)
    df.loc[4, "label"] = float("nan")
    run = relabel.denoise(df, out=tmp_path / "o", drop_invalid=True, progress=False,
                          embeddings=clustered_embeddings(base, spread=0.3), corrector="linear")
    assert run.classes == ["0", "1", "2"]
    cleaned = run.apply()
    assert isinstance(cleaned, pd.DataFrame) and cleaned["label"].dtype == "float64"
    changed = run.scores.filter(pl.col("suggested_label").is_not_null())
    assert changed.height > 0
    assert cleaned["label"].iloc[changed["row"].to_list()].tolist() == \
        [float(x) for x in changed["suggested_label"]]
    assert np.isnan(cleaned["label"].iloc[4])
