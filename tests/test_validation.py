"""Every bad-input case of build_examples: one clear error with file, rows and column."""

from __future__ import annotations

import json

import polars as pl
import pytest

from relabel.data.validation import build_examples
from relabel.errors import RelabelInputError, cli_options


def test_builds_examples_in_order_with_row_ids():
    t = pl.DataFrame({"text": ["a", "b"], "label": [2, 1], "other": [True, False]})
    ex, warnings = build_examples(t, path="d.csv")
    assert ex.columns == ["row", "id", "text", "label"]
    assert ex["id"].to_list() == ["0", "1"]
    assert ex["label"].to_list() == ["2", "1"]
    assert warnings and "single example" in warnings[0]


def test_missing_column_lists_available():
    t = pl.DataFrame({"sentence": ["a"], "label": ["x"]})
    with pytest.raises(RelabelInputError, match=r"d\.csv: no column 'text' \(available: "
                                                r"sentence, label\)"):
        build_examples(t, path="d.csv")


def test_a_header_with_another_separator_says_so(tmp_path):
    from relabel.data.io import read_table

    # (a semicolon CSV is read as one: tests/test_io.py)
    path = tmp_path / "pipe.csv"
    path.write_text("text|label\nhello there|pos\nbad|neg\n", encoding="utf-8")
    table, _ = read_table(path)
    with pytest.raises(RelabelInputError, match=r"pipe\.csv: no column 'text' \(available: "
                                                r"text\|label\); the header looks separated by "
                                                r"'\|'"):
        build_examples(table, path=path)


def test_a_label_column_of_mostly_distinct_values_is_refused():
    t = pl.DataFrame({"text": [f"t{i}" for i in range(60)],
                      "label": [f"note {i}" for i in range(60)]})
    with pytest.raises(RelabelInputError, match=r"d\.csv, column 'label': 60 distinct labels "
                                                r"in 60 rows.*label_col"):
        build_examples(t, path="d.csv")
    ok = t.with_columns(pl.Series("label", [f"c{i % 25}" for i in range(60)]))
    assert build_examples(ok, path="d.csv")[0].height == 60


def test_class_names_spelled_two_ways_are_a_warning():
    t = pl.DataFrame({"text": list("abcdefg"),
                      "label": ["Positive", "positive", "positive", "card_arrival",
                                "Card arrival", "neg", "neg"]})
    ex, warnings = build_examples(t, path="d.csv")
    assert ex["label"].n_unique() == 5  # still different classes: only the user can merge
    [w] = [w for w in warnings if "differ only in case" in w]
    assert w.startswith("2 class name(s)")
    assert "'positive' (2) / 'Positive' (1)" in w and "'Card arrival' (1) / 'card_arrival' (1)" in w
    import unicodedata

    forms = pl.DataFrame({"text": list("abcd"),
                          "label": ["café", unicodedata.normalize("NFD", "café"), "x", "x"]})
    assert any("differ only in case" in w for w in build_examples(forms, path="d.csv")[1])
    clean = pl.DataFrame({"text": list("abcd"), "label": ["pos", "neg", "pos", "neutral"]})
    assert not any("differ only" in w for w in build_examples(clean, path="d.csv")[1])


def test_several_labels_joined_in_one_cell_are_a_warning():
    # multi-label data written as text: 'billing,refund' is two labels of the column joined
    labels = ["billing", "refund", "other"] * 10 + ["billing,refund", "refund | other",
                                                     "billing,refund", "food, drink"]
    t = pl.DataFrame({"text": [f"t{i}" for i in range(len(labels))], "label": labels})
    ex, warnings = build_examples(t, path="d.csv")
    assert ex["label"].n_unique() == 6  # read as they are
    [w] = [w for w in warnings if "joined by" in w]
    assert w.startswith("3 row(s) carry several labels joined by ',' (e.g. 'billing,refund'")
    assert "each such combination is a class of its own (2 of them)" in w
    # a class name with a comma whose parts are not labels, or a single joined row: no warning
    one = t.filter(pl.col("label") != "refund | other").filter(
        pl.int_range(pl.len()) != 30)
    assert not any("joined by" in w for w in build_examples(one, path="d.csv")[1])


