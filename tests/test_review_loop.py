"""Learning from reviewers without a server: ``denoise --reviews``, the recalibration, the
ledger, ``next_batch`` and ``review_status``."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import relabel
from relabel.detect.calibrate import Calibration, fit_calibration
from relabel.errors import RelabelInputError
from relabel.review.batch import next_batch
from relabel.review.ledger import append_decisions, latest_decisions, read_ledger
from relabel.review.reviews import write_reviews
from relabel.review.status import review_status
from tests.conftest import clustered_embeddings, make_text_dataset


@pytest.fixture(scope="module")
def noisy():
    df = make_text_dataset(n_per_class=200, flip=90, seed=5)
    return df, clustered_embeddings(df, spread=0.45)


def gold_reviews(df: pl.DataFrame, ids: list[str]) -> pl.DataFrame:
    gold = df.filter(pl.col("id").is_in(ids)).select("id", pl.col("true_label")
                                                      .alias("reviewed_label"))
    return gold


def test_calibration_follows_the_reviewers_and_stays_near_identity_with_few():
    p = np.full(200, 0.6)
    cls = np.zeros(200, dtype=int)
    agree = fit_calibration(p, np.ones(200, bool), cls, 3)
    disagree = fit_calibration(p, np.zeros(200, bool), cls, 3)
    assert agree.apply(np.array([0.6]), np.array([0]))[0] > 0.8
    assert disagree.apply(np.array([0.6]), np.array([0]))[0] < 0.3
    from relabel.detect.calibrate import PSEUDO

    few = fit_calibration(p[:3], np.ones(3, bool), cls[:3], 3)
    moved = few.apply(np.array([0.6]), np.array([0]))[0] - 0.6
    # shrunk twice by the pseudo-reviews: by bin, then by class on what the bin left
    assert 0 < moved <= 0.4 * (1 - (PSEUDO / (3 + PSEUDO)) ** 2) + 1e-9
    ident = Calibration.identity(3)
    np.testing.assert_allclose(ident.apply(np.array([0.3, 0.9]), np.array([0, 1])), [0.3, 0.9])
    # a class the reviewers keep overriding gets more careful than the others
    mixed = fit_calibration(np.full(400, 0.7), np.r_[np.ones(200, bool), np.zeros(200, bool)],
                            np.r_[np.zeros(200, int), np.ones(200, int)], 3)
    out = mixed.apply(np.array([0.7, 0.7]), np.array([0, 1]))
    assert out[0] > out[1]


def test_denoise_with_reviews_trusts_them(noisy, tmp_path):
    df, emb = noisy
    first = relabel.denoise(df, id="id", out=tmp_path / "r1", embeddings=emb,
                            corrector="linear", progress=False)
    ids = first.issues["id"].head(60).to_list()
    reviews = gold_reviews(df, ids)
    csv = tmp_path / "reviews.csv"
    reviews.write_csv(csv)
    second = relabel.denoise(df, id="id", out=tmp_path / "r2", embeddings=emb,
                             corrector="linear", reviews=csv, progress=False)
    sc = second.scores
    rev = sc.filter(pl.col("id").is_in(ids))
    # the reviewer's label, never flagged, no suggestion
    truth = dict(zip(df["id"], df["true_label"], strict=True))
    assert all(truth[i] == r for i, r in zip(rev["id"], rev["reviewed_label"], strict=True))
    assert not rev["flagged"].any() and rev["suggested_label"].is_null().all()
    assert sc.filter(~pl.col("id").is_in(ids))["reviewed_label"].is_null().all()
    dec = second.summary["decisions"]
    assert dec["reviewed"] == 60 and dec["calibration"]["reviewed_pairs"] == 60
    # they weigh more than a given label in the corrector, and the summary says how much
    from relabel.detect.score import REVIEWED_WEIGHT

    assert second.summary["corrector"]["reviewed_weight"] == REVIEWED_WEIGHT > 1
    assert "reviewed_weight" not in first.summary["corrector"]
    # the reviewers found errors: fewer flags than the first round
    assert sc["flagged"].sum() < first.scores["flagged"].sum()
    # the decisions travel with the run: ledger, reviews.parquet, and applied by default
    assert read_ledger(tmp_path / "r2").height == 60
    cleaned = second.apply()
    got = dict(zip(cleaned["id"], cleaned["label"], strict=True))
    assert all(got[i] == truth[i] for i in ids)
    before = (df["label"] == df["true_label"]).mean()
    after = (cleaned["label"] == cleaned["true_label"]).mean()
    assert after > before
    # the CLI takes the same file and an earlier run directory
    from relabel.cli import app

    np.save(tmp_path / "emb.npy", emb)
    df.write_csv(tmp_path / "data.csv")
    for source in (csv, tmp_path / "r2"):
        r = CliRunner().invoke(app, ["denoise", str(tmp_path / "data.csv"), "--id-col", "id",
                                     "--embeddings", str(tmp_path / "emb.npy"), "--corrector",
                                     "linear", "--reviews", str(source), "--out",
                                     str(tmp_path / "cli"), "-q"])
        assert r.exit_code == 0, r.output
        cli = pl.read_parquet(tmp_path / "cli" / "scores.parquet")
        assert cli.filter(pl.col("reviewed_label").is_not_null()).height == 60


def test_reviews_of_unknown_ids_are_refused(noisy, tmp_path):
    df, emb = noisy
    bad = pl.DataFrame({"id": ["nope"], "reviewed_label": ["card"]})
    with pytest.raises(RelabelInputError, match="not in the data"):
        relabel.denoise(df, id="id", out=tmp_path / "r", embeddings=emb, reviews=bad,
                        progress=False)
    with pytest.raises(RelabelInputError, match="reviewed_label"):
        relabel.denoise(df, id="id", out=tmp_path / "r", embeddings=emb,
                        reviews=pl.DataFrame({"id": ["ex-1"]}), progress=False)
    # a table of decisions under its own names: the columns it has, and the rename to make
    with pytest.raises(RelabelInputError, match=r"reviews: reviews need columns id and "
                       r"reviewed_label \(missing: id, reviewed_label; the table has "
                       r"example_id, label\): rename 'example_id' to id and 'label' to "
                       r"reviewed_label$"):
        relabel.denoise(df, id="id", out=tmp_path / "r", embeddings=emb,
                        reviews=pl.DataFrame({"example_id": ["ex-1"], "label": ["card"]}),
                        progress=False)
    # numeric ids that a spreadsheet wrote back as 7.0: the error says which example it is
    numeric = df.with_columns(pl.int_range(pl.len()).cast(pl.String).alias("id"))
    with pytest.raises(RelabelInputError, match=r"2 reviewed ids are not in the data \(e\.g\. "
                       r"7\.0, 9\.0; the first, which is '7' written as another number: the "
                       r"two files write their ids differently"):
        relabel.denoise(numeric, id="id", out=tmp_path / "r", embeddings=emb, progress=False,
                        reviews=pl.DataFrame({"id": ["7.0", "9.0"],
                                              "reviewed_label": ["card", "card"]}))
    run = relabel.denoise(numeric, id="id", out=tmp_path / "r2", embeddings=emb,
                          corrector="none", progress=False)
    with pytest.raises(RelabelInputError, match=r"1 reviewed ids are not in this run \(e\.g\. "
                       r"7\.0; the first, which is '7' written as another number"):
        run.apply(reviews=pl.DataFrame({"id": ["7.0"], "reviewed_label": ["card"]}))


def test_a_directory_keeps_its_reviews_to_its_own_input(noisy, tmp_path, caplog):
    """A run of another file into a directory holding reviews would have them applied, by id,
    to the other data (export and the review commands read them): refused, unless --reviews
    carries them over on purpose; a reviewed class the data lacks is said."""
    df, emb = noisy
    np.save(tmp_path / "emb.npy", emb)
    first, other = tmp_path / "a.csv", tmp_path / "b.csv"
    df.write_csv(first)
    df.write_csv(other)
    run = tmp_path / "run"
    common = {"id": "id", "out": run, "embeddings": tmp_path / "emb.npy", "progress": False,
              "corrector": "linear"}
    reviews = pl.DataFrame({"id": [df["id"][0], df["id"][1]],
                            "reviewed_label": ["kard", "refnd"]})  # typos
    with caplog.at_level("WARNING", logger="relabel"):
        relabel.denoise(first, reviews=reviews, **common)
    # the close one names the class it likely meant
    assert any("the reviews name 2 class(es) no example has ('kard', 'refnd' (a typo of "
               "'refund'?)): each becomes a class" in r.getMessage() for r in caplog.records)
    relabel.denoise(first, **common)  # the same input again: its reviews stay
    with pytest.raises(RelabelInputError, match=r"run: holds the reviews of a run of .*a\.csv "
                                                r"\(reviews\.parquet, reviews_ledger\.jsonl\); "
                                                r"a run of b\.csv here would apply them"):
        relabel.denoise(other, **common)
    carried = relabel.denoise(other, reviews=run, **common)
    assert carried.scores.filter(pl.col("reviewed_label").is_not_null()).height == 2


def test_ledger_is_append_only_and_keeps_decisions(tmp_path):
    t0 = pl.Series([None], dtype=pl.Datetime("us", "UTC"))
    rows = pl.DataFrame({"id": ["a", "b"], "given_label": ["x", "y"],
                         "reviewed_label": ["y", "y"], "status": ["changed", "accepted"],
                         "annotator": ["u@x", "u@x"],
                         "time": pl.Series(["2026-01-01T10:00:00", "2026-01-01T10:01:00"])
                         .str.to_datetime(time_zone="UTC")})
    assert append_decisions(tmp_path, rows, source="pull") == 2
    assert append_decisions(tmp_path, rows, source="pull") == 0  # the same decisions
    # task "a" deleted in the tool: a later pull only sees "b"; "a" is kept
    write_reviews(rows.filter(pl.col("id") == "b"), tmp_path)
    reviews = pl.read_parquet(tmp_path / "reviews.parquet")
    assert sorted(reviews["id"]) == ["a", "b"]
    # a newer decision on "a" wins; a skip does not override a decision
    later = pl.DataFrame({"id": ["a", "a"], "given_label": ["x", "x"],
                          "reviewed_label": ["z", None], "status": ["changed", "skipped"],
                          "annotator": ["v@x", "v@x"],
                          "time": pl.Series(["2026-01-02T10:00:00", "2026-01-03T10:00:00"])
                          .str.to_datetime(time_zone="UTC")})
    write_reviews(later, tmp_path)
    latest = latest_decisions(read_ledger(tmp_path))
    assert dict(zip(latest["id"], latest["reviewed_label"], strict=True)) == {"a": "z",
                                                                              "b": "y"}
    # a line cut short by a crash is skipped and the next append starts a fresh line
    with open(tmp_path / "reviews_ledger.jsonl", "a") as f:
        f.write('{"id": "c", "revi')
    assert read_ledger(tmp_path).height == 4
    extra = rows.head(1).with_columns(pl.lit("d").alias("id"), t0.alias("time"))
    assert append_decisions(tmp_path, extra, source="pull") == 1
    ledger = read_ledger(tmp_path)
    assert ledger.height == 5 and "d" in ledger["id"].to_list()
    lines = (tmp_path / "reviews_ledger.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["id"] == "d"


def test_next_batch_and_status(noisy, tmp_path):
    df, emb = noisy
    run = relabel.denoise(df, id="id", out=tmp_path / "r", embeddings=emb, corrector="linear",
                          progress=False)
    empty = read_ledger(tmp_path / "r")
    batch = next_batch(run.scores, empty, 50)
    assert batch.height == 50 and batch["gain"].is_sorted(descending=True)
    # likely errors that relabel left for a human come first
    top = batch.head(10)
    assert top["suggested_label"].is_null().all()
    wrong = set(df.filter(pl.col("label") != pl.col("true_label"))["id"])
    assert len(set(batch["id"]) & wrong) >= 25
    reviews = gold_reviews(df, batch["id"].to_list()).join(
        df.select("id", pl.col("label").alias("given_label")), on="id").with_columns(
        pl.when(pl.col("reviewed_label") == pl.col("given_label")).then(pl.lit("accepted"))
        .otherwise(pl.lit("changed")).alias("status"), pl.lit("sim").alias("annotator"),
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("time"))
    write_reviews(reviews, tmp_path / "r")
    ledger = read_ledger(tmp_path / "r")
    again = next_batch(run.scores, ledger, 50)
    assert not set(again["id"]) & set(batch["id"])  # never pushed again
    before = review_status(run.scores, empty)
    after = review_status(run.scores, ledger)
    assert after.reviewed == 50 and before.reviewed == 0
    assert after.confirmed_errors == len(set(batch["id"]) & wrong)
    assert after.estimated_accuracy > before.estimated_accuracy
    assert after.accuracy_low <= after.estimated_accuracy <= after.accuracy_high
    # the estimate is in the right place: within a few points of the truth
    applied = run.apply(reviews=False)
    truth = (applied["label"] == applied["true_label"]).mean()
    assert abs(before.estimated_accuracy - truth) < 0.06


def test_status_history_and_report_section(noisy, tmp_path):
    from relabel.review.status import read_rounds, record_status

    df, emb = noisy
    run = relabel.denoise(df, id="id", out=tmp_path / "r", embeddings=emb, corrector="linear",
                          progress=False)
    assert "Human review" not in run.report().read_text()
    record_status(tmp_path / "r")
    ids = run.issues["id"].head(40).to_list()
    write_reviews(gold_reviews(df, ids).with_columns(
        pl.lit("changed").alias("status"), pl.lit("sim").alias("annotator"),
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("time"),
        pl.lit(None, dtype=pl.String).alias("given_label")), tmp_path / "r")
    record_status(tmp_path / "r")
    rounds = read_rounds(tmp_path / "r")
    assert [r["reviewed"] for r in rounds] == [0, 40]
    assert rounds[1]["estimated_accuracy"] > rounds[0]["estimated_accuracy"]
    html = run.report().read_text()
    assert "Human review" in html and "estimated label accuracy across review rounds" in html
    # the next round's directory carries the history on
    relabel.denoise(df, id="id", out=tmp_path / "r2", embeddings=emb, corrector="linear",
                    reviews=tmp_path / "r", progress=False)
    assert len(read_rounds(tmp_path / "r2")) == 2


def test_next_batch_holds_back_what_a_fallible_reviewer_would_break(noisy, tmp_path):
    from relabel.review.batch import held_back
    from relabel.review.chance import expected_errors

    df, emb = noisy
    run = relabel.denoise(df, id="id", out=tmp_path / "r", embeddings=emb, corrector="linear",
                          progress=False)
    scores, empty = run.scores, read_ledger(tmp_path / "r")
    noise = run.summary["decisions"]["estimated_noise_rate"]
    chance = expected_errors(scores["p_wrong"].to_numpy(),
                             scores["suggested_label"].is_not_null().to_numpy(),
                             scores["suggestion_confidence"].fill_null(0.0).to_numpy(),
                             noise_rate=noise)
    every = next_batch(scores, empty, scores.height)
    assert every.height == scores.height  # no reviewer error: every example can be asked
    for e in (0.05, 0.2):
        worth = next_batch(scores, empty, scores.height, reviewer_error=e, noise_rate=noise)
        above = set(scores.filter(pl.Series(chance > e))["id"])
        assert set(worth["id"]) == above and 0 < worth.height < scores.height
        # the order is relabel's usual one, cut where a review stops paying
        assert worth["id"].to_list() == [i for i in every["id"].to_list() if i in above]
        assert held_back(scores, empty, reviewer_error=e, noise_rate=noise) == \
            scores.height - len(above)
        # a small batch takes the head of the same order and counts the rest it holds back
        head = next_batch(scores, empty, 10, reviewer_error=e, noise_rate=noise)
        assert head["id"].to_list() == worth["id"].head(10).to_list()
    # a higher error rate holds more back; 0 holds nothing
    assert held_back(scores, empty, reviewer_error=0.2, noise_rate=noise) > \
        held_back(scores, empty, reviewer_error=0.05, noise_rate=noise)
    assert held_back(scores, empty, reviewer_error=0.0, noise_rate=noise) == 0
    # where review next takes the rate from: the user's, else none without an audit
    from relabel.review.batch import review_floor

    given = review_floor(tmp_path / "r", scores, empty, 0.05)
    assert (given.reviewer_error, given.source, given.noise_rate) == (0.05, "given", noise)
    unknown = review_floor(tmp_path / "r", scores, empty)
    assert (unknown.reviewer_error, unknown.source, unknown.noise_rate) == (None, None, noise)
    # review status says how many are still worth a review at that rate
    status = review_status(scores, empty, relabel_error_rate=noise, reviewer_error=0.05)
    assert status.worth_reviewing == next_batch(scores, empty, scores.height,
                                                reviewer_error=0.05, noise_rate=noise).height
    assert status.reviewer_error_source == "given"
    assert review_status(scores, empty, relabel_error_rate=noise).worth_reviewing is None
    from relabel.errors import cli_options

    with cli_options():
        text = status.text(tmp_path / "r")
    assert f"`relabel review next {tmp_path / 'r'} --project NAME --batch 0 --audit 50`" in text
    # a notebook shows the same lines, with the Run method to call
    html = status._repr_html_()
    assert "run.review_next(&#x27;NAME&#x27;, batch=0, audit=50)" in html
    assert (f"still worth a review: {status.worth_reviewing} of the {scores.height} unreviewed "
            "examples are more likely wrong than the reviewers' error rate 0.05 (given)") in text


def test_plan_next_is_the_batch_the_audit_and_the_check_in_one_pass(noisy, tmp_path):
    """``plan_next`` (what ``review next`` pushes) chooses the audit's and the spot check's
    examples first, then the batch by expected gain among the others, held back as
    ``held_back`` counts, and records the samples' sizes in the run directory."""
    from relabel.review.batch import held_back, plan_next
    from relabel.review.samples import read_audit_size, read_check_chunks

    df, emb = noisy
    run = relabel.denoise(df, id="id", out=tmp_path / "r", embeddings=emb, corrector="linear",
                          progress=False)
    scores, empty = run.scores, read_ledger(tmp_path / "r")
    noise = run.summary["decisions"]["estimated_noise_rate"]
    plan = plan_next(tmp_path / "r", scores, empty, batch=15, audit=6, check_changes=4,
                     reviewer_error=0.1)
    assert (plan.audited, plan.checked, plan.chosen) == (6, 4, 15)
    assert plan.ids == plan.blind + plan.ids[10:] and len(set(plan.ids)) == 25
    assert read_audit_size(tmp_path / "r") == plan.audit_size >= 6
    assert read_check_chunks(tmp_path / "r")[-1] == plan.check_size >= 4
    changed = set(scores.filter(pl.col("suggested_label").is_not_null())["id"])
    assert set(plan.blind[6:]) <= changed  # the spot check samples the automatic changes
    busy = set(plan.blind)
    assert plan.ids[10:] == next_batch(scores, empty, 15, busy, reviewer_error=0.1,
                                       noise_rate=noise)["id"].to_list()
    assert plan.held_back == held_back(scores, empty, busy | set(plan.ids[10:]),
                                       reviewer_error=0.1, noise_rate=noise) > 0
    assert (plan.floor.reviewer_error, plan.floor.source) == (0.1, "given")
    assert plan.remaining == scores.height - 25
    # asked again without new decisions: the same examples, the samples do not grow
    again = plan_next(tmp_path / "r", scores, empty, batch=15, audit=6, check_changes=4,
                      reviewer_error=0.1)
    assert again.ids == plan.ids and again.audit_size == plan.audit_size


