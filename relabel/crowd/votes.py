"""Several annotators per item: read their votes into one typed record.

Three layouts give the same :class:`Votes`:

- **long**: one row per (item, annotator, label); the item's text may repeat on every row, or
  come from a second table of items (``--annotations FILE`` names the votes, ``DATA`` the items);
- **wide**: one row per item, one label column per annotator (``--label-cols a1,a2,a3``; the
  column name is the annotator); a null or empty cell is a missing vote;
- **lists**: one row per item, one column listing its votes (``--votes-col``): a list, or a
  comma-separated string as in the LeWiDi 2023 files (``"0,0,1"``); ``--annotator-col`` may name
  a column listing who cast them, in the same order (``"Ann4,Ann16,Ann2"``), else the j-th vote
  of every item counts as annotator ``vote j`` (as a wide table's j-th column would);
- **Label Studio**: ``annotations.parquet`` that ``relabel review pull`` writes beside a run
  (every annotator's decision per task), read with the run's examples as the items.

Missing votes are normal and an item with one vote is allowed. **Abstentions** (``abstain``,
``--abstain``) are vote values that say "no vote": weak-supervision label functions write -1
when they do not fire (WRENCH, Snorkel). They are dropped like empty cells and counted
(:attr:`Votes.abstained`); :func:`abstention_hint` names a likely one the user did not declare.

Problems are one-line :class:`~relabel.errors.RelabelInputError`\\ s naming the file, the rows
(1-based data rows, the header is not a row) and the column: an item without text, a missing
column, a label outside the class set, the same (item, annotator) pair twice (``dedupe=True``
keeps the last row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from relabel.data.column_hints import list_votes_options, require_columns
from relabel.data.columns import expose
from relabel.data.validation import default_id_col, ids_as_numbers_hint
from relabel.errors import Problems, RelabelInputError, option

#: the columns of a long table of votes
ITEM_COL, ANNOTATOR_COL, LABEL_COL = "item_id", "annotator", "label"


@dataclass(frozen=True)
class Votes:
    """Every vote, as integer codes.

    Attributes
    ----------
    item_ids : list of str
        ``(I,)`` the items, in order of first appearance (or the items table's order).
    annotators : list of str
        ``(A,)`` annotator names, sorted.
    classes : list of str
        ``(K,)`` the class set, sorted.
    item, annotator, label : np.ndarray
        ``(M,)`` int64 codes of each vote into the three lists above.
    items : polars.DataFrame
        One row per item, in ``item_ids`` order: ``id`` and the item's other columns (``text``,
        entity spans...) when the input has them; just ``id`` for votes without text.
    name : str
        Where the votes came from, for messages.
    abstained : int
        Votes dropped as abstentions (``abstain`` values).
    other_items : int
        Votes dropped because they name items the items' table lacks (``skip_other_items``).
    weight : np.ndarray or None
        ``(M,)`` each row's weight: ``1/m`` for each of the m choices of a multi-select answer
        (``multi_select``), so that every (item, annotator) answer counts as one vote; None
        when every row is a whole vote.
    """

    item_ids: list[str]
    annotators: list[str]
    classes: list[str]
    item: np.ndarray
    annotator: np.ndarray
    label: np.ndarray
    items: pl.DataFrame
    name: str
    abstained: int = 0
    other_items: int = 0
    weight: np.ndarray | None = None

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_annotators(self) -> int:
        return len(self.annotators)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_votes(self) -> int:
        """Votes: (item, annotator) answers, a multi-select answer's choices counting once."""
        return len(self.one_per_answer().item)

    def answers(self) -> np.ndarray:
        """``(I,)`` int the number of answers (annotators) per item: unlike the row sums of
        :meth:`counts`, exact where a multi-select answer splits its vote into thirds."""
        return np.bincount(self.one_per_answer().item, minlength=self.n_items)

    def counts(self) -> np.ndarray:
        """``(I, K)`` float64 number of votes for each class (a multi-select answer's choices
        share one vote)."""
        out = np.zeros((self.n_items, self.n_classes))
        np.add.at(out, (self.item, self.label), 1.0 if self.weight is None else self.weight)
        return out

    def one_per_answer(self) -> Votes:
        """These votes with one label per (item, annotator): of a multi-select answer, the
        last choice (the agreement figures, Krippendorff's α and Cohen's κ, and the matrix
        layout need one); the votes themselves when every answer has one."""
        if self.weight is None:
            return self
        from dataclasses import replace

        key = self.item * max(self.n_annotators, 1) + self.annotator
        _, last = np.unique(key[::-1], return_index=True)
        keep = np.sort(len(key) - 1 - last)
        return replace(self, item=self.item[keep], annotator=self.annotator[keep],
                       label=self.label[keep], weight=None)

    def matrix(self) -> np.ndarray:
        """``(I, A)`` float64 class code of each annotator's vote, NaN where none (the layout
        of Krippendorff's reliability data, transposed, and of cleanlab's multi-annotator
        labels; a multi-select answer's last choice)."""
        one = self.one_per_answer()
        out = np.full((self.n_items, self.n_annotators), np.nan)
        out[one.item, one.annotator] = one.label
        return out

    def frame(self) -> pl.DataFrame:
        """The votes as a long table: ``item_id, annotator, label`` (and ``weight`` where a
        multi-select answer's choices share one vote)."""
        frame = pl.DataFrame({
            ITEM_COL: np.asarray(self.item_ids, dtype=object)[self.item].tolist(),
            ANNOTATOR_COL: np.asarray(self.annotators, dtype=object)[self.annotator].tolist(),
            LABEL_COL: np.asarray(self.classes, dtype=object)[self.label].tolist(),
        }, schema={ITEM_COL: pl.String, ANNOTATOR_COL: pl.String, LABEL_COL: pl.String})
        if self.weight is not None:
            frame = frame.with_columns(pl.Series("weight", self.weight, dtype=pl.Float64))
        return frame


