"""Label Studio's JSON export as an input: every annotator's choice on every task, in long
format (one row per task and annotator), so that ``relabel consensus export.json`` and
``relabel denoise export.json`` read a classification project exported from Label Studio, any
project, not only one relabel created.

The export is a JSON array of tasks, each ``{"id": .., "data": {..}, "annotations": [..]}``;
an annotation's ``result`` holds one item per control, a ``choices`` one as
``{"from_name": "sentiment", "type": "choices", "value": {"choices": ["positive"]}}``. The
table has:

- ``item_id``: the task's id (its position in the file where it has none);
- ``annotator``: who annotated (the e-mail where the export expands the user, else the user id);
- ``label``: the choice of the project's ``choices`` control (an annotation that chooses
  several, in a multi-label project, is an error: relabel reads one class per annotation).
  A project with several ``choices`` controls gets one column per control, named by its
  ``from_name``, and no ``label`` column (choose one with ``--label-col``);
- ``time``: when the annotation was last updated;
- every field of the task's ``data`` as a column of its own name (``text``, ...), or
  ``data.<name>`` where that name is taken by the columns above.

Cancelled (skipped) annotations and annotations without a choice are left out, and so are tasks
that have none left; where one annotator annotated a task twice, the latest annotation counts.
Pure functions; the Label Studio connector (``connectors/label_studio``) shares the helpers that
read an annotation's time and annotator.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from relabel.errors import RelabelInputError

#: the format name :func:`relabel.data.io.read_table` gives such a file
LABEL_STUDIO_JSON = "label-studio-json"
#: the columns the table always has (a data field of one of these names becomes ``data.<name>``)
RESERVED = ("item_id", "annotator", "label", "time")
#: bytes read from the start of a ``.json`` file to tell an export from other JSON
_SNIFF_BYTES = 65_536


def annotation_time(annotation: Mapping[str, Any]) -> datetime | None:
    """When an annotation was last updated (else created), None where the export has neither."""
    stamp = annotation.get("updated_at") or annotation.get("created_at")
    if not stamp:
        return None
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))


def recency(annotation: Mapping[str, Any]) -> tuple[float, int]:
    """A sort key: later annotations (then higher ids) last."""
    t = annotation_time(annotation)
    return (t.timestamp() if t is not None else float("-inf"), int(annotation.get("id") or 0))


def annotator_name(annotation: Mapping[str, Any], users: Mapping[int, str] | None = None
                   ) -> str | None:
    """Who annotated: the e-mail of an expanded user (exports), else ``users[id]``, else the
    user id as a string (None where the annotation names nobody)."""
    who = annotation.get("completed_by")
    if isinstance(who, Mapping):
        return who.get("email") or str(who.get("id"))
    if who is None:
        return None
    return (users or {}).get(who, str(who))


class _SeveralChoices(Exception):
    def __init__(self, control: str, picked: list[Any]) -> None:
        self.control, self.picked = control, picked


def _choices(annotation: Mapping[str, Any]) -> dict[str, str]:
    """``from_name -> choice`` of every ``choices`` control the annotation answered; raises
    ``_SeveralChoices`` where one control holds several (a multi-label project)."""
    out: dict[str, str] = {}
    for item in annotation.get("result") or []:
        if isinstance(item, Mapping) and item.get("type") == "choices":
            name = str(item.get("from_name") or "choice")
            picked = (item.get("value") or {}).get("choices") or []
            if len(picked) > 1:
                raise _SeveralChoices(name, picked)
            if picked:
                out.setdefault(name, str(picked[0]))
    return out


def is_label_studio_export(path: str | Path) -> bool:
    """True where ``path`` is a ``.json`` file that starts as a Label Studio export: an array
    whose first record has a ``data`` object and an ``annotations`` list. Only the first
    record is parsed, from the file's first bytes (the whole file where that record is
    longer), so a JSON array of plain records that merely has such keys is not taken for one."""
    path = Path(path)
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES).removeprefix(codecs.BOM_UTF8)
    if not head.lstrip().startswith(b"[") or (b'"annotations"' not in head
                                              and b'"data"' not in head):
        return False
    text = head.decode("utf-8", errors="ignore")
    start = text.index("[") + 1
    start += len(text[start:]) - len(text[start:].lstrip())
    try:
        first, _ = json.JSONDecoder().raw_decode(text, start)
    except ValueError:  # a first record longer than the bytes read (or a broken file)
        try:
            with open(path, encoding="utf-8-sig") as fh:
                tasks = json.load(fh)
        except ValueError:
            return False  # the JSON reader reports it
        first = tasks[0] if isinstance(tasks, list) and tasks else None
    return (isinstance(first, dict) and isinstance(first.get("data"), dict)
            and isinstance(first.get("annotations"), list))


def export_table(tasks: Any, *, path: str | Path) -> pl.DataFrame:
    """The long table of an export's ``tasks`` (module docstring).

    Raises
    ------
    RelabelInputError
        ``tasks`` is not a list of tasks, or no task has a ``choices`` annotation.
    """
    if not isinstance(tasks, list) or not all(isinstance(t, Mapping) for t in tasks):
        raise RelabelInputError("a Label Studio export must be a JSON array of tasks",
                                path=path)
    votes: list[tuple[int, str, str | None, dict[str, str], datetime | None]] = []
    controls: set[str] = set()
    for pos, task in enumerate(tasks):
        item = str(task["id"]) if task.get("id") is not None else str(pos)
        latest: dict[str, tuple[Mapping[str, Any], dict[str, str]]] = {}
        for ann in task.get("annotations") or []:
            if not isinstance(ann, Mapping) or ann.get("was_cancelled"):
                continue
            try:
                chosen = _choices(ann)
            except _SeveralChoices as many:
                raise RelabelInputError(
                    f"task {item}: an annotation chooses several classes in '{many.control}' "
                    f"({', '.join(map(str, many.picked[:4]))}): relabel reads one class per "
                    "annotation, not multi-label projects", path=path) from None
            if not chosen:
                continue
            who = annotator_name(ann) or "unknown"
            if who not in latest or recency(ann) > recency(latest[who][0]):
                latest[who] = (ann, chosen)
        for who, (ann, chosen) in sorted(latest.items()):
            controls.update(chosen)
            votes.append((pos, item, who, chosen, annotation_time(ann)))
    if not votes:
        raise RelabelInputError("this Label Studio export holds no choices annotation: "
                                "relabel reads classification projects (a <Choices> tag)",
                                path=path)
    names = sorted(controls)
    label_cols = {"label": names[0]} if len(names) == 1 else {
        (n if n not in RESERVED else f"label.{n}"): n for n in names}
    rows = []
    for pos, item, voter, chosen, when in votes:
        data = tasks[pos].get("data") or {}
        row: dict[str, Any] = {"item_id": item, "annotator": voter}
        row.update({col: chosen.get(name) for col, name in label_cols.items()})
        row["time"] = when
        for key, value in data.items():
            name = str(key)
            row[name if name not in row else f"data.{name}"] = value
        rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None)


def read_export(path: str | Path) -> pl.DataFrame:
    """Read a Label Studio JSON export file as :func:`export_table`."""
    with open(path, encoding="utf-8-sig") as fh:
        tasks = json.load(fh)
    return export_table(tasks, path=path)


__all__ = ["LABEL_STUDIO_JSON", "RESERVED", "annotation_time", "annotator_name",
           "export_table", "is_label_studio_export", "read_export", "recency"]
