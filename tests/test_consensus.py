"""Several annotators per item (issue 17): reading votes, the estimator, agreement, flags, the
consensus API and CLI, and denoise / export on multi-annotator data."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from conftest import FakeEncoder, make_text_dataset, run_relabel, save_fake_embeddings

from relabel.crowd.agreement import agreement, krippendorff_alpha
from relabel.crowd.consensus import (
    MODEL_ANNOTATOR,
    STATUS_AMBIGUOUS,
    STATUS_OVERRULES,
    estimate_consensus,
    flag_items,
    needs_human_text,
    overrules_majority,
)
from relabel.crowd.estimate import annotator_accuracy, dawid_skene, majority_vote
from relabel.crowd.votes import votes_from_lists, votes_from_long, votes_from_wide
from relabel.data.noise import simulate_annotators
from relabel.errors import RelabelInputError


def _long(rows: list[tuple[str, str, str]], **extra: list) -> pl.DataFrame:
    return pl.DataFrame({"item_id": [r[0] for r in rows], "annotator": [r[1] for r in rows],
                         "label": [r[2] for r in rows], **extra})


# ---------------------------------------------------------------- reading votes


def test_long_votes_with_missing_votes_and_single_vote_items() -> None:
    v = votes_from_long(_long([("a", "w1", "x"), ("a", "w2", "y"), ("b", "w1", "y")]),
                        "votes.csv")
    assert v.item_ids == ["a", "b"] and v.annotators == ["w1", "w2"] and v.classes == ["x", "y"]
    assert v.counts().tolist() == [[1, 1], [0, 1]]
    m = v.matrix()
    assert np.isnan(m[1, 1]) and m[0, 1] == 1
    assert v.frame().height == 3


def test_wide_votes_use_the_column_names_as_annotators() -> None:
    table = pl.DataFrame({"text": ["t1", "t2", "t3"], "a1": ["x", "y", None],
                          "a2": ["x", "", "y"], "a3": ["y", "y", "y"]})
    v = votes_from_wide(table, "wide.csv", ["a1", "a2", "a3"])
    assert v.annotators == ["a1", "a2", "a3"] and v.item_ids == ["0", "1", "2"]
    assert v.counts().sum(1).tolist() == [3, 2, 2]  # null and empty cells are missing votes
    assert v.items["text"].to_list() == ["t1", "t2", "t3"]
    # an ``id`` column with distinct values names the items, as in denoise
    named = votes_from_wide(table.with_columns(pl.Series("id", ["q1", "q2", "q3"])),
                            "wide.csv", ["a1", "a2", "a3"])
    assert named.item_ids == ["q1", "q2", "q3"]
    repeated = votes_from_wide(table.with_columns(pl.Series("id", ["q", "q", "r"])),
                               "wide.csv", ["a1", "a2", "a3"])
    assert repeated.item_ids == ["0", "1", "2"]


def test_votes_listed_per_item_as_lists_or_lewidi_text() -> None:
    # LeWiDi 2023: comma-separated votes and, in the same order, their annotators
    lewidi = pl.DataFrame({"id": ["7", "9", "12"], "text": ["t1", "t2", "t3"],
                           "annotations": ["0,0,1", "1,1", None],
                           "annotators": ["Ann4,Ann16,Ann2", "Ann4,Ann2", None]})
    v = votes_from_lists(lewidi, "md.json", "annotations", annotator_col="annotators")
    assert v.item_ids == ["7", "9", "12"] and v.annotators == ["Ann16", "Ann2", "Ann4"]
    assert v.counts().tolist() == [[2, 1], [0, 2], [0, 0]]  # an item with no votes is kept
    assert v.frame().filter(pl.col("annotator") == "Ann2")["label"].to_list() == ["1", "1"]
    assert v.items.columns == ["id", "text"]
    # a list column (SNLI's annotator_labels), JSON-list text, whole floats; no annotators:
    # the j-th vote of each item is annotator "vote j"; a null element is a missing vote
    lists = pl.DataFrame({"text": ["t1", "t2"], "votes": [["x", "y", None], ["y"]]})
    v = votes_from_lists(lists, "d.parquet", "votes")
    assert v.annotators == ["vote 1", "vote 2"] and v.counts().tolist() == [[1, 1], [0, 1]]
    # ten positions or more (WRENCH's label functions): zero-padded, so they sort in order
    v = votes_from_lists(pl.DataFrame({"text": ["t"], "votes": [["x", "y"] * 5 + ["x"]]}), "d",
                         "votes")
    assert v.annotators == [f"vote {j:02d}" for j in range(1, 12)]
    v = votes_from_lists(pl.DataFrame({"text": ["a", "b"], "votes": ["[1.0, 2, 2]", "[1]"]}),
                         "d.csv", "votes")
    assert v.classes == ["1", "2"] and v.counts().tolist() == [[1, 2], [1, 0]]


@pytest.mark.parametrize(("table", "kwargs", "needles"), [
    (pl.DataFrame({"text": ["a", "b"], "v": ["x,y", "x"], "who": ["w1", "w1,w2"]}),
     {"annotator_col": "who"},
     ["2 row(s) list a different number of votes and annotators", "rows 1, 2", "'who'"]),
    (pl.DataFrame({"text": ["a", "b"], "v": ["x,y", "x,y"], "who": ["w1,w2", "w1,w1"]}),
     {"annotator_col": "who"}, ["the same (row, who) pair", "row 2", "dedupe=True"]),
    (pl.DataFrame({"text": ["a", "b", "c"], "v": ["x,y", "x,y", "q,x"]}),
     {"classes": ["x", "y"]}, ["outside the class set", "'q'", "row 3", "column 'v'"]),
    (pl.DataFrame({"text": ["a", "b"], "v": [1, 2]}), {}, ["needs a list of votes", "'v'"]),
    (pl.DataFrame({"text": ["a", "b"], "v": ["x,y", "[x"]}), {}, ["not a JSON list", "row 2"]),
])
def test_bad_listed_votes_name_the_item_rows(table, kwargs, needles) -> None:
    with pytest.raises(RelabelInputError) as err:
        votes_from_lists(table, "votes.csv", "v", **kwargs)
    msg = str(err.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, msg


def test_a_wide_tables_bad_label_names_its_row_not_its_vote() -> None:
    table = pl.DataFrame({"text": ["t1", "t2", "t3"], "a1": ["x", "y", "x"],
                          "a2": ["x", "y", "z"]})
    with pytest.raises(RelabelInputError, match=r"row 3,"):
        votes_from_wide(table, "wide.csv", ["a1", "a2"], classes=["x", "y"])


@pytest.mark.parametrize(("table", "kwargs", "needles"), [
    (_long([("a", "w1", "x")]).drop("annotator"), {}, ["no column 'annotator'", "votes.csv"]),
    (_long([("a", "w1", "x"), ("b", "w1", "y")], text=["t", " "]), {},
     ["an item with no text", "row 2", "column 'text'"]),
    (_long([("a", "w1", "x"), ("b", "w1", "z")]), {"classes": ["x", "y"]},
     ["outside the class set", "'z'", "row 2", "column 'label'"]),
    (_long([("a", "w1", "x"), ("b", "w1", "y"), ("a", "w1", "y")]), {},
     ["the same (item_id, annotator) pair", "rows 1, 3", "dedupe=True",
      "1 of the 1 repeated pairs chose different labels"]),
    (_long([("a", "w1", "x"), ("a", "w2", "y")], text=["one", "two"]), {},
     ["different texts", "row 2"]),
])
def test_bad_votes_get_one_line_naming_file_rows_and_column(table, kwargs, needles) -> None:
    with pytest.raises(RelabelInputError) as err:
        votes_from_long(table, "votes.csv", **kwargs)
    msg = str(err.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, msg


def test_votes_under_other_column_names_get_the_options_in_one_line() -> None:
    """A CrowdTruth file (``id, worker, relation``) lacks all three default columns: one line
    names them and what to pass for each, on the command line and in Python."""
    from relabel.errors import cli_options

    crowd = pl.DataFrame({"id": ["a", "a"], "worker": ["w1", "w2"], "relation": ["x", "y"]})
    with cli_options(), pytest.raises(RelabelInputError) as err:
        votes_from_long(crowd, "votes.csv")
    assert str(err.value) == (
        "votes.csv: no columns 'item_id', 'annotator', 'label' (available: id, worker, "
        "relation); pass --item-col id --annotator-col worker --label-col relation")
    with pytest.raises(RelabelInputError, match=r"; pass item_col='id', "
                                                r"annotator_col='worker', label_col='relation'$"):
        votes_from_long(crowd, "votes.csv")
    votes = votes_from_long(crowd, "votes.csv", item_col="id", annotator_col="worker",
                            label_col="relation")
    assert votes.counts().tolist() == [[1, 1]]
    # an unknown name among them: the option to choose it, the others' values
    odd = crowd.rename({"worker": "w"})
    with cli_options(), pytest.raises(RelabelInputError,
                                      match=r"; pass --item-col id --label-col relation; "
                                            r"choose --annotator-col$"):
        votes_from_long(odd, "votes.csv")


def test_dedupe_keeps_the_latest_vote() -> None:
    v = votes_from_long(_long([("a", "w1", "x"), ("b", "w1", "y"), ("a", "w1", "y")]),
                        "votes.csv", dedupe=True)
    assert v.counts().tolist() == [[0, 1], [0, 1]]


def test_a_multi_select_answer_is_one_vote_shared_by_its_choices() -> None:
    """CrowdTruth's workers may choose several relations for a sentence: each choice is then
    1/m of the worker's vote (a choice repeated in one answer counts once), the counts and the
    estimator weigh them so, and the agreement figures take the answer's last choice."""
    rows = [("a", "w1", "x"), ("a", "w1", "y"), ("a", "w1", "y"), ("a", "w2", "x"),
            ("b", "w1", "y"), ("b", "w2", "y"), ("b", "w2", "x"), ("b", "w2", "z")]
    with pytest.raises(RelabelInputError, match=r"multi_select=True reads each answer as one "
                                                r"vote shared by its choices"):
        votes_from_long(_long(rows), "votes.csv")
    v = votes_from_long(_long(rows), "votes.csv", multi_select=True)
    assert len(v.item) == 7 and v.n_votes == 4
    np.testing.assert_allclose(v.counts(), [[1.5, 0.5, 0.0], [1 / 3, 1 + 1 / 3, 1 / 3]])
    assert v.frame()["weight"].to_list() == pytest.approx([0.5, 0.5, 1.0, 1.0, 1 / 3, 1 / 3,
                                                           1 / 3])
    one = v.one_per_answer()
    assert len(one.item) == 4 and one.weight is None
    assert one.matrix().tolist() == [[1.0, 0.0], [1.0, 2.0]]  # the last choices: y, x; y, z
    assert agreement(v).votes == 4
    res = estimate_consensus(v)
    assert res.items["majority_label"].to_list() == ["x", "y"]
    assert res.items["votes"].to_list()[0] == "x: 1.5, y: 0.5"
    assert res.summary()["votes"] == 4
    assert res.annotators["votes"].to_list() == [2, 2]
    # answers per item are counted, not summed: three thirds and a whole vote are two answers
    # (the float sum is 1.9999999999999998), and denoise holds such an item when it overrules
    from relabel.crowd.stage import _overrules_held

    thirds = votes_from_long(_long([("a", "w1", "x"), ("a", "w1", "y"), ("a", "w1", "z"),
                                    ("a", "w2", "x"), ("b", "w1", "y")]), "v",
                             multi_select=True)
    assert thirds.counts().sum(1)[0] < 2 and thirds.answers().tolist() == [2, 1]
    assert _overrules_held(np.array(["overrules_majority", "overrules_majority"]),
                           thirds.answers()).tolist() == [True, False]
    # without multi-select answers nothing changes: no weights
    assert votes_from_long(_long(rows[3:5]), "v", multi_select=True).weight is None