def name_classes(votes: Votes, label_names: tuple[tuple[str, str], ...]) -> Votes:
    """``votes`` with integer-coded classes replaced by their names (``(code, name)`` pairs,
    :func:`relabel.config.parse_label_names`); a class that is a name already stays, the codes
    follow the sorted names.

    Raises
    ------
    RelabelInputError
        A class that is neither a code nor a name of ``label_names``.
    """
    from dataclasses import replace

    from relabel.data.validation import name_labels

    try:
        named = name_labels(pl.Series("label", votes.classes), label_names, path=votes.name,
                            column="label").to_list()
    except RelabelInputError as err:  # its rows would be positions in the class list
        hint = (f"; if -1 means the annotator abstained (WRENCH, Snorkel), pass "
                f"{option('--abstain', '-1')}" if "'-1'" in err.message else "")
        raise RelabelInputError(f"a vote's {err.message}{hint}", path=votes.name) from None
    classes = sorted(set(named))
    new = np.searchsorted(classes, np.asarray(named, dtype=object)).astype(np.int64)
    return replace(votes, classes=classes, label=new[votes.label])


def _strings(table: pl.DataFrame, col: str, name: str) -> pl.Series:
    s = table.get_column(col)
    if s.dtype.is_nested() or s.dtype == pl.Binary:
        raise RelabelInputError(f"values must be strings or numbers, found {s.dtype}",
                                path=name, column=col)
    if s.dtype.is_float():  # 1.0 read from JSON is the class "1"
        whole = s.drop_nulls()
        if whole.len() and (whole == whole.round(0)).all():
            s = s.cast(pl.Int64)
    return s.cast(pl.String, strict=False).str.strip_chars()


def _rows(mask: np.ndarray | pl.Series) -> list[int]:
    return (np.flatnonzero(np.asarray(mask)) + 1).tolist()


def _check_classes(labels: pl.Series, classes: Sequence[str] | None, name: str,
                   column: str, rows: np.ndarray | None = None) -> list[str]:
    """The class set (``classes``, or every label seen); raises for a label outside it, naming
    its rows: the labels' positions, or ``rows`` (``(V,)`` 0-based data row of each label) where
    several labels share a row (wide and list layouts)."""
    found = sorted(set(labels.drop_nulls().to_list()))
    if classes is None:
        return found
    allowed = sorted({str(c) for c in classes})
    outside = ~labels.is_in(allowed) & labels.is_not_null()
    if outside.any():
        bad = sorted(set(labels.filter(outside).to_list()))
        shown = ", ".join(repr(b) for b in bad[:3])
        raise RelabelInputError(
            f"{len(bad)} label(s) outside the class set ({shown}; classes: "
            f"{', '.join(allowed[:10])}{'...' if len(allowed) > 10 else ''})",
            path=name, column=column,
            rows=(_rows(outside.to_numpy()) if rows is None else
                  sorted({int(r) + 1 for r in np.asarray(rows)[outside.to_numpy()]})))
    return allowed


