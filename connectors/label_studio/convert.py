"""Pure conversion between relabel's frames and Label Studio's JSON. No network here.

The project relabel creates shows the reviewer, for one example at a time: the given label, the
credibility and the reason it was flagged (``Header`` tags over task data), the text (``Text``;
for a relation the head and tail spans come pre-highlighted as ``Labels`` regions of the
prediction), and one single-choice ``Choices`` of all classes, pre-selected with relabel's
suggestion, or with the given label when relabel abstained.

Task ``data`` keys (all strings or numbers, as Label Studio expects):

==================  ==================================================================
``relabel_id``      example id: the key that makes a push idempotent
``text``            the text shown
``given_label``     the label in the dataset
``suggested_label`` relabel's suggestion, ``""`` when it abstained
``credibility``     in [0, 1], lower is more suspicious
``reason``          one line: why relabel flagged it (or that it did not)
``relabel_run``     the ``model_version`` of the push that wrote this task
``votes``           several annotators per item only: each annotator's label
==================  ==================================================================

*Blind* tasks (the random audit and the spot check of the automatic changes, pushed by ``review
next --audit`` / ``--check-changes``) show the given label and the text only: no credibility, no
reason, no suggestion and nothing pre-selected. Their decisions measure the dataset and relabel's
changes, so relabel's view must not sway them; a reviewer shown the suggestion accepts it more
often, which would make the changes look better than they are.

An annotation becomes a review (:func:`reviews_from_tasks`): *accepted* when the reviewer kept the
given label, *changed* when they chose another one, *skipped* when they skipped or cancelled it
(not a decision). With several annotations on one task the most recently updated decision wins;
:func:`annotations_from_tasks` keeps every annotator's own latest decision instead (the votes
``relabel consensus`` combines).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from xml.sax.saxutils import quoteattr

import polars as pl

from relabel.data.label_studio import annotation_time, annotator_name, recency

#: names of the control tags in the labeling config
CHOICES_NAME = "label"
TEXT_NAME = "text"
ENTITY_NAME = "entity"
HEAD, TAIL = "HEAD", "TAIL"
#: above this many classes the choices are a drop-down list instead of radio buttons
SELECT_LAYOUT_OVER = 30

REVIEW_STATUSES = ("accepted", "changed", "skipped")
REVIEWS_SCHEMA: dict[str, Any] = {
    "id": pl.String,
    "given_label": pl.String,
    "reviewed_label": pl.String,
    "status": pl.String,
    "annotator": pl.String,
    "time": pl.Datetime("us", "UTC"),
    "suggested_label": pl.String,
    "task_id": pl.Int64,
}


def model_version(relabel_version: str, run_id: str) -> str:
    """``relabel-<version>-<run id>``: names the relabel release and the run behind a push."""
    return f"relabel-{relabel_version}-{run_id}"


def label_config(classes: Sequence[str], *, relation: bool = False,
                 votes: bool = False) -> str:
    """The labeling config (XML) for a review project over ``classes``.

    Parameters
    ----------
    classes : sequence of str
        Every class of the run, in the order the choices are shown.
    relation : bool
        Add ``Labels`` for the head and tail entity spans (pre-highlighted by the prediction).
    votes : bool
        Show the annotators' votes (``$votes``: several annotators per item).
    """
    import re

    from relabel.errors import RelabelInputError

    bad = [c for c in classes if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", str(c))]
    if bad:  # XML 1.0 cannot hold them, not even as character references
        raise RelabelInputError(
            f"the label {bad[0]!r} holds a control character, which a Label Studio labeling "
            "config cannot hold; rename it in the data")
    layout = ' layout="select"' if len(classes) > SELECT_LAYOUT_OVER else ""
    choices = "\n".join(f"    <Choice value={quoteattr(str(c))}/>" for c in classes)
    entities = (f'  <Labels name="{ENTITY_NAME}" toName="{TEXT_NAME}">\n'
                f'    <Label value="{HEAD}" background="#ffb74d"/>\n'
                f'    <Label value="{TAIL}" background="#4fc3f7"/>\n'
                "  </Labels>\n") if relation else ""
    return (
        "<View>\n"
        '  <View style="border-bottom: 1px solid #ddd; margin-bottom: 8px; padding-bottom: 4px">\n'
        '    <Header value="Given label: $given_label" size="4"/>\n'
        '    <Header value="Credibility: $credibility" size="6"/>\n'
        '    <Header value="$reason" size="6"/>\n'
        + ('    <Header value="Annotators: $votes" size="6"/>\n' if votes else "")
        + "  </View>\n"
        f"{entities}"
        f'  <Text name="{TEXT_NAME}" value="$text"/>\n'
        f'  <Choices name="{CHOICES_NAME}" toName="{TEXT_NAME}" choice="single" '
        f'required="true"{layout}>\n'
        f"{choices}\n"
        "  </Choices>\n"
        "</View>\n"
    )


def config_classes(config: str) -> list[str] | None:
    """The classes of a labeling config's ``Choices name="label"``; None when it has none."""
    try:
        root = ET.fromstring(config)
    except ET.ParseError:
        return None
    for node in root.iter("Choices"):
        if node.get("name") == CHOICES_NAME:
            return [c.get("value", "") for c in node.iter("Choice")]
    return None