def test_weighted_votes_equal_repeated_whole_votes() -> None:
    """A vote of weight 2 is two votes: the estimator's arithmetic with weights matches the
    same votes written out (the weights only scale each vote's evidence and counts)."""
    _, item, annotator, label, _ = _simulated(seed=3, n=300, k=3)
    whole = dawid_skene(np.concatenate([item, item]), np.concatenate([annotator, annotator]),
                        np.concatenate([label, label]), 300, int(annotator.max()) + 1, 3)
    weighted = dawid_skene(item, annotator, label, 300, int(annotator.max()) + 1, 3,
                           weight=np.full(len(item), 2.0))
    np.testing.assert_allclose(weighted.posterior, whole.posterior, atol=1e-9)


def test_votes_on_items_of_a_second_file() -> None:
    items = pl.DataFrame({"item_id": ["a", "b", "c"], "text": ["t1", "t2", "t3"]})
    v = votes_from_long(_long([("b", "w1", "x"), ("a", "w1", "y")]), "votes.csv", items=items,
                        items_name="items.csv")
    assert v.item_ids == ["a", "b", "c"] and v.counts().sum(1).tolist() == [1, 1, 0]
    other = _long([("zz", "w1", "q"), ("a", "w1", "y"), ("b", "w2", "x")])
    with pytest.raises(RelabelInputError, match=r"not in items\.csv \(e\.g\. 'zz'\); "
                       r"skip_other_items=True uses only the votes on its items"):
        votes_from_long(other, "votes.csv", items=items, items_name="items.csv")
    # a whole project's votes beside one split's items: the others are dropped and counted,
    # and their labels add no class
    v = votes_from_long(other, "votes.csv", items=items, items_name="items.csv",
                        skip_other_items=True)
    assert v.other_items == 1 and v.classes == ["x", "y"] and len(v.item) == 2
    assert v.counts().tolist() == [[0, 1], [1, 0], [0, 0]]


# ---------------------------------------------------------------- the estimator


def _simulated(seed: int = 0, n: int = 1500, k: int = 4):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, size=n)
    item, ann, lab, acc = simulate_annotators(truth, k, n_annotators=12, votes_per_item=(3, 3),
                                              accuracy=(0.35, 0.95), seed=seed)
    return truth, item, ann, lab, acc


def test_dawid_skene_beats_majority_vote_and_ranks_annotators() -> None:
    from scipy.stats import spearmanr

    truth, item, ann, lab, acc = _simulated()
    n, a, k = len(truth), 12, 4
    counts = np.zeros((n, k))
    np.add.at(counts, (item, lab), 1)
    mv = majority_vote(counts, rng=np.random.default_rng(0))
    em = dawid_skene(item, ann, lab, n, a, k)
    assert em.converged
    assert (em.posterior.argmax(1) == truth).mean() > (mv == truth).mean() + 0.02
    est, low, high, n_votes = annotator_accuracy(item, ann, lab, em.posterior, a)
    assert spearmanr(est, acc)[0] > 0.9
    assert (low <= est).all() and (est <= high).all() and n_votes.sum() == len(item)


def test_a_good_model_annotator_helps_and_a_useless_one_does_no_harm() -> None:
    truth, item, ann, lab, _ = _simulated(seed=1)
    n, a, k = len(truth), 12, 4
    base = (dawid_skene(item, ann, lab, n, a, k).posterior.argmax(1) == truth).mean()
    rng = np.random.default_rng(1)
    good = np.full((n, k), 0.1 / (k - 1))
    good[np.arange(n), truth] = 0.9
    flat = np.full((n, k), 1.0 / k)
    with_good = dawid_skene(item, ann, lab, n, a, k, model_probs=good)
    with_flat = dawid_skene(item, ann, lab, n, a, k, model_probs=flat)
    assert (with_good.posterior.argmax(1) == truth).mean() > base + 0.03
    assert abs((with_flat.posterior.argmax(1) == truth).mean() - base) < 0.01
    assert np.diag(with_good.model_confusion).mean() > 0.8  # its quality is learned
    assert rng is not None