def _item_table(table: pl.DataFrame, item_col: str, name: str, *,
                text_col: str | None) -> pl.DataFrame:
    """One row per item (first appearance), with the item's non-vote columns; raises for an
    item without text, or with two different texts."""
    ids = _strings(table, item_col, name)
    missing = ids.is_null() | (ids == "")
    if missing.any():
        raise RelabelInputError("empty item id", path=name, rows=_rows(missing.to_numpy()),
                                column=item_col)
    frame = table.with_columns(ids.alias("id"), pl.int_range(pl.len()).alias("__row"))
    if item_col != "id" and "id" in table.columns:
        frame = table.drop("id").with_columns(ids.alias("id"),
                                              pl.int_range(pl.len()).alias("__row"))
    if text_col is not None and text_col in frame.columns:
        text = _strings(frame, text_col, name)
        empty = text.is_null() | (text.str.strip_chars() == "")
        if empty.any():
            raise RelabelInputError("an item with no text", path=name,
                                    rows=_rows(empty.to_numpy()), column=text_col)
        marked = frame.with_columns(text.alias("__text")).with_columns(
            (pl.col("__text") != pl.col("__text").first().over("id")).alias("__differs"))
        differing = marked.filter(pl.col("__differs"))
        if differing.height:
            raise RelabelInputError(
                f"item '{differing['id'][0]}' has different texts on different rows",
                path=name, rows=(differing["__row"] + 1).to_list(), column=text_col)
    first = frame.unique("id", keep="first", maintain_order=True)
    return first.drop("__row")


def _dedupe(votes: pl.DataFrame, name: str, item_col: str, annotator_col: str,
            dedupe: bool, problems: Problems | None = None, multi_select: bool = False
            ) -> pl.DataFrame:
    """``votes`` with one vote per (item, annotator) pair: repeated pairs raise unless
    ``dedupe`` keeps the latest, or ``multi_select`` reads them as one answer of several
    choices (a ``weight`` column of 1/m for each of its m distinct labels; a label repeated in
    one answer counts once); ``problems`` that collect (``relabel check``) record the error and
    go on as ``dedupe`` would, so the checks after it still run."""
    dup = votes.select(pl.struct("item", "annotator").is_duplicated()).to_series()
    if not dup.any():
        return votes
    if multi_select:
        votes = votes.unique(["item", "annotator", "label"], keep="last", maintain_order=True)
        return votes.with_columns(
            (1.0 / pl.len().over("item", "annotator")).cast(pl.Float64).alias("weight"))
    if not dedupe:
        pairs = votes.filter(dup).group_by("item", "annotator").agg(
            pl.col("label").n_unique().alias("labels"))
        split = int((pairs["labels"] > 1).sum())
        why = (f" ({split} of the {pairs.height} repeated pairs chose different labels: several "
               "choices per answer, as in multi-select annotation? "
               f"{option('--multi-select', True)} reads each answer as one vote shared by its "
               "choices)" if split else "")
        (problems or Problems()).error(RelabelInputError(
            f"the same ({item_col}, {annotator_col}) pair more than once{why}; keep the latest "
            f"row of each with {option('--dedupe', True)}", path=name,
            rows=sorted(set((votes.filter(dup)["__row"] + 1).to_list()))))
    return votes.unique(["item", "annotator"], keep="last", maintain_order=True)


def _drop_empty(votes: pl.DataFrame, abstain: Sequence[str]) -> tuple[pl.DataFrame, int]:
    """``votes`` without its null or empty labels and its ``abstain`` values, and how many
    abstentions were dropped."""
    votes = votes.filter(pl.col("label").is_not_null() & (pl.col("label") != ""))
    if not abstain:
        return votes, 0
    gone = votes["label"].is_in(list(abstain))
    return votes.filter(~gone), int(gone.sum())


