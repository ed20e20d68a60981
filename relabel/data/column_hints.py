"""A missing column, said in one line: the columns the table has, the one the user likely
meant (a close name, a usual alias, the only column left) and the option that chooses it, on
the command line or as the Python keyword (:func:`require_columns`); and the advice for a
table that lists several annotators' votes where one label was expected (:func:`votes_hint`).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import cast

import polars as pl

from relabel.errors import Problems, RelabelInputError, on_command_line, option


def require_columns(table: pl.DataFrame, columns: list[str], *, path: str | Path,
                    problems: Problems | None = None,
                    options: dict[str, str] | None = None,
                    also: dict[str, str] | None = None) -> bool:
    """Report each of ``columns`` missing from ``table``, listing the available ones (raises at
    the first unless ``problems`` collects); True when all are present. ``options`` names the
    option that chooses a column (``{"label": "--label-col"}``): the message then says which
    option to pass, and with what when one column is the likely one (a close name, or the only
    column no other role takes, as ``category`` beside ``text``). ``also`` adds advice to the
    message of a missing column (``{"label": "or, for several annotators' votes ..."}``)."""
    problems = problems or Problems()
    options, also = options or {}, also or {}
    available = ", ".join(table.columns) if table.columns else "none"
    hint = ("choose one with the matching --*-col option" if on_command_line()
            else "choose one with the matching *_col keyword")
    missing = [c for c in columns if c not in table.columns]
    free = [c for c in table.columns if c not in columns]
    if len(table.columns) == 1:  # a whole header read as one name: another separator
        sep = next((s for s in (";", "|", "\t", ",") if s in table.columns[0]), None)
        if sep is not None:
            hint = (f"the header looks separated by {sep!r}: save the file comma-separated "
                    "(.csv) or tab-separated (.tsv)")
    found: list[tuple[str, str | None, str | None]] = []  # (column, likely one, option)
    for col in missing:
        near = _near_column(col, table.columns)
        if near is None and col in options and len(missing) == 1 and len(free) == 1:
            near = free[0]
        if near is not None and lists_votes(table[near]):
            near = None  # a list per row (several votes) is no one label or text
        found.append((col, near, options.get(col) if hint.startswith("choose") else None))
    if len(found) > 1 and not problems.collect and all(flag for _, _, flag in found):
        # one line for them all, so the user fixes the command once
        names = ", ".join(f"'{c}'" for c, _, _ in found)
        likely = [(flag, near) for _, near, flag in found if near]
        unsure = [flag for _, near, flag in found if not near]
        sep = " " if on_command_line() else ", "
        advice = ("pass " + sep.join(option(cast(str, flag), _quoted(near))
                                     for flag, near in likely) if likely else "")
        if unsure:
            advice += ("; " if advice else "") + "choose " + ", ".join(
                option(cast(str, flag)) for flag in unsure)
        advice += "".join(f"; {also[c]}" for c, _, _ in found if c in also)
        problems.error(RelabelInputError(f"no columns {names} (available: {available}); "
                                         + advice, path=path))
        return False
    for col, near, flag in found:
        if flag:
            advice = (f"did you mean '{near}'? pass {option(flag, _quoted(near))}" if near
                      else f"choose one with {option(flag)}")
        else:
            advice = (f"did you mean '{near}'? " if near else "") + hint
        if col in also:
            advice += f"; {also[col]}"
        problems.error(RelabelInputError(f"no column '{col}' (available: {available}); "
                                         + advice, path=path))
    return not missing


def _quoted(name: str | None) -> str | None:
    """A column name as the user types it: shell-quoted on the command line."""
    return shlex.quote(name) if name and on_command_line() else name


def _near_column(col: str, columns: list[str]) -> str | None:
    """The column ``col`` most likely meant: one whose last dotted part is ``col`` whatever
    the case (``data.text`` of a WRENCH file, ``Label``), else a close spelling
    (``labels``), else None."""
    import difflib

    tail = [c for c in columns if c.rsplit(".", 1)[-1].lower() == col.lower()]
    if tail:
        return tail[0]
    lowered = {c.lower(): c for c in columns}
    near = difflib.get_close_matches(col.lower(), list(lowered), n=1, cutoff=0.8)
    if near:
        return lowered[near[0]]
    # what datasets often call the text and the label instead
    return next((lowered[a] for a in _COLUMN_ALIASES.get(col.lower(), ()) if a in lowered),
                None)


#: other names of the text and label columns in common datasets, most likely first (only ever
#: suggested in a message, never used without being named)
_COLUMN_ALIASES = {
    "text": ("sentence", "content", "document", "utterance", "question", "review", "tweet",
             "comment", "message", "body"),
    "label": ("labels", "category", "class", "intent", "relation", "sentiment", "target",
              "gold", "hard_label", "y"),
    # several annotators' votes in long format
    "item_id": ("id", "item", "example_id", "doc_id", "unit_id", "question_id", "task_id"),
    "annotator": ("worker", "worker_id", "annotator_id", "rater", "rater_id", "coder",
                  "labeler", "labeller", "judge", "user", "user_id"),
}


#: names of a column listing each item's several votes, and of one listing who cast them
_VOTE_LIST_NAMES = ("annotations", "votes", "labels", "weak_labels", "annotator_labels",
                    "crowd_labels", "judgments", "judgements")
_ANNOTATOR_LIST_NAMES = ("annotators", "workers", "raters", "annotator_ids", "worker_ids")


def lists_votes(column: pl.Series) -> bool:
    """``column`` holds a list per row: a list type, or text like ``"0,0,1"`` (LeWiDi) in
    most of its first 50 values, each part a short word (prose with commas is not)."""
    if isinstance(column.dtype, (pl.List, pl.Array)):
        return True
    if column.dtype != pl.String:
        return False
    head = column.drop_nulls().head(50)
    if head.is_empty():
        return False
    listed = head.str.contains(r"^\s*[^,\s]{1,40}(\s*,\s*[^,\s]{1,40})+\s*$")
    return int(listed.sum()) >= 0.9 * head.len()


def votes_hint(table: pl.DataFrame) -> str | None:
    """Advice for a table without a label column that lists several annotators' votes per
    row (a column named like ``annotations`` or ``weak_labels`` holding lists, as LeWiDi's and
    WRENCH's files do): the options that read them as votes; None when it has none."""
    found = list_votes_options(table)
    return None if found is None else f"or, for the annotators' votes that '{found[0]}' " \
        f"lists: {found[1]}"


def list_votes_options(table: pl.DataFrame) -> tuple[str, str] | None:
    """``(column, options)`` for a table that lists several annotators' votes per row: the
    column of the votes' lists and the options that read them (``--votes-col annotations
    --annotator-col annotators``); None when it has no such column."""
    lowered = {c.lower(): c for c in table.columns}
    votes = next((lowered[n] for n in _VOTE_LIST_NAMES
                  if n in lowered and lists_votes(table[lowered[n]])), None)
    if votes is None:
        return None
    who = next((lowered[n] for n in _ANNOTATOR_LIST_NAMES
                if n in lowered and lists_votes(table[lowered[n]])), None)
    flags = option("--votes-col", votes) + (
        (" " if on_command_line() else ", ") + option("--annotator-col", who) if who else "")
    return votes, flags


__all__ = ["list_votes_options", "lists_votes", "require_columns", "votes_hint"]