@pytest.mark.parametrize("n_items", [6, 30])
def test_em_that_collapses_falls_back_and_keeps_the_majorities(n_items) -> None:
    """A few items of one dominant class: EM drifted to its symmetric fixed point (every
    posterior at 0.5) and overruled majorities (six items: five unanimous ones flipped). The
    collapse is detected and the first iteration's estimate is kept."""
    rng = np.random.default_rng(0)
    if n_items == 6:  # eleven of twelve votes 'x'
        labels = ["x", "x", "x", "y"] + ["x"] * 8
        annotators = ["a", "b"] * 6
    else:  # every item truly 'x', three annotators right 90% of the time
        labels = ["x" if rng.random() < 0.9 else "y" for _ in range(3 * n_items)]
        annotators = ["a", "b", "c"] * n_items
    per = len(labels) // n_items
    votes = votes_from_long(pl.DataFrame({
        "item_id": [str(i) for i in range(n_items) for _ in range(per)],
        "annotator": annotators, "label": labels}), "v.csv")
    for model in (None, np.tile([0.8, 0.2], (n_items, 1))):
        result = estimate_consensus(votes, model_probs=model)
        assert result.em.collapsed and result.summary()["em"]["collapsed"] is True
        items = result.items
        strict = items.filter(pl.col("agreement") > 0.5)
        assert (strict["consensus_label"] == strict["majority_label"]).all()
        assert (items.filter(pl.col("agreement") == 1.0)["consensus_label"] == "x").all()
    # a healthy set does not collapse
    healthy = votes_from_long(pl.DataFrame({
        "item_id": [str(i) for i in range(40) for _ in range(3)],
        "annotator": ["a", "b", "c"] * 40,
        "label": [["x", "y"][i % 2] for i in range(40) for _ in range(3)]}), "h.csv")
    assert not estimate_consensus(healthy).em.collapsed


def test_calibrated_quality_is_tempered_evidence() -> None:
    truth, item, ann, lab, _ = _simulated(seed=2)
    em = dawid_skene(item, ann, lab, len(truth), 12, 4)
    # only the evidence is tempered (the prior is kept), so the argmax rarely moves
    assert (em.calibrated.argmax(1) == em.posterior.argmax(1)).mean() > 0.97
    assert em.calibrated.max(1).mean() < em.posterior.max(1).mean()
    # (these simulated workers are independent, so EM's own posterior is the calibrated one
    # here; the exponent is chosen on real crowds, whose mistakes are correlated)
    from relabel.crowd.estimate import calibrate

    assert np.allclose(calibrate(em.log_joint, em.prior, 1.0), em.posterior, atol=1e-6)


# ---------------------------------------------------------------- agreement and flags


def test_agreement_coefficients_on_perfect_and_opposite_annotators() -> None:
    same = votes_from_long(_long([(str(i), w, "xy"[i % 2]) for i in range(40)
                                  for w in ("w1", "w2", "w3")]), "v")
    a = agreement(same)
    assert a.alpha == pytest.approx(1.0) and a.fleiss_kappa == pytest.approx(1.0)
    assert a.unanimous == 1.0 and a.fleiss_votes == 3 and a.fleiss_items == 40
    assert (a.pairs["cohen_kappa"] == 1.0).all() and a.pairs.height == 3
    opposite = votes_from_long(_long([(str(i), w, "xy"[(i + (w == "w2")) % 2])
                                      for i in range(40) for w in ("w1", "w2")]), "v")
    assert krippendorff_alpha(opposite) < -0.5
    assert agreement(opposite).pairs["cohen_kappa"][0] == pytest.approx(-1.0)


def test_split_items_are_ambiguous_only_where_the_model_cannot_decide() -> None:
    counts = np.array([[2.0, 2.0], [2.0, 2.0], [4.0, 0.0], [1.0, 0.0]])
    quality = np.array([0.95, 0.95, 0.99, 0.6])
    consensus = np.array([0, 0, 0, 0])
    model = np.array([[0.5, 0.5], [0.95, 0.05], [0.9, 0.1], [0.9, 0.1]])
    ambiguous, needs = flag_items(counts, quality, consensus, model, 0.9)
    assert ambiguous.tolist() == [True, False, False, False]
    assert needs.tolist() == [True, False, False, True]  # last: quality below the target
    ambiguous, _ = flag_items(counts, quality, consensus, None, 0.9)
    assert not ambiguous.any()  # no model: a split item is ambiguous only below the target


def test_a_consensus_that_overrules_a_strict_majority_needs_a_human() -> None:
    """The consensus may differ from a strict majority (a spammer's vote is in it), but such an
    item is never resolved without a human, whatever its quality; a tie is no majority."""
    counts = np.array([[2.0, 1.0, 0.0], [2.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0],
                       [0.0, 1.0, 0.0]])
    consensus = np.array([1, 0, 1, 2, 2])
    assert overrules_majority(counts, consensus).tolist() == [True, False, False, False, True]
    _, needs = flag_items(counts, np.full(5, 0.99), consensus, None, 0.9)
    assert needs.tolist() == [True, False, False, False, True]
    # w3 always says 'y' and w1 is always right: on item 'a' w2 joins w3, and the estimator
    # follows w1 against the two of them
    rows = [(str(i), "w1", "xz"[i % 2]) for i in range(40)]
    rows += [(str(i), "w2", "xz"[i % 2]) for i in range(1, 40)] + [("0", "w2", "y")]
    rows += [(str(i), "w3", "y") for i in range(40)]
    res = estimate_consensus(votes_from_long(_long(rows), "v"))
    first = res.items.row(0, named=True)
    assert first["majority_label"] == "y" and first["consensus_label"] == "x"
    assert first["quality"] >= 0.9  # the estimator is sure; the rule still asks a human
    assert first["status"] == STATUS_OVERRULES and first["needs_review"]
    assert (res.items["status"] == STATUS_OVERRULES).sum() == 1
    s = res.summary()
    assert s["overrules_majority"] == 1 and s["needs_review"] >= 1
    assert "1 overrule a majority of their votes" in needs_human_text(s)


def test_estimate_consensus_tables() -> None:
    rows = [("a", "w1", "x"), ("a", "w2", "x"), ("a", "w3", "y"), ("b", "w1", "y"),
            ("b", "w2", "y"), ("c", "w3", "x")]
    v = votes_from_long(_long(rows), "v")
    res = estimate_consensus(v, model_probs=np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]))
    items = res.items
    assert items["consensus_label"].to_list()[:2] == ["x", "y"]
    assert items["votes"][0] == "x: 2, y: 1" and items["annotations"][0] == "w1=x; w2=x; w3=y"
    assert items["agreement"][0] == pytest.approx(2 / 3) and items["n_votes"].to_list() == [3,
                                                                                           2, 1]
    assert set(items["status"]) <= {"resolved", "low_quality", STATUS_AMBIGUOUS, STATUS_OVERRULES}
    assert res.annotators["annotator"].to_list() == ["w1", "w2", "w3", MODEL_ANNOTATOR]
    s = res.summary()
    assert s["items"] == 3 and s["votes"] == 6 and s["model"] is True


# ---------------------------------------------------------------- API, CLI, denoise, export


def _crowd_files(tmp_path, n_per_class: int = 30):
    """Items (text) and long votes: w1 and w2 right, w3 a spammer who always says 'refund',
    and on every 7th item w1 and w2 split between the two other classes."""
    df = make_text_dataset(n_per_class=n_per_class, flip=0, seed=5)
    items = tmp_path / "items.csv"
    df.select(pl.col("id").alias("item_id"), "text").write_csv(items)
    rows = []
    classes = sorted(set(df["true_label"]))
    for i, (iid, label) in enumerate(zip(df["id"], df["true_label"], strict=True)):
        other = classes[(classes.index(label) + 1) % 3]
        rows += [{"item_id": iid, "annotator": "w1", "label": label},
                 {"item_id": iid, "annotator": "w2", "label": other if i % 7 == 0 else label},
                 {"item_id": iid, "annotator": "w3", "label": "refund"}]
    votes = tmp_path / "votes.csv"
    pl.DataFrame(rows).write_csv(votes)
    return df, items, votes


