"""Reliability, round two (issue 18): paths checked first, duplicate column names, one writer
per run directory, a full disk, damaged caches, crafted checkpoints, the key in clear text, and
text that attacks the outputs. Mostly through the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import ROOT, FakeEncoder, make_text_dataset, run_relabel, write_with_embeddings

pytestmark = pytest.mark.slow


def _one_line(p: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    assert p.returncode == code, (p.returncode, p.stdout[-1000:], p.stderr[-2000:])
    lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    return write_with_embeddings(make_text_dataset(n_per_class=40, flip=10, seed=11), tmp_path)


def _denoise(data: Path, emb: Path, out: Path, *extra: str) -> list[str]:
    return ["denoise", str(data), "--id-col", "id", "--embeddings", str(emb), "--corrector",
            "linear", "--folds", "3", "--out", str(out), "-q", *extra]


# ----------------------------------------------------------------------- paths checked first


def test_every_path_option_is_checked_before_any_work(data, tmp_path) -> None:
    path, emb = data
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    a_dir = tmp_path / "a_dir"
    a_dir.mkdir()
    run = tmp_path / "run"
    assert run_relabel(*_denoise(path, emb, run)).returncode == 0
    unreadable = Path("/proc/sys/vm/compact_memory")  # write-only, even for root
    cases = [
        (["denoise", str(path), "--out", str(a_file)], "is a file, expected a directory"),
        (["denoise", str(path), "--out", str(a_file / "sub")], "is inside the file"),
        (["denoise", str(path), "--out", "/sys/relabel-out"], "cannot be written"),
        (["denoise", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o")],
         "no such file or directory"),
        (["denoise", str(path), "--embeddings", str(tmp_path / "no.npy"), "--out",
          str(tmp_path / "o")], "no such file or directory (--embeddings)"),
        (["denoise", str(path), "--embeddings", str(a_dir), "--out", str(tmp_path / "o")],
         "is a directory, expected a file (--embeddings)"),
        (["denoise", str(path), "--model", "./no/such/model", "--out", str(tmp_path / "o")],
         "model path does not exist (--model)"),
        (["denoise", str(path), "--model", str(a_file), "--out", str(tmp_path / "o")],
         "is a file, expected a model directory (--model)"),
        (["denoise", str(path), "--reviews", str(tmp_path / "no.parquet"), "--out",
          str(tmp_path / "o")], "no such file or directory (--reviews)"),
        (["denoise", str(path), "--annotations", str(a_dir), "--out", str(tmp_path / "o")],
         "is a directory, expected a file (--annotations)"),
        (["export", str(run), "--to", str(tmp_path / "missing" / "x.csv")],
         "does not exist; create it first (--to)"),
        (["export", str(run), "--to", str(path)], "would overwrite the input"),
        (["export", str(run), "--to", str(run / "scores.csv")],
         "would overwrite scores.csv, which relabel needs"),
        (["export", str(tmp_path / "no-run"), "--to", str(tmp_path / "x.csv")],
         "run `relabel denoise` first"),
        (["consensus", str(path), "--annotations", str(tmp_path / "none.csv"), "--out",
          str(tmp_path / "o")], "no such file or directory (--annotations)"),
        (["train", str(path), "--out", str(a_file)], "is a file, expected a directory"),
        (["report", str(run), "--to", str(run / "summary.json")], "would overwrite"),
        (["noise", str(path), "--to", str(path)], "would overwrite the input"),
    ]
    if unreadable.exists():
        cases.append((["denoise", str(path), "--embeddings", str(unreadable), "--out",
                       str(tmp_path / "o")], "cannot be read"))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    for args, needle in cases:
        t0 = time.perf_counter()
        _one_line(run_relabel(*args), 2, needle)
        assert time.perf_counter() - t0 < 30  # no model was loaded
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "json", "parquet"])
def test_a_column_named_twice_is_one_line_naming_it(tmp_path, fmt) -> None:
    path = tmp_path / f"dup.{fmt}"
    if fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        path.write_text(sep.join(["text", "label", "label"]) + "\n"
                        + sep.join(["hello", "a", "b"]) + "\n" + sep.join(["bye", "b", "a"])
                        + "\n")
    elif fmt == "jsonl":
        path.write_text('{"text": "hello", "label": "a", "label": "b"}\n')
    elif fmt == "json":
        path.write_text('[{"text": "hello", "label": "a", "label": "b"}]')
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_arrays([pa.array(["x", "y"]), pa.array(["a", "b"]),
                                             pa.array(["b", "a"])],
                                            names=["text", "label", "label"]), path)
    line = _one_line(run_relabel("denoise", str(path), "--out", str(tmp_path / "o")), 2,
                     "column 'label'")
    assert "label" in line and not (tmp_path / "o").exists()


# ----------------------------------------------------------------------- one writer per dir

HOLDER = textwrap.dedent("""
    import sys, time
    from relabel.lock import run_lock
    with run_lock(sys.argv[1], "relabel denoise"):
        print("locked", flush=True)
        time.sleep(600)
