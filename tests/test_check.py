"""`relabel check DATA`: every problem in one pass, the same checks denoise stops at."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from typer.testing import CliRunner

from relabel.cli import app
from relabel.config import DenoiseConfig
from relabel.data.check import check_dataset
from tests.conftest import make_text_dataset


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_check_lists_every_problem_and_denoise_stops_at_the_first(tmp_path):
    rows = [("a1", "refund my card", "refund"), ("a2", "", "refund"),
            ("a3", "card lost", "card"), ("a3", "card stolen", "card"),
            ("a5", "weird \ufffd byte", "card"), ("a6", "x" * 25_000, "refund"),
            ("a7", "where is my money", "")]
    path = tmp_path / "bad.csv"
    path.write_text("id,text,label\n" + "".join(f'{i},"{t}",{y}\n' for i, t, y in rows),
                    encoding="utf-8")
    before = path.read_bytes()
    r = _invoke("check", str(path), "--id-col", "id")
    assert r.exit_code == 2
    out = r.stdout.splitlines()
    errors = [line for line in out if line.startswith("error: ")]
    warnings = [line for line in out if line.startswith("warning: ")]
    assert errors == [
        f"error: {path}, row 2, column 'text': null or empty text (use --drop-invalid to skip "
        "such rows)",
        f"error: {path}, row 7, column 'label': null or empty label (use --drop-invalid to skip "
        "such rows)",
        f"error: {path}, rows 3, 4, column 'id': duplicate ids (e.g. 'a3')",
    ]
    assert any("longer than 20,000 characters (row 6)" in w for w in warnings)
    assert any("U+FFFD" in w and "(row 5)" in w for w in warnings)
    assert any("fewer than 5 examples" in w for w in warnings)
    assert "3 error(s)" in out[-1]
    assert "Traceback" not in r.output
    # denoise runs the same checks and stops at the first, with the same message
    d = _invoke("denoise", str(path), "--id-col", "id", "-q", "--out", str(tmp_path / "o"))
    assert d.exit_code == 2
    assert d.stderr.strip() == errors[0]
    assert not (tmp_path / "o").exists()
    assert path.read_bytes() == before


def test_check_of_a_clean_file_passes_and_loads_no_model(tmp_path):
    path = tmp_path / "data.csv"
    make_text_dataset().write_csv(path)
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from relabel.cli import app\n"
        f"r = CliRunner().invoke(app, ['check', {str(path)!r}])\n"
        "print(r.exit_code, repr(r.stdout))\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    status, loaded = p.stdout.strip().splitlines()
    assert status.startswith("0 ") and "0 error(s)" in status and "ready for relabel denoise" \
        in status
    assert loaded == "False False"


def test_check_collects_every_span_problem_and_the_embeddings_shape(tmp_path):
    rows = [
        {"text": "Alice works at Acme.", "head_start": 0, "head_end": 5, "tail_start": 15,
         "tail_end": 19, "label": "employee_of"},
        {"text": "Bob met Carol.", "head_start": 0, "head_end": 3, "tail_start": 8,
         "tail_end": 40, "label": "knows"},          # tail outside the text
        {"text": "Dan and Eve.", "head_start": 4, "head_end": 4, "tail_start": 8,
         "tail_end": 11, "label": "knows"},          # empty head
        {"text": "Frank likes Gina.", "head_start": 0, "head_end": 8, "tail_start": 6,
         "tail_end": 11, "label": "employee_of"},    # overlap
    ]
    path = tmp_path / "rel.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    np.save(tmp_path / "emb.npy", np.ones((3, 8), np.float32))
    report = check_dataset(path, DenoiseConfig(embeddings=tmp_path / "emb.npy"))
    assert report.task == "relation" and report.layout == "flat"
    messages = [str(e) for e in report.errors]
    assert any("row 2" in m and "tail span outside the text" in m for m in messages)
    assert any("row 3" in m and "empty head span" in m for m in messages)
    assert any("row 4" in m and "head and tail spans overlap" in m for m in messages)
    assert any("embeddings have shape (3, 8) but the dataset has 4 rows" in m for m in messages)
    assert len(messages) == 4


def test_check_reports_an_unreadable_file_and_bad_options_in_one_line(tmp_path):
    r = _invoke("check", str(tmp_path / "missing.csv"))
    assert r.exit_code == 2 and r.stdout.count("error: ") == 1 and "no such file" in r.stdout
    path = tmp_path / "data.csv"
    make_text_dataset().write_csv(path)
    r = _invoke("check", str(path), "--task", "poem", "--label-col", "nope")
    assert r.exit_code == 2
    # every problem, the options' too
    assert "--task must be one of" in r.stdout and "no column 'nope'" in r.stdout


def test_an_unknown_encoding_is_one_error_and_nothing_is_read(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,x\nb,y\n", encoding="utf-8")
    report = check_dataset(path, DenoiseConfig(encoding="latin-9x"))
    assert [str(e) for e in report.errors] == [
        "unknown encoding 'latin-9x' (e.g. cp1252, latin-1, utf-16, shift_jis, gb18030)"]
    assert report.rows == 0
