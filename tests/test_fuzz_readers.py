"""Property-based tests of the readers (issue 8): random and malformed CSV, JSONL, Parquet,
fastText and gzipped CSV, odd Unicode, huge fields and mixed label types. ``relabel denoise``
may only succeed or fail with one line and exit code 2: never a traceback, never a partial
output directory."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from relabel.cli import app

ODD = st.sampled_from(["", " ", "\u00e9t\u00e9", "\U0001f600", "\u202eevil", "a\u0000b",
                       "\ufeffbom", "x" * 30_000, "line\nbreak", 'quote"s', "comma,s", "\t",
                       "\ud7ff", "\u0301", "NaN", "null", "1e309", "-0"])
TEXT = st.one_of(ODD, st.text(max_size=40))
LABEL = st.one_of(st.sampled_from(["a", "b", "c", " a ", ""]), st.integers(-3, 3),
                  st.floats(allow_nan=True, allow_infinity=True), st.none(), st.booleans(),
                  st.lists(st.integers(), max_size=2))


@st.composite
def records(draw) -> list[dict]:
    n = draw(st.integers(0, 12))
    keys = draw(st.one_of(  # mostly the columns relabel needs, sometimes anything
        st.just(["text", "label"]), st.just(["id", "text", "label", "extra"]),
        st.lists(st.sampled_from(["text", "label", "id", "extra", "Text"]), max_size=4,
                 unique=True)))
    rows = []
    for i in range(n):
        row = {}
        for k in keys:
            if k == "label":
                row[k] = draw(st.one_of(st.sampled_from(["a", "b"]), LABEL))
            elif k == "id":
                row[k] = draw(st.one_of(st.just(str(i)), st.integers(0, 3), st.none()))
            else:
                row[k] = draw(st.one_of(st.text(min_size=1, max_size=20), TEXT))
        rows.append(row)
    return rows


@st.composite
def files(draw) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["csv", "jsonl", "parquet", "txt", "csv.gz", "csv-bytes",
                                 "jsonl-bytes", "parquet-bytes", "txt-bytes", "csv.gz-bytes"]))
    if kind.endswith("-bytes"):  # arbitrary bytes, or a valid file cut or flipped
        ext = kind.split("-")[0]
        base = draw(st.binary(max_size=300))
        return ext, base
    if kind == "csv.gz":  # a generated CSV, gzipped, perhaps cut
        import gzip

        _, inner = draw(files().filter(lambda f: f[0] == "csv"))
        data = gzip.compress(inner)
        if draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
        return "csv.gz", data
    rows = draw(records())
    if kind == "txt":  # fastText lines, sometimes one that is not
        lines = [f"__label__{r.get('label')} {r.get('text')}" for r in rows]
        if draw(st.booleans()):
            lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(
                ["", "no prefix", "__label__a __label__b two", "__label__", "__label__x\t"])))
        return "txt", ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    if kind == "jsonl":
        lines = [json.dumps(r, allow_nan=True) for r in rows]
        if draw(st.booleans()):
            lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(
                ["{", "[1, 2]", "not json", '{"text": "x", "label": }', "null", ""])))
        return "jsonl", ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    cols = sorted({k for r in rows for k in r})
    if kind == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(cols)
        for r in rows:
            writer.writerow(["" if r.get(c) is None else str(r.get(c)) for c in cols])
        data = buf.getvalue().encode("utf-8", "surrogatepass")
        if draw(st.booleans()) and data:  # cut it anywhere
            data = data[: draw(st.integers(0, len(data)))]
        return "csv", data
    # parquet: columns as given, mixed types cast to strings where polars refuses them
    try:
        frame = pl.DataFrame(rows, strict=False) if rows else pl.DataFrame({c: [] for c in cols})
    except Exception:
        frame = pl.DataFrame([{k: str(v) for k, v in r.items()} for r in rows])
    buf = io.BytesIO()
    frame.write_parquet(buf)
    data = buf.getvalue()
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + bytes([draw(st.integers(0, 255))]) + data[cut + 1:]
    return "parquet", data


@pytest.fixture(scope="module")
def fuzz_dir():
    d = Path(tempfile.mkdtemp(prefix="relabel-fuzz-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@settings(max_examples=int(os.environ.get("RELABEL_FUZZ_EXAMPLES", "80")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(files())
def test_denoise_reads_or_refuses_in_one_line(fuzz_dir, tiny_model_dir, file):
    ext, data = file
    work = Path(tempfile.mkdtemp(dir=fuzz_dir))
    path = work / f"data.{ext}"
    path.write_bytes(data)
    out = work / "out"
    r = CliRunner().invoke(app, ["denoise", str(path), "--out", str(out), "--model",
                                 str(tiny_model_dir), "--corrector", "none", "-q"])
    event(f"{ext}: exit {r.exit_code}")
    assert "Traceback" not in r.output
    assert r.exit_code in (0, 2), (r.exit_code, r.output, repr(r.exception))
    if r.exit_code == 2:
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
        assert not out.exists()  # nothing half-written
    else:
        scores = pl.read_parquet(out / "scores.parquet")
        assert scores.height >= 2 and (out / "summary.json").exists()
    assert path.read_bytes() == data
    shutil.rmtree(work, ignore_errors=True)
