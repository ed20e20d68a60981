"""The review loop against a real Label Studio server (started by the ``label_studio`` fixture):
push 1,000 flagged examples, review them through the API as reviewers would, pull, export and
check the cleaned file row by row; idempotent re-push; a server killed in the middle of a push;
one-line errors; the key never shown; and a reviewer's view in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import polars as pl
import pytest
from conftest import ROOT, FakeEncoder, label_studio_or_skip, make_review_run

from connectors.label_studio import pull, push
from connectors.label_studio.client import Credentials, LabelStudioClient, LabelStudioError
from connectors.label_studio.convert import CHOICES_NAME, label_config
from connectors.label_studio.local_server import LocalLabelStudio, free_port
from relabel.export import export_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def review_run(tmp_path_factory):
    return make_review_run(tmp_path_factory.mktemp("review"))


def _tasks(server, pid) -> list[dict]:
    with LabelStudioClient(server.credentials) as c:
        return [t for page in c.iter_tasks(pid) for t in page]


def _full_tasks(server, pid) -> list[dict]:
    r = httpx.get(f"{server.url}/api/tasks", params={"project": pid, "fields": "all",
                                                     "page_size": 5000},
                  headers={"Authorization": f"Token {server.token}"}, timeout=120)
    r.raise_for_status()
    return r.json()["tasks"]


def _choice(label: str) -> list[dict]:
    return [{"from_name": CHOICES_NAME, "to_name": "text", "type": "choices",
             "value": {"choices": [label]}}]


def test_push_review_pull_export_row_by_row(label_studio, review_run, tmp_path):
    from label_studio_sdk import LabelStudio

    data, run, df = review_run
    before = (data.read_bytes(), os.stat(data).st_mtime_ns)
    scores = pl.read_parquet(run / "scores.parquet")
    assert scores["flagged"].sum() >= 1000
    res = push(run, "loop", limit=1000, credentials=label_studio.credentials, batch_size=250)
    assert (res.selected, res.created, res.updated, res.unchanged) == (1000, 1000, 0, 0)
    assert res.project_created

    tasks = _full_tasks(label_studio, res.project_id)
    assert len(tasks) == 1000
    flagged = (scores.filter(pl.col("flagged"))
               .sort(["suspicion", "row"], descending=[True, False]).head(1000))
    by_id = {r["id"]: r for r in flagged.iter_rows(named=True)}
    assert {t["data"]["relabel_id"] for t in tasks} == set(by_id)
    for t in tasks:  # every task: given label, credibility, one relabel prediction
        row = by_id[t["data"]["relabel_id"]]
        assert t["data"]["given_label"] == row["label"]
        assert t["data"]["credibility"] == pytest.approx(row["credibility"], abs=1e-4)
        [pred] = t["predictions"]
        assert pred["model_version"] == res.model_version
        assert pred["score"] == pytest.approx(1 - row["suspicion"], abs=1e-6)
        assert pred["result"][0]["value"]["choices"] == [row["suggested_label"] or row["label"]]
    project = httpx.get(f"{label_studio.url}/api/projects/{res.project_id}",
                        headers={"Authorization": f"Token {label_studio.token}"}).json()
    assert project["sampling"] == "Uncertainty sampling"
    assert project["model_version"] == res.model_version

    # reviewers at work, through the API: accept suggestions, keep given labels, pick a third
    # label, skip
    sdk = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    classes = sorted(df["label"].unique().to_list())
    human: dict[str, str] = {}
    plan = Counter()
    for i, t in enumerate(sorted(tasks, key=lambda t: t["id"])[:400]):
        row = by_id[t["data"]["relabel_id"]]
        kind = ("suggestion", "given", "third", "skip")[i % 4]
        if kind == "skip":
            sdk.annotations.create(id=t["id"], result=[], was_cancelled=True)
        else:
            label = {"suggestion": row["suggested_label"] or row["label"], "given": row["label"],
                     "third": next(c for c in classes
                                   if c not in (row["label"], row["suggested_label"]))}[kind]
            sdk.annotations.create(id=t["id"], result=_choice(label))
            human[row["id"]] = label
        plan[kind] += 1

    pulled = pull(run, "loop", credentials=label_studio.credentials)
    reviews = pl.read_parquet(pulled.path)
    assert pulled.tasks == reviews.height == 400 and pulled.skipped == plan["skip"] == 100
    assert {r["id"]: r["reviewed_label"] for r in reviews.iter_rows(named=True)
            if r["status"] != "skipped"} == human
    for r in reviews.iter_rows(named=True):
        assert r["annotator"] == LocalLabelStudio.username and r["time"] is not None
        if r["status"] != "skipped":
            assert r["status"] == ("accepted" if r["reviewed_label"] == r["given_label"]
                                   else "changed")

    for apply in ("reviewed", "reviewed+suggestions"):
        out = tmp_path / f"clean-{apply}.csv"
        export_dataset(run, out, apply=apply)
        clean = pl.read_csv(out)
        changes = pl.read_csv(tmp_path / "changes.csv")
        source = {r["id"]: r["source"] for r in changes.iter_rows(named=True)}
        assert clean.height == df.height and clean.columns == df.columns
        for orig, new, srow in zip(df.iter_rows(named=True), clean.iter_rows(named=True),
                                   scores.iter_rows(named=True), strict=True):
            assert new["id"] == orig["id"] == srow["id"] and new["text"] == orig["text"]
            if orig["id"] in human:
                want = human[orig["id"]]
            elif (apply == "reviewed+suggestions" and srow["flagged"]
                  and srow["suggested_label"] is not None):
                want = srow["suggested_label"]
            else:
                want = orig["label"]
            assert new["label"] == want, (apply, orig["id"])
            if want != orig["label"]:
                assert source[orig["id"]] == ("human" if orig["id"] in human else "automatic")
            else:
                assert orig["id"] not in source

    # pushing again changes nothing and duplicates nothing; reviews stay
    again = push(run, "loop", limit=1000, credentials=label_studio.credentials)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1000)
    # a wider push only adds the missing examples
    wider = push(run, "loop", only="all", limit=1500, credentials=label_studio.credentials)
    assert (wider.created, wider.unchanged) == (500, 1000)
    ids = [t["data"]["relabel_id"] for t in _tasks(label_studio, res.project_id)]
    assert len(ids) == len(set(ids)) == 1500
    # push, pull and export only read the input file
    assert (data.read_bytes(), os.stat(data).st_mtime_ns) == before


def test_new_run_updates_predictions_in_place(label_studio, review_run, tmp_path):
    from relabel.config import DenoiseConfig
    from relabel.pipeline import denoise

    data, run, _ = review_run
    first = push(run, "rerun", limit=300, credentials=label_studio.credentials)
    # a second run of the same data with other weights: new scores, so a new run id
    run2 = tmp_path / "run2"
    denoise(data, out_dir=run2, encoder=FakeEncoder(), config=DenoiseConfig(
        id_col="id", corrector="none", weights={"knn": 0.8, "kde": 0.2}))
    top = lambda d: set(pl.read_parquet(d / "scores.parquet").filter("flagged")  # noqa: E731
                        .sort(["suspicion", "row"], descending=[True, False])
                        .head(300)["id"])
    both = top(run) & top(run2)
    assert both
    tasks = {t["data"]["relabel_id"]: t["id"] for t in _tasks(label_studio, first.project_id)}
    reviewed = sorted(both)[0]
    r = httpx.post(f"{label_studio.url}/api/tasks/{tasks[reviewed]}/annotations/",
                   json={"result": _choice("card")},
                   headers={"Authorization": f"Token {label_studio.token}"})
    assert r.status_code == 201

    second = push(run2, "rerun", limit=300, credentials=label_studio.credentials)
    assert second.model_version != first.model_version
    assert second.updated == len(both) and second.created == 300 - len(both)
    tasks_after = _full_tasks(label_studio, first.project_id)
    full = {t["data"]["relabel_id"]: t for t in tasks_after}
    assert len(tasks_after) == len(full) == 300 + second.created  # one task per example
    # the reviewed task kept its id (and annotation); untouched stale ones were replaced
    assert full[reviewed]["id"] == tasks[reviewed]
    scores2 = {r["id"]: r for r in pl.read_parquet(run2 / "scores.parquet").iter_rows(named=True)}
    for rid in top(run2):
        t = full[rid]
        [pred] = t["predictions"]  # the old prediction is replaced, not added to
        assert pred["model_version"] == t["data"]["relabel_run"] == second.model_version
        assert pred["score"] == pytest.approx(1 - scores2[rid]["suspicion"], abs=1e-6)
    assert len(full[reviewed]["annotations"]) == 1  # the reviewer's work is kept


def test_server_killed_mid_push_then_push_again_creates_each_task_once(tmp_path, review_run):
    exe = label_studio_or_skip()
    _, run, _ = review_run
    server = LocalLabelStudio(tmp_path / "ls", executable=exe).start()
    try:
        done = []

        def kill_after_three_batches(n: int, total: int) -> None:
            done.append(n)
            if len(done) == 3:
                server.kill()

        with pytest.raises(LabelStudioError) as err:
            push(run, "crash", limit=1000, credentials=server.credentials, batch_size=100,
                 progress=kill_after_three_batches)
        assert "cannot reach Label Studio" in str(err.value) and "\n" not in str(err.value)
        server.start()
        with LabelStudioClient(server.credentials) as c:
            pid = int(c.find_project("crash")["id"])
        before = _tasks(server, pid)
        assert 300 <= len(before) < 1000
        res = push(run, "crash", limit=1000, credentials=server.credentials, batch_size=100)
        assert res.created == 1000 - len(before) and res.unchanged == len(before)
        ids = [t["data"]["relabel_id"] for t in _tasks(server, res.project_id)]
        assert len(ids) == len(set(ids)) == 1000
    finally:
        server.stop()


def test_one_line_errors_and_the_key_never_shown(label_studio, review_run, tmp_path):
    _, run, _ = review_run
    token = label_studio.token
    cases = {
        "refused the API key": Credentials(label_studio.url, "wrong-" + token),
        "cannot reach Label Studio": Credentials(f"http://127.0.0.1:{free_port()}", token),
        "is LABEL_STUDIO_URL right?": Credentials(label_studio.url + "/not-here", token),
    }
    for needle, creds in cases.items():
        with pytest.raises(LabelStudioError) as err:
            push(run, "errors", limit=10, credentials=creds)
        msg = str(err.value)
        assert needle in msg and "\n" not in msg and token not in msg, msg

    # a project whose label set no longer matches the run
    with LabelStudioClient(label_studio.credentials) as c:
        c.create_project("other-labels", label_config(["x", "y"]), model_version="v")
    with pytest.raises(LabelStudioError, match="another label set than this run"):
        push(run, "other-labels", limit=10, credentials=label_studio.credentials)
    with pytest.raises(LabelStudioError, match="another label set than this run"):
        pull(run, "other-labels", credentials=label_studio.credentials)
    with pytest.raises(LabelStudioError, match="no project named 'nope'"):
        pull(run, "nope", credentials=label_studio.credentials)

    # the CLI, as a subprocess with the key in the environment: nothing shows or stores it
    env = {**os.environ, "LABEL_STUDIO_URL": label_studio.url, "LABEL_STUDIO_API_KEY": token,
           "RELABEL_CONFIG": str(tmp_path / "none.toml")}
    cli = [sys.executable, "-m", "relabel"]
    ok = subprocess.run([*cli, "review", "push", str(run), "--project", "cli", "--limit", "20"],
                        env=env, capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert "20 new tasks" in ok.stdout
    pulled = subprocess.run([*cli, "review", "pull", str(run), "--project", "cli"], env=env,
                            capture_output=True, text=True, cwd=ROOT)
    assert pulled.returncode == 0 and "0 reviewed tasks" in pulled.stdout
    bad = subprocess.run([*cli, "review", "push", str(run), "--project", "cli"],
                         env={**env, "LABEL_STUDIO_API_KEY": "nope-" + token},
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert [ln for ln in bad.stderr.splitlines() if ln.strip()][-1].startswith("error: ")
    for proc in (ok, pulled, bad):
        assert token not in proc.stdout + proc.stderr
    for f in run.rglob("*"):
        if f.is_file() and f.suffix in (".json", ".csv", ".html", ".parquet"):
            assert token.encode() not in f.read_bytes(), f


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"


def _reviewer_view(server, project_id: int, task: dict, shot: Path) -> tuple[str, list[str]]:
    """Log in as the reviewer in headless Chromium, open the task, screenshot it; returns the
    page text and the ticked choices. Fails on any page error."""
    sync_api = pytest.importorskip("playwright.sync_api")
    errors: list[str] = []
    shot.parent.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server.url}/user/login/")
            page.fill("input[name=email]", LocalLabelStudio.username)
            page.fill("input[name=password]", LocalLabelStudio.password)
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            page.goto(f"{server.url}/projects/{project_id}/data?task={task['id']}")
            page.get_by_text(f"Given label: {task['data']['given_label']}").wait_for(
                timeout=60_000)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(shot))
            body = page.inner_text("body")
            checked = page.locator("label:has(input:checked)")
            # (a ticked toggle of the page chrome has no text)
            picked = [t for i in range(checked.count()) if (t := checked.nth(i).inner_text())]
        finally:
            browser.close()
    assert not errors, errors
    assert "Something went wrong" not in body
    return body, [x.split("[")[0].strip() for x in picked]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")
def test_reviewer_sees_text_and_preselected_suggestion_in_chromium(label_studio, review_run):
    _, run, _ = review_run
    res = push(run, "browser", credentials=label_studio.credentials)
    # the least credible task that has a suggestion (the reviewer's first one with a proposal)
    first = min((t for t in _tasks(label_studio, res.project_id) if t["data"]["suggested_label"]),
                key=lambda t: t["data"]["credibility"])
    shot = ARTIFACTS / "label_studio_task.png"
    body, picked = _reviewer_view(label_studio, res.project_id, first, shot)
    assert first["data"]["text"] in body and first["data"]["reason"] in body
    assert f"Credibility: {first['data']['credibility']}" in body
    # exactly one choice is ticked, and it is relabel's suggestion
    assert picked == [first["data"]["suggested_label"]]
    assert shot.stat().st_size > 10_000


def test_relation_tasks_come_with_both_entities_highlighted(label_studio, tmp_path):
    from test_relation import relation_rows

    from relabel.config import DenoiseConfig
    from relabel.pipeline import denoise

    rows = relation_rows(n=90, flips=6)
    data = tmp_path / "rel.csv"
    pl.DataFrame(rows).write_csv(data)
    denoise(data, out_dir=tmp_path / "rel", config=DenoiseConfig(
        id_col="id", corrector="none", pooling="mean"), encoder=FakeEncoder())
    res = push(tmp_path / "rel", "relations", only="all", credentials=label_studio.credentials)
    assert res.created == 90
    by_id = {r["id"]: r for r in rows}
    tasks = _full_tasks(label_studio, res.project_id)
    for t in tasks:
        src = by_id[t["data"]["relabel_id"]]
        [pred] = t["predictions"]
        spans = {r["value"]["labels"][0]: r["value"] for r in pred["result"]
                 if r["type"] == "labels"}
        assert spans["HEAD"]["text"] == src["text"][src["head_start"]:src["head_end"]]
        assert spans["TAIL"]["text"] == src["text"][src["tail_start"]:src["tail_end"]]
        assert (spans["TAIL"]["start"], spans["TAIL"]["end"]) == (src["tail_start"],
                                                                  src["tail_end"])
    if CHROMIUM is not None:
        first = min(tasks, key=lambda t: t["data"]["credibility"])
        body, picked = _reviewer_view(label_studio, res.project_id, first,
                                      ARTIFACTS / "label_studio_relation_task.png")
        assert picked[-1] == (first["data"]["suggested_label"] or first["data"]["given_label"])
        assert "HEAD" in body and "TAIL" in body


class FaultProxy:
    """A real HTTP proxy on 127.0.0.1 in front of Label Studio that answers HTTP 500 to chosen
    requests (every other request and answer passes through unchanged)."""

    def __init__(self, target: str, fail) -> None:
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        parts = urlsplit(target)
        proxy = self
        self.failed = 0

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if fail(self.command, self.path):
                    proxy.failed += 1
                    msg = b'{"detail": "injected failure"}'
                    self.send_response(500)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(msg)))
                    self.end_headers()
                    self.wfile.write(msg)
                    return
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "accept-encoding")}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_500_mid_push_is_one_line_and_a_rerun_converges(label_studio, review_run):
    _, run, _ = review_run
    imports = []

    def third_import_fails(method: str, path: str) -> bool:
        if method == "POST" and "/import" in path:
            imports.append(path)
            return len(imports) == 3
        return False

    proxy = FaultProxy(label_studio.url, third_import_fails)
    try:
        creds = Credentials(proxy.url, label_studio.token)
        with pytest.raises(LabelStudioError) as err:
            push(run, "faults-500", limit=600, credentials=creds, batch_size=100)
        msg = str(err.value)
        assert "HTTP 500" in msg and "\n" not in msg and label_studio.token not in msg, msg
        assert proxy.failed == 1
        res = push(run, "faults-500", limit=600, credentials=creds, batch_size=100)
        ids = [t["data"]["relabel_id"] for t in _tasks(label_studio, res.project_id)]
        assert len(ids) == len(set(ids)) == 600
        assert res.created == 400 and res.unchanged == 200
    finally:
        proxy.close()


def test_a_token_reset_mid_push_is_one_line_and_the_new_token_converges(tmp_path, review_run):
    exe = label_studio_or_skip()
    _, run, _ = review_run
    server = LocalLabelStudio(tmp_path / "ls", executable=exe).start()
    try:
        old = server.credentials
        new_token: list[str] = []
        batches: list[int] = []

        def reset_after_two_batches(n: int, total: int) -> None:
            batches.append(n)
            if len(batches) == 2:  # the token expires: Label Studio issues a new one
                r = httpx.post(f"{old.url}/api/current-user/reset-token/",
                               headers={"Authorization": f"Token {old.api_key}"})
                r.raise_for_status()
                new_token.append(r.json()["token"])

        with pytest.raises(LabelStudioError) as err:
            push(run, "faults-token", limit=500, credentials=old, batch_size=100,
                 progress=reset_after_two_batches)
        msg = str(err.value)
        assert "refused the API key" in msg and "\n" not in msg and old.api_key not in msg
        assert new_token and new_token[0] != old.api_key
        fresh = Credentials(old.url, new_token[0])
        res = push(run, "faults-token", limit=500, credentials=fresh, batch_size=100)
        with LabelStudioClient(fresh) as c:
            tasks = [t for page in c.iter_tasks(res.project_id) for t in page]
        ids = [t["data"]["relabel_id"] for t in tasks]
        assert len(ids) == len(set(ids)) == 500
        assert res.created == 300
    finally:
        server.stop()


def test_server_down_before_push_is_one_line_and_a_rerun_converges(tmp_path, review_run):
    exe = label_studio_or_skip()
    _, run, _ = review_run
    server = LocalLabelStudio(tmp_path / "ls", executable=exe)
    down = Credentials(f"http://127.0.0.1:{free_port()}", "some-token")
    with pytest.raises(LabelStudioError) as err:
        push(run, "faults-down", limit=200, credentials=down)
    assert "cannot reach Label Studio" in str(err.value) and "\n" not in str(err.value)
    server.start()
    try:
        for _ in range(2):  # the first push creates, the second finds everything in place
            res = push(run, "faults-down", limit=200, credentials=server.credentials)
        assert res.created == 0 and res.unchanged == 200
        assert len({t["data"]["relabel_id"] for t in _tasks(server, res.project_id)}) == 200
    finally:
        server.stop()


def test_rounds_next_status_and_a_deleted_task_loses_no_decision(label_studio, tmp_path):
    """Two rounds against the real server: ``review next`` pushes by expected gain, reviewers
    annotate through the API, a reviewed task is deleted after the pull, ``denoise --reviews``
    starts round two, and no reviewed example is pushed again or loses its decision."""
    from label_studio_sdk import LabelStudio

    from connectors.label_studio import review_next, review_status
    from relabel.config import DenoiseConfig
    from relabel.pipeline import denoise
    from relabel.review.ledger import read_ledger

    data, run, df = make_review_run(tmp_path)
    creds = label_studio.credentials
    first = review_next(run, "rounds", batch=40, credentials=creds)
    assert first.pulled is None and first.chosen == 40 and first.pushed.created == 40
    tasks = _full_tasks(label_studio, first.pushed.project_id)
    assert len(tasks) == 40
    truth = dict(zip(df["id"], df["true_label"], strict=True))
    sdk = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    annotated = sorted(tasks, key=lambda t: t["id"])[:30]
    for t in annotated:
        sdk.annotations.create(id=t["id"], result=_choice(truth[t["data"]["relabel_id"]]))
    reviewed = {t["data"]["relabel_id"] for t in annotated}
    # idempotent: without a new pull of decisions it would choose them again; it pulls first
    second = review_next(run, "rounds", batch=40, credentials=creds)
    assert second.pulled is not None and second.pulled.tasks == 30
    pushed_ids = {t["data"]["relabel_id"] for t in _full_tasks(label_studio,
                                                               first.pushed.project_id)}
    assert len(pushed_ids) == 40 + 30  # 10 still open from round one, 30 new; none twice
    # a reviewed task is deleted in the tool after its decision was pulled: kept
    with LabelStudioClient(creds) as c:
        c.delete_tasks(first.pushed.project_id, [t["id"] for t in annotated[:5]])
    pull(run, "rounds", credentials=creds)
    reviews = pl.read_parquet(run / "reviews.parquet")
    assert set(reviews["id"]) == reviewed
    assert dict(zip(reviews["id"], reviews["reviewed_label"], strict=True)) == {
        i: truth[i] for i in reviewed}
    # round two in a new run directory that takes the first one's decisions
    run2 = tmp_path / "run2"
    denoise(data, out_dir=run2, config=DenoiseConfig(id_col="id", corrector="linear",
                                                     target_precision=0.7),
            encoder=FakeEncoder(), reviews=run)
    scores2 = pl.read_parquet(run2 / "scores.parquet")
    trusted = scores2.filter(pl.col("reviewed_label").is_not_null())
    assert set(trusted["id"]) == reviewed and not trusted["flagged"].any()
    assert read_ledger(run2).height == 30
    third = review_next(run2, "rounds", batch=20, credentials=creds)
    chosen = set(next_ids(run2, third))
    assert not chosen & reviewed
    status = review_status(run2, "rounds", credentials=creds)
    assert status.reviewed == 30
    assert status.confirmed_errors == sum(truth[i] != g for i, g in zip(
        df["id"], df["label"], strict=True) if i in reviewed)
    assert (run2 / "review_rounds.jsonl").exists()


def test_random_audit_through_the_real_server(label_studio, tmp_path):
    """``review next --audit``: the random sample goes to the project, reviewers decide it
    through the API, ``review status`` reports the audit's error rate; the audit then grows past
    what was decided, beside a batch by expected gain, and nothing is pushed twice."""

    from connectors.label_studio import review_next
    from relabel.review.audit import audit_sample

    _, run, df = make_review_run(tmp_path)
    creds = label_studio.credentials
    ids = pl.read_parquet(run / "scores.parquet")["id"].to_list()
    first = review_next(run, "audit", batch=0, audit=30, credentials=creds)
    assert (first.chosen, first.audited, first.audit_size) == (30, 30, 30)
    sample = {i for i, a in zip(ids, audit_sample(ids, 30), strict=True) if a}
    assert set(next_ids(run, first)) == sample
    # audit tasks are blind: nothing of relabel's view sways the sample
    assert all(not t["predictions"] and t["data"]["credibility"] == "hidden"
               for t in _full_tasks(label_studio, first.pushed.project_id))
    truth = _answer_with_truth(label_studio, first.pushed.project_id, df)
    given = dict(zip(df["id"], df["label"], strict=True))
    env, cli = _cli_env(label_studio, tmp_path)
    status = subprocess.run([*cli, "review", "status", str(run), "--project", "audit"],
                            env=env, capture_output=True, text=True, cwd=ROOT)
    assert status.returncode == 0, status.stderr
    wrong = sum(truth[i] != given[i] for i in sample)
    assert f"random audit: 30 of 30 sampled examples decided, {wrong} had a wrong label" \
        in status.stdout
    rounds = [json.loads(x) for x in (run / "review_rounds.jsonl").read_text().splitlines()]
    assert rounds[-1]["audit"]["wrong"] == wrong
    # round two through the CLI: 20 more of the audit (it grows to 50) and 10 by gain
    nxt = subprocess.run([*cli, "review", "next", str(run), "--project", "audit", "--batch",
                          "10", "--audit", "20"], env=env, capture_output=True, text=True,
                         cwd=ROOT)
    assert nxt.returncode == 0, nxt.stderr
    assert "pushed the next 30 examples (20 from the random audit, now 50 examples)" \
        in nxt.stdout
    pushed = set(json.loads((run / "review_push.json").read_text())["ids"])
    assert len(pushed) == 30 and not pushed & sample
    grown = {i for i, a in zip(ids, audit_sample(ids, 50), strict=True) if a}
    assert grown - sample <= pushed
    again = review_next(run, "audit", batch=10, audit=20, credentials=creds)
    assert again.pushed.created == 0 and set(next_ids(run, again)) == pushed
    # a second real user decides the first 30 audit tasks too, wrong on 3 of them: the audit
    # is then corrected for the reviewers' error, measured by their disagreement
    second = label_studio.add_user("auditor-2@example.com")
    classes = sorted(set(df["label"]))
    for j, t in enumerate(sorted(_full_tasks(label_studio, first.pushed.project_id),
                                 key=lambda t: t["id"])[:30]):
        right = truth[t["data"]["relabel_id"]]
        answer = right if j % 10 else classes[(classes.index(right) + 1) % len(classes)]
        r = httpx.post(f"{label_studio.url}/api/tasks/{t['id']}/annotations/",
                       json={"result": _choice(answer)},
                       headers={"Authorization": f"Token {second.api_key}"}, timeout=30)
        assert r.status_code == 201, r.text
    status = subprocess.run([*cli, "review", "status", str(run), "--project", "audit"],
                            env=env, capture_output=True, text=True, cwd=ROOT)
    assert status.returncode == 0, status.stderr
    assert "corrected for the reviewers' estimated error" in status.stdout
    assert "unreviewed examples are more likely wrong than the reviewers' error rate" \
        in status.stdout and "(measured on the audit's doubly reviewed examples)" in status.stdout
    import relabel

    assert "still worth a review" in relabel.load_run(run).report().read_text()
    assert "(30 examples decided by two or more;" in status.stdout
    # the audit's second batch (20) counts only once all of it is decided
    assert "random audit: 30 of 50 sampled examples decided (20 more count once their batch is " \
        "fully decided)" in status.stdout
    audit = [json.loads(x) for x in (run / "review_rounds.jsonl").read_text().splitlines()][-1]
    assert audit["audit"]["double_reviewed"] == 30 and audit["audit"]["reviewer_error"] > 0
    assert audit["audit"]["errors_left"] > 0
    # the reviewers' error the audit measured now stops `review next` where a review is expected
    # to break more right labels than it fixes; a rate the user gives overrides it
    from relabel.review.chance import remaining_error
    from relabel.review.samples import run_error_rate
    from relabel.review.status import run_review_status

    nxt = subprocess.run([*cli, "review", "next", str(run), "--project", "audit", "--batch",
                          "10"], env=env, capture_output=True, text=True, cwd=ROOT)
    assert nxt.returncode == 0, nxt.stderr
    assert "unreviewed examples held back: their chance of a wrong label is not above the " \
        "reviewers' error rate" in nxt.stdout
    assert "(measured on the audit's doubly reviewed examples)" in nxt.stdout
    scores = pl.read_parquet(run / "scores.parquet")
    # the chance of a wrong label, made consistent with the audit's error rate where that is
    # above relabel's own estimate (errors that similar examples share)
    noise = max(run_error_rate(run), run_review_status(run).audit.error_rate)
    chance = dict(zip(scores["id"], remaining_error(scores, noise), strict=True))
    strict = review_next(run, "audit", batch=10, reviewer_error=0.3, credentials=creds)
    assert strict.reviewer_error_source == "given" and strict.reviewer_error == 0.3
    assert strict.held_back > 0
    assert all(chance[i] > 0.3 for i in (next_ids(run, strict) if strict.pushed else []))


def test_spot_check_of_the_changes_through_the_real_server(label_studio, tmp_path):
    """``review next --check-changes``: a random sample of the automatic changes goes to the
    project; a reviewer rejects them through the API (on this data every change is wrong);
    ``review status`` says the changes make the labels worse and ``export`` withholds the rest."""
    import numpy as np
    from conftest import structured_noise

    import relabel
    from connectors.label_studio import review_next
    from relabel.review.spotcheck import check_extension

    df, emb = structured_noise()
    run = tmp_path / "run"
    # without the words, which name the true class here (as in test_spotcheck.py)
    scores = relabel.denoise(df, id="id", out=run, embeddings=emb, corrector="linear",
                             words=False, progress=False).scores
    changed = scores["suggested_label"].is_not_null().to_numpy()
    creds = label_studio.credentials
    # every flagged example is already in the project, with relabel's suggestion pre-selected
    everything = push(run, "spot", credentials=creds)
    assert everything.created == int(scores["flagged"].sum())
    first = review_next(run, "spot", batch=0, check_changes=10, credentials=creds)
    assert (first.chosen, first.checked, first.check_size) == (10, 10, 10)
    assert first.changes == int(changed.sum())
    assert (first.pushed.created, first.pushed.updated) == (0, 10)
    _, rows = check_extension(scores["id"].to_list(), changed, 0,
                              np.zeros(scores.height, dtype=bool), 10)
    sample = {scores["id"][int(i)] for i in rows}
    assert set(next_ids(run, first)) == sample
    again = review_next(run, "spot", batch=0, check_changes=10, credentials=creds)
    assert again.pushed.created == 0 and set(next_ids(run, again)) == sample
    # the checked changes are now blind: relabel's suggestion is neither shown nor pre-selected
    tasks = {t["data"]["relabel_id"]: t for t in _full_tasks(label_studio, first.pushed.project_id)}
    for i in sample:
        assert tasks[i]["data"]["suggested_label"] == "" and not tasks[i]["predictions"]
        assert tasks[i]["data"]["reason"].startswith("Part of a random sample")
    other = next(i for i in tasks if i not in sample)
    assert tasks[other]["predictions"] and tasks[other]["data"]["credibility"] != "hidden"
    _answer_with_truth(label_studio, first.pushed.project_id, df, ids=sample)
    env, cli = _cli_env(label_studio, tmp_path)
    status = subprocess.run([*cli, "review", "status", str(run), "--project", "spot"],
                            env=env, capture_output=True, text=True, cwd=ROOT)
    assert status.returncode == 0, status.stderr
    assert f"spot check: 10 of {int(changed.sum())} automatic changes checked, 0 accepted" \
        in status.stdout
    assert "make these labels worse" in status.stdout
    exported = subprocess.run([*cli, "export", str(run), "--to", str(tmp_path / "clean.csv")],
                              env=env, capture_output=True, text=True, cwd=ROOT)
    assert exported.returncode == 0, exported.stderr
    assert f"withheld {int(changed.sum()) - 10} automatic changes" in exported.stdout
    clean = pl.read_csv(tmp_path / "clean.csv")
    assert (clean["label"] == pl.Series(df["label"])).all()


def _answer_with_truth(server, project_id: int, df: pl.DataFrame,
                       ids: set[str] | None = None) -> dict[str, str]:
    """The admin answers every task of the project (or those of ``ids``) with its example's
    true label (through the SDK); returns id -> true label."""
    from label_studio_sdk import LabelStudio

    truth = dict(zip(df["id"], df["true_label"], strict=True))
    sdk = LabelStudio(base_url=server.url, api_key=server.token)
    for t in _full_tasks(server, project_id):
        if ids is None or t["data"]["relabel_id"] in ids:
            sdk.annotations.create(id=t["id"], result=_choice(truth[t["data"]["relabel_id"]]))
    return truth


def _cli_env(server, tmp_path: Path) -> tuple[dict[str, str], list[str]]:
    """The environment (the server and its key, no user config) and the command that run the
    relabel CLI in a subprocess."""
    env = {**os.environ, "LABEL_STUDIO_URL": server.url, "LABEL_STUDIO_API_KEY": server.token,
           "RELABEL_CONFIG": str(tmp_path / "none.toml")}
    return env, [sys.executable, "-m", "relabel"]


def next_ids(run_dir, result) -> list[str]:
    """The ids ``review next`` pushed last (from ``review_push.json`` and the scores)."""
    push_info = json.loads((run_dir / "review_push.json").read_text())
    assert push_info["selected"] == result.chosen
    return push_info["ids"]


def test_review_demo_prints_the_login_and_ctrl_c_stops_the_server(tmp_path):
    """``make review-demo``'s script: starts Label Studio on 127.0.0.1, pushes the run, prints
    the URL and the login; SIGINT stops the server (its port closes). Run a second time on
    the same relative data directory, as a second ``make review-demo`` does, it logs in again
    (Label Studio keeps the first start's user and token) and keeps its data where it was
    told."""
    import signal
    import socket
    import time

    exe = label_studio_or_skip()
    _, run, _ = make_review_run(tmp_path)
    port = free_port()
    env = {**os.environ, "RELABEL_LABEL_STUDIO": exe}
    cmd = [sys.executable, "-m", "connectors.label_studio.demo", str(run), "--data-dir", "ls"]
    proc = subprocess.Popen([*cmd, "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl-C stops it" in line:
            break
    out = "".join(lines)
    assert f"http://127.0.0.1:{port}/projects/" in out, out
    assert LocalLabelStudio.username in out and LocalLabelStudio.password in out
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "Label Studio stopped" in rest
    assert "Traceback" not in out + rest
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    # the second start: before, its new token was refused (HTTP 401) and, from a relative
    # data directory, the server kept its data in ls/ls/...
    again = subprocess.run([*cmd, "--once"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "pushed" in again.stdout and "Traceback" not in again.stdout + again.stderr
    assert (tmp_path / "ls" / "label_studio.sqlite3").is_file()
    assert not (tmp_path / "ls" / "ls").exists()


def test_several_annotators_per_task_pull_every_decision_and_consensus(label_studio,
                                                                        review_run, tmp_path):
    """Three real users annotate the same tasks through the API (one changes their mind):
    `review pull` returns every annotator's latest decision, and consensus runs on them."""
    from relabel.crowd.api import GIVEN_ANNOTATOR, consensus

    _, run0, df = review_run
    run = tmp_path / "run"
    shutil.copytree(run0, run, ignore=shutil.ignore_patterns(
        "cache", "reviews*", "annotations.parquet", "review_*"))
    res = push(run, "crowd", limit=30, credentials=label_studio.credentials)
    users = {name: label_studio.add_user(f"{name}@example.com")
             for name in ("ann-a", "ann-b", "spammer")}
    truth = dict(zip(df["id"].to_list(), df["true_label"].to_list(), strict=True))
    tasks = {t["data"]["relabel_id"]: t["id"] for t in _tasks(label_studio, res.project_id)}
    assert len(tasks) == 30

    def annotate(who: str, task_id: int, label: str) -> None:
        r = httpx.post(f"{label_studio.url}/api/tasks/{task_id}/annotations/",
                       json={"result": _choice(label)},
                       headers={"Authorization": f"Token {users[who].api_key}"}, timeout=30)
        assert r.status_code == 201, r.text
        assert r.json()["completed_by"] != 1  # written by that user, not the admin

    first = sorted(tasks)[0]
    for ex_id, task_id in tasks.items():
        annotate("ann-a", task_id, truth[ex_id])
        annotate("ann-b", task_id, truth[ex_id])
        annotate("spammer", task_id, "refund")
    annotate("ann-b", tasks[first], "transfer" if truth[first] != "transfer" else "card")
    annotate("ann-b", tasks[first], truth[first])  # changed their mind back: latest wins

    pulled = pull(run, "crowd", credentials=label_studio.credentials)
    assert (pulled.annotators, pulled.multi_annotated, pulled.annotations) == (3, 30, 90)
    every = pl.read_parquet(run / "annotations.parquet")
    assert every.height == 90 and not every.select(pl.struct("id", "annotator")
                                                   .is_duplicated()).to_series().any()
    assert set(every["annotator"]) == {f"{n}@example.com" for n in users}
    b_first = every.filter((pl.col("id") == first) & (pl.col("annotator") == "ann-b@example.com"))
    assert b_first["label"].to_list() == [truth[first]]

    c = consensus(run, out=tmp_path / "consensus", encoder=FakeEncoder(), progress=False)
    pushed = c.items.filter(pl.col("id").is_in(list(tasks)))
    assert pushed.height == 30 and (pushed["n_votes"] == 4).all()  # 3 users + the given label
    assert pushed["consensus_label"].to_list() == [truth[i] for i in pushed["id"].to_list()]
    table = {r["annotator"]: r for r in c.annotators.iter_rows(named=True)}
    assert set(table) >= {GIVEN_ANNOTATOR, "ann-a@example.com", "spammer@example.com"}
    assert table["spammer@example.com"]["accuracy"] < table["ann-a@example.com"]["accuracy"]
    assert table["ann-a@example.com"]["votes"] == 30
    # the CLI reads the same run directory (precomputed vectors: no model download)
    from conftest import save_fake_embeddings

    save_fake_embeddings(pl.read_parquet(run / "examples.parquet")["text"].to_list(),
                         tmp_path / "emb.npy")
    proc = subprocess.run([sys.executable, "-m", "relabel", "consensus", str(run),
                           "--out", str(tmp_path / "cli"), "--corrector", "none",
                           "--embeddings", str(tmp_path / "emb.npy")],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert "4 annotators" in proc.stdout and (tmp_path / "cli" / "consensus.csv").is_file()
    # the project as Label Studio exports it (Export -> JSON) is an input of its own
    r = httpx.get(f"{label_studio.url}/api/projects/{res.project_id}/export",
                  params={"exportType": "JSON"},
                  headers={"Authorization": f"Token {label_studio.token}"}, timeout=120)
    r.raise_for_status()
    export = tmp_path / "export.json"
    export.write_bytes(r.content)
    people = httpx.get(f"{label_studio.url}/api/users/",
                       headers={"Authorization": f"Token {label_studio.token}"}, timeout=30)
    email = {str(u["id"]): u["email"] for u in people.json()}
    e = consensus(export, out=tmp_path / "from-export", encoder=FakeEncoder(), progress=False)
    assert e.items.height == 30 and (e.items["n_votes"] == 3).all()  # the latest of ann-b's
    by_task = {str(t): ex for ex, t in tasks.items()}
    assert e.items["consensus_label"].to_list() == [truth[by_task[i]]
                                                    for i in e.items["id"].to_list()]
    names = {email.get(a, a): row for a, row in
             zip(e.annotators["annotator"], e.annotators.iter_rows(named=True), strict=True)}
    assert {"ann-a@example.com", "ann-b@example.com", "spammer@example.com"} <= set(names)
    assert names["spammer@example.com"]["accuracy"] < names["ann-a@example.com"]["accuracy"]


def test_a_multi_annotator_run_shows_the_votes_in_label_studio(label_studio, tmp_path):
    """denoise on several annotators per item, then push: each task shows who voted what."""
    from conftest import make_text_dataset

    from relabel.config import DenoiseConfig
    from relabel.pipeline import denoise

    df = make_text_dataset(n_per_class=40, flip=0, seed=3)
    items = tmp_path / "items.csv"
    df.select(pl.col("id").alias("item_id"), "text").write_csv(items)
    rows = []
    for i, (iid, label) in enumerate(zip(df["id"], df["true_label"], strict=True)):
        rows += [{"item_id": iid, "annotator": "w1", "label": label},
                 {"item_id": iid, "annotator": "w2", "label": label if i % 5 else "refund"}]
    votes = tmp_path / "votes.csv"
    pl.DataFrame(rows).write_csv(votes)
    out = tmp_path / "run"
    denoise(items, out_dir=out, encoder=FakeEncoder(), config=DenoiseConfig(
        annotations=str(votes), annotator_col="annotator", item_col="item_id",
        corrector="linear"))
    res = push(out, "crowd-votes", only="all", limit=10, credentials=label_studio.credentials)
    full = _full_tasks(label_studio, res.project_id)
    assert len(full) == 10
    for t in full:
        assert t["data"]["votes"].startswith("w1: ") and "w2: " in t["data"]["votes"]
    with LabelStudioClient(label_studio.credentials) as c:
        assert "$votes" in c.find_project("crowd-votes")["label_config"]


def test_hostile_text_and_labels_stay_valid_in_label_studio(label_studio, tmp_path):
    """Labels and texts with markup, formula prefixes and quotes: the real server accepts the
    labeling config, its choices are the labels exactly, and every task shows its text."""
    from conftest import make_text_dataset

    from connectors.label_studio.convert import config_classes
    from relabel.config import DenoiseConfig
    from relabel.pipeline import denoise

    df = make_text_dataset(n_per_class=20, flip=6, seed=21)
    labels = {"card": "<script>alert('x')</script>", "refund": '=HYPERLINK("e","x")',
              "transfer": "a & \"b\" <c>"}
    texts = [f"<img src=x onerror=alert(1)> @SUM(A1) {t}" for t in df["text"].to_list()]
    df = df.with_columns(pl.Series("text", texts), pl.col("label").replace_strict(labels))
    data = tmp_path / "hostile.csv"
    df.write_csv(data)
    out = tmp_path / "run"
    denoise(data, out_dir=out, encoder=FakeEncoder(), config=DenoiseConfig(
        id_col="id", corrector="linear"))
    res = push(out, "hostile", only="all", limit=15, credentials=label_studio.credentials)
    with LabelStudioClient(label_studio.credentials) as c:
        project = c.find_project("hostile")
    assert sorted(config_classes(project["label_config"])) == sorted(labels.values())
    full = _full_tasks(label_studio, res.project_id)
    assert len(full) == 15 and all(t["data"]["text"] in texts for t in full)
    assert {t["data"]["given_label"] for t in full} <= set(labels.values())


def test_integer_labels_with_names_are_reviewed_by_name_and_exported_as_codes(label_studio,
                                                                              tmp_path):
    """--label-names: the reviewers choose among class names, the export writes codes."""
    from conftest import make_text_dataset

    from relabel.config import DenoiseConfig
    from relabel.pipeline import denoise

    classes = ["card", "refund", "transfer"]
    df = make_text_dataset(n_per_class=40, flip=12, seed=5)
    coded = df.with_columns(pl.col(c).replace_strict({n: i for i, n in enumerate(classes)})
                            for c in ("label", "true_label"))
    data = tmp_path / "codes.csv"
    coded.write_csv(data)
    out = tmp_path / "run"
    denoise(data, out_dir=out, encoder=FakeEncoder(), config=DenoiseConfig(
        id_col="id", corrector="linear", label_names=",".join(classes)))
    res = push(out, "named-codes", only="all", limit=30, credentials=label_studio.credentials)
    with LabelStudioClient(label_studio.credentials) as c:
        config = c.find_project("named-codes")["label_config"]
    assert all(f'value="{n}"' in config for n in classes) and 'value="0"' not in config
    tasks = sorted(_full_tasks(label_studio, res.project_id), key=lambda t: t["id"])
    assert {t["data"]["given_label"] for t in tasks} <= set(classes)
    from label_studio_sdk import LabelStudio

    sdk = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    truth = dict(zip(coded["id"].cast(pl.String), coded["true_label"], strict=True))
    for t in tasks[:10]:  # the reviewer gives the true class, by name
        sdk.annotations.create(id=t["id"], result=_choice(classes[truth[t["data"]["relabel_id"]]]))
    pull(out, "named-codes", credentials=label_studio.credentials)
    export_dataset(out, tmp_path / "clean.csv", apply="reviewed")
    clean = pl.read_csv(tmp_path / "clean.csv")
    assert clean.schema["label"] == pl.Int64
    reviewed = {t["data"]["relabel_id"] for t in tasks[:10]}
    given = dict(zip(coded["id"].cast(pl.String), coded["label"], strict=True))
    assert any(truth[i] != given[i] for i in reviewed)  # some reviews change a code
    for row in clean.iter_rows(named=True):
        want = truth[str(row["id"])] if str(row["id"]) in reviewed else \
            coded.filter(pl.col("id") == row["id"])["label"][0]
        assert row["label"] == want


def test_a_class_the_lead_adds_in_label_studio_is_pulled_kept_and_joins_the_next_round(
        label_studio, tmp_path, monkeypatch):
    """The annotation lead adds a class to the project's labeling config while reviewers
    work: before, every pull and push refused the project ("another label set"), so the
    reviewers' decisions could not come back. Now the pull brings them (and names the new
    class), a push keeps the class in the project, export says how to go on, and
    ``denoise --reviews`` makes it a class of the next round, which export then applies."""
    from label_studio_sdk import LabelStudio

    from relabel.config import DenoiseConfig
    from relabel.errors import RelabelInputError
    from relabel.pipeline import denoise

    data, run, df = make_review_run(tmp_path)
    creds = label_studio.credentials
    res = push(run, "added class", only="all", limit=20, credentials=creds)
    with LabelStudioClient(creds) as c:
        proj = c.find_project("added class")
        config = proj["label_config"]
        first = config.index("<Choice ")
        c.update_project(res.project_id, label_config=config[:first]
                         + '<Choice value="lost_card"/>\n    ' + config[first:])
    tasks = sorted(_full_tasks(label_studio, res.project_id), key=lambda t: t["id"])
    sdk = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    truth = dict(zip(df["id"], df["true_label"], strict=True))
    for t in tasks[:3]:
        sdk.annotations.create(id=t["id"], result=_choice("lost_card"))
    for t in tasks[3:8]:
        sdk.annotations.create(id=t["id"], result=_choice(truth[t["data"]["relabel_id"]]))
    pulled = pull(run, "added class", credentials=creds)
    assert pulled.tasks == 8 and pulled.new_classes == ["lost_card"]
    # in a notebook the same pull says so, with the call that makes it a class of the run
    import relabel

    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    with pytest.warns(relabel.RelabelWarning, match=r"lost_card.*relabel\.denoise\(data, "):
        relabel.load_run(run).pull_from_label_studio("added class")
    # a later push keeps the lead's class in the project
    push(run, "added class", only="all", limit=30, credentials=creds)
    with LabelStudioClient(creds) as c:
        assert 'value="lost_card"' in c.find_project("added class")["label_config"]
    with pytest.raises(RelabelInputError, match=r"lost_card.*--reviews"):
        export_dataset(run, tmp_path / "clean.csv", apply="reviewed")
    run2 = tmp_path / "run2"
    denoise(data, out_dir=run2, config=DenoiseConfig(id_col="id", corrector="linear"),
            encoder=FakeEncoder(), reviews=run)
    assert "lost_card" in json.loads((run2 / "summary.json").read_text())["label_classes"]
    export_dataset(run2, tmp_path / "clean.csv", apply="reviewed")
    clean = dict(pl.read_csv(tmp_path / "clean.csv").select("id", "label").iter_rows())
    assert [clean[t["data"]["relabel_id"]] for t in tasks[:3]] == ["lost_card"] * 3
    assert all(clean[t["data"]["relabel_id"]] == truth[t["data"]["relabel_id"]]
               for t in tasks[3:8])
    # a project without one of the run's classes still belongs to other data
    with LabelStudioClient(creds) as c:
        c.update_project(res.project_id, label_config=config.replace(
            config[first : config.index("\n", first) + 1], ""))
    with pytest.raises(LabelStudioError, match="only this run has"):
        pull(run, "added class", credentials=creds)