def test_consensus_api_writes_its_files_and_never_touches_the_input(tmp_path) -> None:
    import relabel

    df, items, votes = _crowd_files(tmp_path)
    before = (items.read_bytes(), votes.read_bytes())
    c = relabel.consensus(items, annotations=votes, out=tmp_path / "out",
                          to=tmp_path / "consensus.parquet", encoder=FakeEncoder(),
                          progress=False)
    assert (items.read_bytes(), votes.read_bytes()) == before
    truth = dict(zip(df["id"], df["true_label"], strict=True))
    acc = np.mean([truth[i] == lab for i, lab in
                   zip(c.items["id"], c.items["consensus_label"], strict=True)])
    assert acc > 0.95
    table = {r["annotator"]: r for r in c.annotators.iter_rows(named=True)}
    assert table["w3"]["accuracy"] < 0.5 < table["w1"]["accuracy"]
    assert MODEL_ANNOTATOR in table
    for name in ("consensus.parquet", "consensus.csv", "annotators.csv", "annotator_pairs.csv",
                 "agreement.json", "votes.parquet"):
        assert (tmp_path / "out" / name).is_file(), name
    written = pl.read_parquet(tmp_path / "consensus.parquet")
    assert written["label"].to_list() == c.items["consensus_label"].to_list()
    assert {"consensus_quality", "needs_review", "text"} <= set(written.columns)
    again = relabel.load_consensus(tmp_path / "out")
    assert again is not None and again.items.height == c.items.height
    assert "items" in repr(c)
    # soft labels: one column per class, rows summing to 1, the consensus's quality among them
    probs = c.probabilities
    classes = sorted(set(df["true_label"]))
    assert probs.columns == ["id", *classes] and probs["id"].equals(c.items["id"])
    values = probs.select(classes).to_numpy()
    np.testing.assert_allclose(values.sum(axis=1), 1.0, rtol=1e-9)
    picked = values[np.arange(len(values)), [classes.index(x) for x in c.items["consensus_label"]]]
    np.testing.assert_allclose(picked, c.items["quality"].to_numpy(), rtol=1e-9)
    # written beside the consensus, so a reopened one (and a CLI user) has them too
    assert again.probabilities.equals(probs)
    csv = pl.read_csv(tmp_path / "out" / "consensus_probabilities.csv",
                      schema_overrides={"id": pl.String})
    assert csv.columns == probs.columns
    np.testing.assert_allclose(csv.select(classes).to_numpy(), values, rtol=1e-6)
    (tmp_path / "out" / "consensus_probabilities.parquet").unlink()
    with pytest.raises(RelabelInputError, match=r"has no consensus_probabilities\.parquet"):
        _ = relabel.load_consensus(tmp_path / "out").probabilities


def test_class_names_that_head_a_csv_column_are_not_formulas(tmp_path) -> None:
    """A class's name heads a column of consensus_probabilities.csv: a name a spreadsheet
    would run is written as text there, and a class called 'id' does not clash with the ids."""
    import relabel

    rows = [(str(i), w, ("=cmd()", "id", "-1")[(i + (w == "w3") * (i % 5 == 0)) % 3])
            for i in range(30) for w in ("w1", "w2", "w3")]
    c = relabel.consensus(_long(rows), out=tmp_path / "out", progress=False)
    assert c.probabilities.columns == ["id", "-1", "=cmd()", "id (class)"]
    header = (tmp_path / "out" / "consensus_probabilities.csv").read_text().splitlines()[0]
    assert header == "id,-1,'=cmd(),id (class)"
    assert pl.read_parquet(tmp_path / "out" / "consensus_probabilities.parquet").columns == \
        c.probabilities.columns


def test_consensus_takes_denoises_column_keywords_and_refuses_unknown_ones(tmp_path) -> None:
    """``annotator_col="worker"`` (the CLI's and ``denoise``'s spelling) was swallowed as an
    estimator option, and the votes then failed as "no column 'annotator'"."""
    import relabel

    votes = {"item_id": ["a", "a", "a", "b", "b", "b"],
             "worker": ["w1", "w2", "w3", "w1", "w2", "w3"],
             "answer": ["x", "x", "y", "y", "y", "y"]}
    c = relabel.consensus(votes, item_col="item_id", annotator_col="worker",
                          label_col="answer", progress=False, smoothing=2.0)
    assert dict(zip(c.items["id"], c.items["consensus_label"], strict=True)) == {"a": "x",
                                                                               "b": "y"}
    assert set(c.annotators["annotator"]) >= {"w1", "w2", "w3"}
    with pytest.raises(TypeError, match="'anotator'; did you mean 'annotator'"):
        relabel.consensus(votes, anotator="worker", progress=False)
    with pytest.raises(TypeError, match="unexpected option 'colour'"):
        relabel.consensus(votes, annotator="worker", label="answer", colour=1, progress=False)


def test_item_ids_written_as_other_numbers_are_named() -> None:
    """A spreadsheet saved the votes' item 1 as ``1.0``: the error says which item it is."""
    items = pl.DataFrame({"item_id": ["1", "2", "3"], "text": ["a b", "c d", "e f"]})
    votes = pl.DataFrame({"item_id": ["1.0", "2.0", "3", "1.0"],
                          "annotator": ["a", "a", "b", "b"], "label": ["x", "y", "x", "x"]})
    with pytest.raises(RelabelInputError, match=r"rows 1, 2, 4, column 'item_id': 3 votes name "
                       r"items that are not in items.csv \(e.g. '1.0', which is '1' "
                       r"written as another number: the two files write their ids "
                       r"differently; save them the same way\)"):
        votes_from_long(votes, "votes.csv", items=items, items_name="items.csv")
    other = votes.with_columns(pl.Series("item_id", ["1.0", "9", "3", "1.0"]))
    with pytest.raises(RelabelInputError) as err:
        votes_from_long(other, "votes.csv", items=items, items_name="items.csv")
    assert "(e.g. '1.0')" in str(err.value)  # not every unknown id is a known one


def test_cli_errors_are_one_line_before_any_work(tmp_path) -> None:
    _, items, votes = _crowd_files(tmp_path, n_per_class=5)
    bad = tmp_path / "dup.csv"
    pl.read_csv(votes).vstack(pl.read_csv(votes).head(2)).write_csv(bad)
    for args, needle in [
        (["consensus", str(items), "--annotations", str(bad)], "pair more than once"),
        (["consensus", str(items), "--annotations", str(votes), "--annotator-col", "worker"],
         "no column 'worker'"),
        (["consensus", str(items), "--annotations", str(votes), "--classes", "card,refund"],
         "outside the class set"),
        (["denoise", str(items), "--annotations", str(bad), "--item-col", "item_id"],
         "pair more than once"),
    ]:
        p = run_relabel(*args, "--out", str(tmp_path / "never"))
        assert p.returncode == 2, p.stderr
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], p.stderr
        assert "Traceback" not in p.stderr
    assert not (tmp_path / "never").exists()
    ok = run_relabel("consensus", str(items), "--annotations", str(bad), "--dedupe", "--out",
              str(tmp_path / "dedupe"), "--corrector", "none", "--embeddings",
              str(_embeddings(tmp_path, items)))
    assert ok.returncode == 0, ok.stderr
    # votes on an item the items' file lacks: an error naming the option that skips them
    other = tmp_path / "other.csv"
    extra = pl.DataFrame({"item_id": ["zz"], "annotator": ["w1"], "label": ["refund"]})
    pl.read_csv(votes, infer_schema=False).vstack(extra).write_csv(other)
    p = run_relabel("consensus", str(items), "--annotations", str(other), "--out",
                    str(tmp_path / "never"))
    assert p.returncode == 2 and "--skip-other-items uses only the votes" in p.stderr, p.stderr
    ok = run_relabel("consensus", str(items), "--annotations", str(other),
                     "--skip-other-items", "--out", str(tmp_path / "skip"), "--corrector",
                     "none", "--embeddings", str(_embeddings(tmp_path, items)))
    assert ok.returncode == 0, ok.stderr
    assert "1 rows of votes on items that are not in the data are skipped (--skip-other-items)" \
        in ok.stdout
    assert json.loads((tmp_path / "skip" / "agreement.json").read_text())[
        "votes_on_other_items"] == 1