""")


def test_a_second_command_on_a_busy_run_directory_refuses_and_a_stale_lock_is_taken_over(
        data, tmp_path) -> None:
    path, emb = data
    run = tmp_path / "run"
    assert run_relabel(*_denoise(path, emb, run)).returncode == 0
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "locked"
        for args in (_denoise(path, emb, run),
                     ["export", str(run), "--to", str(tmp_path / "clean.csv")],
                     ["review", "push", str(run), "--project", "proj"]):
            _one_line(run_relabel(*args, env={"LABEL_STUDIO_URL": "http://127.0.0.1:9",
                                           "LABEL_STUDIO_API_KEY": "k"}),
                      2, "in use by another relabel process", f"pid {holder.pid}")
        assert not (tmp_path / "clean.csv").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (run / ".relabel.lock").exists()  # left behind by the killed process
    # and what its atomic writes would leave when killed mid-way (a fold of the corrector, an
    # output, a directory being replaced); a hidden file of another kind stays
    (run / "cache" / "oof").mkdir(parents=True, exist_ok=True)
    stale = [run / "cache" / "oof" / ".fold-1.npy.69csis2w.tmp", run / ".scores.csv.k2j.tmp",
             run / f".cleaned.old-{holder.pid}"]
    for f in stale:
        f.write_bytes(b"half")
    (run / ".hf.x1.tmp").mkdir()
    (run / ".hf.x1.tmp" / "part").write_bytes(b"half")
    (run / ".keep").write_text("mine")
    p = run_relabel(*_denoise(path, emb, run))
    assert p.returncode == 0, p.stderr
    assert "taking over the lock" in p.stderr and str(holder.pid) in p.stderr
    assert not (run / ".relabel.lock").exists()
    assert not any(f.exists() for f in [*stale, run / ".hf.x1.tmp"])
    assert (run / ".keep").read_text() == "mine"


# ----------------------------------------------------------------------- a full disk

DISK_FULL = textwrap.dedent(r"""
    set -u
    mount -t tmpfs -o size=2m tmpfs "$MNT"
    run() { "$PY" -m relabel "$@"; }
    run denoise "$DATA" --id-col id --embeddings "$EMB" --corrector linear --folds 3 \
        --out "$MNT/run" -q > /dev/null 2>&1 || { echo "first run failed"; exit 3; }
    (cd "$MNT/run" && find . -type f ! -name '.relabel.lock' -exec sha256sum {} + | sort) \
        > "$OUT/before.txt"
    dd if=/dev/zero of="$MNT/filler" bs=4k 2>/dev/null || true
    run denoise "$DATA" --id-col id --embeddings "$EMB" --corrector linear --folds 3 \
        --target-precision 0.7 --out "$MNT/run" -q 2> "$OUT/denoise.err"
    echo "denoise=$?" >> "$OUT/codes.txt"
    run export "$MNT/run" --to "$MNT/clean.csv" 2> "$OUT/export.err"
    echo "export=$?" >> "$OUT/codes.txt"
    (cd "$MNT/run" && find . -type f ! -name '.relabel.lock' -exec sha256sum {} + | sort) \
        > "$OUT/after.txt"
    find "$MNT" -name '*.tmp' -o -name 'clean.csv' > "$OUT/partial.txt"
    rm -f "$MNT/filler"
    run denoise "$DATA" --id-col id --embeddings "$EMB" --corrector linear --folds 3 \
        --out "$MNT/run" -q > /dev/null 2> "$OUT/rerun.err"
    echo "rerun=$?" >> "$OUT/codes.txt"
    cp "$MNT/run/summary.json" "$OUT/summary.json"
