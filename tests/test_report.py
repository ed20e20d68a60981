"""The HTML report: content, truth metrics, and a render in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess

import polars as pl
import pytest
from typer.testing import CliRunner

from relabel.cli import app
from relabel.report.html import build_report
from tests.conftest import make_text_dataset, suggesting_run

runner = CliRunner()


@pytest.fixture
def text_dataset():
    return make_text_dataset(n_per_class=200, flip=60)


@pytest.fixture
def run_dir(tmp_path, dataset_csv, text_dataset):
    return suggesting_run(dataset_csv, text_dataset, tmp_path / "run")


def test_denoise_writes_a_self_contained_report(run_dir):
    page = (run_dir / "report.html").read_text()
    assert page.count("<img ") == 3 and page.count('src="data:image/png;base64,') == 3
    assert "http://" not in page and "https://" not in page  # nothing fetched from a network
    assert "Most suspicious examples" in page and "Against the true labels" not in page


def test_truth_column_adds_metrics_and_pr_curve(run_dir, text_dataset):
    r = runner.invoke(app, ["report", str(run_dir), "--truth-col", "true_label",
                            "--to", str(run_dir / "r.html")])
    assert r.exit_code == 0, r.output
    page = (run_dir / "r.html").read_text()
    assert "Against the true labels" in page and page.count("<img ") == 4
    wrong = int((text_dataset["label"] != text_dataset["true_label"]).sum())
    assert f"{wrong} of {text_dataset.height} given labels are wrong" in page
    # ... and the terminal gets the numbers in one line, the same as the page's
    scores = pl.read_parquet(run_dir / "scores.parquet")
    changed = scores.filter(pl.col("suggested_label").is_not_null())
    truth = dict(zip(text_dataset["id"].cast(pl.String), text_dataset["true_label"],
                     strict=True))
    fixed = sum(truth[i] == s for i, s in zip(changed["id"], changed["suggested_label"],
                                               strict=True))
    line = r.stdout.splitlines()[0]
    assert re.match(f"against 'true_label': {wrong} of {text_dataset.height} given labels "
                    r"wrong; AP [01]\.\d{3}, flags \d+\.\d% precise; ", line), line
    assert f"applying the {changed.height} changes: " in line and f"({fixed} fixed, " in line


def test_report_errors_are_one_line(run_dir, tmp_path):
    r = runner.invoke(app, ["report", str(run_dir), "--truth-col", "gold"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
    assert "no column 'gold'" in r.stderr
    r = runner.invoke(app, ["report", str(run_dir), "--truth-col", "true_lable"])
    assert r.exit_code == 2 and "did you mean 'true_label'? pass --truth-col true_label" in r.stderr
    r = runner.invoke(app, ["report", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and "run `relabel denoise` first" in r.stderr


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")
def test_report_renders_in_headless_chromium(run_dir, tmp_path):
    build_report(run_dir, truth_col="true_label")
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
         "--enable-logging=stderr", "--v=0", "--dump-dom",
         (run_dir / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    assert 'data-images-total="4"' in proc.stdout
    assert 'data-images-loaded="4"' in proc.stdout
    # the table of ten columns scrolls in its own box: the page is never wider than the
    # window (it was, and the text column was squeezed to a few words a line)
    assert 'data-page-wider="false"' in proc.stdout
    assert proc.stdout.count('<td class="c-text">') > 0


def test_noise_command_keeps_the_true_label(tmp_path, dataset_csv):
    out = tmp_path / "noisy.parquet"
    r = runner.invoke(app, ["noise", str(dataset_csv), "--to", str(out), "--rate", "0.1",
                            "--kind", "class-conditional", "--true-col", "gold"])
    assert r.exit_code == 0, r.output
    src = pl.read_csv(dataset_csv)
    noisy = pl.read_parquet(out)
    assert noisy.columns == [*src.columns, "gold"]
    assert noisy["gold"].to_list() == src["label"].to_list()
    assert int((noisy["label"] != noisy["gold"]).sum()) == round(0.1 * src.height)
    r = runner.invoke(app, ["noise", str(dataset_csv), "--to", str(out), "--rate", "2"])
    assert r.exit_code == 2 and "--rate must be in [0, 1], got 2.0" in r.stderr


def test_a_relation_runs_report_marks_each_pair(tmp_path, fake_encoder):
    """Which pair a relation label is about is the point of the review: the suspicious rows
    show their text with the head and the tail marked, and the text stays escaped."""
    from relabel.config import DenoiseConfig
    from relabel.pipeline import denoise
    from tests.test_relation import relation_rows

    rows = relation_rows()
    for r in rows:  # markup in a text stays text (after the tail: the spans hold)
        r["text"] = r["text"].replace(" .", " <b> .")
    pl.DataFrame(rows).write_csv(tmp_path / "rel.csv")
    denoise(tmp_path / "rel.csv", out_dir=tmp_path / "o", encoder=fake_encoder,
            config=DenoiseConfig(id_col="id", corrector="none", pooling="mean"))
    page = (tmp_path / "o" / "report.html").read_text()
    table = page[page.index("Most suspicious examples"):]
    assert 'the <mark class="head">head</mark> and the <mark class="tail">tail</mark>' in table
    suspicious = pl.read_parquet(tmp_path / "o" / "suspicious.parquet").head(50)
    for r in suspicious.iter_rows(named=True):
        src = rows[r["row"]]
        head = src["text"][src["head_start"]:src["head_end"]]
        tail = src["text"][src["tail_start"]:src["tail_end"]]
        assert f'<mark class="head">{head}</mark>' in table
        assert f'<mark class="tail">{tail}</mark>' in table
    assert "<b>" not in table and "&lt;b&gt;" in table