def test_texts_that_are_json_documents_are_a_warning():
    # a conversation serialised into the text column, as LeWiDi's ConvAbuse gives it
    turns = [json.dumps({"prev_agent": "Please go on.", "prev_user": f"turn {i}",
                         "agent": "Can you elaborate?", "user": "yes" if i % 2 else "no"})
             for i in range(8)]
    t = pl.DataFrame({"text": [*turns, "plain text", "another {one}"],
                      "label": ["a", "b"] * 5})
    [w] = [w for w in build_examples(t, path="d.csv")[1] if "JSON" in w]
    assert w.startswith("8 of the first 10 texts in column 'text' are JSON documents (e.g. "
                        """'{"prev_agent": "Please go on.", "prev_user": "turn 0", "a...'): """)
    assert w.endswith("put that part in a column of its own and choose it with text_col")
    with cli_options():
        [w] = [w for w in build_examples(t, path="d.csv")[1] if "JSON" in w]
    assert w.endswith("choose it with --text-col")
    # half of them, braces inside plain text, or brackets that are not JSON: no warning
    half = pl.DataFrame({"text": turns[:5] + [f"plain {i}" for i in range(5)],
                         "label": ["a", "b"] * 5})
    assert not any("JSON" in w for w in build_examples(half, path="d.csv")[1])
    braces = pl.DataFrame({"text": ["{not json}", "[1, 2", "use {x} here", "ok"] * 2,
                           "label": ["a", "b"] * 4})
    assert not any("JSON" in w for w in build_examples(braces, path="d.csv")[1])


def test_empty_dataset():
    with pytest.raises(RelabelInputError, match="dataset is empty"):
        build_examples(pl.DataFrame({"text": [], "label": []}), path="d.csv")


@pytest.mark.parametrize("col", ["text", "label"])
@pytest.mark.parametrize("bad", [None, "", "   "])
def test_null_or_empty_values_name_rows(col, bad):
    data = {"text": ["a", "b", "c", "d"], "label": ["x", "y", "x", "y"]}
    data[col][1] = bad
    data[col][3] = bad
    with pytest.raises(RelabelInputError) as exc:
        build_examples(pl.DataFrame(data), path="d.csv")
    assert str(exc.value).startswith(f"d.csv, rows 2, 4, column '{col}': null or empty {col}")


def test_an_empty_row_is_named_as_such_not_as_a_null_text_and_label():
    """A blank line of a spreadsheet between the records had two errors, a null text and a
    null label; it is one, saying what it is."""
    t = pl.DataFrame({"id": ["1", None, "3", "4"], "text": ["a", None, "c", " "],
                      "label": ["x", "", "y", None]})
    with pytest.raises(RelabelInputError) as exc:
        build_examples(t, path="d.csv")
    assert str(exc.value) == ("d.csv, row 2: empty row (every column blank): delete it, or use "
                              "drop_invalid=True to skip such rows")
    ex, warnings = build_examples(t, path="d.csv", drop_invalid=True)
    assert ex["row"].to_list() == [0, 2]
    assert "skipped 1 empty row(s) (first: 2)" in warnings
    # row 4 has an id: not empty, a null text and label as before
    assert any("null or empty text (first: 4)" in w for w in warnings)


def test_drop_invalid_skips_with_warning():
    t = pl.DataFrame({"text": ["a", None, "c", "d"], "label": ["x", "y", "", "y"]})
    ex, warnings = build_examples(t, path="d.csv", drop_invalid=True)
    assert ex["row"].to_list() == [0, 3]
    assert any("null or empty text" in w for w in warnings)
    assert any("null or empty label" in w for w in warnings)


def test_duplicate_ids():
    t = pl.DataFrame({"id": ["a", "b", "a"], "text": ["1", "2", "3"], "label": ["x", "y", "x"]})
    with pytest.raises(RelabelInputError, match=r"rows 1, 3, column 'id': duplicate ids"):
        build_examples(t, path="d.csv", id_col="id")


