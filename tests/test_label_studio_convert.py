"""Pure parts of the Label Studio connector: labeling config, task JSON, reviews, credentials."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.label_studio.client import (
    LabelStudioError,
    public_url,
    resolve_credentials,
)
from connectors.label_studio.convert import (
    SELECT_LAYOUT_OVER,
    config_classes,
    label_config,
    model_version,
    prediction,
    reason,
    reviews_from_tasks,
    task_data,
    tasks_json,
)

ROW = {"id": "ex-1", "text": "where is my card", "label": "refund", "credibility": 0.0312,
       "knn_score": 0.1, "kde_score": 0.05, "flagged": True, "suggested_label": "card",
       "suggestion_confidence": 0.91, "alternative_label": "card", "alternative_prob": 0.9}


def test_config_round_trips_awkward_class_names():
    classes = ["a<b", 'say "hi"', "R&D", "Cause-Effect(e1,e2)", "ünïcode"]
    cfg = label_config(classes)
    assert config_classes(cfg) == classes
    assert "$text" in cfg and "$given_label" in cfg and "$credibility" in cfg and "$reason" in cfg
    assert 'choice="single"' in cfg and "layout=" not in cfg


def test_many_classes_use_a_drop_down_and_relations_add_entity_labels():
    many = [f"c{i}" for i in range(SELECT_LAYOUT_OVER + 1)]
    assert 'layout="select"' in label_config(many)
    rel = label_config(["r1", "r2"], relation=True)
    assert '<Labels name="entity"' in rel and 'value="HEAD"' in rel and 'value="TAIL"' in rel
    assert config_classes(rel) == ["r1", "r2"]


def test_config_classes_of_foreign_or_broken_configs():
    assert config_classes("<View><Text name='t' value='$x'/></View>") is None
    assert config_classes("<View><Choices name='other' toName='t'><Choice value='a'/></Choices>"
                          "</View>") is None
    assert config_classes("not xml <") is None


def test_task_carries_id_given_label_credibility_and_prediction_is_the_suggestion():
    run = model_version("0.1.0", "abc")
    assert run == "relabel-0.1.0-abc"
    data = task_data(ROW, run)
    assert data["relabel_id"] == "ex-1" and data["given_label"] == "refund"
    assert data["credibility"] == pytest.approx(0.0312) and data["relabel_run"] == run
    assert "suggests 'card'" in data["reason"] and data["reason"].startswith("Flagged")
    pred = prediction(ROW, run)
    assert pred["score"] == pytest.approx(0.0312) and pred["model_version"] == run
    assert pred["result"] == [{"from_name": "label", "to_name": "text", "type": "choices",
                               "value": {"choices": ["card"]}}]
    [task] = tasks_json([ROW], run)
    assert task["data"] == data and task["predictions"] == [pred]


def test_abstention_predicts_the_given_label_and_says_why():
    row = {**ROW, "suggested_label": None, "suggestion_confidence": None,
           "alternative_label": "transfer", "alternative_prob": 0.4}
    assert prediction(row, "v")["result"][-1]["value"]["choices"] == ["refund"]
    assert task_data(row, "v")["suggested_label"] == ""
    assert "no confident suggestion" in reason(row) and "'transfer'" in reason(row)
    assert reason({**row, "flagged": False}).startswith("Not flagged")
    # a class relabel did not learn: no "likely" other label to sway the reviewer
    why = reason({**row, "reason": "class_not_learned"})
    assert "did not learn 'refund'" in why and "transfer" not in why
    # a consensus that overrules most of the votes: the reviewer reads the votes
    why = reason({**row, "reason": "overrules_majority"})
    assert why.startswith("Flagged: overrules majority") and "read the votes" in why
    assert "transfer" not in why


def test_relation_prediction_highlights_both_spans():
    row = {**ROW, "text": "Bill Gates founded Microsoft", "head_start": 0, "head_end": 10,
           "tail_start": 19, "tail_end": 28}
    result = prediction(row, "v")["result"]
    spans = {r["value"]["labels"][0]: r["value"] for r in result if r["type"] == "labels"}
    assert spans["HEAD"]["text"] == "Bill Gates" and spans["TAIL"]["text"] == "Microsoft"
    assert result[-1]["type"] == "choices"


def test_blind_tasks_hide_relabels_view_and_keep_the_spans():
    """The random audit's and the spot check's tasks: the given label and the text, nothing of
    relabel's (no credibility, reason or suggestion, nothing pre-selected)."""
    from connectors.label_studio.convert import BLIND_REASON

    data = task_data(ROW, "v", blind=True)
    assert data["given_label"] == "refund" and data["text"] == ROW["text"]
    assert data["suggested_label"] == "" and data["credibility"] == "hidden"
    assert data["reason"] == BLIND_REASON
    assert "card" not in str({k: v for k, v in data.items() if k != "text"})
    assert prediction(ROW, "v", blind=True) is None
    rel = {**ROW, "text": "Bill Gates founded Microsoft", "head_start": 0, "head_end": 10,
           "tail_start": 19, "tail_end": 28}
    pred = prediction(rel, "v", blind=True)
    assert [r["type"] for r in pred["result"]] == ["labels", "labels"] and "score" not in pred
    plain, hidden = tasks_json([ROW, {**ROW, "id": "ex-2"}], "v", blind=["ex-2"])
    assert plain["predictions"] and "predictions" not in hidden
    assert hidden["data"]["reason"] == BLIND_REASON and plain["data"] == task_data(ROW, "v")


