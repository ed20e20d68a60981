"""The random audit (:mod:`relabel.review.audit`): the sample, the estimate, and what ``review
status``, the API and the report make of it, without a server (the Label Studio round trip is in
tests/test_label_studio.py)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import relabel
from relabel.review.audit import (
    audit_extension,
    audit_message,
    audit_ranks,
    audit_sample,
    counted_sample,
    estimate_from_audit,
)
from relabel.review.ledger import read_ledger
from relabel.review.reviews import write_reviews
from relabel.review.samples import read_audit_chunks, read_audit_size, write_audit_size
from relabel.review.status import review_status
from tests.conftest import gold_decisions, make_text_dataset


def test_the_sample_depends_on_the_ids_alone_and_grows_by_keeping_its_start():
    ids = [f"row-{i}" for i in range(5000)]
    first = audit_sample(ids, 300)
    assert first.sum() == 300
    # not the first rows: spread over the whole file
    assert 100 < first[:2500].sum() < 200
    # the same ids in another order: the same examples
    perm = np.random.default_rng(0).permutation(5000)
    shuffled = audit_sample([ids[i] for i in perm], 300)
    assert {ids[i] for i in perm[shuffled]} == {ids[i] for i in np.flatnonzero(first)}
    # growing keeps the first sample
    grown = audit_sample(ids, 600)
    assert grown.sum() == 600 and (grown | first).sum() == 600
    assert audit_sample(ids, 0).sum() == 0 and audit_sample(ids, 10**6).all()
    # another key draws another sample
    other = audit_ranks(ids, key=b"another") < np.sort(audit_ranks(ids, key=b"another"))[300]
    assert (other & first).sum() < 60


def test_the_extension_pushes_pending_examples_and_is_idempotent():
    ids = [str(i) for i in range(1000)]
    decided = np.zeros(1000, dtype=bool)
    size, chosen = audit_extension(ids, 0, decided, 50)
    assert size == 50 and len(chosen) == 50
    assert set(chosen) == set(np.flatnonzero(audit_sample(ids, 50)))
    # asked again before anyone decided: the same examples, the audit does not grow
    again_size, again = audit_extension(ids, size, decided, 50)
    assert again_size == 50 and list(again) == list(chosen)
    # 20 decided: it grows by 20 and pushes the 30 still open plus 20 new
    decided[chosen[:20]] = True
    size2, chosen2 = audit_extension(ids, size, decided, 50)
    assert size2 == 70 and len(chosen2) == 50 and not decided[chosen2].any()
    assert set(chosen[20:]) <= set(chosen2)
    # examples decided for another reason are part of the sample, never pushed again
    decided[np.flatnonzero(audit_sample(ids, 200))] = True
    size3, chosen3 = audit_extension(ids, size2, decided, 10)
    assert size3 == 210 and len(chosen3) == 10
    # fewer examples left than asked for
    size4, chosen4 = audit_extension(ids, 0, np.ones(1000, dtype=bool), 5)
    assert size4 == 1000 and len(chosen4) == 0


def test_the_interval_covers_the_true_rate():
    rng = np.random.default_rng(0)
    n, covered = 100, 0
    for _ in range(400):
        wrong = rng.random(2000) < 0.2
        given = np.where(wrong, "a", "b").astype(object)
        decision = np.full(2000, "b", dtype=object)
        audited = np.zeros(2000, dtype=bool)
        audited[rng.choice(2000, n, replace=False)] = True
        est = estimate_from_audit(given, np.where(audited, decision, None), audited,
                                  confirmed=0, change_confidence=np.array([]))
        covered += est.error_low <= wrong.mean() <= est.error_high
        assert est.decided == n and est.size == n
    assert covered / 400 >= 0.92


def test_the_estimate_flags_errors_relabel_cannot_see_and_agrees_on_clean_data():
    rng = np.random.default_rng(1)
    n = 3000
    wrong = rng.random(n) < 0.3
    truth = rng.integers(0, 3, n)
    given = np.where(wrong, (truth + 1) % 3, truth).astype(object)
    audited = audit_sample([str(i) for i in range(n)], 150)
    decision = np.where(audited, truth.astype(object), None)
    est = estimate_from_audit(given, decision, audited, confirmed=int((wrong & audited).sum()),
                              change_confidence=np.array([]), relabel_error_rate=0.01)
    assert est.error_low < 0.3 < est.error_high and est.agrees is False
    # the labels now: the audit's own fixes are the only ones
    assert est.accuracy_low < 1 - (wrong.sum() - (wrong & audited).sum()) / n < est.accuracy_high
    msg = audit_message(est)
    assert msg is not None and "below the random audit's" in msg
    # automatic changes at confidence c remove 2c - 1 errors each in expectation
    est2 = estimate_from_audit(given, decision, audited, confirmed=0,
                               change_confidence=np.full(100, 0.9))
    assert est2.accuracy_now == pytest.approx(est.accuracy_now + 80 / n
                                              - int((wrong & audited).sum()) / n, abs=1e-9)
    clean = estimate_from_audit(truth.astype(object), decision, audited, confirmed=0,
                                change_confidence=np.array([]), relabel_error_rate=0.005)
    assert clean.wrong == 0 and clean.error_low == 0.0 and clean.agrees is True
    assert audit_message(clean) is None
    assert clean.accuracy_high == 1.0
    none = estimate_from_audit(given, np.full(n, None, dtype=object), audited, confirmed=0,
                               change_confidence=np.array([]), relabel_error_rate=0.01)
    assert none.decided == 0 and none.agrees is None and np.isnan(none.error_rate)


@pytest.fixture(scope="module")
def systematic():
    """Labels whose errors are shared by similar examples: the vectors cluster by the *given*
    label, so 25% wrong labels agree with their neighbours and the corrector."""
    df = make_text_dataset(n_per_class=250, flip=250, seed=3)
    rng = np.random.default_rng(0)
    classes = sorted(set(df["label"]))
    centers = rng.normal(size=(len(classes), 16))
    given = np.searchsorted(classes, df["label"].to_numpy())
    emb = (centers[given] + 0.45 * rng.normal(size=(len(given), 16))).astype(np.float32)
    return df, emb


def test_status_cli_api_and_report_show_the_audit_beside_relabels_estimate(systematic,
                                                                           tmp_path):
    from relabel.cli import app

    df, emb = systematic
    out = tmp_path / "run"
    run = relabel.denoise(df, id="id", out=out, embeddings=emb, corrector="linear",
                          progress=False)
    true_rate = float((df["label"] != df["true_label"]).mean())
    own = run.summary["decisions"]["estimated_noise_rate"]
    assert own < true_rate / 3  # the errors are invisible to relabel's signals
    runner = CliRunner()
    res = runner.invoke(app, ["review", "status", str(out)])
    assert res.exit_code == 0, res.output
    assert "no random audit yet" in res.output and "--audit 50" in res.output
    assert run.review_status().audit is None
    # a reviewer decides the first 120 examples of the random audit
    write_audit_size(out, 120)
    ids = run.scores["id"].to_list()
    audited = [i for i, a in zip(ids, audit_sample(ids, 120), strict=True) if a]
    write_reviews(gold_decisions(df, audited), out)
    status = run.review_status()
    a = status.audit
    assert a is not None and a.size == 120 and a.decided == 120
    assert a.error_low < true_rate < a.error_high and a.agrees is False
    # relabel's own accuracy estimate is far too high; the audit's interval holds the truth
    now = run.apply(reviews=True)
    acc_now = float((now["label"] == now["true_label"]).mean())
    assert status.estimated_accuracy - acc_now > 0.1
    assert a.accuracy_low <= acc_now <= a.accuracy_high
    res = runner.invoke(app, ["review", "status", str(out)])
    assert res.exit_code == 0, res.output
    assert "random audit: 120 of 120 sampled examples decided" in res.output
    assert f"about {a.errors_left:.0f} wrong labels left" in res.output
    assert a.errors_left == pytest.approx(len(ids) * (1 - a.accuracy_now))
    assert "warning: relabel estimated" in res.output and "trust the audit" in res.output
    html = run.report().read_text()
    assert "random audit: given labels wrong" in html and "trust the audit" in html
    # the next round's directory keeps the audit
    run2 = relabel.denoise(df, id="id", out=tmp_path / "run2", embeddings=emb,
                           corrector="linear", reviews=out / "reviews.parquet", progress=False)
    assert read_audit_size(tmp_path / "run2") == 120
    assert run2.review_status().audit.decided == 120
    # ... and its printed summary gives the audit beside relabel's own estimate
    from relabel.cli.denoise import format_summary

    assert run2.summary["audit"]["decided"] == 120 and run2.summary["audit"]["warning"]
    text = format_summary(run2.summary, tmp_path / "run2")
    assert "random audit: 120 of 120 sampled examples decided" in text
    assert "warning: relabel estimated" in text and "--audit 50" not in text
    assert "--audit 50" in format_summary(run.summary, out)


def test_the_audit_agrees_where_relabel_sees_the_errors(tmp_path):
    from tests.conftest import visible_noise_run

    out = tmp_path / "run"
    df, run = visible_noise_run(out, n_per_class=250, flip=150)
    ids = run.scores["id"].to_list()
    write_audit_size(out, 200)
    audited = [i for i, a in zip(ids, audit_sample(ids, 200), strict=True) if a]
    write_reviews(gold_decisions(df, audited), out)
    st = review_status(run.scores, read_ledger(out), audit_chunks=[200],
                       relabel_error_rate=run.summary["decisions"]["estimated_noise_rate"])
    assert st.audit is not None and st.audit.agrees is True
    assert audit_message(st.audit) is None
    assert st.to_json()["audit"]["decided"] == 200


def test_expected_errors_reach_the_runs_noise_estimate_and_keep_the_order():
    from relabel.review.chance import expected_errors

    rng = np.random.default_rng(2)
    p = rng.beta(0.5, 8.0, 1000)  # the posterior sees about 6% wrong labels
    changed = np.zeros(1000, dtype=bool)
    changed[:50] = True
    conf = np.where(changed, 0.95, np.nan)
    plain = expected_errors(p, changed, conf)
    np.testing.assert_allclose(plain, np.where(changed, 0.05, p))
    # the run printed 30% noise: the unchanged rows carry what the changes do not fix
    err = expected_errors(p, changed, conf, noise_rate=0.3)
    assert err[~changed].sum() == pytest.approx(0.3 * 1000 - 0.95 * 50, rel=1e-6)
    assert (err[~changed] >= p[~changed]).all() and (err <= 1).all()
    np.testing.assert_allclose(err[changed], 0.05)
    order = np.argsort(p[~changed], kind="stable")
    assert (np.diff(err[~changed][order]) >= 0).all()
    # never scaled down, and a rate nothing can reach makes every possible error sure
    np.testing.assert_allclose(expected_errors(p, changed, conf, noise_rate=0.01), plain)
    full = expected_errors(np.r_[p[:-1], 0.0], changed, conf, noise_rate=2.0)
    assert full[~changed][:-1].min() == 1.0 and full[-1] == 0.0


def test_a_second_reviewer_corrects_the_audit_for_reviewers_who_err():
    """Two reviewers each wrong 10% of the time: one alone makes clean labels read as ~10%
    wrong; their disagreement on the same examples measures that and takes it out."""
    k, n, audited_n = 4, 4000, 200
    classes = np.array(list("abcd"), dtype=object)
    covered_clean = covered_noisy = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        truth = rng.integers(0, k, n)
        audited = np.zeros(n, dtype=bool)
        audited[rng.choice(n, audited_n, replace=False)] = True

        def reviewer(truth=truth, rng=rng):
            slip = rng.random(n) < 0.1
            return np.where(slip, (truth + rng.integers(1, k, n)) % k, truth)

        first, second = reviewer(), reviewer()
        votes = [(classes[first[i]], classes[second[i]]) if audited[i] else None
                 for i in range(n)]
        for rate in (0.0, 0.3):
            wrong = rng.random(n) < rate
            given = classes[np.where(wrong, (truth + 1) % k, truth)]
            decision = np.where(audited, classes[first], None)
            plain = estimate_from_audit(given, decision, audited, confirmed=0,
                                        change_confidence=np.array([]))
            est = estimate_from_audit(given, decision, audited, confirmed=0,
                                      change_confidence=np.array([]), votes=votes,
                                      n_classes=k, seed=seed)
            assert est.double_reviewed == audited_n
            assert 0.03 < est.reviewer_error < 0.2
            assert est.uncorrected_rate == pytest.approx(plain.error_rate)
            hit = est.error_low <= wrong.mean() <= est.error_high
            if rate == 0.0:
                covered_clean += hit
                assert plain.error_rate > 0.04  # alone, the reviewer's slips read as errors
            else:
                covered_noisy += hit
    assert covered_clean / 60 >= 0.85 and covered_noisy / 60 >= 0.85


def test_a_chunk_counts_once_fully_decided_so_the_queues_errors_cannot_bias_it(tmp_path):
    """Examples decided from relabel's own queue (rich in errors) that fall in the audit count
    only with the rest of their chunk: half-decided, the chunk would read far too wrong."""
    rng = np.random.default_rng(0)
    n = 4000
    ids = [str(i) for i in range(n)]
    wrong = rng.random(n) < 0.2
    given = np.where(wrong, "b", "a").astype(object)
    truth = np.full(n, "a", dtype=object)
    order = np.argsort(audit_ranks(ids), kind="stable")
    decided = np.zeros(n, dtype=bool)
    decided[order[:100]] = True  # the first chunk, decided in full
    second = order[100:300]
    decided[second[wrong[second]]] = True  # the queue found the second chunk's errors first
    decided[second[~wrong[second]][:20]] = True  # and 20 of its right labels
    counted = counted_sample(ids, [100, 300], decided)
    assert set(np.flatnonzero(counted)) == set(order[:100])
    est = estimate_from_audit(given, np.where(decided, truth, None), counted, size=300,
                              confirmed=0, change_confidence=np.array([]))
    assert (est.size, est.decided) == (300, 100)
    assert est.error_rate == pytest.approx(wrong[order[:100]].mean())
    # what counting every decided example of the sample would have said
    naive = estimate_from_audit(given, np.where(decided, truth, None),
                                audit_sample(ids, 300), confirmed=0,
                                change_confidence=np.array([]))
    assert naive.error_rate > est.error_rate + 0.15
    decided[second] = True  # the second chunk is complete: it counts
    assert counted_sample(ids, [100, 300], decided).sum() == 300
    # audit.json keeps the chunks; a file with a size alone is one chunk
    write_audit_size(tmp_path, 50)
    write_audit_size(tmp_path, 120)
    write_audit_size(tmp_path, 120)
    assert read_audit_chunks(tmp_path) == [50, 120] and read_audit_size(tmp_path) == 120
    (tmp_path / "audit.json").write_text('{"size": 80}')
    assert read_audit_chunks(tmp_path) == [80]
