"""`--engine dask`: encoding shards and corrector folds on a real dask.distributed cluster
(a LocalCluster of two worker processes, every server bound to 127.0.0.1)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from typer.testing import CliRunner

from relabel.cli import app
from relabel.config import DenoiseConfig
from relabel.engine import DaskEngine, LocalEngine, make_engine
from relabel.errors import RelabelError, RelabelInputError
from relabel.pipeline import denoise
from tests.conftest import make_text_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, protocol="tcp") as c:
        yield c


def _listening_hosts(pids: list[int]) -> set[str]:
    import psutil

    hosts = set()
    for pid in pids:
        for conn in psutil.Process(pid).net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                hosts.add(conn.laddr.ip)
    return hosts


def test_the_cluster_listens_on_loopback_only(cluster):
    import os

    from distributed import Client

    with Client(cluster.scheduler_address) as client:
        pids = list(client.run(os.getpid).values())
    assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
    assert _listening_hosts([os.getpid(), *pids]) <= {"127.0.0.1"}


def test_dask_run_equals_the_local_run_and_resumes(tmp_path, cluster):
    data = tmp_path / "data.csv"
    make_text_dataset(n_per_class=40, flip=8).write_csv(data)
    cfg = {"corrector": "head", "folds": 3, "epochs": 4}
    local = denoise(data, out_dir=tmp_path / "local", config=DenoiseConfig(**cfg))
    dask_cfg = DenoiseConfig(**cfg, engine="dask", scheduler=cluster.scheduler_address)
    remote = denoise(data, out_dir=tmp_path / "dask", config=dask_cfg)

    eng = remote.summary["engine"]
    assert eng["name"] == "dask" and eng["workers"] == 2
    assert remote.summary["encoder"]["encoded"] == local.summary["encoder"]["encoded"] > 100
    assert remote.summary["corrector"]["trained"] == 3
    # the same vectors (encoded shard by shard on the workers) ...
    a = np.load(next((tmp_path / "local" / "cache" / "embeddings").rglob("*.npz")))
    b = np.load(next((tmp_path / "dask" / "cache" / "embeddings").rglob("*.npz")))
    order_a, order_b = np.argsort(a["hashes"]), np.argsort(b["hashes"])
    np.testing.assert_array_equal(a["hashes"][order_a], b["hashes"][order_b])
    np.testing.assert_allclose(a["vectors"][order_a], b["vectors"][order_b], atol=1e-6)
    # ... and the same decisions
    for col in ("flagged", "suggested_label", "label"):
        assert local.scores[col].to_list() == remote.scores[col].to_list(), col
    np.testing.assert_allclose(local.scores["credibility"].to_numpy(),
                               remote.scores["credibility"].to_numpy(), atol=1e-4)

    # a second run reuses every shard and fold saved by the first
    again = denoise(data, out_dir=tmp_path / "dask", config=dask_cfg)
    assert again.summary["encoder"]["encoded"] == 0
    assert again.summary["corrector"]["trained"] == 0
    assert again.summary["corrector"]["reused"] == 3
    assert again.scores["suggested_label"].to_list() == remote.scores["suggested_label"].to_list()


def test_engine_map_unordered_returns_every_task(cluster):
    engine = DaskEngine(cluster.scheduler_address)
    try:
        got = dict(engine.map_unordered(_scaled_sum, [1, 2, 3], big=np.arange(10)))
        # at most two tasks in flight: every task still runs once, and none is left behind
        windowed = dict(engine.map_unordered(_scaled_sum, list(range(1, 8)), window=2,
                                             big=np.arange(10)))
        assert engine.sent == {"big": "sent"}
        # every result and the shared input released (the scheduler learns it a moment later)
        deadline = time.monotonic() + 10
        while engine.client.who_has() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not engine.client.who_has()
    finally:
        engine.close()
    assert got == {0: 45, 1: 90, 2: 135}
    assert windowed == {i: 45 * (i + 1) for i in range(7)}
    assert dict(LocalEngine(2).map_unordered(_scaled_sum, [1, 2, 3], big=np.arange(10))) == got


def _scaled_sum(factor: int, *, big: np.ndarray) -> int:
    return int(big.sum()) * factor


def test_engine_options_and_an_unreachable_scheduler(tmp_path, monkeypatch):
    import socket

    import relabel.engine

    with pytest.raises(RelabelInputError, match="needs scheduler=ADDRESS"):
        make_engine("dask")
    with pytest.raises(RelabelInputError, match="only used with engine='dask'"):
        make_engine("local", "tcp://127.0.0.1:1")
    with pytest.raises(RelabelInputError, match="engine must be one of"):
        make_engine("ray")
    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(relabel.engine, "CONNECT_TIMEOUT", 2)
    with pytest.raises(RelabelError, match=f"cannot reach the Dask scheduler at "
                                            f"tcp://127.0.0.1:{port}"):
        make_engine("dask", f"tcp://127.0.0.1:{port}")
    data = tmp_path / "data.csv"
    make_text_dataset().write_csv(data)
    r = CliRunner().invoke(app, ["denoise", str(data), "--out", str(tmp_path / "o"), "-q",
                                 "--engine", "dask", "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert r.stderr.count("\n") == 1 and "cannot reach the Dask scheduler" in r.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("embeddings", ["sent", "kept", "file"])
def test_approximate_graph_and_kde_on_the_cluster_equal_the_local_run(cluster, monkeypatch,
                                                                      tmp_path, embeddings):
    """The same result however the embeddings reach the workers: an array sent with every
    call ("sent"); a read-only array sent once, whose later calls find it there ("kept"); a
    memory-mapped file the workers see and map themselves ("file"). Every block (the lists'
    nearest centroids, the sample's exact neighbours, the search, the kNN vote, the KDE)
    gives what it gives here."""
    import relabel.detect.kde as kde
    import relabel.detect.neighbors as nb
    from relabel.detect.score import neighbour_signals

    # force the blocked inverted-file search and the KDE's graph path on a small set
    monkeypatch.setattr(nb, "EXACT_MAX_ROWS", 0)
    monkeypatch.setattr(kde, "EXACT_MAX_ROWS", 0)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 16))
    labels = rng.integers(0, 6, 3000)
    x = centres[labels] + rng.normal(scale=0.8, size=(3000, 16))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    noisy = labels.copy()
    noisy[:300] = (noisy[:300] + 1) % 6
    if embeddings == "file":
        np.save(tmp_path / "emb.npy", x)
        x = np.load(tmp_path / "emb.npy", mmap_mode="r")
    elif embeddings == "kept":
        x.setflags(write=False)
    local = neighbour_signals(x, noisy, 6)
    engine = DaskEngine(cluster.scheduler_address)
    try:
        remote = neighbour_signals(x, noisy, 6, engine=engine)
    finally:
        engine.close()
    assert local.graph.method == remote.graph.method == "ivf"
    assert remote.params["neighbors"]["engine"] == "dask"
    # by the search, a read-only array is already on the workers (the lists' nearest
    # centroids sent it)
    assert remote.params["neighbors"]["embeddings_to_workers"] == embeddings
    assert "engine" not in local.params["neighbors"]
    # the same neighbours (ties aside) and similarities, so the same posteriors
    assert (local.graph.indices == remote.graph.indices).mean() > 0.999
    np.testing.assert_allclose(local.graph.sims, remote.graph.sims, atol=1e-5)
    assert local.graph.recall == remote.graph.recall > 0.9
    for name in ("knn", "kde"):
        np.testing.assert_allclose(local.posteriors[name], remote.posteriors[name], atol=1e-4)
    np.testing.assert_allclose(local.credibility, remote.credibility, atol=1e-4)
    assert local.params["kde"]["class_neighbors"] == "graph"


def test_decisions_on_the_cluster_are_the_local_decisions(cluster, monkeypatch):
    """The combined posterior and the decisions' row-wise passes run on the workers, block
    by block, and give the local result float for float; the driver only merges."""
    import relabel.detect.decide as dec

    monkeypatch.setattr(dec, "DECIDE_BLOCK_ROWS", 700)  # 3000 rows: five blocks
    rng = np.random.default_rng(1)
    n, k = 3000, 5
    true = rng.integers(0, k, n)
    labels = true.copy()
    labels[:400] = (labels[:400] + rng.integers(1, k, 400)) % k

    def signal(strength: float) -> np.ndarray:
        p = rng.dirichlet(np.ones(k), n) + strength * np.eye(k)[true]
        return (p / p.sum(1, keepdims=True)).astype(np.float32)

    posteriors = {"knn": signal(1.0), "kde": signal(0.5), "cv": signal(3.0)}
    reviewed = np.full(n, -1)
    reviewed[400:460] = true[400:460]
    kwargs = {"weights": dec.CORRECTOR_WEIGHTS, "corrector": "linear", "reviewed": reviewed}
    local = dec.decide(labels, posteriors, **kwargs)
    engine = DaskEngine(cluster.scheduler_address)
    calls = []
    mapped = engine.map_unordered
    monkeypatch.setattr(engine, "map_unordered",
                        lambda fn, items, **kw: calls.append((fn.__name__, len(items)))
                        or mapped(fn, items, **kw))
    try:
        remote = dec.decide(labels, posteriors, engine=engine, **kwargs)
    finally:
        engine.close()
    assert calls == [("_combined_block", 5), ("_confident_block", 5), ("_channel_block", 5)]
    for name in ("posterior", "credibility", "flagged", "suggested", "confidence",
                 "alternative", "alternative_prob", "p_wrong"):
        np.testing.assert_array_equal(getattr(local, name), getattr(remote, name), err_msg=name)
    assert local.reason == remote.reason
    np.testing.assert_array_equal(local.decisions.joint, remote.decisions.joint)
    assert local.decisions.noise_rate == remote.decisions.noise_rate
    assert int((local.suggested >= 0).sum()) >= 10  # the rule changed labels, the same ones