def test_cli_multi_select_answers(tmp_path) -> None:
    """A worker who chose two labels for one item: refused with the option that reads it, and
    with ``--multi-select`` one vote shared by the two (also through ``check``)."""
    rows = [{"item_id": str(i), "annotator": w, "label": "xy"[(i + (w == "w3")) % 2]}
            for i in range(20) for w in ("w1", "w2", "w3")]
    rows += [{"item_id": "0", "annotator": "w3", "label": "x"}]  # w3 chose both on item 0
    votes = tmp_path / "votes.csv"
    pl.DataFrame(rows).write_csv(votes)
    p = run_relabel("consensus", str(votes), "--out", str(tmp_path / "never"))
    assert p.returncode == 2 and "--multi-select reads each answer as one vote" in p.stderr
    ok = run_relabel("consensus", str(votes), "--multi-select", "--out", str(tmp_path / "c"))
    assert ok.returncode == 0, ok.stderr
    assert "20 items, 3 annotators, 60 votes" in ok.stdout
    written = pl.read_parquet(tmp_path / "c" / "consensus.parquet")
    assert written["votes"][0] == "x: 2.5, y: 0.5"
    assert pl.read_parquet(tmp_path / "c" / "votes.parquet")["weight"].sum() == \
        pytest.approx(60)
    check = run_relabel("check", str(votes), "--annotator-col", "annotator", "--multi-select")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "20 items, 2 classes, 60 votes by 3 annotators" in check.stdout


def _embeddings(tmp_path, items):
    return save_fake_embeddings(pl.read_csv(items)["text"].to_list(), tmp_path / "emb.npy")


def test_denoise_on_several_annotators_takes_the_consensus(tmp_path) -> None:
    """denoise --annotations (CLI, precomputed vectors): the consensus is the given label, the
    vote distribution joins the soft labels, ambiguous items go to a human with no
    suggestion, and export writes the items file back with the consensus (and relabel's
    changes) as its label column."""
    df, items, votes = _crowd_files(tmp_path)
    out = tmp_path / "run"
    p = run_relabel("denoise", str(items), "--annotations", str(votes), "--item-col", "item_id",
             "--embeddings", str(_embeddings(tmp_path, items)), "--out", str(out), "-q")
    assert p.returncode == 0, p.stderr
    assert "several annotators: " in p.stdout
    scores = pl.read_parquet(out / "scores.parquet")
    consensus = pl.read_parquet(out / "consensus.parquet")
    assert scores["label"].to_list() == consensus["consensus_label"].to_list()
    ambiguous = set(consensus.filter(pl.col("status") == STATUS_AMBIGUOUS)["id"])
    held = scores.filter(pl.col("reason") == "annotators_split")
    assert set(held["id"]) == ambiguous
    assert held["flagged"].all() and held["suggested_label"].is_null().all()
    # where w2 joins the spammer w3 ('refund'), the consensus follows w1 against the two:
    # kept as the label, but held for a human
    overrules = set(consensus.filter(pl.col("status") == STATUS_OVERRULES)["id"])
    assert len(overrules) >= 3
    held = scores.filter(pl.col("reason") == "overrules_majority")
    assert set(held["id"]) == overrules
    assert held["flagged"].all() and held["suggested_label"].is_null().all()
    assert (held["label"] != "refund").all()
    assert f"and {len(overrules)} that overrule a majority of their votes go to a human" \
        in " ".join(p.stdout.split())
    soft = np.load(out / "soft_labels.npy")
    assert soft.shape == (df.height, 3) and np.allclose(soft.sum(1), 1, atol=1e-4)
    summary = (out / "summary.json").read_text()
    assert '"consensus"' in summary
    report = (out / "report.html").read_text()
    assert "<h2>Annotators</h2>" in report and "Krippendorff" in report
    e = run_relabel("export", str(out), "--to", str(tmp_path / "clean.csv"))
    assert e.returncode == 0, e.stderr
    clean = pl.read_csv(tmp_path / "clean.csv")
    # the user's file, row for row, with the label column added
    assert clean.columns == [*pl.read_csv(items).columns, "label"]
    assert clean.drop("label").equals(pl.read_csv(items))
    final = dict(zip(scores["id"], scores["label"], strict=True))
    changed = pl.read_csv(tmp_path / "changes.csv")
    final.update(dict(zip(changed["id"].cast(pl.String), changed["new_label"], strict=True)))
    assert clean["label"].to_list() == [final[i] for i in clean["item_id"]]
    truth = dict(zip(df["id"], df["true_label"], strict=True))
    acc = np.mean([truth[i] == lab for i, lab in zip(clean["item_id"], clean["label"],
                                                     strict=True)])
    assert acc > 0.95


def test_denoise_keeps_an_items_only_vote_as_its_given_label(tmp_path) -> None:
    """An item with one vote has nothing to combine: the consensus could only differ from the
    vote where the model annotator outweighs it, a change of a human label that bypassed the
    decision rule, its flags and changes.csv (62 of 600 labels of a one-annotator Label Studio
    export). The vote is the given label; the rule decides any change."""
    df = make_text_dataset(n_per_class=40, flip=20, seed=11)
    items = tmp_path / "items.csv"
    df.select(pl.col("id").alias("item_id"), "text").write_csv(items)
    votes = tmp_path / "votes.csv"
    df.select(pl.col("id").alias("item_id"), pl.lit("solo").alias("annotator"),
              "label").write_csv(votes)
    emb = _embeddings(tmp_path, items)
    out = tmp_path / "run"
    p = run_relabel("denoise", str(items), "--annotations", str(votes), "--item-col", "item_id",
                    "--embeddings", str(emb), "--out", str(out), "-q")
    assert p.returncode == 0, p.stderr
    assert "one vote per item (120 votes by 1 annotator(s)): each vote is the given label" \
        in p.stdout
    scores = pl.read_parquet(out / "scores.parquet")
    given = dict(zip(df["id"], df["label"], strict=True))
    assert all(given[i] == lab for i, lab in zip(scores["id"], scores["label"], strict=True))
    consensus = pl.read_parquet(out / "consensus.parquet")
    summary = json.loads((out / "summary.json").read_text())["consensus"]
    assert summary["single_vote_items"] == 120
    # `relabel consensus` on the same votes says there is nothing to combine
    c = run_relabel("consensus", str(items), "--annotations", str(votes), "--item-col",
                    "item_id", "--embeddings", str(emb), "--out", str(tmp_path / "cons"))
    assert c.returncode == 0, c.stderr
    assert "one vote per item: there is nothing to combine" in c.stdout
    assert summary["single_votes_kept"] == int(
        (consensus["consensus_label"] != pl.Series([given[i] for i in consensus["id"]])).sum())
    # items with one vote beside items with several: each single vote stays
    (tmp_path / "mixed").mkdir()
    df3, items3, votes3 = _crowd_files(tmp_path / "mixed")
    lone = set(df3["id"].head(10).to_list())
    pl.read_csv(votes3).filter(~pl.col("item_id").is_in(list(lone)) |
                               (pl.col("annotator") == "w3")).write_csv(votes3)
    out3 = tmp_path / "run3"
    p = run_relabel("denoise", str(items3), "--annotations", str(votes3), "--item-col",
                    "item_id", "--embeddings", str(_embeddings(tmp_path / "mixed", items3)),
                    "--out", str(out3), "-q")
    assert p.returncode == 0, p.stderr
    kept3 = json.loads((out3 / "summary.json").read_text())["consensus"]["single_votes_kept"]
    assert (f"on the 10 items with one vote, that vote is the given label ({kept3} of them "
            "differ from the consensus)") in p.stdout
    s3 = pl.read_parquet(out3 / "scores.parquet").filter(pl.col("id").is_in(list(lone)))
    assert s3["label"].to_list() == ["refund"] * 10  # w3's vote, the only one left


def test_consensus_takes_id_col_as_denoise_does(tmp_path) -> None:
    """``relabel consensus --id-col`` names the item column as ``--item-col`` does (denoise's
    spelling), with the same consensus."""
    _, items, votes = _crowd_files(tmp_path)
    for f in (items, votes):
        pl.read_csv(f).rename({"item_id": "qid"}).write_csv(f)
    emb = _embeddings(tmp_path, items)
    got = {}
    for flag in ("--id-col", "--item-col"):
        out = tmp_path / flag.strip("-")
        p = run_relabel("consensus", str(items), "--annotations", str(votes), flag, "qid",
                        "--embeddings", str(emb), "--out", str(out))
        assert p.returncode == 0, p.stderr
        got[flag] = pl.read_csv(out / "consensus.csv")
    assert got["--id-col"].height == 90
    assert got["--id-col"].equals(got["--item-col"])