def test_reviewers_finding_more_errors_than_expected_keep_the_reviews_going(noisy, tmp_path):
    """Decisions on this run's examples scale its chances up where the reviewers found more
    wrong labels than relabel expected, so ``next_batch`` does not stop too early; decisions
    that match relabel's estimate, or a run that already trusts them, leave it alone."""
    from relabel.review.batch import held_back
    from relabel.review.chance import expected_errors, reviewed_ratio

    df, emb = noisy
    run = relabel.denoise(df, id="id", out=tmp_path / "r", embeddings=emb, corrector="linear",
                          progress=False)
    scores = run.scores
    noise = run.summary["decisions"]["estimated_noise_rate"]
    chance = expected_errors(scores["p_wrong"].to_numpy(),
                             scores["suggested_label"].is_not_null().to_numpy(),
                             scores["suggestion_confidence"].fill_null(0.0).to_numpy(),
                             noise_rate=noise)
    empty = read_ledger(tmp_path / "r")
    assert reviewed_ratio(scores, empty, chance, 0.1) == 1.0

    def decide(ids: list[str], wrong: bool) -> pl.DataFrame:
        rows = scores.filter(pl.col("id").is_in(ids)).select("id", "label")
        other = sorted(set(df["label"]))
        return rows.select(
            "id", pl.col("label").alias("given_label"),
            (pl.col("label").map_elements(lambda x: other[(other.index(x) + 1) % len(other)],
                                          return_dtype=pl.String) if wrong
             else pl.col("label")).alias("reviewed_label"),
            pl.lit("changed" if wrong else "accepted").alias("status"),
            pl.lit("sim").alias("annotator"),
            pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("time"))

    # 40 labels relabel thought surely right, all found wrong by the reviewers
    sure = scores.with_columns(pl.Series("c", chance)).filter(
        pl.col("suggested_label").is_null()).sort("c").head(40)["id"].to_list()
    append_decisions(tmp_path / "r", decide(sure, wrong=True), source="pull")
    ledger = read_ledger(tmp_path / "r")
    ratio = reviewed_ratio(scores, ledger, chance, 0.1)
    assert ratio > 5
    before = held_back(scores, empty, reviewer_error=0.1, noise_rate=noise)
    after = held_back(scores, ledger, reviewer_error=0.1, noise_rate=noise)
    assert after < before - 40  # more than the 40 decided ones are worth asking now
    # decisions that confirm the given labels do not scale anything
    ok_dir = tmp_path / "ok"
    ok_dir.mkdir()
    append_decisions(ok_dir, decide(sure, wrong=False), source="pull")
    assert reviewed_ratio(scores, read_ledger(ok_dir), chance, 0.1) == 1.0