def test_fewer_than_two_classes():
    t = pl.DataFrame({"text": ["a", "b"], "label": ["x", "x"]})
    with pytest.raises(RelabelInputError, match="fewer than two classes"):
        build_examples(t, path="d.csv")


def test_nested_text_column_is_rejected():
    t = pl.DataFrame({"text": [[1], [2]], "label": ["x", "y"]})
    with pytest.raises(RelabelInputError, match="column 'text': values must be strings"):
        build_examples(t, path="d.csv")
    turns = pl.DataFrame({"text": [["hi", "there"], ["b"]], "label": ["x", "y"]})
    with pytest.raises(RelabelInputError, match="lists of strings; join each list"):
        build_examples(turns, path="d.csv")
    records = pl.DataFrame({"text": [{"body": "a", "lang": "en"}], "label": ["x"]})
    with pytest.raises(RelabelInputError, match=r"values are records; name one of their fields "
                                                r"\(text\.body, text\.lang\)"):
        build_examples(records, path="d.csv")


def test_class_lists_in_warnings_say_how_many_are_not_shown():
    labels = [f"c{i:02d}" for i in range(8)] + ["big"] * 6
    t = pl.DataFrame({"text": [f"t{i}" for i in range(len(labels))], "label": labels})
    _, warnings = build_examples(t, path="d.csv")
    single = next(w for w in warnings if "single example" in w)
    assert single.startswith("8 class(es) with a single example ('c00', 'c01', 'c02', 'c03', "
                             "'c04' and 3 more)")


def test_a_column_named_id_gives_the_ids_when_it_can():
    """No --id-col: an ``id`` column with distinct values is the id (what the user's changes,
    reviews and Label Studio tasks are then named by); one with repeats or gaps is not, and
    the warning says so."""
    from relabel.config import InputSpec
    from relabel.data.task import read_task

    texts = [f"t{i}" for i in range(10)]
    labels = ["a", "b"] * 5
    own = read_task(pl.DataFrame({"id": [f"doc-{i}" for i in range(10)], "text": texts,
                                  "label": labels}), "d.csv", InputSpec())
    assert own.examples["id"].to_list() == [f"doc-{i}" for i in range(10)]
    assert not any("column 'id'" in w for w in own.warnings)
    for ids, why in (([1, 1, *range(2, 10)], "repeats values"),
                     ([None, *range(1, 10)], "has 1 empty value(s)")):
        rows = read_task(pl.DataFrame({"id": ids, "text": texts, "label": labels}), "d.csv",
                         InputSpec())
        assert rows.examples["id"].to_list() == [str(i) for i in range(10)]
        assert rows.warnings[0] == (f"column 'id' {why}, so the ids are the row numbers "
                                    "(0-based); name an id column with id_col")
    named = read_task(pl.DataFrame({"id": [1] * 10, "key": list(range(10, 20)), "text": texts,
                                    "label": labels}), "d.csv", InputSpec(id_col="key"))
    assert named.examples["id"].to_list() == [str(i) for i in range(10, 20)]
    assert not any("column 'id'" in w for w in named.warnings)


def test_a_label_column_of_lists_says_multi_label_is_not_supported():
    t = pl.DataFrame({"text": ["a", "b"], "label": [["x"], ["x", "y"]]})
    with pytest.raises(RelabelInputError, match=r"d\.csv, column 'label': values are lists: "
                                                r"several labels per example \(multi-label "
                                                r"data\) are not supported"):
        build_examples(t, path="d.csv")
    # the lists may be several annotators' votes: the message names the option that reads them
    with pytest.raises(RelabelInputError, match=r"votes on one label, pass votes_col='label'\)$"):
        build_examples(t, path="d.csv")


def test_labels_with_spaces_around_them_are_one_class_and_said():
    t = pl.DataFrame({"text": ["a", "b", "c", "d"], "label": ["pos ", "pos", " neg", "neg"]})
    ex, warnings = build_examples(t, path="d.csv")
    assert sorted(set(ex["label"])) == ["neg", "pos"]
    assert any(w.startswith("2 label(s) have spaces around them (e.g. 'pos '): they are read "
                            "without them, so 'pos' and 'pos ' are one class") for w in warnings)