def test_wide_format_through_the_python_denoise(tmp_path) -> None:
    import relabel

    df = make_text_dataset(n_per_class=20, flip=0, seed=6)
    wide = df.select("id", "text", pl.col("true_label").alias("a1"),
                     pl.col("true_label").alias("a2"),
                     pl.when(pl.int_range(pl.len()) % 4 == 0).then(None)
                     .otherwise(pl.col("true_label")).alias("a3"))
    run = relabel.denoise(wide, out=tmp_path / "run", id="id", label_cols="a1,a2,a3",
                          encoder=FakeEncoder(), progress=False)
    assert run.summary["consensus"]["annotators"] == 3
    assert run.scores["label"].to_list() == df["true_label"].to_list()
    # apply() gives the user's table back, votes and all, with the label column added
    cleaned = run.apply()
    assert cleaned.columns == [*wide.columns, "label"]
    assert cleaned.drop("label").equals(wide)
    assert cleaned["label"].to_list() == df["true_label"].to_list()
    # in the type it came in: a pandas frame stays one
    pdf = wide.to_pandas()
    back = relabel.denoise(pdf, out=tmp_path / "run_pd", id="id", label_cols="a1,a2,a3",
                           encoder=FakeEncoder(), progress=False).apply()
    assert type(back) is type(pdf) and list(back.columns) == [*pdf.columns, "label"]
    assert back.drop(columns="label").equals(pdf)
    assert back["label"].tolist() == df["true_label"].to_list()


def test_consensus_apply_gives_the_data_back_with_its_consensus(tmp_path) -> None:
    """``Consensus.apply()``: the data in its own type with the consensus as ``label`` where it
    holds one row per item; one row per item for long votes; an error once reopened."""
    import relabel

    df = make_text_dataset(n_per_class=10, flip=0, seed=4)
    truth = df["true_label"].to_list()
    other = {t: next(c for c in sorted(set(truth)) if c != t) for t in set(truth)}
    wide = pl.DataFrame({"a1": truth, "a2": truth,
                         "a3": [other[t] if i % 3 == 0 else t for i, t in enumerate(truth)],
                         "note": [f"n{i}" for i in range(df.height)]})
    c = relabel.consensus(wide.to_pandas(), label_cols="a1,a2,a3", corrector="none",
                          out=tmp_path / "c", progress=False)
    back = c.apply()
    assert type(back).__name__ == "DataFrame" and hasattr(back, "iloc")  # pandas, as given
    assert list(back.columns) == [*wide.columns, "label"]
    assert back["label"].tolist() == c.items["consensus_label"].to_list() == truth
    path = tmp_path / "wide.csv"
    wide.write_csv(path)
    from_file = relabel.consensus(path, label_cols="a1,a2,a3", corrector="none",
                                  progress=False).apply()
    assert from_file.drop("label").equals(pl.read_csv(path)) and from_file["label"].to_list() \
        == truth
    coded = wide.with_columns(pl.col("a1", "a2", "a3").replace(
        {c: str(i) for i, c in enumerate(sorted(set(truth)))}))
    codes = relabel.consensus(coded, label_cols="a1,a2,a3", corrector="none",
                              label_names=sorted(set(truth)), progress=False).apply()
    assert codes["label"].to_list() == [sorted(set(truth)).index(t) for t in truth]
    long = pl.DataFrame({"item_id": [f"q{i}" for i in range(df.height) for _ in range(3)],
                         "annotator": ["w1", "w2", "w3"] * df.height,
                         "label": [v for row in wide.select("a1", "a2", "a3").iter_rows()
                                   for v in row]})
    items = relabel.consensus(long, corrector="none", progress=False).apply()
    assert items.columns == ["id", "label"] and items["label"].to_list() == truth
    with pytest.raises(RelabelInputError, match="keeps no data"):
        relabel.load_consensus(tmp_path / "c").apply()


def test_export_of_wide_votes_writes_the_users_file_back(tmp_path) -> None:
    """``export`` of a run on votes in columns writes the user's file (same rows, same columns,
    the votes kept) with the label column added; a label column that is one of the votes is
    never overwritten (the run's table of items is written instead), and the user's file is
    never the target."""
    df = make_text_dataset(n_per_class=20, flip=0, seed=6)
    truth = df["true_label"].to_list()
    other = {t: next(c for c in sorted(set(truth)) if c != t) for t in set(truth)}
    wide = df.select(pl.col("id").alias("qid"), "text").with_columns(
        pl.Series("a1", truth), pl.Series("a2", truth),
        pl.Series("a3", [other[t] if i % 3 == 0 else t for i, t in enumerate(truth)]),
        pl.Series("note", [f"n{i}" for i in range(df.height)]))
    path = tmp_path / "wide.csv"
    wide.write_csv(path, separator=";")
    emb = save_fake_embeddings(df["text"].to_list(), tmp_path / "emb.npy")
    p = run_relabel("denoise", str(path), "--label-cols", "a1,a2,a3", "--id-col", "qid",
                    "--embeddings", str(emb), "--out", str(tmp_path / "run"), "-q")
    assert p.returncode == 0, p.stderr
    e = run_relabel("export", str(tmp_path / "run"), "--to", str(tmp_path / "clean.csv"))
    assert e.returncode == 0, e.stderr
    text = (tmp_path / "clean.csv").read_text()
    assert text.splitlines()[0] == "qid;text;a1;a2;a3;note;label"  # the input's semicolons
    clean = pl.read_csv(tmp_path / "clean.csv", separator=";")
    assert clean.drop("label").equals(pl.read_csv(path, separator=";"))
    assert clean["label"].to_list() == truth
    refused = run_relabel("export", str(tmp_path / "run"), "--to", str(path))
    assert refused.returncode == 2 and "would overwrite the input" in refused.stderr
    # the report names the user's file, not the run's table of items
    assert "<h1>relabel report: wide.csv</h1>" in (tmp_path / "run" / "report.html").read_text()
    # once reviews are held there, denoise of the same file into the run directory goes on (it
    # was taken for the run's table of items, another input), and of another file is refused
    (tmp_path / "run" / "reviews_ledger.jsonl").touch()
    again = run_relabel("denoise", str(path), "--label-cols", "a1,a2,a3", "--id-col", "qid",
                        "--embeddings", str(emb), "--out", str(tmp_path / "run"), "-q")
    assert again.returncode == 0, again.stderr
    copy = tmp_path / "copy.csv"
    copy.write_bytes(path.read_bytes())
    other = run_relabel("denoise", str(copy), "--label-cols", "a1,a2,a3", "--id-col", "qid",
                        "--embeddings", str(emb), "--out", str(tmp_path / "run"), "-q")
    assert other.returncode == 2 and f"holds the reviews of a run of {path.resolve()}" \
        in other.stderr
    # the user's file changed since denoise: export says so
    before = path.read_bytes()
    path.write_bytes(before.replace(b"n0", b"m0"))
    changed = run_relabel("export", str(tmp_path / "run"), "--to", str(tmp_path / "c2.csv"))
    assert changed.returncode == 2 and "changed since `relabel denoise`" in changed.stderr
    path.write_bytes(before)
    # "label" among the vote columns: the votes are not overwritten
    wide.rename({"a3": "label"}).write_csv(path, separator=";")
    p = run_relabel("denoise", str(path), "--label-cols", "a1,a2,label", "--id-col", "qid",
                    "--embeddings", str(emb), "--out", str(tmp_path / "run2"), "-q")
    assert p.returncode == 0, p.stderr
    e = run_relabel("export", str(tmp_path / "run2"), "--to", str(tmp_path / "items.csv"))
    assert e.returncode == 0, e.stderr
    items = pl.read_csv(tmp_path / "items.csv")
    assert "a1" not in items.columns and items["label"].to_list() == truth