def _fmt(x: Any, digits: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def reason(row: Mapping[str, Any]) -> str:
    """One line for the reviewer: how credible the label is and what relabel suggests."""
    signals = ", ".join(f"{name} {_fmt(row.get(f'{name}_score'), 2)}"
                        for name in ("knn", "kde", "cv") if row.get(f"{name}_score") is not None)
    why = row.get("reason")
    head = (f"Flagged: {str(why).replace('_', ' ')} ({signals})" if row.get("flagged") and why
            else f"Flagged ({signals})" if row.get("flagged") else f"Not flagged ({signals})")
    if row.get("suggested_label") is not None:
        return (f"{head}; suggests '{row['suggested_label']}' with confidence "
                f"{_fmt(row.get('suggestion_confidence'), 2)}.")
    if row.get("flagged") and why == "overrules_majority":
        return (f"{head}; the label is the annotators' consensus, which weighs each by their "
                "estimated accuracy and goes against most of their votes here: read the votes "
                "and decide.")
    if row.get("flagged") and why == "class_not_learned":  # its "likely" label would mislead
        return (f"{head}; no suggestion: relabel did not learn '{row.get('label')}' from its "
                "examples and cannot judge this label, so decide it yourself.")
    alt = row.get("alternative_label")
    if row.get("flagged") and alt is not None and alt != row.get("label"):
        prob = row.get("alternative_prob")
        tail = "" if prob is None else f" (p {_fmt(prob, 2)})"
        return f"{head}; no confident suggestion, most likely other label '{alt}'{tail}."
    return f"{head}; no suggestion."


#: what a blind task shows instead of relabel's reason
BLIND_REASON = ("Part of a random sample: decide the right label yourself (relabel's view is "
                "hidden so that it cannot sway the sample).")


def task_data(row: Mapping[str, Any], run: str, *, blind: bool = False) -> dict[str, Any]:
    """The ``data`` of one task from a row of the review frame (see the module docstring);
    ``blind``: without relabel's view."""
    data = {
        "relabel_id": str(row["id"]),
        "text": str(row["text"]),
        "given_label": str(row["label"]),
        "suggested_label": ("" if blind or row.get("suggested_label") is None
                            else str(row["suggested_label"])),
        "credibility": "hidden" if blind else round(float(row["credibility"]), 4),
        "reason": BLIND_REASON if blind else reason(row),
        "relabel_run": run,
    }
    if row.get("annotations") is not None:  # several annotators per item: who said what
        data["votes"] = str(row["annotations"]).replace("=", ": ")
    return data


def prediction(row: Mapping[str, Any], run: str, *, blind: bool = False
               ) -> dict[str, Any] | None:
    """relabel's prediction for one task: the suggestion (or the given label when relabel
    abstained), ``score`` = 1 - suspicion so that uncertainty sampling (lowest score first)
    shows the most suspicious first (credibility for a run written before ``suspicion``),
    ``model_version`` = ``run``. Relation rows also carry the head and tail spans as
    pre-highlighted regions. ``blind``: the spans alone, nothing pre-selected (None for a text
    without spans)."""
    choice = row.get("suggested_label") or row["label"]
    result: list[dict[str, Any]] = []
    if row.get("head_start") is not None:
        text = str(row["text"])
        for rid, label, (s, e) in (("head", HEAD, (row["head_start"], row["head_end"])),
                                   ("tail", TAIL, (row["tail_start"], row["tail_end"]))):
            s, e = int(s), int(e)
            result.append({"id": rid, "from_name": ENTITY_NAME, "to_name": TEXT_NAME,
                           "type": "labels",
                           "value": {"start": s, "end": e, "text": text[s:e], "labels": [label]}})
    if blind:
        return {"model_version": run, "result": result} if result else None
    result.append({"from_name": CHOICES_NAME, "to_name": TEXT_NAME, "type": "choices",
                   "value": {"choices": [str(choice)]}})
    score = (1.0 - float(row["suspicion"]) if row.get("suspicion") is not None
             else float(row["credibility"]))
    return {"model_version": run, "score": round(score, 6), "result": result}


def tasks_json(rows: Iterable[Mapping[str, Any]], run: str, *,
               blind: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Tasks to import, each with its data and relabel's prediction inline; the examples whose
    id is in ``blind`` without relabel's view (module docstring)."""
    hidden = {str(i) for i in blind}
    out = []
    for r in rows:
        b = str(r["id"]) in hidden
        pred = prediction(r, run, blind=b)
        out.append({"data": task_data(r, run, blind=b),
                    **({"predictions": [pred]} if pred is not None else {})})
    return out


def _choice(annotation: Mapping[str, Any]) -> str | None:
    for item in annotation.get("result") or []:
        if item.get("from_name") == CHOICES_NAME and item.get("type") == "choices":
            # an annotation written through the API may hold null or blank choices: no decision
            picked = [c for c in (item.get("value") or {}).get("choices") or []
                      if c is not None and str(c).strip()]
            if picked:
                return str(picked[0])
    return None


def _relabel_tasks(tasks: Iterable[Mapping[str, Any]]
                   ) -> Iterable[tuple[Mapping[str, Any], Mapping[str, Any],
                                       list[tuple[Mapping[str, Any], str]],
                                       list[Mapping[str, Any]]]]:
    """Each task relabel wrote (``relabel_id`` in its data): the task, its data, its decisions
    ``(annotation, choice)`` and its skipped or cancelled annotations."""
    for task in tasks:
        data = task.get("data") or {}
        if "relabel_id" not in data:
            continue
        decided, skipped = [], []
        for ann in task.get("annotations") or []:
            choice = _choice(ann)
            if ann.get("was_cancelled") or choice is None:
                skipped.append(ann)
            else:
                decided.append((ann, choice))
        yield task, data, decided, skipped


def reviews_from_tasks(tasks: Iterable[Mapping[str, Any]],
                       users: Mapping[int, str] | None = None) -> pl.DataFrame:
    """One review per annotated task: the latest decision, else the latest skip.

    Parameters
    ----------
    tasks : iterable of dict
        Label Studio tasks with ``id``, ``data`` and ``annotations``.
    users : mapping of int to str, optional
        User id -> e-mail, to name the annotator.

    Returns
    -------
    polars.DataFrame
        Columns of ``REVIEWS_SCHEMA``; ``reviewed_label`` is null for skipped rows. Tasks without
        annotations, or not written by relabel (no ``relabel_id``), are left out.
    """
    users = users or {}
    rows = []
    for task, data, decided, skipped in _relabel_tasks(tasks):
        if decided:
            ann, choice = max(decided, key=lambda ac: recency(ac[0]))
            given = str(data.get("given_label"))
            status = "accepted" if choice == given else "changed"
        elif skipped:
            ann, choice, status = max(skipped, key=recency), None, "skipped"
        else:
            continue
        rows.append({
            "id": str(data["relabel_id"]), "given_label": str(data.get("given_label")),
            "reviewed_label": choice, "status": status, "annotator": annotator_name(ann, users),
            "time": annotation_time(ann), "suggested_label": data.get("suggested_label") or None,
            "task_id": task.get("id"),
        })
    return pl.DataFrame(rows, schema=REVIEWS_SCHEMA).sort("id")


ANNOTATIONS_SCHEMA: dict[str, Any] = {
    "id": pl.String,
    "annotator": pl.String,
    "label": pl.String,
    "time": pl.Datetime("us", "UTC"),
    "task_id": pl.Int64,
}


def annotations_from_tasks(tasks: Iterable[Mapping[str, Any]],
                           users: Mapping[int, str] | None = None) -> pl.DataFrame:
    """Every annotator's latest decision on every task (skips and cancellations left out);
    ``tasks`` and ``users`` as in :func:`reviews_from_tasks`.

    Returns
    -------
    polars.DataFrame
        ``id, annotator, label, time, task_id`` (``ANNOTATIONS_SCHEMA``), one row per (task,
        annotator), sorted by id and annotator.
    """
    users = users or {}
    rows = []
    for task, data, decided, _ in _relabel_tasks(tasks):
        latest: dict[str, tuple[Mapping[str, Any], str]] = {}
        for ann, choice in decided:
            who = annotator_name(ann, users) or "unknown"
            if who not in latest or recency(ann) > recency(latest[who][0]):
                latest[who] = (ann, choice)
        for who, (ann, choice) in latest.items():
            rows.append({"id": str(data["relabel_id"]), "annotator": who, "label": choice,
                         "time": annotation_time(ann), "task_id": task.get("id")})
    return pl.DataFrame(rows, schema=ANNOTATIONS_SCHEMA).sort("id", "annotator")


__all__ = [
    "ANNOTATIONS_SCHEMA", "BLIND_REASON", "CHOICES_NAME", "REVIEWS_SCHEMA", "REVIEW_STATUSES",
    "annotations_from_tasks", "config_classes", "label_config", "model_version", "prediction",
    "reason", "reviews_from_tasks", "task_data", "tasks_json",
]