""")


def test_a_full_disk_is_one_line_and_loses_nothing(data, tmp_path) -> None:
    """On a 2 MB tmpfs (mounted in a private mount namespace, `unshare -rm`): the first run
    fits; with the disk then filled, denoise and export each fail with one line, no partial
    file is left under a final name, the first run's outputs are unchanged, and after freeing
    space the same command reuses the cached folds."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1)")
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a mount namespace here: {probe.stderr.decode()[:200]}")
    path, emb = data
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MNT": str(mnt), "DATA": str(path),
           "EMB": str(emb), "OUT": str(out), "PY": sys.executable}
    p = subprocess.run(["unshare", "-rm", "sh", "-c", DISK_FULL], capture_output=True,
                       text=True, env=env, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    codes = dict(line.split("=") for line in (out / "codes.txt").read_text().split())
    assert codes == {"denoise": "1", "export": "1", "rerun": "0"}, codes
    for name in ("denoise.err", "export.err"):
        lines = (out / name).read_text().strip().splitlines()
        assert len(lines) == 1 and "the disk is full" in lines[0], (name, lines)
    assert (out / "before.txt").read_text() == (out / "after.txt").read_text()
    assert (out / "partial.txt").read_text().strip() == ""
    summary = json.loads((out / "summary.json").read_text())
    assert summary["corrector"]["reused"] == 3


# ----------------------------------------------------------------------- damaged caches


def test_every_kind_of_damaged_cache_file_is_recomputed_never_used(tmp_path) -> None:
    """Embedding shards (truncated, another encoder's, an older relabel's layout, renamed,
    non-finite) and fold files (truncated, wrong shape, non-finite) are each detected and
    recomputed: the scores equal a clean run's."""
    from relabel.config import DenoiseConfig
    from relabel.pipeline import denoise

    df = make_text_dataset(n_per_class=40, flip=10, seed=12)
    path = tmp_path / "d.csv"
    df.write_csv(path)
    cfg = DenoiseConfig(id_col="id", corrector="linear", folds=3)
    clean = denoise(path, out_dir=tmp_path / "clean", config=cfg, encoder=FakeEncoder())
    run = tmp_path / "run"
    denoise(path, out_dir=run, config=cfg, encoder=FakeEncoder())
    shard = next((run / "cache" / "embeddings").rglob("shard-*.npz"))
    good = shard.read_bytes()
    folds = sorted((run / "cache" / "oof").rglob("fold-*.npy"))
    fold_bytes = [f.read_bytes() for f in folds]

    def other_shard(**change) -> bytes:
        with np.load(shard) as d:
            arrays = {k: d[k] for k in d.files}
        arrays.update(change)
        tmp = tmp_path / "x.npz"
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        return tmp.read_bytes()

    with np.load(shard) as d:
        meta = json.loads(str(d["meta"]))
        vectors = d["vectors"].copy()
    vectors[0, 0] = np.nan
    damages = {
        "truncated": good[: len(good) // 2],
        "another encoder": other_shard(meta=np.array(json.dumps({**meta, "key": "other"}))),
        "older layout": other_shard(meta=np.array(json.dumps({**meta, "format": 1}))),
        "non-finite": other_shard(vectors=vectors),
    }
    for what, content in damages.items():
        shard.write_bytes(content)
        enc = FakeEncoder()
        res = denoise(path, out_dir=run, config=cfg, encoder=enc)
        assert len(enc.encoded) == df.height, what  # encoded again, not read
        assert res.scores.equals(clean.scores), what
    # a whole shard under another shard's name
    renamed = shard.with_name("shard-0000000000000000.npz")
    shard.rename(renamed)
    enc = FakeEncoder()
    res = denoise(path, out_dir=run, config=cfg, encoder=enc)
    assert len(enc.encoded) == df.height and not renamed.exists()
    # the corrector's folds and the word model's (relabel/correct/lexical.py), each in its own
    # directory: a damaged fold of either is trained again, and only that one
    assert len({f.parent for f in folds}) == 2
    for first in (i for i, f in enumerate(folds) if f.name == "fold-0.npy"):
        for what, change in {"truncated": lambda b, a: b[:40],
                             "wrong shape": lambda b, a: _npy(a[:-1]),
                             "non-finite": lambda b, a: _npy(np.full_like(a, np.nan))}.items():
            arr = np.load(folds[first])
            folds[first].write_bytes(change(fold_bytes[first], arr))
            res = denoise(path, out_dir=run, config=cfg, encoder=FakeEncoder())
            corrector = res.summary["corrector"]
            assert corrector["trained"] + corrector["words"]["trained"] == 1, what
            assert res.scores.equals(clean.scores), what


def _npy(a: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


class _Payload:
    """Unpickling this runs a shell command (what a crafted checkpoint does)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_checkpoint_is_refused_and_runs_nothing(data, tmp_path) -> None:
    path, _ = data
    out = tmp_path / "model"
    out.mkdir()
    marker = tmp_path / "pwned"
    import torch

    torch.save({"fingerprint": "x", "epoch": _Payload(marker)}, out / "checkpoint.pt")
    p = run_relabel("train", str(path), "--out", str(out), "--head-only", "--epochs", "1")
    _one_line(p, 2, "refusing to load this checkpoint", "delete it")
    assert not marker.exists()


# ----------------------------------------------------------------------- the key in clear text


def test_plain_http_to_another_machine_warns_once(caplog) -> None:
    import logging

    from connectors.label_studio.client import Credentials, LabelStudioClient

    caplog.set_level(logging.WARNING, logger="relabel")
    for url in ("https://ls.example.com", "http://127.0.0.1:8080", "http://localhost:8080",
                "http://[::1]:8080"):
        LabelStudioClient(Credentials(url, "secret-key")).close()
    assert not caplog.records
    for _ in range(2):
        LabelStudioClient(Credentials("http://192.0.2.10:8080", "secret-key")).close()
    assert len(caplog.records) == 1
    assert "travels unencrypted" in caplog.records[0].getMessage()
    assert "secret-key" not in caplog.records[0].getMessage()


# ----------------------------------------------------------------------- text attacks outputs

EVIL = ["<script>document.body.setAttribute('data-pwned','1')</script>",
        "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">",
        "=HYPERLINK(\"http://evil\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)",
        "tab\there", "bell\x07and\x1bescape", "price $5 and $"]


def test_text_that_attacks_the_outputs_stays_text(tmp_path) -> None:
    from relabel.config import DenoiseConfig
    from relabel.pipeline import denoise

    df = make_text_dataset(n_per_class=30, flip=12, seed=13)
    texts = df["text"].to_list()
    for i, evil in enumerate(EVIL):
        texts[i] = f"{evil} {texts[i]}"
    labels = {"card": "=card()", "refund": "<b>refund</b>", "transfer": "$transfer"}
    df = df.with_columns(pl.Series("text", texts),
                         pl.col("label").replace_strict(labels),
                         pl.col("true_label").replace_strict(labels))
    path = tmp_path / "evil.csv"
    df.write_csv(path)
    run = tmp_path / "run"
    denoise(path, out_dir=run, config=DenoiseConfig(id_col="id", corrector="linear",
                                                    target_precision=0.6),
            encoder=FakeEncoder())
    # CSVs for people: formulas neutralised; Parquet keeps the values
    scores_csv = pl.read_csv(run / "scores.csv")
    assert set(scores_csv["label"]) == {"'=card()", "<b>refund</b>", "$transfer"}
    assert set(pl.read_parquet(run / "scores.parquet")["label"]) == set(labels.values())
    to = tmp_path / "clean.csv"
    assert run_relabel("export", str(run), "--to", str(to)).returncode == 0
    changes = pl.read_csv(tmp_path / "changes.csv")
    for col in ("old_label", "new_label"):
        if col in changes.columns and changes.height:
            assert not changes[col].str.starts_with("=").any()
    assert pl.read_csv(to)["text"].to_list() == texts  # the dataset itself is untouched
    # the report: shown as text, no script runs, no control character in the page
    page = (run / "report.html").read_text()
    assert "<script>document" not in page and "&lt;script&gt;" in page
    assert "\x07" not in page and "\x1b" not in page
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        proc = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu",
             "--virtual-time-budget=5000", "--dump-dom", (run / "report.html").as_uri()],
            capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert 'data-pwned="1"' not in proc.stdout and "data-images-loaded" in proc.stdout
    # Label Studio: the labeling config keeps the labels exactly, the tasks carry the texts
    from connectors.label_studio.convert import config_classes, label_config, tasks_json
    from relabel.review.reviews import review_items

    items = review_items(run, only="all")
    config = label_config(items.classes)
    assert config_classes(config) == items.classes
    tasks = tasks_json(items.frame.to_dicts(), "v")
    assert {t["data"]["text"] for t in tasks} >= {t for t in texts if t.startswith("<script>")}
    json.dumps(tasks)  # valid JSON, control characters escaped