def test_an_items_files_own_label_replaced_by_the_consensus_is_in_the_audit_log(tmp_path
                                                                                ) -> None:
    """Items beside ``--annotations`` that have a ``label`` column of their own (a distant
    supervision label, as CrowdTruth's open relation file): the consensus replaces it, and
    ``denoise`` and ``consensus`` warn so (once), ``export`` counts it and ``changes.csv``
    lists every replaced label with the source ``consensus`` (it listed only relabel's own
    changes, while the file's column differed on many more rows)."""
    import warnings

    import relabel
    from relabel.errors import RelabelWarning

    df, items, votes = _crowd_files(tmp_path, n_per_class=15)
    truth = df["true_label"].to_list()
    stale = ["refund" if i % 4 == 0 else t for i, t in enumerate(truth)]
    pl.read_csv(items).with_columns(pl.Series("label", stale)).write_csv(items)
    emb = save_fake_embeddings(df["text"].to_list(), tmp_path / "emb.npy")
    p = run_relabel("denoise", str(items), "--annotations", str(votes), "--embeddings",
                    str(emb), "--out", str(tmp_path / "run"))
    assert p.returncode == 0, p.stderr
    run = relabel.load_run(tmp_path / "run")
    given = run.scores["label"].to_list()
    differ = sum(a != b for a, b in zip(stale, given, strict=True))
    assert differ > 0
    consensus = pl.read_parquet(tmp_path / "run" / "consensus.parquet")["consensus_label"]
    apart = sum(a != b for a, b in zip(stale, consensus, strict=True))
    assert ("warning: the items' own column 'label' is not among the votes: the consensus "
            "replaces it where the data is written back (--to, export), and differs "
            f"from it on {apart} of {df.height} items") in p.stdout
    e = run_relabel("export", str(tmp_path / "run"), "--to", str(tmp_path / "clean.csv"))
    assert e.returncode == 0, e.stderr
    assert f"the annotators' consensus replaced {differ} labels" in e.stdout
    clean = pl.read_csv(tmp_path / "clean.csv")
    log = pl.read_csv(tmp_path / "changes.csv", schema_overrides={"id": pl.String})
    by_consensus = log.filter(pl.col("source") == "consensus")
    assert by_consensus.height == differ
    status = pl.read_parquet(tmp_path / "run" / "consensus.parquet")["status"].to_list()
    for r in by_consensus.iter_rows(named=True):
        assert stale[r["row"]] == r["old_label"] and given[r["row"]] == r["new_label"]
        assert r["reason"].startswith("annotators' consensus (quality ")
        # where the consensus needed a human, the log says why
        assert r["reason"].endswith(", overrules_majority)") == (
            status[r["row"]] == "overrules_majority")
    assert by_consensus["reason"].str.ends_with(", overrules_majority)").sum() > 0
    # every row whose label the file's column no longer has is in the log
    moved = {i for i, (a, b) in enumerate(zip(stale, clean["label"], strict=True)) if a != b}
    assert moved <= set(log["row"])
    # the Python API says the same as a warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = relabel.denoise(items, annotations=votes, embeddings=np.load(emb),
                              out=tmp_path / "run2", progress=False)
    assert sum(issubclass(w.category, RelabelWarning) and "own column 'label' is not among "
               "the votes" in str(w.message) for w in caught) == 1
    assert "own column &#x27;label&#x27; is not among the votes" in run._repr_html_()
    # as relabel.consensus() does, whose apply() writes the consensus there
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c = relabel.consensus(items, annotations=votes, embeddings=np.load(emb), progress=False)
    assert any("own column 'label'" in str(w.message) for w in caught)
    assert c.apply()["label"].to_list() == c.items["consensus_label"].to_list()


def test_long_votes_with_their_text_in_one_file(tmp_path) -> None:
    import relabel

    df, items, votes = _crowd_files(tmp_path, n_per_class=15)
    long = pl.read_csv(votes).join(pl.read_csv(items), on="item_id")
    run = relabel.denoise(long, out=tmp_path / "run", annotator_col="annotator",
                          encoder=FakeEncoder(), progress=False)
    assert run.scores.height == df.height  # one row per item
    c = run.consensus
    assert c is not None and c.summary["annotators"] == 3
    assert set(c.annotators["annotator"]) >= {"w1", "w2", "w3"}
    cleaned = run.apply()
    assert cleaned.height == df.height and "label" in cleaned.columns
    # from a file, export writes one row per item, named by the file's own item column
    long.write_csv(tmp_path / "long.csv")
    texts = long.unique("item_id", keep="first", maintain_order=True)["text"].to_list()
    emb = save_fake_embeddings(texts, tmp_path / "long_emb.npy")
    p = run_relabel("denoise", str(tmp_path / "long.csv"), "--annotator-col", "annotator",
                    "--embeddings", str(emb), "--out", str(tmp_path / "run2"), "-q")
    assert p.returncode == 0, p.stderr
    e = run_relabel("export", str(tmp_path / "run2"), "--to", str(tmp_path / "items.csv"))
    assert e.returncode == 0, e.stderr
    items_out = pl.read_csv(tmp_path / "items.csv")
    assert items_out.columns[:3] == ["item_id", "text", "label"]
    assert items_out["item_id"].to_list() == long["item_id"].unique(maintain_order=True).to_list()


def test_listed_votes_through_the_cli_and_the_python_denoise(tmp_path) -> None:
    import relabel

    df = make_text_dataset(n_per_class=20, flip=0, seed=7)
    truth = df["true_label"].to_list()
    other = {t: next(c for c in sorted(set(truth)) if c != t) for t in set(truth)}
    # three votes per item, the third wrong on every fifth item; who voted, LeWiDi-style
    votes = [f"{t},{t},{other[t] if i % 5 == 0 else t}" for i, t in enumerate(truth)]
    who = [f"w{i % 4},w{(i + 1) % 4},w{(i + 2) % 4}" for i in range(df.height)]
    items = df.select("id", "text").with_columns(pl.Series("annotations", votes),
                                                 pl.Series("annotators", who))
    items.write_ndjson(tmp_path / "items.jsonl")
    save_fake_embeddings(items["text"].to_list(), tmp_path / "emb.npy")
    res = run_relabel("consensus", str(tmp_path / "items.jsonl"), "--votes-col", "annotations",
                      "--annotator-col", "annotators", "--embeddings", str(tmp_path / "emb.npy"),
                      "-o", str(tmp_path / "c"))
    assert res.returncode == 0, res.stderr
    assert f"{df.height} items, 4 annotators, {3 * df.height} votes" in res.stdout
    got = pl.read_csv(tmp_path / "c" / "consensus.csv", schema_overrides={"id": pl.String})
    assert got["consensus_label"].to_list() == truth
    run = relabel.denoise(items, out=tmp_path / "run", votes_col="annotations",
                          annotator_col="annotators", encoder=FakeEncoder(), progress=False)
    assert run.summary["consensus"]["annotators"] == 4
    assert run.scores["label"].to_list() == truth
    with pytest.raises(RelabelInputError, match=r"votes_col .* cannot be combined"):
        relabel.denoise(items, out=tmp_path / "bad", votes_col="annotations",
                        annotations=tmp_path / "items.jsonl", encoder=FakeEncoder())