def test_a_table_of_listed_votes_without_a_label_gets_the_votes_options():
    """A LeWiDi file (each item's votes in ``annotations``, who cast them in ``annotators``, the
    aggregate in ``hard_label``) given to denoise as if it had one label: the message names
    both ways to read it."""
    from relabel.errors import cli_options

    lewidi = pl.DataFrame({"id": ["1", "2"], "text": ["a", "b"],
                           "annotations": ["0,0,1", "1,1,1"],
                           "annotators": ["Ann1,Ann2,Ann3", "Ann1,Ann2,Ann3"],
                           "hard_label": ["0", "1"]})
    with cli_options(), pytest.raises(RelabelInputError) as err:
        build_examples(lewidi, path="train.json")
    assert str(err.value).endswith(
        "did you mean 'hard_label'? pass --label-col hard_label; or, for the annotators' votes "
        "that 'annotations' lists: --votes-col annotations --annotator-col annotators")
    with pytest.raises(RelabelInputError, match=r"votes_col='annotations', "
                                                r"annotator_col='annotators'$"):
        build_examples(lewidi, path="train.json")
    # votes as lists, no annotators' column; and a text column that merely has commas is not
    # taken for votes
    listed = pl.DataFrame({"text": ["a", "b"], "weak_labels": [[0, -1], [1, 1]]})
    with cli_options(), pytest.raises(RelabelInputError) as err:
        build_examples(listed, path="w.json")
    assert str(err.value).endswith("choose one with --label-col; or, for the annotators' votes "
                                   "that 'weak_labels' lists: --votes-col weak_labels")
    prose = pl.DataFrame({"text": ["a", "b"], "annotations": ["well, it is fine, really",
                                                             "no, not at all"]})
    with pytest.raises(RelabelInputError) as err:
        build_examples(prose, path="p.csv")
    assert "votes" not in str(err.value)


def test_consensus_on_listed_votes_is_told_the_list_options_first():
    """The same LeWiDi file given to consensus, whose default layout is one vote per row: the
    long columns are missing, and the message says to read the lists (not to take the
    aggregate ``hard_label`` for a vote); the advice works."""
    import relabel
    from relabel.crowd.votes import votes_from_long
    from relabel.errors import cli_options

    lewidi = pl.DataFrame({"id": ["1", "2"], "text": ["a", "b"],
                           "annotations": ["0,0,1", "1,1,1"],
                           "annotators": ["Ann1,Ann2,Ann3", "Ann1,Ann2,Ann3"],
                           "hard_label": ["0", "1"]})
    with cli_options(), pytest.raises(RelabelInputError) as err:
        votes_from_long(lewidi, "train.json")
    assert str(err.value) == (
        "train.json: no columns 'item_id', 'annotator', 'label' of votes one per row "
        "(available: id, text, annotations, annotators, hard_label); each row lists several "
        "annotators' votes in 'annotations': pass --votes-col annotations --annotator-col "
        "annotators")
    with pytest.raises(RelabelInputError, match=r"pass votes_col='annotations', "
                                                r"annotator_col='annotators'$"):
        relabel.consensus(lewidi, progress=False)
    c = relabel.consensus(lewidi.drop("text"), votes_col="annotations",
                          annotator_col="annotators", progress=False)
    assert c.items["majority_label"].to_list() == ["0", "1"]