def abstention_hint(votes: Votes) -> str | None:
    """A warning when a class looks like an undeclared abstention: ``-1`` among integer-coded
    votes whose other classes are all non-negative (how WRENCH and Snorkel write "the label
    function did not fire"; a set whose classes are -1 and 1 is left alone); else None."""
    if votes.abstained or "-1" not in votes.classes:
        return None
    others = [c for c in votes.classes if c != "-1"]
    if len(others) < 2 or not all(c.isdigit() for c in others) or "0" not in others:
        return None
    n = int((votes.label == votes.classes.index("-1")).sum())
    return (f"{n} of the {len(votes.label)} votes are -1, read as a class; weak-supervision "
            f"label functions (WRENCH, Snorkel) write -1 when they abstain: if that is what it "
            f"means here, pass {option('--abstain', '-1')}")


def _finish(votes: pl.DataFrame, items: pl.DataFrame, classes: list[str], name: str,
            abstained: int = 0, other_items: int = 0) -> Votes:
    weight = votes["weight"].to_numpy().astype(np.float64) if "weight" in votes.columns \
        else None
    item_ids = items["id"].to_list()
    annotators = sorted(set(votes["annotator"].to_list()))
    pos = {v: i for i, v in enumerate(item_ids)}
    return Votes(
        item_ids=item_ids, annotators=annotators, classes=classes,
        item=np.array([pos[v] for v in votes["item"].to_list()], dtype=np.int64),
        annotator=np.searchsorted(annotators, votes["annotator"].to_numpy()).astype(np.int64),
        label=np.searchsorted(classes, votes["label"].to_numpy()).astype(np.int64),
        items=items, name=name, abstained=abstained, other_items=other_items, weight=weight)