def _ann(aid, label, when, *, cancelled=False, user=7):
    result = [] if label is None else [{"from_name": "label", "to_name": "text",
                                        "type": "choices", "value": {"choices": [label]}}]
    return {"id": aid, "result": result, "was_cancelled": cancelled, "completed_by": user,
            "updated_at": when}


def test_reviews_statuses_latest_decision_wins_and_skips_are_not_decisions():
    data = lambda i, given: {"relabel_id": i, "given_label": given, "suggested_label": "b"}  # noqa: E731
    tasks = [
        {"id": 1, "data": data("x1", "a"), "annotations": [_ann(1, "a", "2026-01-01T10:00:00Z")]},
        {"id": 2, "data": data("x2", "a"), "annotations": [
            _ann(2, "c", "2026-01-01T10:00:00Z"), _ann(3, "b", "2026-01-02T10:00:00Z")]},
        {"id": 3, "data": data("x3", "a"), "annotations": [
            _ann(4, "b", "2026-01-01T10:00:00Z"),
            _ann(5, None, "2026-01-03T10:00:00Z", cancelled=True)]},
        {"id": 4, "data": data("x4", "a"), "annotations": [
            _ann(6, None, "2026-01-01T10:00:00Z", cancelled=True)]},
        {"id": 5, "data": data("x5", "a"), "annotations": []},
        {"id": 6, "data": {"text": "not ours"}, "annotations": [_ann(7, "a", "2026-01-01")]},
    ]
    rev = reviews_from_tasks(tasks, {7: "ann@example.com"})
    got = {r["id"]: (r["status"], r["reviewed_label"]) for r in rev.iter_rows(named=True)}
    assert got == {"x1": ("accepted", "a"), "x2": ("changed", "b"), "x3": ("changed", "b"),
                   "x4": ("skipped", None)}
    assert set(rev["annotator"]) == {"ann@example.com"}
    assert rev.filter(rev["id"] == "x2")["time"][0] == datetime(2026, 1, 2, 10,
                                                                tzinfo=UTC)


def test_null_or_blank_choices_written_through_the_api_are_not_decisions():
    """Label Studio's API stores ``{"choices": [null]}`` (a script posting a missing key):
    before, it was pulled as a change to the label 'None'."""
    def raw(aid, choices, when):
        return {"id": aid, "was_cancelled": False, "completed_by": 7, "updated_at": when,
                "result": [{"from_name": "label", "to_name": "text", "type": "choices",
                            "value": {"choices": choices}}]}

    data = {"relabel_id": "x1", "given_label": "a"}
    tasks = [{"id": 1, "data": data, "annotations": [raw(1, [None], "2026-01-01T10:00:00Z")]},
             {"id": 2, "data": {**data, "relabel_id": "x2"},
              "annotations": [raw(2, ["b"], "2026-01-01T10:00:00Z"),
                              raw(3, ["  "], "2026-01-02T10:00:00Z")]}]
    got = {r["id"]: (r["status"], r["reviewed_label"])
           for r in reviews_from_tasks(tasks).iter_rows(named=True)}
    # x2's later blank annotation is not a decision: the earlier one stands
    assert got == {"x1": ("skipped", None), "x2": ("changed", "b")}


def test_a_reviewed_class_the_run_lacks_names_the_reviews_and_the_way_out():
    import polars as pl

    from relabel.errors import RelabelInputError
    from relabel.review.reviews import human_decisions

    reviews = pl.DataFrame({"id": ["x1", "x2"], "given_label": ["a", "a"],
                            "reviewed_label": ["b", "new_class"],
                            "status": ["changed", "changed"]})
    scores = pl.DataFrame({"row": [0, 1], "id": ["x1", "x2"], "label": ["a", "a"]})
    with pytest.raises(RelabelInputError) as err:
        human_decisions(reviews, scores, ["a", "b"], path="reviews.parquet")
    msg = str(err.value)
    assert "new_class" in msg and "id x2" in msg and "--reviews" in msg and "pull again" in msg
    assert "reviews.parquet" in msg and "\n" not in msg


