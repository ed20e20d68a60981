"""The spot check of the automatic changes (relabel/review/spotcheck.py): a random sample of the
changes, decided by reviewers, measures how often they are right; harmful changes are withheld
from the export and from the next round."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import relabel
from relabel.review.reviews import write_reviews
from relabel.review.samples import read_check_chunks, write_check_size
from relabel.review.spotcheck import (
    CHECK_KEY,
    ChangeCheck,
    check_extension,
    check_message,
    estimate_changes,
)
from relabel.review.status import review_status
from tests.conftest import gold_decisions, structured_noise, visible_noise_run


def test_the_sample_is_of_the_changes_alone_and_grows_by_keeping_its_start():
    from relabel.review.audit import audit_order

    n = 500
    ids = [f"x{i}" for i in range(n)]
    changed = np.zeros(n, dtype=bool)
    changed[::7] = True
    none = np.zeros(n, dtype=bool)
    size, first = check_extension(ids, changed, 0, none, 10)
    assert size == 10 and len(first) == 10 and changed[first].all()
    rows = np.flatnonzero(changed)
    expect = rows[audit_order([ids[i] for i in rows], key=CHECK_KEY)[:10]]
    assert first.tolist() == expect.tolist()
    # idempotent until decided; then it grows past the decided ones and keeps its start
    assert check_extension(ids, changed, size, none, 10)[1].tolist() == first.tolist()
    decided = none.copy()
    decided[first[:6]] = True
    size2, more = check_extension(ids, changed, size, decided, 10)
    assert size2 == 16 and set(first[6:]) <= set(more) and not set(first[:6]) & set(more)
    # which other rows exist does not move the sample
    changed_only = [ids[i] for i in rows]
    alone = check_extension(changed_only, np.ones(len(rows), dtype=bool), 0,
                            np.zeros(len(rows), dtype=bool), 10)[1]
    assert [changed_only[i] for i in alone] == [ids[i] for i in first]


def test_the_verdicts_follow_the_interval():
    n = 300
    ids = [str(i) for i in range(n)]
    changed = np.ones(n, dtype=bool)
    suggested = np.full(n, "b", dtype=object)
    conf = np.full(n, 0.95)

    def check(right: int, of: int, target: float = 0.9) -> ChangeCheck:
        rows = np.flatnonzero(changed)
        from relabel.review.audit import audit_order

        order = rows[audit_order([ids[i] for i in rows], key=CHECK_KEY)]
        decision = np.full(n, None, dtype=object)
        decision[order[:right]] = "b"
        decision[order[right:of]] = "a"
        return estimate_changes(ids, changed, suggested, decision, [of], conf, target=target)

    bad = check(1, 20)
    assert (bad.checked, bad.accepted) == (20, 1) and bad.harmful and not bad.below_target
    assert bad.high < 0.5 and "make these labels worse" in check_message(bad)
    good = check(19, 20)
    assert not good.harmful and not good.below_target and check_message(good) is None
    middling = check(70, 100)
    assert not middling.harmful and middling.below_target
    assert "below the target precision 90%" in check_message(middling)
    # too few to tell: 1 of 2 right leaves both verdicts open
    few = check(1, 2)
    assert not few.harmful and not few.below_target
    # an unfinished batch does not count
    partial = estimate_changes(ids, changed, suggested, np.full(n, None, dtype=object), [10],
                               conf, target=0.9)
    assert partial.checked == 0 and not partial.harmful and np.isnan(partial.precision)
    assert partial.to_json()["harmful"] is False and partial.estimated == pytest.approx(0.95)


@pytest.fixture(scope="module")
def harmful_run(tmp_path_factory):
    """A run on data whose errors whole regions share: its automatic changes are all wrong."""
    df, emb = structured_noise()
    out = tmp_path_factory.mktemp("spot") / "run"
    # the texts of structured_noise name their true class, so the word model would see the
    # regions' errors (relabel/correct/lexical.py): left out, the vectors alone mislead
    run = relabel.denoise(df, id="id", out=out, embeddings=emb, corrector="linear",
                          words=False, progress=False)
    return df, emb, run


def test_harmful_changes_are_found_reported_and_withheld(harmful_run, tmp_path):
    from relabel.cli import app
    from relabel.cli.denoise import format_summary

    df, emb, run = harmful_run
    out = run.out_dir
    scores = run.scores.join(df.select("id", "true_label"), on="id")
    changed = scores.filter(pl.col("suggested_label").is_not_null())
    assert changed.height >= 15
    assert (changed["suggested_label"] == changed["true_label"]).sum() == 0  # all damage
    runner = CliRunner()
    res = runner.invoke(app, ["review", "status", str(out)])
    assert res.exit_code == 0, res.output
    assert f"no spot check of the {changed.height} automatic changes yet" in res.output
    assert "--check-changes 20" in res.output
    # a reviewer decides 15 changes of the check's sample
    size, rows = check_extension(scores["id"].to_list(),
                                 scores["suggested_label"].is_not_null().to_numpy(), 0,
                                 np.zeros(scores.height, dtype=bool), 15)
    write_check_size(out, size)
    assert read_check_chunks(out) == [15]
    write_reviews(gold_decisions(df, [scores["id"][int(i)] for i in rows]), out)
    st = run.review_status()
    c = st.changes
    assert c is not None and (c.checked, c.accepted) == (15, 0) and c.harmful
    assert c.estimated >= 0.9  # relabel believed them
    assert st.to_json()["changes"]["harmful"] is True
    res = runner.invoke(app, ["review", "status", str(out)])
    assert "spot check: 15 of" in res.output and "0 accepted" in res.output
    assert "make these labels worse" in res.output
    # export withholds the unchecked changes; the reviewers kept the given labels
    res = runner.invoke(app, ["export", str(out), "--to", str(tmp_path / "clean.csv")])
    assert res.exit_code == 0, res.output
    assert f"withheld {changed.height - 15} automatic changes" in res.output
    cleaned = pl.read_csv(tmp_path / "clean.csv")
    log = pl.read_csv(tmp_path / "changes.csv")
    assert log.height == 0 and "0 relabelled" in res.output
    unchecked = set(changed["id"]) - {scores["id"][int(i)] for i in rows}
    kept = cleaned.filter(pl.col("id").is_in(list(unchecked)))
    assert (kept["label"] == kept["true_label"]).all()  # the right labels stay right
    # forced: the user asked for the suggestions
    res = runner.invoke(app, ["export", str(out), "--to", str(tmp_path / "forced.csv"),
                              "--apply", "reviewed+suggestions"])
    assert res.exit_code == 0 and "withheld" not in res.output
    assert pl.read_csv(tmp_path / "changes.csv").height == changed.height - 15
    # the Python API does the same
    applied = run.apply()
    assert (applied.filter(pl.col("id").is_in(list(unchecked)))["label"]
            == kept["label"]).all()
    forced = run.apply(suggestions=True)
    moved = forced.filter(pl.col("id").is_in(list(unchecked)))
    assert (moved["label"] != moved["true_label"]).all()
    assert "spot check" in run.report().read_text()
    # the next round changes nothing automatically, and says why
    with pytest.warns(relabel.RelabelWarning, match="reviewers accepted 0 of the previous"):
        run2 = relabel.denoise(df, id="id", out=tmp_path / "run2", embeddings=emb,
                               corrector="linear", reviews=out, progress=False)
    dec = run2.summary["decisions"]
    assert dec["changes"] == 0 and run2.scores["suggested_label"].is_null().all()
    assert "reviewers accepted 0 of the previous round's 15" in dec["withheld"]
    assert run2.scores["flagged"].sum() > 0  # the flags stay for a person
    assert "nothing was changed automatically" in format_summary(run2.summary, tmp_path)


def test_right_changes_pass_the_check(tmp_path):
    out = tmp_path / "run"
    df, run = visible_noise_run(out, n_per_class=600, flip=300)
    scores = run.scores
    changed = scores["suggested_label"].is_not_null().to_numpy()
    assert changed.sum() >= 20
    size, rows = check_extension(scores["id"].to_list(), changed, 0,
                                 np.zeros(scores.height, dtype=bool), 20)
    write_check_size(out, size)
    write_reviews(gold_decisions(df, [scores["id"][int(i)] for i in rows]), out)
    from relabel.review.ledger import read_ledger

    st = review_status(scores, read_ledger(out), check_chunks=[size])
    assert st.changes.checked == 20 and st.changes.precision >= 0.9
    assert not st.changes.harmful and check_message(st.changes) is None
    res = relabel.load_run(out).export(tmp_path / "clean.csv")
    log = pl.read_csv(res.parent / "changes.csv")
    assert (log["source"] == "automatic").sum() == int(changed.sum()) - 20