def votes_from_long(
    table: pl.DataFrame,
    name: str | Path,
    *,
    item_col: str = ITEM_COL,
    annotator_col: str = ANNOTATOR_COL,
    label_col: str = LABEL_COL,
    text_col: str | None = "text",
    items: pl.DataFrame | None = None,
    items_name: str | Path | None = None,
    classes: Sequence[str] | None = None,
    dedupe: bool = False,
    abstain: Sequence[str] = (),
    problems: Problems | None = None,
    skip_other_items: bool = False,
    multi_select: bool = False,
) -> Votes:
    """Votes from a long table: one row per (item, annotator, label).

    Parameters
    ----------
    table : polars.DataFrame
        The votes; may also hold the items' text (repeated on each of an item's rows).
    name : str or Path
        The votes' file, for messages.
    item_col, annotator_col, label_col : str
        Column names in ``table``.
    text_col : str or None
        The text column (in ``items`` when given, else in ``table``); None or absent: votes only.
    items : polars.DataFrame, optional
        One row per item (``item_col`` and the text); every voted item must be in it, and its
        items without votes are kept (with no votes).
    items_name : str or Path, optional
        The items' file, for messages.
    classes : sequence of str, optional
        The class set; a label outside it is an error. Default: every label seen.
    dedupe : bool
        Keep the last row of a repeated (item, annotator) pair instead of raising.
    abstain : sequence of str
        Label values that are not votes (module docstring), e.g. ``("-1",)``.
    problems : Problems, optional
        Where ``relabel check`` collects every problem: repeated pairs and votes on items that
        ``items`` lacks are recorded there, and the reading goes on without them (the latest
        vote of a pair, the known items' votes), so the later checks run too.
    skip_other_items : bool
        With ``items``: drop the votes on items it lacks (counted in
        :attr:`Votes.other_items`; a file of a whole project's votes beside one split's items)
        instead of raising. Their labels are not read, so they add no class.
    multi_select : bool
        Rows repeating an (item, annotator) pair are one answer of several choices, as a
        multi-select question gives (CrowdTruth): each of its m labels is a vote of weight 1/m
        (:attr:`Votes.weight`) instead of an error.

    Returns
    -------
    Votes
    """
    name = str(name)
    table = expose(table, [item_col, annotator_col, label_col, text_col])
    missing = [c for c in (item_col, annotator_col, label_col) if c not in table.columns]
    listed = list_votes_options(table) if missing else None
    if listed is not None:  # one row per item with a list of votes (LeWiDi): another layout
        names = ", ".join(f"'{c}'" for c in missing)
        raise RelabelInputError(
            f"no column{'s' if len(missing) > 1 else ''} {names} of votes one per row "
            f"(available: {', '.join(table.columns)}); each row lists several annotators' "
            f"votes in '{listed[0]}': pass {listed[1]}", path=name)
    require_columns(table, [item_col, annotator_col, label_col], path=name,
                    options={item_col: "--item-col", annotator_col: "--annotator-col",
                             label_col: "--label-col"})
    item = _strings(table, item_col, name)
    who = _strings(table, annotator_col, name)
    lab = _strings(table, label_col, name)
    for series, col in ((item, item_col), (who, annotator_col)):
        empty = series.is_null() | (series == "")
        if empty.any():
            raise RelabelInputError(f"empty {col}", path=name, rows=_rows(empty.to_numpy()),
                                    column=col)
    votes = pl.DataFrame({"item": item, "annotator": who, "label": lab}).with_columns(
        pl.int_range(pl.len()).alias("__row"))
    votes, abstained = _drop_empty(votes, abstain)
    other = 0
    if items is not None:
        iname = str(items_name or name)
        items = expose(items, [item_col, text_col])
        require_columns(items, [item_col], path=iname, options={item_col: "--item-col"})
        item_table = _item_table(items, item_col, iname,
                                 text_col=text_col if text_col in items.columns else None)
        dup = item_table.height < items.height
        if dup:
            ids = _strings(items, item_col, iname)
            raise RelabelInputError("duplicate item ids", path=iname,
                                    rows=_rows(ids.is_duplicated().to_numpy()), column=item_col)
        unknown = ~votes["item"].is_in(item_table["id"].implode())
        if unknown.any() and skip_other_items:
            other = int(unknown.sum())
        elif unknown.any():
            first = votes.filter(unknown)
            (problems or Problems()).error(RelabelInputError(
                f"{first.height} votes name items that are not in {iname} (e.g. "
                f"'{first['item'][0]}'{ids_as_numbers_hint(first['item'], item_table['id'])});"
                f" {option('--skip-other-items', True)} uses only the votes on its items",
                path=name, rows=(first["__row"] + 1).to_list(), column=item_col))
        # skipped, or collected (relabel check): the other votes are read
        votes = votes.filter(~unknown)
    found = _check_classes(votes["label"], classes, name, label_col)
    if len(found) < 2 and classes is None:
        raise RelabelInputError(f"need at least two classes, found {len(found)}", path=name,
                                column=label_col)
    votes = _dedupe(votes, name, item_col, annotator_col, dedupe, problems, multi_select)
    if items is None:
        vote_cols = {annotator_col, label_col}
        keep = [c for c in table.columns if c not in vote_cols]
        item_table = _item_table(table.select(keep), item_col, name,
                                 text_col=text_col if text_col in table.columns else None)
    if item_col != "id" and item_col in item_table.columns:
        item_table = item_table.drop(item_col)
    return _finish(votes, item_table.select("id", pl.exclude("id")), found, name, abstained,
                   other)


def _row_items(table: pl.DataFrame, item_col: str | None) -> tuple[pl.DataFrame, str]:
    """The item id column of a table with one row per item (wide and list layouts): the one
    named, else an ``id`` column with distinct values (as denoise reads one), else the 0-based
    row number (added as ``__id``)."""
    if item_col is None:
        item_col = default_id_col(table)[0]
    if item_col is None:
        table = table.with_columns(pl.int_range(pl.len()).cast(pl.String).alias("__id"))
        item_col = "__id"
    return table, item_col


