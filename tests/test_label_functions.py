"""Label functions as annotators: abstentions (``--abstain``), the majority estimator that
``auto`` takes for single-class voters, and the model for items without a vote."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from conftest import FakeEncoder, make_text_dataset, run_relabel, save_fake_embeddings

from relabel.config import abstain_values
from relabel.crowd.estimate import (
    estimate,
    label_functions,
    one_coin_accuracy,
    pooled_vote,
    single_class_share,
)
from relabel.crowd.votes import (
    abstention_hint,
    name_classes,
    votes_from_lists,
    votes_from_long,
    votes_from_wide,
)
from relabel.data.noise import simulate_annotators
from relabel.errors import RelabelInputError


def _rules(n_items: int = 900, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Weak-supervision votes ``(I, 3K)`` with -1 = abstain, and the true classes ``(I,)``.
    Per class one broad rule (fires on 60% of its class and 25% of the others) and two precise
    ones (30% of its class, 3% of the others): every rule votes for its class only."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n_items)
    cols = []
    for c in range(k):
        for own, other in ((0.6, 0.25), (0.3, 0.03), (0.3, 0.03)):
            fire = rng.random(n_items) < np.where(true == c, own, other)
            cols.append(np.where(fire, c, -1))
    return np.stack(cols, axis=1), true


def _votes_of(weak: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    item, annotator = np.nonzero(weak >= 0)
    return item, annotator, weak[item, annotator]


def test_single_class_voters_are_judged_by_their_majority_not_by_dawid_skene() -> None:
    weak, true = _rules()
    k = 3
    item, annotator, label = _votes_of(weak)
    n, a = weak.shape
    assert single_class_share(annotator, label, a, k) == 1.0
    auto = estimate(item, annotator, label, n, a, k)
    assert auto.estimator == "majority"
    counts = np.zeros((n, k))
    np.add.at(counts, (item, label), 1)
    top2 = np.sort(counts, 1)[:, -2:]
    voted = counts.sum(1) > 0
    strict = voted & (top2[:, 1] > top2[:, 0])
    tie = voted & ~strict
    labels = auto.posterior.argmax(1)
    # the majority wherever there is one; a tie goes to the tied class with fewer votes overall
    assert (labels[strict] == counts[strict].argmax(1)).all()
    shares = counts.sum(0)
    tied = counts == counts.max(1, keepdims=True)
    fewer = np.argmax(np.where(tied, -shares[None, :], -np.inf), axis=1)
    assert tie.sum() > 20 and (labels[tie] == fewer[tie]).all()
    # Dawid–Skene cannot tell such voters apart: a rule that only ever says c has the same
    # confusion row whatever the truth, so its votes carry no evidence
    ds = estimate(item, annotator, label, n, a, k, estimator="dawid_skene")
    assert ds.estimator == "dawid_skene"
    acc_auto = np.mean(labels[voted] == true[voted])
    acc_ds = np.mean(ds.posterior.argmax(1)[voted] == true[voted])
    assert acc_auto > acc_ds + 0.1, (acc_auto, acc_ds)
    with pytest.raises(ValueError, match="estimator must be one of"):
        estimate(item, annotator, label, n, a, k, estimator="snorkel")


def test_crowd_workers_keep_dawid_skene() -> None:
    rng = np.random.default_rng(1)
    true = rng.integers(0, 4, 400)
    item, annotator, label, _ = simulate_annotators(true, 4, n_annotators=12,
                                                    votes_per_item=(3, 5), seed=1)
    assert single_class_share(annotator, label, 12, 4) < 0.5
    em = estimate(item, annotator, label, 400, 12, 4)
    assert em.estimator == "dawid_skene"
    assert single_class_share(np.array([0, 0, 1]), np.array([1, 1, 0]), 2, 2) == 1.0
    # an annotator with a single vote is not judged either way
    assert single_class_share(np.array([0, 1]), np.array([1, 0]), 2, 2) == 0.0


def test_workers_who_always_give_one_answer_are_not_label_functions() -> None:
    """Most votes from workers who always answer "no" (spammers on an imbalanced task): a
    majority would follow them; Dawid–Skene discounts them, and ``auto`` keeps it."""
    rng = np.random.default_rng(3)
    n = 300
    true = (rng.random(n) < 0.4).astype(np.int64)
    rows = []
    for i in range(n):
        for j in range(3):  # three good workers, right 90% of the time
            rows.append((i, j, true[i] if rng.random() < 0.9 else 1 - true[i]))
        for j in range(3, 7):  # four who always say 0
            rows.append((i, j, 0))
    item, annotator, label = (np.array(c) for c in zip(*rows, strict=True))
    assert single_class_share(annotator, label, 7, 2) > 0.5
    assert not label_functions(annotator, label, 7, 2)
    em = estimate(item, annotator, label, n, 7, 2)
    assert em.estimator == "dawid_skene"
    majority = estimate(item, annotator, label, n, 7, 2, estimator="majority")
    acc = np.mean(em.posterior.argmax(1) == true)
    assert acc > 0.95 > np.mean(majority.posterior.argmax(1) == true) + 0.3


def test_one_coin_accuracy_by_moments() -> None:
    rng = np.random.default_rng(2)
    k, n = 3, 3000
    true = rng.integers(0, k, n)
    for alpha in (0.6, 0.8, 0.95):
        votes = np.where(rng.random((n, 4)) < alpha, true[:, None],
                         (true[:, None] + rng.integers(1, k, (n, 4))) % k)
        counts = np.zeros((n, k))
        np.add.at(counts, (np.repeat(np.arange(n), 4), votes.ravel()), 1)
        assert one_coin_accuracy(counts) == pytest.approx(alpha, abs=0.02)
    floor = 1 / k + 0.01
    assert one_coin_accuracy(np.eye(k)[rng.integers(0, k, 50)]) == floor  # no pairs
    assert one_coin_accuracy(np.array([[1.0, 1.0, 0.0]] * 30)) == floor  # never agree


def test_unvoted_items_take_the_model_with_a_shrunk_quality() -> None:
    # items 0 and 1 have no vote; class 0 has 4 votes overall, class 1 two
    item = np.array([2, 2, 3, 3, 4, 4])
    annotator = np.array([0, 1, 0, 1, 0, 1])
    label = np.array([0, 0, 1, 1, 0, 0])
    probs = np.zeros((5, 2))
    probs[0] = [0.05, 0.95]
    probs[2:] = [0.5, 0.5]
    em = pooled_vote(item, annotator, label, 5, 2, 2, model_probs=probs)
    assert em.posterior[0].argmax() == 1  # the model's label
    assert em.posterior[1].argmax() == 1  # no vote, no model: a tie, to the class with fewer
    q = em.calibrated[2:].max(1).mean()
    assert em.calibrated[0, 1] == pytest.approx(q * 0.95 + (1 - q) / 2)
    assert em.calibrated[1, 0] == pytest.approx(0.5)
    assert np.allclose(em.calibrated.sum(1), 1.0)


@pytest.mark.parametrize("layout", ["lists", "wide", "long"])
def test_abstentions_are_dropped_and_counted_in_every_layout(layout) -> None:
    weak = [[1, -1, 0], [-1, -1, -1], [0, 0, -1]]
    if layout == "lists":
        table = pl.DataFrame({"id": ["a", "b", "c"], "weak": weak})
        votes = votes_from_lists(table, "t", "weak", abstain=("-1",))
    elif layout == "wide":
        table = pl.DataFrame({"id": ["a", "b", "c"],
                              **{f"lf{j}": [w[j] for w in weak] for j in range(3)}})
        votes = votes_from_wide(table, "t", ["lf0", "lf1", "lf2"], abstain=("-1",))
    else:
        table = pl.DataFrame({"item_id": [i for i in "abc" for _ in range(3)],
                              "annotator": ["lf0", "lf1", "lf2"] * 3,
                              "label": [v for w in weak for v in w]})
        votes = votes_from_long(table, "t", abstain=("-1",))
    assert votes.classes == ["0", "1"]
    assert votes.abstained == 5 and len(votes.label) == 4
    assert votes.item_ids == ["a", "b", "c"]  # an item whose rules all abstained stays
    assert votes.counts().sum(1).tolist() == [2, 0, 2]
    assert abstention_hint(votes) is None


def test_an_undeclared_minus_one_is_named() -> None:
    table = pl.DataFrame({"id": ["a", "b", "c"], "weak": [[1, -1, 0], [-1, -1, -1], [0, 0, -1]]})
    votes = votes_from_lists(table, "t", "weak")
    assert votes.classes == ["-1", "0", "1"]
    hint = abstention_hint(votes)
    # the option as the caller spells it: abstain='-1' in Python, --abstain -1 in the CLI
    assert hint is not None and "5 of the 9 votes are -1" in hint and "abstain='-1'" in hint
    # -1 is a class where the others are not non-negative codes with a 0
    for weak in ([[1, -1], [-1, 1]], [[-3, -1], [0, 1]]):
        other = votes_from_lists(pl.DataFrame({"id": ["a", "b"], "weak": weak}), "t", "weak")
        assert abstention_hint(other) is None
    with pytest.raises(RelabelInputError, match="pass abstain='-1'"):
        name_classes(votes, (("0", "ham"), ("1", "spam")))
    assert abstain_values(None) == ()
    assert abstain_values("-1, n/a") == ("-1", "n/a")
    assert abstain_values([-1, -1.0, "x"]) == ("-1", "-1", "x")
    assert abstain_values(-1) == ("-1",)


def _wrench_file(tmp_path, n_unvoted: int = 12):
    """A WRENCH-style train.json (records keyed by id: label, weak_labels with -1, data.text)
    whose texts reveal their class; the last ``n_unvoted`` items have no vote."""
    df = make_text_dataset(n_per_class=40, flip=0, seed=5)
    classes = sorted(df["label"].unique().to_list())
    code = {c: i for i, c in enumerate(classes)}
    rng = np.random.default_rng(5)
    records = {}
    for i, (text, lab) in enumerate(zip(df["text"], df["label"], strict=True)):
        c = code[lab]
        weak = []
        for rule in range(len(classes)):  # one rule per class, right 80% of the time it fires
            fire = rng.random() < (0.7 if rule == c else 0.1)
            weak.append(rule if fire and i < df.height - n_unvoted else -1)
        records[str(i)] = {"label": c, "weak_labels": weak, "data": {"text": text}}
    path = tmp_path / "train.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    unvoted = np.array([max(r["weak_labels"]) < 0 for r in records.values()])
    return path, df, unvoted


def test_consensus_api_on_label_functions(tmp_path) -> None:
    """The model annotator learns from the voted items only: the unvoted ones (all of the
    last rows, of every class) get its label, right where the texts tell the class."""
    import relabel
    from relabel.errors import RelabelWarning

    path, df, no_vote = _wrench_file(tmp_path, n_unvoted=30)
    # a WRENCH record's "label" is its gold label, not a vote: the consensus replaces it
    with pytest.warns(RelabelWarning, match=r"own column 'label' is not among the votes"):
        c = relabel.consensus(path, votes_col="weak_labels", text_col="data.text",
                              abstain=-1, encoder=FakeEncoder(), progress=False)
    s = c.summary
    assert s["em"]["estimator"] == "majority" and s["em"]["single_class_share"] == 1.0
    assert s["abstentions"] > 0 and s["items_without_votes"] == no_vote.sum() >= 30
    classes = sorted(df["label"].unique().to_list())
    truth = [str(classes.index(lab)) for lab in df["label"]]
    unvoted = c.items["n_votes"].to_numpy() == 0
    assert (unvoted == no_vote).all()
    labels = np.asarray(c.items["consensus_label"].to_list())
    assert np.mean(labels[unvoted] == np.asarray(truth)[unvoted]) > 0.9
    assert (c.items["model_label"].to_numpy()[unvoted] == labels[unvoted]).all()
    quality = c.items["quality"].to_numpy()
    assert (quality[unvoted] < c.items["model_prob"].to_numpy()[unvoted]).all()
    with pytest.raises(RelabelInputError, match="estimator must be one of"):
        relabel.consensus(path, votes_col="weak_labels", text_col="data.text", abstain=-1,
                          estimator="em", progress=False)


def test_cli_consensus_and_denoise_on_label_functions(tmp_path) -> None:
    path, df, no_vote = _wrench_file(tmp_path)
    emb = save_fake_embeddings(df["text"].to_list(), tmp_path / "emb.npy")
    common = ["--votes-col", "weak_labels", "--text-col", "data.text", "--embeddings",
              str(emb)]
    p = run_relabel("consensus", str(path), *common, "--abstain", "-1", "--out",
                    str(tmp_path / "c"))
    assert p.returncode == 0, p.stderr
    assert "the annotators look like label functions (100% of the votes" in p.stdout
    assert "abstentions (--abstain) are not votes" in p.stdout
    assert f"{no_vote.sum()} items have no vote: their consensus is the model's label" \
        in p.stdout
    agreement = json.loads((tmp_path / "c" / "agreement.json").read_text())
    assert agreement["em"]["estimator"] == "majority" and agreement["abstentions"] > 0
    # without --abstain, -1 is read as a class, and the run says what it probably is
    q = run_relabel("consensus", str(path), *common, "--out", str(tmp_path / "c2"))
    assert q.returncode == 0, q.stderr
    assert "warning: " in q.stdout and "pass --abstain -1" in q.stdout
    d = run_relabel("denoise", str(path), *common, "--abstain", "-1", "--out",
                    str(tmp_path / "run"), "-q")
    assert d.returncode == 0, d.stderr
    assert "several annotators: " in d.stdout and "look like label functions" in d.stdout
    # unvoted items whose consensus (the model's label) is below the target go to a human
    consensus = pl.read_parquet(tmp_path / "run" / "consensus.parquet")
    low = consensus.filter((pl.col("n_votes") == 0) & pl.col("needs_review"))["id"].to_list()
    assert low and f"{no_vote.sum()} items have no vote: their given label is the model's " \
        f"label; the {len(low)} whose quality is below the target are flagged for a human " \
        "(no_votes)" in d.stdout
    scores = pl.read_parquet(tmp_path / "run" / "scores.parquet")
    held = scores.filter(pl.col("reason") == "no_votes")
    assert sorted(held["id"].to_list()) == sorted(low)
    assert held["flagged"].all() and held["suggested_label"].is_null().all()
    assert "look like label functions" in (tmp_path / "run" / "report.html").read_text()
    # check says the same before any work, and counts the votes as denoise reads them
    c1 = run_relabel("check", str(path), "--votes-col", "weak_labels", "--text-col", "data.text")
    assert c1.returncode == 0 and "pass --abstain -1" in c1.stdout and "4 classes" in c1.stdout
    c2 = run_relabel("check", str(path), "--votes-col", "weak_labels", "--text-col", "data.text",
                     "--abstain", "-1")
    assert c2.returncode == 0 and "3 classes" in c2.stdout and "0 warning(s)" in c2.stdout
    bad = run_relabel("denoise", str(path), "--text-col", "data.text", "--abstain", "-1",
                      "--out", str(tmp_path / "never"))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "--abstain applies to several annotators' votes" in bad.stderr
    assert not (tmp_path / "never").exists()


def test_export_and_consensus_to_write_the_wrench_file_back(tmp_path) -> None:
    """A WRENCH file (records keyed by id, votes in a list, the text nested): ``export`` and
    ``consensus --to`` write it back in that layout, each record whole (its weak labels and
    text untouched) with the run's label as a code; ``--drop-flagged`` removes whole records."""
    path, df, _ = _wrench_file(tmp_path)
    emb = save_fake_embeddings(df["text"].to_list(), tmp_path / "emb.npy")
    common = ["--votes-col", "weak_labels", "--text-col", "data.text", "--abstain", "-1",
              "--embeddings", str(emb), "--label-names", "billing,refund,transfer"]
    before = json.loads(path.read_text())
    d = run_relabel("denoise", str(path), *common, "--out", str(tmp_path / "run"), "-q")
    assert d.returncode == 0, d.stderr
    e = run_relabel("export", str(tmp_path / "run"), "--to", str(tmp_path / "clean.json"))
    assert e.returncode == 0, e.stderr
    clean = json.loads((tmp_path / "clean.json").read_text())
    assert list(clean) == list(before)
    scores = pl.read_parquet(tmp_path / "run" / "scores.parquet")
    final = dict(zip(scores["id"], scores["label"], strict=True))
    changes = pl.read_csv(tmp_path / "changes.csv", schema_overrides={"id": pl.String})
    final.update(dict(zip(changes["id"], changes["new_label"], strict=True)))
    names = ["billing", "refund", "transfer"]
    for key, record in clean.items():
        assert {k: v for k, v in record.items() if k != "label"} == \
            {k: v for k, v in before[key].items() if k != "label"}
        assert names[record["label"]] == final[key]
    assert json.loads(path.read_text()) == before  # the input is never written
    # the file's own columns stay readable: its gold `label` is the truth for the report
    # (the run's table of items holds the consensus under that name)
    wrong = sum(names[before[k]["label"]] != lab for k, lab in
                zip(scores["id"], scores["label"], strict=True))
    assert wrong > 0
    r = run_relabel("report", str(tmp_path / "run"), "--truth-col", "label")
    assert r.returncode == 0, r.stderr
    assert f"against 'label': {wrong} of {len(before)} given labels wrong" in r.stdout
    flagged = set(scores.filter(pl.col("flagged") & pl.col("suggested_label").is_null())["id"])
    assert flagged
    e = run_relabel("export", str(tmp_path / "run"), "--to", str(tmp_path / "kept.json"),
                    "--drop-flagged")
    assert e.returncode == 0, e.stderr
    kept = json.loads((tmp_path / "kept.json").read_text())
    assert set(kept) == set(before) - flagged
    assert all(kept[k]["weak_labels"] == before[k]["weak_labels"] for k in kept)
    c = run_relabel("consensus", str(path), *common, "--out", str(tmp_path / "c"), "--to",
                    str(tmp_path / "consensus.json"))
    assert c.returncode == 0, c.stderr
    written = json.loads((tmp_path / "consensus.json").read_text())
    consensus = pl.read_csv(tmp_path / "c" / "consensus.csv", schema_overrides={"id": pl.String})
    label = dict(zip(consensus["id"], consensus["consensus_label"], strict=True))
    assert list(written) == list(before)
    for key, record in written.items():
        assert record["weak_labels"] == before[key]["weak_labels"]
        assert record["data"] == before[key]["data"]
        assert names[record["label"]] == label[key]
        assert 0 <= record["consensus_quality"] <= 1