def test_a_missing_column_names_the_one_probably_meant():
    wrench = pl.DataFrame({"id": ["1"], "label": [0], "data.text": ["a"]})
    with pytest.raises(RelabelInputError, match=r"no column 'text' \(available: id, label, "
                                                r"data\.text\); did you mean 'data\.text'\? "):
        build_examples(wrench, path="d.json")
    typo = pl.DataFrame({"Text": ["a"], "labels": ["x"]})
    # several columns missing: one line names them all, so the command is fixed once
    with pytest.raises(RelabelInputError, match=r"no columns 'text', 'label' \(available: Text, "
                                                r"labels\); pass text_col='Text', "
                                                r"label_col='labels'$"):
        build_examples(typo, path="d.csv")
    with cli_options(), pytest.raises(RelabelInputError, match=r"; pass --text-col Text "
                                                               r"--label-col labels$"):
        build_examples(typo, path="d.csv")
    with pytest.raises(RelabelInputError, match=r"did you mean 'Text'\?"):
        build_examples(typo, path="d.csv", label_col="labels")
    with pytest.raises(RelabelInputError, match=r"did you mean 'labels'\?"):
        build_examples(typo, path="d.csv", text_col="Text")
    # the message names the option to pass, and with what: on the command line the --option,
    # from Python the keyword
    banking = pl.DataFrame({"text": ["a", "b"], "category": ["x", "y"]})
    cases = [
        (pl.DataFrame({"words": ["a"]}), r"no columns 'text', 'label' \(available: words\); "
         "choose ", "--text-col, --label-col", "text_col, label_col"),
        (wrench, r"did you mean 'data\.text'\? pass ", r"--text-col data\.text",
         r"text_col='data\.text'"),
        # banking77's train.csv: the one column left beside the text is the label
        (banking, r"no column 'label' \(available: text, category\); did you mean 'category'\? "
                  r"pass ", "--label-col category", "label_col='category'"),
        # what datasets often call the text: suggested, never used unasked
        (pl.DataFrame({"sentence": ["a"], "label": ["x"], "n": [1]}),
         r"did you mean 'sentence'\? pass ", "--text-col sentence", "text_col='sentence'"),
        # several columns left, none a usual name: no guess
        (pl.DataFrame({"text": ["a"], "cat": ["x"], "source": ["n"]}), "choose one with ",
         "--label-col", "label_col"),
    ]
    for frame, said, on_cli, in_python in cases:
        with cli_options(), pytest.raises(RelabelInputError, match=said + on_cli + "$"):
            build_examples(frame, path="d.csv")
        with pytest.raises(RelabelInputError, match=said + in_python + "$"):
            build_examples(frame, path="d.csv")


def test_a_text_column_of_class_names_is_refused_and_repeated_texts_are_said():
    labels = [f"c{i % 5}" for i in range(100)]
    swapped = pl.DataFrame({"text": [f"c{(i + 1) % 5}" for i in range(100)], "label": labels})
    with pytest.raises(RelabelInputError, match=r"column 'text': 100 of 100 texts are class "
                                                r"names of the labels: this looks like a label "
                                                r"column, not texts; choose the text column"):
        build_examples(swapped, path="d.csv")
    repeated = pl.DataFrame({"text": [f"t{i % 10}" for i in range(100)], "label": labels})
    _, warnings = build_examples(repeated, path="d.csv")
    assert any(w.startswith("only 10 distinct texts in 100 rows (each about 10 times): is "
                            "'text' the text column?") for w in warnings)
    # distinct texts, or a few copies: nothing said
    _, warnings = build_examples(repeated.with_columns(
        pl.Series("text", [f"t{i % 60}" for i in range(100)])), path="d.csv")
    assert not any("distinct texts" in w for w in warnings)


def test_label_names_in_every_form_and_their_errors(tmp_path):
    import json

    from relabel.config import InputSpec, parse_label_names

    want = (("0", "ham"), ("1", "spam"))
    (tmp_path / "label.json").write_text(json.dumps({"0": "ham", "1": "spam"}))  # WRENCH
    (tmp_path / "names.json").write_text(json.dumps(["ham", "spam"]))
    (tmp_path / "names.txt").write_text("ham\nspam\n")
    for form in ("ham,spam", ["ham", "spam"], {0: "ham", 1: "spam"}, {"ham": 0, "spam": 1},
                 str(tmp_path / "label.json"), tmp_path / "names.json",
                 str(tmp_path / "names.txt"), [["0", "ham"], ["1", "spam"]]):
        assert parse_label_names(form) == want, form
    # kept as pairs through run.json
    assert InputSpec.from_json(InputSpec(label_names="ham,spam").to_json()).label_names == want
    for bad, msg in (("a,a", "label name given twice: 'a'"),
                     (str(tmp_path / "nope.json"), "no such file"),
                     ({0: ""}, "a label name is empty"), (5, "must be a list of names")):
        with pytest.raises(RelabelInputError, match=msg):
            parse_label_names(bad)