def test_credentials_from_env_then_config_file(tmp_path):
    env = {"LABEL_STUDIO_URL": "http://127.0.0.1:8080/", "LABEL_STUDIO_API_KEY": "s3cret"}
    creds = resolve_credentials(env)
    assert creds.url == "http://127.0.0.1:8080" and creds.api_key == "s3cret"
    assert "s3cret" not in repr(creds)
    cfg = tmp_path / "config.toml"
    cfg.write_text('[label_studio]\nurl = "http://ls.example:8080"\napi_key = "fromfile"\n')
    creds = resolve_credentials({"RELABEL_CONFIG": str(cfg)})
    assert (creds.url, creds.api_key, creds.source) == ("http://ls.example:8080", "fromfile",
                                                        str(cfg))
    # the environment wins over the file
    assert resolve_credentials({**env, "RELABEL_CONFIG": str(cfg)}).api_key == "s3cret"


@pytest.mark.parametrize("env, needle", [
    ({}, "LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY not set"),
    ({"LABEL_STUDIO_URL": "http://x:1"}, "LABEL_STUDIO_API_KEY not set"),
    ({"LABEL_STUDIO_URL": "localhost:8080", "LABEL_STUDIO_API_KEY": "k3y"}, "must look like"),
])
def test_credential_errors_are_one_line_and_never_show_the_key(tmp_path, env, needle):
    env = {**env, "RELABEL_CONFIG": str(tmp_path / "missing.toml")}
    with pytest.raises(LabelStudioError) as err:
        resolve_credentials(env)
    msg = str(err.value)
    assert needle in msg and "\n" not in msg and "k3y" not in msg


def test_broken_config_file_and_urls_with_passwords(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text("[label_studio\nurl=")
    with pytest.raises(LabelStudioError, match="not a valid TOML"):
        resolve_credentials({"RELABEL_CONFIG": str(cfg)})
    assert public_url("http://bob:pw@host:8080/ls/") == "http://host:8080/ls"


def test_every_annotator_keeps_their_own_latest_decision() -> None:
    from connectors.label_studio.convert import annotations_from_tasks

    def ann(aid, who, label, when, cancelled=False):
        return {"id": aid, "completed_by": who, "was_cancelled": cancelled,
                "updated_at": f"2026-12-01T10:00:0{when}Z",
                "result": [] if label is None else [
                    {"from_name": "label", "type": "choices", "value": {"choices": [label]}}]}

    tasks = [
        {"id": 1, "data": {"relabel_id": "a", "given_label": "x"},
         "annotations": [ann(1, 1, "x", 1), ann(2, 2, "y", 2), ann(3, 1, "y", 3),
                         ann(4, 3, "x", 4, cancelled=True)]},
        {"id": 2, "data": {"relabel_id": "b", "given_label": "y"},
         "annotations": [ann(5, 3, None, 1)]},                 # a skip: no vote
        {"id": 3, "data": {"text": "not ours"}, "annotations": [ann(6, 1, "x", 1)]},
    ]
    out = annotations_from_tasks(tasks, {1: "ann@x.org", 2: "bob@x.org", 3: "cy@x.org"})
    assert out.select("id", "annotator", "label").rows() == [("a", "ann@x.org", "y"),
                                                             ("a", "bob@x.org", "y")]
    assert out["task_id"].to_list() == [1, 1]


def test_votes_are_shown_only_for_runs_with_several_annotators() -> None:
    from connectors.label_studio.convert import label_config, task_data

    row = {"id": "a", "text": "t", "label": "x", "credibility": 0.2, "flagged": True}
    assert "votes" not in task_data(row, "run")
    assert task_data({**row, "annotations": "w1=x; w2=y"}, "run")["votes"] == "w1: x; w2: y"
    assert "$votes" in label_config(["x", "y"], votes=True)
    assert "$votes" not in label_config(["x", "y"])


def test_review_demo_on_a_missing_run_is_one_line_before_any_server(tmp_path, capsys):
    """``make review-demo`` without ``make demo`` first: one error line, exit 2, and no Label
    Studio started (it would take seconds, and the data directory is not created)."""
    from connectors.label_studio.demo import main

    assert main([str(tmp_path / "no-run"), "--data-dir", str(tmp_path / "ls"), "--once"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith("no-run: no run.json here; run `relabel denoise` "
                                              "first"), err
    assert not (tmp_path / "ls").exists()


@pytest.mark.parametrize("title", ["ab", "x" * 51])
def test_a_project_title_label_studio_refuses_is_said_before_any_request(tmp_path, title):
    """Label Studio refuses titles outside 3-50 characters with an HTTP 400 when creating the
    project; push and review next say so first (no server is needed to find out)."""
    from connectors.label_studio import push, review_next
    from relabel.errors import RelabelInputError

    for call in (lambda: push(tmp_path, title), lambda: review_next(tmp_path, title, batch=10)):
        with pytest.raises(RelabelInputError, match=rf"project: a Label Studio project title "
                                                    rf"has 3 to 50 characters; '{title}' has "
                                                    rf"{len(title)}$"):
            call()