def _one_item_per_row(table: pl.DataFrame, vote_cols: Sequence[str], item_col: str, name: str,
                      text_col: str | None) -> pl.DataFrame:
    """The items of a table with one row per item, without its ``vote_cols``: ``id`` first,
    then the other columns; raises for repeated item ids."""
    item_table = _item_table(table.drop(list(vote_cols)), item_col, name,
                             text_col=text_col if text_col in table.columns else None)
    if item_table.height < table.height:
        ids = _strings(table, item_col, name)
        raise RelabelInputError("duplicate item ids", path=name,
                                rows=_rows(ids.is_duplicated().to_numpy()), column=item_col)
    if item_col != "id":
        item_table = item_table.drop(item_col)
    return item_table.select("id", pl.exclude("id"))


def votes_from_wide(
    table: pl.DataFrame,
    name: str | Path,
    label_cols: Sequence[str],
    *,
    item_col: str | None = None,
    text_col: str | None = "text",
    classes: Sequence[str] | None = None,
    abstain: Sequence[str] = (),
) -> Votes:
    """Votes from a wide table: one row per item, one label column per annotator.

    Parameters
    ----------
    table : polars.DataFrame
        One row per item.
    name : str or Path
        The file, for messages.
    label_cols : sequence of str
        The annotators' columns (the column name is the annotator); null or empty = no vote.
    item_col : str, optional
        The item id column; default ``id`` when the table has one with no empty or repeated
        value (:func:`relabel.data.validation.default_id_col`), else the 0-based row number.
    text_col, classes, abstain
        As in :func:`votes_from_long`.

    Returns
    -------
    Votes
    """
    name = str(name)
    cols = list(label_cols)
    if len(cols) < 1:
        raise RelabelInputError(f"{option('--label-cols')} needs at least one column")
    if len(set(cols)) < len(cols):
        raise RelabelInputError(f"{option('--label-cols')} names a column twice")
    table = expose(table, [*cols, item_col])
    require_columns(table, cols + ([item_col] if item_col else []), path=name,
                    options={item_col: "--item-col"} if item_col else None)
    table, item_col = _row_items(table, item_col)
    long = pl.concat([
        pl.DataFrame({"item": _strings(table, item_col, name), "annotator": [c] * table.height,
                      "label": _strings(table, c, name), "__row": np.arange(table.height),
                      "__col": i})
        for i, c in enumerate(cols)]).sort("__row", "__col")
    long, abstained = _drop_empty(long, abstain)
    found = _check_classes(long["label"], classes, name, cols[0], rows=long["__row"].to_numpy())
    if len(found) < 2 and classes is None:
        raise RelabelInputError(f"need at least two classes, found {len(found)}", path=name)
    return _finish(long.drop("__col"),
                   _one_item_per_row(table, cols, item_col, name, text_col), found, name,
                   abstained)


def _list_cells(table: pl.DataFrame, col: str, name: str) -> list[list[str | None]]:
    """Each row's list of values of ``col``: a list column, or a string holding a JSON list
    (``'["a", "b"]'``) or comma-separated values (``"a,b"``); null = an empty list. Elements
    are read as :func:`_strings` reads a column (``1.0`` is ``"1"``, spaces stripped)."""
    import json

    s = table.get_column(col)
    if isinstance(s.dtype, pl.List | pl.Array):
        inner = s.explode()
        flat = _strings(pl.DataFrame({col: inner}), col, name).to_list()
        lengths = s.list.len().fill_null(0).to_list() if isinstance(s.dtype, pl.List) else \
            [0 if v is None else s.dtype.size for v in s.to_list()]
        out, at = [], 0
        for n, cell in zip(lengths, s.is_null().to_list(), strict=True):
            # explode gives one null for a null or empty list
            out.append([] if cell or n == 0 else flat[at:at + n])
            at += max(n, 1)
        return out
    if s.dtype != pl.String:
        raise RelabelInputError(f"{option('--votes-col')} needs a list of votes per row (a "
                                f"list, or comma-separated text), found {s.dtype}",
                                path=name, column=col)
    out = []
    for i, cell in enumerate(s.to_list()):
        if cell is None or not cell.strip():
            out.append([])
            continue
        text = cell.strip()
        if text.startswith("["):
            try:
                values = json.loads(text)
            except json.JSONDecodeError:
                raise RelabelInputError(f"not a JSON list: {text[:40]!r}", path=name,
                                        rows=[i + 1], column=col) from None
            if not isinstance(values, list) or any(isinstance(v, list | dict) for v in values):
                raise RelabelInputError("expected a flat list of votes", path=name,
                                        rows=[i + 1], column=col)
        else:
            values = text.split(",")
        out.append([None if v is None else
                    (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)).strip()
                    for v in values])
    return out