def test_check_reads_the_votes_as_denoise_and_says_when_they_have_no_text(tmp_path) -> None:
    import relabel

    votes = _long([("a", "w1", "x"), ("a", "w2", "y"), ("b", "w1", "y"), ("b", "w2", "y")])
    votes.write_csv(tmp_path / "votes.csv")
    res = run_relabel("check", str(tmp_path / "votes.csv"), "--annotator-col", "annotator")
    assert res.returncode == 0, res.stderr
    assert "2 items, 2 classes, 4 votes by 2 annotators (votes)" in res.stdout
    assert "ready for relabel consensus (the items have no text 'text'" in res.stdout
    # denoise refuses before any work, and writes nothing
    with pytest.raises(RelabelInputError, match=r"votes\.csv: the items have no text"):
        relabel.denoise(tmp_path / "votes.csv", out=tmp_path / "run", annotator_col="annotator",
                        encoder=FakeEncoder())
    assert not (tmp_path / "run").exists()
    # listed votes with text; a bad annotator list is found without a model
    pl.DataFrame({"text": ["t1", "t2"], "v": ["x,y", "y"], "who": ["w1,w2", "w1,w2"]}).write_csv(
        tmp_path / "items.csv")
    res = run_relabel("check", str(tmp_path / "items.csv"), "--votes-col", "v",
                      "--annotator-col", "who")
    assert res.returncode == 2
    assert "error: " in res.stdout and "row 2" in res.stdout and "different number" in res.stdout
    # several problems of a votes file, each in one line, in one pass: a repeated pair and
    # votes on items the items file lacks (denoise stops at the first)
    pl.DataFrame({"item_id": ["a", "b"], "text": ["t1", "t2"]}).write_csv(tmp_path / "it.csv")
    _long([("a", "w1", "x"), ("a", "w1", "y"), ("b", "w1", "y"), ("c", "w2", "x")]).write_csv(
        tmp_path / "v.csv")
    res = run_relabel("check", str(tmp_path / "it.csv"), "--annotations", str(tmp_path / "v.csv"))
    assert res.returncode == 2
    errors = [line for line in res.stdout.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2, res.stdout
    assert "row 4, column 'item_id': 1 votes name items that are not in" in errors[0]
    assert "rows 1, 2: the same (item_id, annotator) pair more than once" in errors[1]
    assert "2 items, 2 classes, 2 votes by 1 annotators (votes): 2 error(s)" in res.stdout


def test_integer_votes_named_by_label_names_in_consensus_and_denoise(tmp_path) -> None:
    import relabel

    df = make_text_dataset(n_per_class=20, flip=0, seed=8)
    classes = sorted(set(df["true_label"]))
    code = {c: str(i) for i, c in enumerate(classes)}
    truth = df["true_label"].to_list()
    votes = [",".join([code[t]] * 3) for t in truth]
    items = df.select("id", "text").with_columns(pl.Series("votes", votes))
    c = relabel.consensus(items, votes_col="votes", label_names=classes, embeddings=None,
                          encoder=FakeEncoder(), out=tmp_path / "c", progress=False)
    assert c.items["consensus_label"].to_list() == truth
    assert set(c.items["majority_label"]) == set(classes)
    run = relabel.denoise(items, votes_col="votes", label_names=classes, encoder=FakeEncoder(),
                          out=tmp_path / "run", progress=False)
    assert run.summary["classes"] == len(classes)  # names only, not names and codes
    assert run.scores["label"].to_list() == truth
    # export writes codes back, as for a file of coded labels (it wrote the names)
    run.export(tmp_path / "clean.csv")
    written = pl.read_csv(tmp_path / "clean.csv", infer_schema=False)
    assert written["label"].to_list() == [code[t] for t in truth]
    with pytest.raises(RelabelInputError, match=r"a vote's label '2' has no name in "
                                                r"label_names \(codes: 0, 1\)"):
        relabel.consensus(items, votes_col="votes", label_names=classes[:2], out=None,
                          corrector="none", progress=False)


def test_consensus_to_json_keeps_a_keyed_inputs_layout_and_writes_codes(tmp_path) -> None:
    import json

    import relabel

    # LeWiDi's layout: an object of records keyed by id, nested fields, coded votes
    df = make_text_dataset(n_per_class=10, flip=0, seed=9)
    classes = sorted(set(df["true_label"]))
    records = {str(i): {"text": t, "annotations": ",".join([str(classes.index(c))] * 3),
                        "annotators": "a1,a2,a3", "other_info": {"domain": "d"}}
               for i, (t, c) in enumerate(zip(df["text"], df["true_label"], strict=True))}
    src = tmp_path / "lewidi.json"
    src.write_text(json.dumps(records))
    relabel.consensus(src, votes_col="annotations", annotator="annotators",
                      label_names=classes, corrector="none", out=tmp_path / "c",
                      to=tmp_path / "out.json", progress=False)
    out = json.loads((tmp_path / "out.json").read_text())
    assert list(out) == list(records)
    first = out["0"]
    assert first["other_info"] == {"domain": "d"} and first["text"] == records["0"]["text"]
    # integer codes, as the votes were codes (written as text "0" until 2026-12-07)
    assert first["label"] == classes.index(df["true_label"][0])


def test_votes_in_another_encoding_through_consensus_and_denoise(tmp_path) -> None:
    import relabel

    df = make_text_dataset(n_per_class=15, flip=0, seed=10)
    rows = [{"item_id": i, "annotator": w, "label": lab + "é", "text": t + " café"}
            for i, t, lab in zip(df["id"], df["text"], df["true_label"], strict=True)
            for w in ("w1", "w2")]
    src = tmp_path / "votes.csv"
    src.write_bytes(pl.DataFrame(rows).write_csv().encode("cp1252"))
    with pytest.raises(RelabelInputError, match="pass encoding='cp1252'"):
        relabel.consensus(src, out=None, corrector="none", progress=False)
    c = relabel.consensus(src, encoding="cp1252", corrector="none", out=tmp_path / "c",
                          to=tmp_path / "items.csv", progress=False)
    assert set(c.items["consensus_label"]) == {t + "é" for t in set(df["true_label"])}
    with pytest.raises(UnicodeDecodeError):  # written back in the input's encoding
        (tmp_path / "items.csv").read_bytes().decode("utf-8")
    run = relabel.denoise(src, annotator_col="annotator", encoding="cp1252",
                          encoder=FakeEncoder(), out=tmp_path / "run", progress=False)
    assert run.scores["label"].to_list() == [t + "é" for t in df["true_label"]]


def test_votes_in_a_json_file_with_nested_fields_write_their_csv_files(tmp_path) -> None:
    """LeWiDi's HS-Brexit: each item has ``other_info`` with records inside; consensus.csv
    holds them as JSON text (it raised polars' "CSV format does not support nested data")."""
    import relabel

    df = make_text_dataset(n_per_class=10, flip=0, seed=3)
    records = {row["id"]: {"text": row["text"], "annotations": f"{row['label']},{row['label']}",
                           "annotators": "a1,a2",
                           "other_info": {"groups": {"g1": "x"}, "tags": ["t1", "t2"]}}
               for row in df.iter_rows(named=True)}
    path = tmp_path / "items.json"
    path.write_text(json.dumps(records))
    save_fake_embeddings(df["text"].to_list(), tmp_path / "emb.npy")
    res = run_relabel("consensus", str(path), "--votes-col", "annotations", "--annotator-col",
                      "annotators", "--embeddings", str(tmp_path / "emb.npy"),
                      "-o", str(tmp_path / "c"))
    assert res.returncode == 0, res.stderr
    got = pl.read_csv(tmp_path / "c" / "consensus.csv")
    assert [json.loads(v) for v in got["other_info.groups"]] == [{"g1": "x"}] * df.height
    assert got["other_info.tags"].to_list() == ['["t1","t2"]'] * df.height
    run = relabel.denoise(path, out=tmp_path / "run", votes_col="annotations",
                          annotator_col="annotators", encoder=FakeEncoder(), progress=False)
    assert run.scores.height == df.height


def test_consensus_passes_the_encoder_settings_as_denoise_does(tmp_path) -> None:
    """``relabel consensus --precision --max-length --max-windows --batch-size`` reach the
    packaged encoder: its cache key (the run's embedding cache) names them; a bad value is a
    usage error, not a traceback."""
    _, items, votes = _crowd_files(tmp_path, n_per_class=10)
    out = tmp_path / "out"
    p = run_relabel("consensus", str(items), "--annotations", str(votes), "--out", str(out),
                    "--precision", "fp32", "--max-length", "16", "--max-windows", "2",
                    "--batch-size", "8", "--corrector", "none")
    assert p.returncode == 0, p.stderr
    keys = [d.name for d in (out / "cache" / "embeddings").iterdir() if d.is_dir()]
    assert len(keys) == 1 and "len16" in keys[0] and "-w2" in keys[0], keys
    assert "bf16" not in keys[0] and "int8" not in keys[0]
    assert pl.read_csv(out / "consensus.csv").height == 30
    bad = run_relabel("consensus", str(items), "--annotations", str(votes), "--out",
                      str(tmp_path / "bad"), "--max-length", "4")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_to_may_go_into_the_out_directory_the_command_creates(tmp_path) -> None:
    """``--out relabel-out/crowd --to relabel-out/crowd/items.csv`` (examples/README.md's own
    command) failed on a fresh checkout: the directory did not exist yet. A ``--to`` anywhere
    else still needs an existing directory."""
    import relabel

    _, items, votes = _crowd_files(tmp_path, n_per_class=5)
    out = tmp_path / "new" / "crowd"
    relabel.consensus(items, annotations=votes, out=out, to=out / "items.csv",
                      corrector="none", progress=False)
    assert pl.read_csv(out / "items.csv").height == pl.read_csv(items).height
    with pytest.raises(RelabelInputError, match="does not exist; create it first"):
        relabel.consensus(items, annotations=votes, out=tmp_path / "o2",
                          to=tmp_path / "elsewhere" / "items.csv", corrector="none",
                          progress=False)
    assert not (tmp_path / "o2").exists()
