"""Shared fixtures: synthetic clusters with known flipped labels, a tiny fake encoder, a tiny real
Hugging Face model directory (random weights, real tokenizer), and small datasets on disk."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "banking77_noisy.csv"


@pytest.fixture(autouse=True, scope="session")
def _user_cache_in_a_temporary_directory(tmp_path_factory: pytest.TempPathFactory) -> None:
    """What relabel remembers per machine (the ``--precision auto`` probe) goes to a directory
    of this session, not the user's home; subprocesses inherit it."""
    os.environ["RELABEL_CACHE_DIR"] = str(tmp_path_factory.mktemp("user-cache"))


def make_clusters(n_per_class: int = 40, n_classes: int = 4, dim: int = 16, flip: float = 0.1,
                  spread: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian clusters on the unit sphere. Returns ``emb (N, D)``, ``labels``, ``true``."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_classes, dim))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    true = np.repeat(np.arange(n_classes), n_per_class)
    emb = centers[true] + spread * rng.normal(size=(len(true), dim))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    labels = true.copy()
    flipped = rng.choice(len(true), size=int(flip * len(true)), replace=False)
    labels[flipped] = (true[flipped] + rng.integers(1, n_classes, len(flipped))) % n_classes
    return emb, labels, true


@pytest.fixture
def clusters() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return make_clusters()


class FakeEncoder:
    """Bag-of-words hashing encoder: texts sharing words get similar vectors. Counts its calls."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.encoded: list[str] = []

    @property
    def key(self) -> str:
        return f"fake-bow-{self.dim}"

    def encode(self, texts: Sequence[str], *, progress: Any = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                h = int.from_bytes(hashlib.md5(w.encode()).digest()[:4], "little")
                out[i, h % self.dim] += 1.0
            out[i] += 1e-3
        self.encoded.extend(texts)
        if progress is not None:
            progress.update(len(texts))
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


VOCAB = {
    "card": ["card", "arrive", "delivery", "mail", "post", "plastic", "ship"],
    "refund": ["refund", "money", "back", "return", "merchant", "reimburse", "owed"],
    "transfer": ["transfer", "send", "account", "iban", "wire", "recipient", "bank"],
}


def make_text_dataset(n_per_class: int = 30, flip: int = 6, seed: int = 0) -> pl.DataFrame:
    """Short texts whose words reveal their class; ``flip`` labels are wrong (``true_label``)."""
    rng = np.random.default_rng(seed)
    rows = []
    for cls, words in VOCAB.items():
        for _ in range(n_per_class):
            picked = rng.choice(words, size=4, replace=True)
            rows.append({"text": "please help " + " ".join(picked), "label": cls,
                         "true_label": cls})
    df = pl.DataFrame(rows)
    classes = list(VOCAB)
    idx = rng.choice(df.height, size=flip, replace=False)
    labels = df["label"].to_list()
    for i in idx:
        labels[i] = classes[(classes.index(labels[i]) + 1) % len(classes)]
    return df.with_columns(pl.Series("label", labels)).with_row_index("id").with_columns(
        pl.format("ex-{}", "id").alias("id"))


def gold_decisions(df: pl.DataFrame, ids: list[str]) -> pl.DataFrame:
    """A reviewer who answers every example in ``ids`` with its true label, as decisions
    (:func:`relabel.review.reviews.write_reviews` takes them)."""
    return (df.filter(pl.col("id").is_in(ids))
            .select("id", pl.col("label").alias("given_label"),
                    pl.col("true_label").alias("reviewed_label"))
            .with_columns(pl.when(pl.col("reviewed_label") == pl.col("given_label"))
                          .then(pl.lit("accepted")).otherwise(pl.lit("changed")).alias("status"),
                          pl.lit("auditor").alias("annotator"),
                          pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("time")))


def visible_noise_run(out: Path, *, n_per_class: int, flip: int, seed: int = 4
                      ) -> tuple[pl.DataFrame, Any]:
    """``relabel.denoise`` (linear corrector) over texts whose vectors cluster by the *true*
    class, so relabel sees the ``flip`` wrong labels: ``(dataset, run)``."""
    import relabel

    df = make_text_dataset(n_per_class=n_per_class, flip=flip, seed=seed)
    emb = clustered_embeddings(df, spread=0.45)
    return df, relabel.denoise(df, id="id", out=out, embeddings=emb, corrector="linear",
                               progress=False)


def structured_noise(n_per_class: int = 800, frac: float = 0.85, spread: float = 0.5,
                     seed: int = 5) -> tuple[pl.DataFrame, np.ndarray]:
    """Errors that whole regions share, as distant supervision makes them: every class has two
    clusters of ``(N, 16)`` vectors, and in its second cluster ``frac`` of the labels name the
    next class. relabel's signals learn the wrong label of those regions, so its automatic
    changes turn the few right labels there wrong (all 19 at the defaults; 11 of 11 with 600
    per class)."""
    df = make_text_dataset(n_per_class=n_per_class, flip=0, seed=seed)
    rng = np.random.default_rng(seed)
    classes = sorted(set(df["true_label"]))
    true = np.searchsorted(classes, df["true_label"].to_numpy())
    second = rng.random(len(true)) < 0.5
    centers = rng.normal(size=(len(classes), 2, 16))
    emb = centers[true, second.astype(int)] + spread * rng.normal(size=(len(true), 16))
    given = true.copy()
    moved = second & (rng.random(len(true)) < frac)
    given[moved] = (true[moved] + 1) % len(classes)
    return (df.with_columns(pl.Series("label", [classes[g] for g in given])),
            emb.astype(np.float32))


def clustered_embeddings(df: pl.DataFrame, *, spread: float, dim: int = 16,
                         seed: int = 0) -> np.ndarray:
    """``(N, dim)`` float32 vectors around one random centre per *true* class (so the given
    labels' errors are visible to the neighbour signals and the corrector)."""
    rng = np.random.default_rng(seed)
    classes = sorted(set(df["true_label"]))
    centers = rng.normal(size=(len(classes), dim))
    true = np.searchsorted(classes, df["true_label"].to_numpy())
    return (centers[true] + spread * rng.normal(size=(len(true), dim))).astype(np.float32)


@pytest.fixture
def text_dataset() -> pl.DataFrame:
    return make_text_dataset()


@pytest.fixture
def dataset_csv(tmp_path: Path, text_dataset: pl.DataFrame) -> Path:
    path = tmp_path / "data.csv"
    text_dataset.write_csv(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Hugging Face BERT directory with random weights (2 layers, 32 dims) and the
    packaged MiniLM tokenizer: loads offline in well under a second."""
    from transformers import BertConfig, BertModel

    from relabel.embed.encoder import default_model_path

    src = default_model_path()
    out = tmp_path_factory.mktemp("tiny-model")
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json"):
        if (src / name).exists():
            shutil.copy(src / name, out / name)
    import torch

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    BertModel(cfg).save_pretrained(out)
    return out


# -- Label Studio ---------------------------------------------------------------------------------
#: set by `make test` (and so CI): a missing Label Studio fails the review tests instead of
#: skipping them
REQUIRE_LS_ENV = "RELABEL_REQUIRE_LABEL_STUDIO"


def label_studio_or_skip() -> str:
    """The label-studio executable, or skip (fail under ``make test``) when it is missing."""
    from connectors.label_studio.local_server import find_executable

    exe = find_executable()
    if exe is None:
        msg = "label-studio not installed: `make lsvenv` puts it in .lsvenv"
        if os.environ.get(REQUIRE_LS_ENV):
            pytest.fail(msg)
        pytest.skip(msg)
    return exe


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory):
    """A real Label Studio on 127.0.0.1 (SQLite in a temp dir) for the whole session."""
    from connectors.label_studio.local_server import LocalLabelStudio

    exe = label_studio_or_skip()
    server = LocalLabelStudio(tmp_path_factory.mktemp("label-studio"), executable=exe)
    server.start()
    yield server
    server.stop()


def make_review_run(tmp_path: Path) -> tuple[Path, Path, pl.DataFrame]:
    """A denoise run over 3,000 short texts with 1,100 wrong labels (1,767 flagged, 144 changed
    automatically), scored with the fake encoder and the linear corrector at target precision 0.7.
    Returns ``(data.csv, run dir, dataset)``."""
    from relabel.config import DenoiseConfig
    from relabel.pipeline import denoise

    df = make_text_dataset(n_per_class=1000, flip=1100, seed=1)
    data = tmp_path / "reviewdata.csv"
    df.write_csv(data)
    out = tmp_path / "run"
    denoise(data, out_dir=out, config=DenoiseConfig(id_col="id", corrector="linear",
                                                    target_precision=0.7),
            encoder=FakeEncoder())
    return data, out, df


def suggesting_run(dataset_csv: Path, text_dataset: pl.DataFrame, out: Path) -> Path:
    """A real ``denoise`` run that makes automatic changes: precomputed embeddings clustered by
    the true class (600 rows, 10% flipped), the head corrector, target precision 0.5."""
    from relabel.config import DenoiseConfig
    from relabel.pipeline import denoise

    rng = np.random.default_rng(0)
    classes = sorted(set(text_dataset["true_label"]))
    centers = rng.normal(size=(len(classes), 16))
    true = np.searchsorted(classes, text_dataset["true_label"].to_numpy())
    emb = centers[true] + 0.3 * rng.normal(size=(len(true), 16))
    np.save(dataset_csv.parent / "emb.npy", emb.astype(np.float32))
    denoise(dataset_csv, out_dir=out, config=DenoiseConfig(
        id_col="id", embeddings=dataset_csv.parent / "emb.npy", corrector="head",
        target_precision=0.5))
    return out


def run_relabel(*args: str, env: dict | None = None, timeout: int = 600
                ) -> subprocess.CompletedProcess:
    """``python -m relabel ARGS`` in a subprocess, from the checkout, with ``env`` added."""
    return subprocess.run([sys.executable, "-m", "relabel", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def write_with_embeddings(df: pl.DataFrame, tmp_path: Path, name: str = "data.csv"
                          ) -> tuple[Path, Path]:
    """``df`` as ``tmp_path/name`` and its texts' fake-encoder vectors as ``emb.npy`` (for
    ``--embeddings``, so a CLI subprocess loads no model)."""
    path = tmp_path / name
    df.write_csv(path)
    return path, save_fake_embeddings(df["text"].to_list(), tmp_path / "emb.npy")


def save_fake_embeddings(texts: Sequence[str], path: Path) -> Path:
    """The fake encoder's ``(N, 64)`` vectors of ``texts`` saved as ``path`` (``.npy``)."""
    np.save(path, FakeEncoder().encode(list(texts)))
    return path
