"""Correctors: scikit-learn contract, determinism, cross-validation without leakage, fold cache."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from relabel.correct import make_corrector, resolve_corrector
from relabel.correct.crossval import make_folds, out_of_fold_proba
from relabel.correct.finetune import FinetuneCorrector
from relabel.correct.head import HeadCorrector
from relabel.correct.linear import LinearCorrector
from tests.conftest import make_clusters


def test_head_learns_clusters_and_follows_the_estimator_contract():
    emb, labels, true = make_clusters(n_per_class=50, flip=0.0)
    est = HeadCorrector(n_classes=4, epochs=10, seed=3)
    assert clone(est).get_params() == est.get_params()
    assert not hasattr(clone(est), "net_")
    est.fit(emb, labels)
    proba = est.predict_proba(emb)
    assert proba.shape == (len(labels), 4)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    assert (est.predict(emb) == true).mean() > 0.95
    assert list(est.classes_) == [0, 1, 2, 3]


def test_linear_learns_clusters_and_knows_every_class():
    emb, labels, true = make_clusters(n_per_class=30, flip=0.0)
    est = LinearCorrector(n_classes=5)  # class 4 never seen
    assert clone(est).get_params() == est.get_params()
    est.fit(emb, labels, soft_labels=np.zeros((len(labels), 5)))  # fit params are ignored
    proba = est.predict_proba(emb)
    assert proba.shape == (len(labels), 5) and (proba[:, 4] < 1e-5).all()
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-6)
    assert (est.predict(emb) == true).mean() > 0.95
    single = LinearCorrector(n_classes=3).fit(emb[:5], np.zeros(5, dtype=int))
    assert (single.predict(emb[:3]) == 0).all()


def test_linear_sample_weight_counts_a_row_as_that_many_copies():
    emb, labels, _ = make_clusters(n_per_class=20, flip=0.2)
    weight = np.ones(len(labels), dtype=np.float32)
    weight[:10] = 3.0
    weighted = LinearCorrector(n_classes=4).fit(emb, labels, sample_weight=weight)
    copies = np.concatenate([np.arange(len(labels)), np.arange(10), np.arange(10)])
    repeated = LinearCorrector(n_classes=4).fit(emb[copies], labels[copies])
    np.testing.assert_allclose(weighted.predict_proba(emb), repeated.predict_proba(emb),
                               atol=1e-4)
    plain = LinearCorrector(n_classes=4).fit(emb, labels)
    assert np.abs(weighted.predict_proba(emb) - plain.predict_proba(emb)).max() > 1e-3


def test_reviewed_rows_weigh_more_in_correctors_that_take_sample_weight():
    from relabel.detect.score import REVIEWED_WEIGHT, corrector_fit_params, neighbour_signals

    emb, labels, _ = make_clusters(n_per_class=20, flip=0.1)
    sig = neighbour_signals(emb, labels, 4)
    trusted = np.zeros(len(labels), dtype=bool)
    trusted[:7] = True
    params = corrector_fit_params(LinearCorrector(n_classes=4), sig, emb, trusted)
    np.testing.assert_array_equal(params["sample_weight"],
                                  np.where(trusted, REVIEWED_WEIGHT, 1.0).astype(np.float32))
    assert "sample_weight" in corrector_fit_params(HeadCorrector(n_classes=4), sig, emb, trusted)
    # no reviews, or a corrector without sample_weight (finetune): nothing is passed
    assert "sample_weight" not in corrector_fit_params(LinearCorrector(n_classes=4), sig, emb)
    assert "sample_weight" not in corrector_fit_params(FinetuneCorrector(n_classes=4), sig,
                                                       emb, trusted)
    # the linear corrector trains on the given labels: no soft labels for its folds to copy
    assert set(params) == {"sample_weight"}
    assert not corrector_fit_params(LinearCorrector(n_classes=4), sig, emb)
    assert {"soft_labels", "credibility", "radius"} <= set(
        corrector_fit_params(HeadCorrector(n_classes=4), sig, emb))


def test_weighted_soft_cross_entropy_counts_a_row_as_that_many_copies():
    import torch

    from relabel.correct.train import soft_cross_entropy

    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 3, generator=gen)
    soft = torch.softmax(torch.randn(6, 3, generator=gen), dim=1)
    weight = torch.tensor([1.0, 3.0, 1.0, 1.0, 2.0, 1.0])
    copies = torch.tensor([0, 1, 1, 1, 2, 3, 4, 4, 5])
    torch.testing.assert_close(soft_cross_entropy(logits, soft, weight),
                               soft_cross_entropy(logits[copies], soft[copies]))


def test_head_follows_heavily_weighted_rows():
    emb, labels, _ = make_clusters(n_per_class=40, flip=0.0)
    moved = np.flatnonzero(labels == 0)[:8]
    labels = labels.copy()
    labels[moved] = 1  # a few rows of cluster 0 labelled 1
    weight = np.ones(len(labels), dtype=np.float32)
    weight[moved] = 50.0
    plain = HeadCorrector(n_classes=4, epochs=30, seed=0).fit(emb, labels)
    heavy = HeadCorrector(n_classes=4, epochs=30, seed=0).fit(emb, labels, sample_weight=weight)
    assert heavy.predict_proba(emb[moved])[:, 1].mean() > \
        plain.predict_proba(emb[moved])[:, 1].mean() + 0.1


def test_linear_out_of_fold_on_noisy_clusters():
    emb, labels, true = make_clusters(n_per_class=40, flip=0.1)
    proba, info = out_of_fold_proba(LinearCorrector(n_classes=4), emb, labels, 4, folds=5)
    err = labels != true
    # the flipped rows get little out-of-fold probability for their given label
    p_given = proba[np.arange(len(labels)), labels]
    assert p_given[err].mean() < 0.3 < p_given[~err].mean()
    assert info["trained"] == 5


@pytest.mark.parametrize("loss", ["ce", "supcon", "soft", "distant_peer"])
def test_head_same_seed_same_result(loss):
    emb, labels, _ = make_clusters(n_per_class=20)
    soft = np.eye(4, dtype=np.float32)[labels] * 0.9 + 0.025
    kw = {"soft_labels": soft, "credibility": np.full(len(labels), 0.8),
          "radius": np.full(len(labels), 0.9)}
    a = HeadCorrector(n_classes=4, loss=loss, epochs=3, seed=1).fit(emb, labels, **kw)
    b = HeadCorrector(n_classes=4, loss=loss, epochs=3, seed=1).fit(emb, labels, **kw)
    c = HeadCorrector(n_classes=4, loss=loss, epochs=3, seed=2).fit(emb, labels, **kw)
    np.testing.assert_array_equal(a.predict_proba(emb), b.predict_proba(emb))
    assert not np.array_equal(a.predict_proba(emb), c.predict_proba(emb))


def test_head_rejects_soft_labels_of_the_wrong_shape():
    emb, labels, _ = make_clusters(n_per_class=5)
    with pytest.raises(ValueError, match="soft_labels"):
        HeadCorrector(n_classes=4).fit(emb, labels, soft_labels=np.ones((3, 4)))


def test_folds_are_stratified_seeded_and_cover_everything():
    labels = np.repeat(np.arange(3), [50, 30, 2])
    f = make_folds(labels, 5, seed=0)
    assert set(f) == set(range(5))
    np.testing.assert_array_equal(f, make_folds(labels, 5, seed=0))
    assert not np.array_equal(f, make_folds(labels, 5, seed=1))
    for c, n in [(0, 50), (1, 30)]:
        assert np.bincount(f[labels == c], minlength=5).tolist() == [n // 5] * 5
    with pytest.raises(ValueError, match="at least 2"):
        make_folds(labels, 1, 0)
    # every class smaller than the folds (8 rows, 4 per class, 5 folds): no stratified split
    # exists; the rows are dealt at random (this raised sklearn's ValueError through denoise)
    tiny = np.repeat([0, 1], 4)
    f = make_folds(tiny, 5, seed=0)
    assert sorted(np.bincount(f, minlength=5).tolist()) == [1, 1, 2, 2, 2]
    np.testing.assert_array_equal(f, make_folds(tiny, 5, seed=0))


class _Recorder(ClassifierMixin, BaseEstimator):
    """Predicts one-hot of the training label for rows it saw, uniform otherwise; records rows."""

    seen: list[set[int]] = []  # noqa: RUF012 - shared on purpose, to inspect clones

    def __init__(self, n_classes: int = 2) -> None:
        self.n_classes = n_classes

    def fit(self, X, y, *, weight=None):
        assert weight is not None and len(weight) == len(X)
        self.memory_ = {int(x[0]): int(t) for x, t in zip(X, y, strict=True)}
        _Recorder.seen.append(set(self.memory_))
        self.classes_ = np.arange(self.n_classes)
        return self

    def predict_proba(self, X):
        out = np.full((len(X), self.n_classes), 1.0 / self.n_classes)
        for i, x in enumerate(X):
            if int(x[0]) in self.memory_:
                out[i] = np.eye(self.n_classes)[self.memory_[int(x[0])]]
        return out


def test_out_of_fold_never_judges_a_row_with_a_model_that_saw_it(tmp_path):
    _Recorder.seen = []
    n = 40
    X = np.arange(n)[:, None]
    labels = np.arange(n) % 2
    proba, info = out_of_fold_proba(_Recorder(), X, labels, 2, folds=4, seed=0,
                                    fit_params={"weight": np.ones(n)})
    # a model that had seen a row would predict it one-hot; every row got the uniform answer
    np.testing.assert_allclose(proba, 0.5)
    assert info == {"folds": 4, "trained": 4, "reused": 0}
    assert sum(len(s) for s in _Recorder.seen) == 3 * n  # each row trains 3 of the 4 models


def test_fold_cache_resumes_and_reuses(tmp_path):
    emb, labels, _ = make_clusters(n_per_class=15)
    est = HeadCorrector(n_classes=4, epochs=2)
    first, info = out_of_fold_proba(est, emb, labels, 4, folds=3, cache_dir=tmp_path)
    assert info["trained"] == 3
    again, info = out_of_fold_proba(est, emb, labels, 4, folds=3, cache_dir=tmp_path)
    assert info == {"folds": 3, "trained": 0, "reused": 3}
    np.testing.assert_array_equal(first, again)
    (tmp_path / "fold-1.npy").unlink()  # as after a crash during fold 1
    resumed, info = out_of_fold_proba(est, emb, labels, 4, folds=3, cache_dir=tmp_path)
    assert info["trained"] == 1 and info["reused"] == 2
    np.testing.assert_array_equal(first, resumed)
    (tmp_path / "fold-2.npy").write_bytes(b"\x93NUMPY garbage")  # a damaged fold file
    repaired, info = out_of_fold_proba(est, emb, labels, 4, folds=3, cache_dir=tmp_path)
    assert info["trained"] == 1 and info["reused"] == 2
    np.testing.assert_array_equal(first, repaired)


def test_finetune_runs_on_cpu_with_a_real_model(tiny_model_dir):
    texts = np.array([f"card arrived late {i}" for i in range(12)]
                     + [f"refund my money {i}" for i in range(12)], dtype=object)
    labels = np.repeat([0, 1], 12)
    frozen = np.eye(2, 4, dtype=np.float32)[labels]
    est = FinetuneCorrector(n_classes=2, model=str(tiny_model_dir), epochs=2, batch_size=8,
                            grad_accum=2, lr=1e-3, device="cpu", seed=0)
    est.fit(texts, labels, soft_labels=np.eye(2, dtype=np.float32)[labels],
            credibility=np.ones(24), frozen=frozen, radius=np.full(24, 0.5))
    p = est.predict_proba(texts)
    assert p.shape == (24, 2) and np.isfinite(p).all()
    assert len(est.loss_history_) == 2 and est.loss_history_[-1] < est.loss_history_[0]
    again = clone(est).fit(texts, labels, soft_labels=np.eye(2, dtype=np.float32)[labels],
                           credibility=np.ones(24), frozen=frozen, radius=np.full(24, 0.5))
    np.testing.assert_allclose(again.predict_proba(texts), p, atol=1e-6)


def test_finetune_pools_entity_markers_for_relations(tiny_model_dir):
    from relabel.data.relation import encoder_inputs

    text = [f"Alice {i} met Bob in Paris" for i in range(8)] + \
           [f"Carol {i} works for Acme in Rome" for i in range(8)]
    hs = np.zeros(16, dtype=int)
    he = np.array([len(t.split()[0]) for t in text])
    ts = np.array([t.index("Bob") if "Bob" in t else t.index("Acme") for t in text])
    te = ts + np.array([3 if "Bob" in t else 4 for t in text])
    _, packed = encoder_inputs(text, hs, he, ts, te, [None] * 16, [None] * 16)
    labels = np.repeat([0, 1], 8)
    est = FinetuneCorrector(n_classes=2, model=str(tiny_model_dir), epochs=1, batch_size=8,
                            lr=1e-3, device="cpu", seed=0, pooling="entity")
    est.fit(np.asarray(packed, dtype=object), labels)
    hidden = int(est.net_.encoder.config.hidden_size)
    assert est.net_.classifier.in_features == 3 * hidden
    batch = est._batches(np.asarray(packed, dtype=object), "cpu")(np.arange(16))
    assert (batch["marks"] >= 0).all()  # both markers found in every input
    p = est.predict_proba(np.asarray(packed, dtype=object))
    assert p.shape == (16, 2) and np.isfinite(p).all()


def test_make_corrector_sets_only_known_options():
    est = make_corrector("head", 5, loss="ce", epochs=3, max_length=64, model="x", lr=None)
    assert isinstance(est, HeadCorrector)
    assert est.n_classes == 5 and est.loss == "ce" and est.epochs == 3 and est.lr == 3e-3
    ft = make_corrector("finetune", 5, max_length=64)
    assert isinstance(ft, FinetuneCorrector) and ft.max_length == 64
    assert resolve_corrector("none") == "none"
    with pytest.raises(ValueError, match="unknown corrector"):
        resolve_corrector("forest")


def test_auto_is_linear_on_every_machine_and_size():
    # finetune's decisions were never measured under the trust protocol: auto never picks it
    assert resolve_corrector("auto", [26] * 77) == "linear"
    assert resolve_corrector("auto", [130] * 77) == "linear"
    assert resolve_corrector("auto") == "linear"
    assert resolve_corrector("head", [3, 3]) == "head"  # an explicit choice is kept
    assert resolve_corrector("finetune") == "finetune"


def test_folds_in_parallel_threads_give_the_same_result():
    emb, labels, _ = make_clusters(n_per_class=15)
    soft = np.eye(4, dtype=np.float32)[labels] * 0.9 + 0.025
    kw = {"soft_labels": soft, "credibility": np.full(len(labels), 0.8, np.float32),
          "radius": np.full(len(labels), 0.9, np.float32)}
    est = HeadCorrector(n_classes=4, epochs=3, seed=5)
    one, _ = out_of_fold_proba(est, emb, labels, 4, folds=4, fit_params=kw, n_jobs=1)
    two, info = out_of_fold_proba(est, emb, labels, 4, folds=4, fit_params=kw, n_jobs=2)
    np.testing.assert_array_equal(one, two)
    assert info["trained"] == 4


def test_head_passes_drop_only_on_data_larger_than_any_development_set():
    from relabel.correct import make_corrector
    from relabel.correct.head import HeadCorrector

    head = HeadCorrector(n_classes=3)
    assert head.passes(8_000) == 12  # banking77's folds: 32 steps a pass, all 12 passes
    assert head.passes(32_000) == 12
    assert head.passes(80_000) == 5  # 313 steps a pass: ceil(1500 / 313)
    assert head.passes(10_000_000) == 3  # never fewer than MIN_EPOCHS
    assert HeadCorrector(n_classes=3, max_steps=None).passes(80_000) == 12
    # epochs the user asks for are run in full
    asked = make_corrector("head", 3, epochs=20)
    assert asked.max_steps is None and asked.passes(80_000) == 20
    assert make_corrector("head", 3).max_steps == 1500


def test_linear_on_a_sparse_matrix_is_the_same_model_as_on_its_dense_copy():
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    dense = rng.random((120, 30)).astype(np.float32)
    dense[dense < 0.8] = 0.0  # mostly zeros, as word counts are
    labels = (dense[:, :3].argmax(1) + (dense.sum(1) > 3)).astype(np.int64) % 3
    weight = np.where(np.arange(120) < 10, 5.0, 1.0).astype(np.float32)
    a = LinearCorrector(n_classes=4).fit(dense, labels, sample_weight=weight)
    b = LinearCorrector(n_classes=4).fit(sp.csr_matrix(dense), labels, sample_weight=weight)
    np.testing.assert_allclose(a.predict_proba(dense), b.predict_proba(sp.csr_matrix(dense)),
                               atol=1e-4)
    # cross-validation slices the sparse matrix by rows, as it does the embeddings
    p, info = out_of_fold_proba(LinearCorrector(n_classes=3), sp.csr_matrix(dense), labels, 3,
                                folds=3, seed=0)
    q, _ = out_of_fold_proba(LinearCorrector(n_classes=3), dense, labels, 3, folds=3, seed=0)
    # the same objective; the sparse and dense products round differently in float32, so
    # L-BFGS stops at slightly different points of the same optimum
    np.testing.assert_allclose(p, q, atol=1e-3)
    assert info["trained"] == 3


def test_word_features_are_tfidf_of_repeated_words_or_none():
    from relabel.correct.lexical import MIN_DF, word_features

    X = word_features(["my card is lost", "card not arrived", "refund my money", None])
    assert X.shape[0] == 4 and X.dtype == np.float32
    # only "my" and "card" are in MIN_DF = 2 texts; each row is L2-normalised or empty
    assert MIN_DF == 2 and X.shape[1] == 2
    norms = np.sqrt(np.asarray(X.multiply(X).sum(1))).ravel()
    np.testing.assert_allclose(norms, [1.0, 1.0, 1.0, 0.0], atol=1e-6)
    assert word_features(["one", "two", "three"]) is None
