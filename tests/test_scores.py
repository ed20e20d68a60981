"""Scorers on synthetic clusters with known flipped labels, and their properties (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from relabel.detect.combine import balance_prior
from relabel.detect.kde import soft_labels
from relabel.detect.neighbors import build_knn_graph, same_class_neighbors
from relabel.detect.score import score_examples
from relabel.detect.scorers import (
    combine_posteriors,
    kde_posterior,
    knn_posterior,
    select_knn_params,
)
from tests.conftest import make_clusters


def test_graph_excludes_self_and_is_sorted(clusters):
    emb, _, _ = clusters
    g = build_knn_graph(emb, k=7)
    assert g.indices.shape == (len(emb), 7)
    assert not np.any(g.indices == np.arange(len(emb))[:, None])
    assert np.all(np.diff(g.sims, axis=1) <= 1e-6)


def test_graph_with_exact_duplicates_still_excludes_self():
    emb = np.tile(np.eye(3, dtype=np.float32), (4, 1))  # every vector appears 4 times
    g = build_knn_graph(emb, k=3)
    assert not np.any(g.indices == np.arange(len(emb))[:, None])
    np.testing.assert_allclose(g.sims, 1.0, atol=1e-6)


def test_graph_caps_k_at_n_minus_one():
    emb, _, _ = make_clusters(n_per_class=2, n_classes=2)
    assert build_knn_graph(emb, k=50).k == 3


def test_knn_ranks_flipped_labels_lowest(clusters):
    emb, labels, true = clusters
    g = build_knn_graph(emb, k=10)
    p = knn_posterior(labels, g, 4, tau=0.1)
    cred = p[np.arange(len(labels)), labels]
    assert np.argmin(cred) in np.flatnonzero(labels != true)
    assert average_precision_score(labels != true, -cred) > 0.9


def test_knn_reweighting_rounds_do_not_hurt(clusters):
    emb, labels, true = clusters
    g = build_knn_graph(emb, k=10)
    ap = [average_precision_score(labels != true, -knn_posterior(labels, g, 4, rounds=r)[
        np.arange(len(labels)), labels]) for r in (1, 2)]
    assert ap[1] >= ap[0] - 0.02


def test_select_knn_params_returns_grid_values(clusters):
    emb, labels, _ = clusters
    g = build_knn_graph(emb, k=50)
    k, tau, ll = select_knn_params(labels, g, 4)
    assert k in (5, 10, 20, 30, 50) and tau in (0.01, 0.02, 0.05, 0.1, 1.0)
    assert ll < 0


def test_same_class_neighbors_excludes_self_and_pads_small_classes():
    emb, labels, _ = make_clusters(n_per_class=3, n_classes=2, flip=0.0)
    sims, counts = same_class_neighbors(emb, labels, 2, m=5)
    assert sims.shape == (6, 2, 5)
    assert counts.tolist() == [3, 3]
    own = sims[np.arange(6), labels]
    assert np.all(np.isinf(own[:, 2:]))  # only 2 other members of its own class
    assert np.all(own[:, :2] < 1.0 + 1e-6)


def test_same_class_neighbors_match_a_brute_force_search_in_any_blocks():
    """Classes above and below m members, an empty class, a duplicate row, a subset of query
    rows, blocks of a few rows: the m largest similarities to each class, itself excluded."""
    rng = np.random.default_rng(4)
    emb = rng.normal(size=(60, 8)).astype(np.float32)
    emb[7] = emb[3]  # a duplicate is a neighbour, not itself
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    labels = np.concatenate([np.zeros(30), np.ones(4), np.full(26, 3)]).astype(np.int64)
    rng.shuffle(labels)
    m = 5
    full = emb @ emb.T
    queries = np.array([0, 3, 7, 11, 59, 42])
    for rows, block in ((None, 1 << 23), (queries, 2 * 60), (None, 1)):
        got, counts = same_class_neighbors(emb, labels, 5, m=m, queries=rows, block_floats=block)
        assert counts.tolist() == [30, 4, 0, 26, 0]
        for qi, i in enumerate(np.arange(60) if rows is None else rows):
            for c in range(5):
                members = np.flatnonzero((labels == c) & (np.arange(60) != i))
                want = np.full(m, -np.inf, dtype=np.float32)
                top = np.sort(full[i, members])[::-1][:m]
                want[: len(top)] = top
                np.testing.assert_allclose(got[qi, c], want, atol=1e-6)


def test_kde_posterior_detects_flips_and_picks_kappa(clusters):
    emb, labels, true = clusters
    p, kappa = kde_posterior(emb, labels, 4)
    assert kappa > 0
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-5)  # float32
    cred = p[np.arange(len(labels)), labels]
    assert average_precision_score(labels != true, -cred) > 0.9


def test_soft_labels_mix_given_label_by_credibility():
    labels = np.array([0, 1])
    p_kde = np.array([[0.2, 0.8], [0.5, 0.5]])
    q = soft_labels(labels, np.array([1.0, 0.0]), p_kde)
    np.testing.assert_allclose(q, [[1.0, 0.0], [0.5, 0.5]])


def test_combine_is_weighted_geometric_mean():
    a = np.array([[0.9, 0.1]])
    b = np.array([[0.5, 0.5]])
    p = combine_posteriors({"a": a, "b": b}, {"a": 1.0, "b": 0.0})
    np.testing.assert_allclose(p, a)
    p = combine_posteriors({"a": a, "b": b}, {"a": 0.5, "b": 0.5})
    expected = np.sqrt(a * b) / np.sqrt(a * b).sum()
    np.testing.assert_allclose(p, expected)


def test_balance_prior_removes_class_size_advantage():
    p = np.array([[0.6, 0.4]])
    out = balance_prior(p, np.array([0.8, 0.2]))
    assert out[0, 1] > out[0, 0]  # 0.4 / 0.2 beats 0.6 / 0.8
    np.testing.assert_allclose(balance_prior(p, np.array([0.8, 0.2]), beta=0.0), p)


def test_score_examples_outputs(clusters):
    emb, labels, true = clusters
    res = score_examples(emb, labels, 4)
    n = len(labels)
    assert res.posterior.shape == (n, 4)
    assert res.credibility.shape == (n,)
    assert res.flagged.dtype == bool
    assert set(res.posteriors) == {"knn", "kde"}
    flagged_errors = res.flagged & (labels != true)
    assert flagged_errors.sum() >= 0.7 * (labels != true).sum()
    assert res.flagged.sum() <= 1.5 * (labels != true).sum()  # about the estimated noise
    made = res.suggested >= 0  # without a corrector relabel flags but changes nothing
    assert not made.any()
    alt = res.alternative[flagged_errors]
    assert np.mean(alt == true[flagged_errors]) > 0.9


def test_later_passes_change_more_and_keep_the_first_passs_judgement():
    # 10 classes of 100, a fifth of the labels wrong: the linear corrector's first pass changes
    # a few labels; judged again on them, the rule finds more
    from relabel.config import DEFAULT_TARGET_PRECISION
    from relabel.correct import make_corrector

    emb, labels, true = make_clusters(n_per_class=100, n_classes=10, dim=32, flip=0.2,
                                      spread=0.35, seed=0)

    def run(**kw):
        return score_examples(emb, labels, 10, corrector=make_corrector("linear", 10), **kw)

    one, three = run(passes=1), run(passes=3)
    assert one.change_pass is None and one.decisions.passes == ()
    two = run(passes=2)
    np.testing.assert_array_equal(run().suggested, two.suggested)  # linear: 2 by default
    assert (two.suggested >= 0).sum() > (one.suggested >= 0).sum()
    made = three.suggested >= 0
    assert made.sum() >= (two.suggested >= 0).sum() > (one.suggested >= 0).sum() > 0
    assert len(three.decisions.passes) >= 2 and sum(three.decisions.passes) == made.sum()
    np.testing.assert_array_equal(three.change_pass > 0, made)
    assert set(three.change_pass[made].tolist()) >= {1, 2}
    assert three.change_pass.max() <= 3

    def accuracy(res):
        return float((np.where(res.suggested >= 0, res.suggested, labels) == true).mean())

    assert accuracy(three) > accuracy(one) > float((labels == true).mean())
    # every change at the target precision, by the pass that made it; a right change means a
    # wrong given label, and the change is flagged with a reason
    np.testing.assert_array_equal(np.isfinite(three.confidence), made)
    assert (three.confidence[made] >= DEFAULT_TARGET_PRECISION).all()
    assert (three.p_wrong[made] >= three.confidence[made]).all()
    np.testing.assert_array_equal(three.alternative[made], three.suggested[made])
    np.testing.assert_array_equal(three.flagged, one.flagged | made)
    assert all(r is not None for r in np.asarray(three.reason, dtype=object)[three.flagged])
    assert three.decisions.expected_right == pytest.approx(three.confidence[made].sum())
    # what judges the given labels stays the first pass's
    np.testing.assert_array_equal(three.credibility, one.credibility)
    np.testing.assert_array_equal(three.soft_labels, one.soft_labels)
    np.testing.assert_array_equal(three.posteriors["cv"], one.posteriors["cv"])
    np.testing.assert_array_equal(three.suspicion, one.suspicion)
    np.testing.assert_array_equal(three.p_wrong[~made], one.p_wrong[~made])
    # reviewed rows are trusted and never changed, in any pass
    reviewed = np.full(len(labels), -1)
    rows = np.flatnonzero(made)[:3]
    reviewed[rows] = labels[rows]  # the reviewer keeps the given label
    kept = run(passes=3, reviewed=reviewed)
    assert (kept.suggested[rows] == -1).all() and not kept.flagged[rows].any()
    with pytest.raises(ValueError, match="passes"):
        run(passes=0)

    class Bar:  # a tqdm-like bar: each later pass adds the steps the first made
        def __init__(self, total):
            self.n, self.total = 0, total

        def update(self, k=1):
            self.n += k

    steps, folds = Bar(4), Bar(5)
    run(passes=3, progress=steps, fold_progress=folds)
    assert steps.n == steps.total > 4 and folds.n == folds.total == 5 * len(
        three.decisions.passes)


def test_no_second_pass_where_the_first_changed_no_more_than_a_clean_set_may():
    from relabel.correct import make_corrector
    from relabel.detect.score import MIN_PASS_CHANGES

    emb, labels, _ = make_clusters(n_per_class=100, n_classes=10, dim=32, flip=0.02,
                                   spread=0.35, seed=1)
    one, two = (score_examples(emb, labels, 10, corrector=make_corrector("linear", 10),
                               passes=p) for p in (1, 2))
    assert 0 < (one.suggested >= 0).sum() <= MIN_PASS_CHANGES * len(labels)
    assert two.change_pass is None and two.decisions.passes == ()
    np.testing.assert_array_equal(two.suggested, one.suggested)


# ---- properties -------------------------------------------------------------------------------

@st.composite
def labelled_points(draw):
    seed = draw(st.integers(0, 10_000))
    n_classes = draw(st.integers(2, 4))
    n_per = draw(st.integers(3, 12))
    emb, labels, _ = make_clusters(n_per_class=n_per, n_classes=n_classes, dim=8, flip=0.15,
                                   spread=0.4, seed=seed)
    return emb, labels, n_classes, seed


@settings(max_examples=25, deadline=None)
@given(labelled_points())
def test_property_shapes_and_range(data):
    emb, labels, k, _ = data
    res = score_examples(emb, labels, k)
    for key in ("credibility",):
        assert getattr(res, key).shape == (len(labels),)
        assert np.all((getattr(res, key) >= 0) & (getattr(res, key) <= 1 + 1e-6))
    # posteriors and soft labels are stored as float32 (computed in float64)
    for post in [res.posterior, *res.posteriors.values(), res.soft_labels]:
        assert post.shape == (len(labels), k) and post.dtype == np.float32
        assert np.all(post >= 0) and np.all(post <= 1 + 1e-6)
        np.testing.assert_allclose(post.sum(1), 1.0, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(labelled_points(), st.randoms(use_true_random=False))
def test_property_row_order_invariance(data, rnd):
    emb, labels, k, _ = data
    perm = np.array(rnd.sample(range(len(labels)), len(labels)))
    a = score_examples(emb, labels, k)
    b = score_examples(emb[perm], labels[perm], k)
    np.testing.assert_allclose(a.credibility[perm], b.credibility, atol=1e-5)
    np.testing.assert_array_equal(a.flagged[perm], b.flagged)


@settings(max_examples=20, deadline=None)
@given(labelled_points(), st.randoms(use_true_random=False))
def test_property_class_renaming_invariance(data, rnd):
    emb, labels, k, _ = data
    rename = np.array(rnd.sample(range(k), k))  # old code -> new code
    a = score_examples(emb, labels, k)
    b = score_examples(emb, rename[labels], k)
    np.testing.assert_allclose(a.credibility, b.credibility, atol=1e-6)
    np.testing.assert_allclose(a.posterior, b.posterior[:, rename], atol=1e-6)
    np.testing.assert_array_equal(a.flagged, b.flagged)
    sa, sb = a.suggested, b.suggested
    np.testing.assert_array_equal(np.where(sa >= 0, rename[sa], -1), sb)


def test_approximate_graph_reports_its_recall():
    from tests.conftest import make_clusters

    emb, _, _ = make_clusters(n_per_class=300, n_classes=5, dim=16, spread=0.3)
    exact = build_knn_graph(emb, k=10)
    approx = build_knn_graph(emb, k=10, exact_max_rows=100, nprobe=3)
    assert exact.method == "exact" and exact.recall is None
    assert approx.method == "ivf" and 0.0 <= approx.recall <= 1.0
    # the reported recall is the measured overlap with the exact neighbours
    overlap = np.mean([len(np.intersect1d(a, b)) / 10
                       for a, b in zip(approx.indices, exact.indices, strict=True)])
    assert abs(overlap - approx.recall) < 0.1 and approx.recall > 0.8
    assert (approx.indices != np.arange(len(emb))[:, None]).all()  # itself excluded


def test_blocked_search_probing_every_list_is_exact():
    from tests.conftest import make_clusters

    emb, _, _ = make_clusters(n_per_class=200, n_classes=6, dim=12, spread=0.5, seed=4)
    exact = build_knn_graph(emb, k=15)
    for data in (emb, emb.astype(np.float64)):  # any float type
        full = build_knn_graph(data, k=15, exact_max_rows=0, nprobe=10**6)
        assert full.method == "ivf" and full.recall == 1.0
        np.testing.assert_allclose(full.sims, exact.sims, atol=1e-5)
    # fewer probes scan less and may miss neighbours, never report themselves or go unsorted
    few = build_knn_graph(emb, k=15, exact_max_rows=0, nprobe=1)
    assert (few.indices != np.arange(len(emb))[:, None]).all()
    assert (np.diff(few.sims, axis=1) <= 1e-6).all()
    np.testing.assert_allclose(few.sims, np.einsum("id,ikd->ik", emb, emb[few.indices]),
                               atol=1e-5)


def test_default_blocked_search_picks_a_setting_whose_predicted_recall_holds():
    import relabel.detect.neighbors as nb
    from tests.conftest import make_clusters

    # spread-out clusters: the cheapest settings miss neighbours, so the choice must move up
    emb, _, _ = make_clusters(n_per_class=400, n_classes=8, dim=24, spread=1.2, seed=2)
    exact = build_knn_graph(emb, k=20)
    g = build_knn_graph(emb, k=20, exact_max_rows=0)
    search = g.search
    assert g.method == "ivf" and {"nlist", "nprobe", "candidates_factor",
                                  "predicted_recall", "plan_seconds"} <= set(search)
    assert (search["nprobe"], search["candidates_factor"]) in nb.SEARCH_GRID
    overlap = np.mean([len(np.intersect1d(a, b)) / 20
                       for a, b in zip(g.indices, exact.indices, strict=True)])
    # the prediction (on 500 rows, before searching) is what the search then achieves
    assert abs(search["predicted_recall"] - overlap) < 0.03
    assert search["predicted_recall"] >= nb.TARGET_RECALL or (
        (search["nprobe"], search["candidates_factor"]) == nb.SEARCH_GRID[-1])
    assert overlap > 0.93
    # a setting given explicitly is used as it is, with no prediction
    fixed = build_knn_graph(emb, k=20, exact_max_rows=0, nprobe=2)
    assert fixed.search["nprobe"] == 2 and "predicted_recall" not in fixed.search


def test_fast_knn_parameter_search_and_graph_kde_equal_the_dense_formulas():
    from relabel.detect import kde, knn

    emb, labels, _ = make_clusters(n_per_class=200, n_classes=7, dim=16, flip=0.15, seed=5)
    g = build_knn_graph(emb, k=50)
    # the parameter search: the same likelihoods as scoring full posteriors for each (k, tau)
    best = (None, None, -np.inf)
    for k in sorted(knn.K_GRID):
        for tau in knn.TAU_GRID:
            p = knn.knn_posterior(labels, g.truncate(k), 7, tau=tau, rounds=1)
            ll = float(np.mean(np.log(p[np.arange(len(labels)), labels].astype(np.float64))))
            if ll > best[2]:
                best = (k, tau, ll)
    k, tau, ll = knn.select_knn_params(labels, g, 7, chunk_size=97)
    assert (k, tau) == best[:2] and abs(ll - best[2]) < 1e-6
    # the graph KDE straight from the neighbour lists = the dense (Q, K, m) form
    for kappa in (1.0, 20.0, 100.0):
        dense = kde._posterior_from_sims(
            kde.graph_class_neighbors(labels, 7, g.indices, g.sims, m=20), kappa, 1e-3)
        sparse = kde.graph_posterior(labels, 7, g.indices, g.sims, m=20, kappa=kappa, eps=1e-3)
        np.testing.assert_allclose(sparse, dense, atol=1e-12)


def test_kde_posterior_from_similarities_equals_the_per_class_log_sum_exp():
    """The one-shift form (relabel/detect/kde.py) against the textbook one: per class, the
    log-sum-exp of kappa (s - 1) over its neighbours, then a softmax over the classes."""
    from relabel.detect import kde

    rng = np.random.default_rng(11)
    sims = -np.sort(-rng.uniform(-1.0, 1.0, (300, 40, 6)), axis=2).astype(np.float32)
    sims[:, :5, 3:] = -np.inf  # small classes: fewer than m members
    sims[:, 7, :] = -np.inf  # a class with no member
    sims[0] = -np.inf  # a row with no neighbour at all: uniform
    sims[1, 1:] = -np.inf  # one class only
    for kappa in kde.KAPPA_GRID:
        logits = kappa * (sims.astype(np.float64) - 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            lse = np.log(np.exp(logits).sum(axis=2))  # (n, K); -inf for an empty class
            p = np.exp(lse - lse.max(axis=1, keepdims=True))
        p = np.where(np.isfinite(lse).any(axis=1, keepdims=True), p, 1.0)
        want = (1 - 1e-3) * p / p.sum(axis=1, keepdims=True) + 1e-3 / 40
        got = kde._posterior_from_sims(sims, kappa, 1e-3)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(got[0], np.full(40, 1 / 40))
        assert got[1].argmax() == 0 and (got[1:, 7] == 1e-3 / 40).all()
        # in row chunks and from the shifted form, the same values
        shifted = kde._shifted_sims(sims)
        np.testing.assert_array_equal(kde._posterior_from_shifted(shifted, 40, kappa, 1e-3), got)


def test_kde_from_the_graph_matches_the_exact_search_when_the_graph_holds_everyone():
    from relabel.detect.kde import graph_class_neighbors

    emb, labels, _ = make_clusters(n_per_class=30, n_classes=4, dim=8, flip=0.1, seed=3)
    n = len(labels)
    graph = build_knn_graph(emb, k=n - 1)
    exact, _ = same_class_neighbors(emb, labels, 4, m=5)
    from_graph = graph_class_neighbors(labels, 4, graph.indices, graph.sims, m=5)
    np.testing.assert_allclose(from_graph, exact, atol=1e-5)
    p_exact, k1 = kde_posterior(emb, labels, 4, m=5)
    p_graph, k2 = kde_posterior(emb, labels, 4, m=5, graph=graph, exact_max_rows=0)
    assert k1 == k2
    np.testing.assert_allclose(p_graph, p_exact, atol=1e-6)
    # a short graph: classes with no member among the k neighbours get only the floor
    short = graph.truncate(10)
    p_short, _ = kde_posterior(emb, labels, 4, m=5, graph=short, exact_max_rows=0)
    np.testing.assert_allclose(p_short.sum(axis=1), 1.0, rtol=1e-5)
    assert (np.argmax(p_short, 1) == np.argmax(p_exact, 1)).mean() > 0.95
