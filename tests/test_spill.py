"""Large arrays spilled to mapped files (relabel.spill, issue 19): the same results as in
memory, nothing left on disk, and the chunked rewrites of the duplicate groups and the reasons
equal to the plain formulas."""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import make_clusters

import relabel
from relabel import spill
from relabel.detect.reasons import _find, duplicate_groups, normalise_text
from relabel.detect.score import score_examples


def mapped(array: np.ndarray) -> bool:
    """Whether ``array``'s memory is a file mapping (walks the ``base`` chain)."""
    base = array
    while base is not None:
        if isinstance(base, (np.memmap, mmap.mmap)):
            return True
        base = getattr(base, "base", None)
    return False


def test_empty_maps_only_large_arrays_and_only_inside_the_block(tmp_path, monkeypatch):
    monkeypatch.setattr(spill, "SPILL_MIN_BYTES", 4000)
    assert not mapped(spill.empty((100, 10), np.float32))  # outside: plain memory
    with spill.spill_to(tmp_path / "spill"):
        assert spill.spilling() == tmp_path / "spill"
        big = spill.empty((100, 10), np.float32)
        small = spill.empty(10, np.float64)
        big[:] = 3.0
        assert mapped(big) and type(big) is np.ndarray and not mapped(small)
        assert float(big.sum()) == 3000.0
        assert list((tmp_path / "spill").iterdir()) == []  # unlinked at once
    assert spill.spilling() is None


def test_a_spill_that_does_not_fit_the_disk_fails_with_enospc_not_a_crash(tmp_path):
    """On a 1 MB tmpfs (a private mount namespace, `unshare -rm`), spilling a 4 MB array raises
    OSError ENOSPC at once and leaves no file; a write into a sparse mapped file would instead
    kill the process with SIGBUS."""
    import shutil
    import subprocess
    import sys

    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1)")
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a mount namespace here: {probe.stderr.decode()[:200]}")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    code = (
        "import errno, os, numpy as np\n"
        "from relabel import spill\n"
        "spill.SPILL_MIN_BYTES = 0\n"
        "with spill.spill_to(os.environ['MNT']):\n"
        "    try:\n"
        "        a = spill.empty((1024, 1024), np.float32)\n"
        "        a[:] = 1.0\n"
        "        print('wrote')\n"
        "    except OSError as e:\n"
        "        print('enospc' if e.errno == errno.ENOSPC else f'other {e.errno}')\n"
        "print(sorted(os.listdir(os.environ['MNT'])))\n")
    script = 'mount -t tmpfs -o size=1m tmpfs "$MNT" && "$PY" -c "$CODE"'
    p = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True,
                       env={**os.environ, "MNT": str(mnt), "PY": sys.executable, "CODE": code,
                            "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.split("\n")[:2] == ["enospc", "[]"], p.stdout


def test_scoring_with_every_array_spilled_equals_scoring_in_memory(tmp_path, monkeypatch):
    emb, labels, _ = make_clusters(n_per_class=60, n_classes=5, dim=16, flip=0.15,
                                   spread=0.35, seed=3)
    plain = score_examples(emb, labels, 5)
    monkeypatch.setattr(spill, "SPILL_MIN_BYTES", 0)
    with spill.spill_to(tmp_path):
        spilled = score_examples(emb, labels, 5)
    assert mapped(spilled.posterior) and mapped(spilled.soft_labels)
    assert mapped(spilled.posteriors["knn"]) and mapped(spilled.posteriors["kde"])
    for name in ("posterior", "credibility", "flagged", "suggested", "alternative", "p_wrong",
                 "soft_labels", "neighbors"):
        np.testing.assert_array_equal(getattr(plain, name), getattr(spilled, name), name)
    assert plain.reason == spilled.reason
    assert list(tmp_path.iterdir()) == []


def test_denoise_spills_into_the_run_directory_and_leaves_nothing(tmp_path, monkeypatch):
    emb, labels, _ = make_clusters(n_per_class=50, n_classes=4, dim=16, flip=0.1, seed=1)
    frame = pl.DataFrame({"text": [f"text {i}" for i in range(len(labels))],
                          "label": [f"c{v}" for v in labels]})
    first = relabel.denoise(frame, out=tmp_path / "plain", embeddings=emb, corrector="none")
    seen = []
    real_empty = spill.empty

    def spying_empty(shape, dtype):
        out = real_empty(shape, dtype)
        seen.append((spill.spilling(), mapped(out)))
        return out

    monkeypatch.setattr(spill, "SPILL_MIN_BYTES", 0)
    monkeypatch.setattr(spill, "empty", spying_empty)
    second = relabel.denoise(frame, out=tmp_path / "spilled", embeddings=emb, corrector="none")
    assert seen and all(d == tmp_path / "spilled" / "cache" / "spill" and m for d, m in seen)
    assert not (tmp_path / "spilled" / "cache" / "spill").exists()
    cols = ["credibility", "flagged", "suggested_label", "alternative_label", "reason"]
    assert first.scores.select(cols).equals(second.scores.select(cols))


def reference_groups(texts, indices, sims):
    """The union-find of every equal normalised text and every pair with cosine >= 0.995,
    written the plain way (a dict of texts, one find per row)."""
    n = len(indices)
    parent = np.arange(n)
    first = {}
    for i, t in enumerate(texts):
        j = first.setdefault(normalise_text(t), i)
        a, b = _find(parent, i), _find(parent, j)
        parent[max(a, b)] = min(a, b)
    for i in range(n):
        for j, s in zip(indices[i], sims[i], strict=True):
            if s >= 0.995:
                a, b = _find(parent, i), _find(parent, int(j))
                parent[max(a, b)] = min(a, b)
    return np.array([_find(parent, i) for i in range(n)])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_duplicate_groups_equal_the_plain_union_find(seed):
    rng = np.random.default_rng(seed)
    n, k = 400, 6
    words = ["Card", "card!", "  CARD ", "refund", "Refund?", "transfer", "iban", "x"]
    texts = [" ".join(rng.choice(words, size=2)) for _ in range(n)]
    indices = rng.integers(0, n, size=(n, k))
    sims = np.where(rng.random((n, k)) < 0.01, 0.999, 0.5).astype(np.float32)
    expected = reference_groups(texts, indices, sims)
    np.testing.assert_array_equal(duplicate_groups(texts, indices, sims), expected)
    np.testing.assert_array_equal(duplicate_groups(None, indices, sims),
                                  reference_groups([], indices, sims))


def test_a_hash_collision_never_joins_different_texts(monkeypatch):
    """Equal texts are grouped by a 64-bit hash of their normalised form; with every hash
    forced equal, each group still holds one normalised text only."""
    from relabel.detect import reasons

    texts = ["Card", "refund", "card!", "Refund?", "iban", "  CARD "]
    monkeypatch.setattr(reasons, "normalised_text_hashes",
                        lambda t: np.zeros(len(t), dtype=np.uint64))
    no_edges = (np.zeros((6, 1), dtype=np.int64), np.zeros((6, 1), dtype=np.float32))
    groups = duplicate_groups(texts, *no_edges)
    for g in np.unique(groups):
        assert len({normalise_text(texts[i]) for i in np.flatnonzero(groups == g)}) == 1
    assert groups[2] == groups[5] == 0  # the texts equal to the first row keep their group