def votes_from_lists(
    table: pl.DataFrame,
    name: str | Path,
    votes_col: str,
    *,
    annotator_col: str | None = None,
    item_col: str | None = None,
    text_col: str | None = "text",
    classes: Sequence[str] | None = None,
    dedupe: bool = False,
    abstain: Sequence[str] = (),
) -> Votes:
    """Votes from one row per item whose ``votes_col`` lists its votes.

    Parameters
    ----------
    table : polars.DataFrame
        One row per item.
    name : str or Path
        The file, for messages.
    votes_col : str
        The votes of each item: a list column, or text holding a JSON list or comma-separated
        labels (LeWiDi 2023: ``"0,0,1"``). A null or empty vote is a missing vote.
    annotator_col : str, optional
        A column listing who cast each vote, in the same order and of the same length
        (LeWiDi 2023: ``"Ann4,Ann16,Ann2"``). Without it the j-th vote of every item is
        annotator ``vote j``.
    item_col : str, optional
        As in :func:`votes_from_wide`.
    text_col, classes, dedupe, abstain
        As in :func:`votes_from_long`.

    Returns
    -------
    Votes
    """
    name = str(name)
    table = expose(table, [votes_col, annotator_col, item_col, text_col])
    require_columns(table, [votes_col, *(c for c in (annotator_col, item_col) if c)], path=name,
                    options={votes_col: "--votes-col",
                             **({annotator_col: "--annotator-col"} if annotator_col else {}),
                             **({item_col: "--item-col"} if item_col else {})})
    table, item_col = _row_items(table, item_col)
    labels = _list_cells(table, votes_col, name)
    if annotator_col is not None:
        who = _list_cells(table, annotator_col, name)
        bad = np.array([len(a) != len(b) for a, b in zip(labels, who, strict=True)])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise RelabelInputError(
                f"{int(bad.sum())} row(s) list a different number of votes and annotators (row "
                f"{i + 1}: {len(labels[i])} votes, {len(who[i])} annotators)", path=name,
                rows=_rows(bad), column=annotator_col)
    else:
        # the list's positions (a weak-supervision file's label functions), zero-padded so
        # that they sort in order: "vote 02" before "vote 10"
        width = len(str(max((len(v) for v in labels), default=1)))
        who = [[f"vote {j + 1:0{width}d}" for j in range(len(v))] for v in labels]
    ids = _strings(table, item_col, name).to_list()
    row = np.repeat(np.arange(table.height), [len(v) for v in labels])
    flat_who = [a for w in who for a in w]
    empty = np.array([a is None or a == "" for a in flat_who], dtype=bool)
    if empty.any():
        raise RelabelInputError(f"empty {annotator_col}", path=name,
                                rows=sorted({int(r) + 1 for r in row[empty]}),
                                column=annotator_col)
    long = pl.DataFrame({"item": [ids[r] for r in row.tolist()], "annotator": flat_who,
                         "label": [v for vs in labels for v in vs], "__row": row},
                        schema={"item": pl.String, "annotator": pl.String,
                                "label": pl.String, "__row": pl.Int64})
    long, abstained = _drop_empty(long, abstain)
    found = _check_classes(long["label"], classes, name, votes_col,
                           rows=long["__row"].to_numpy())
    if len(found) < 2 and classes is None:
        raise RelabelInputError(f"need at least two classes, found {len(found)}", path=name,
                                column=votes_col)
    long = _dedupe(long, name, "row" if item_col == "__id" else item_col,
                   annotator_col or "vote", dedupe)
    drop = [c for c in (votes_col, annotator_col) if c and c != item_col]
    return _finish(long.drop("__row"),
                   _one_item_per_row(table, drop, item_col, name, text_col), found, name,
                   abstained)


__all__ = ["ANNOTATOR_COL", "ITEM_COL", "LABEL_COL", "Votes", "abstention_hint", "name_classes",
           "votes_from_lists", "votes_from_long", "votes_from_wide"]
