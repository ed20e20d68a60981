"""Every check of user input, each with one clear error naming the file, rows and column.

Row numbers in messages are 1-based data rows (the header of a CSV file is not a row). A
missing column's message, with the column the user likely meant, is
:mod:`relabel.data.column_hints`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import polars as pl

from relabel.config import DEFAULT_LABEL_COL, DEFAULT_TEXT_COL
from relabel.data.column_hints import require_columns, votes_hint
from relabel.data.columns import expose
from relabel.data.io import blank_rows
from relabel.errors import Problems, RelabelInputError, option

#: texts longer than this many characters get a warning (the encoder keeps --max-length tokens)
LONG_TEXT_CHARS = 20_000
#: from this many rows, a label column with more distinct values than half the rows is refused:
#: it is a text or id column (every neighbour vote and class statistic needs classes with
#: several examples, and the (N, K) posteriors would grow with N squared)
MANY_CLASSES_MIN_ROWS = 50


#: the column used as the ids when ``--id-col`` is not given, if the input has it
DEFAULT_ID_COL = "id"


def default_id_col(table: pl.DataFrame) -> tuple[str | None, str | None]:
    """The id column to use when none is named: ``id`` when ``table`` has one whose values are
    all present and distinct (what a column of that name almost always is), else None (ids
    are the 0-based row numbers). The second value is a warning when an ``id`` column exists
    but cannot serve (nulls, repeats, or nested values)."""
    if DEFAULT_ID_COL not in table.columns:
        return None, None
    column = table.get_column(DEFAULT_ID_COL)
    if column.dtype.is_nested():
        why = "holds nested values"
    elif column.null_count():
        why = f"has {column.null_count()} empty value(s)"
    elif column.cast(pl.String).n_unique() < table.height:
        why = "repeats values"
    else:
        return DEFAULT_ID_COL, None
    return None, (f"column '{DEFAULT_ID_COL}' {why}, so the ids are the row numbers (0-based); "
                  f"name an id column with {option('--id-col')}")


def ids_as_numbers_hint(unknown: pl.Series, known: pl.Series) -> str:
    """Where every id of ``unknown`` (ids that matched nothing) is one of ``known`` written as
    another number (a spreadsheet saved id 1 as ``1.0``), a clause naming the first one's
    known spelling, for the error that lists them; else nothing."""
    def number(ids: pl.Series) -> pl.Series:
        return ids.cast(pl.String).cast(pl.Float64, strict=False)

    as_numbers, known_numbers = number(unknown), number(known)
    if not len(unknown) or as_numbers.null_count() \
            or not as_numbers.is_in(known_numbers.drop_nulls().implode()).all():
        return ""
    same = known.filter(known_numbers == as_numbers[0])[0]
    return (f", which is '{same}' written as another number: the two files write their ids "
            "differently; save them the same way")


def _as_string(table: pl.DataFrame, col: str, *, path: str | Path,
               label: bool = False) -> pl.Series:
    """``col`` as strings; one-line errors for nested values (``label``: it is the label
    column, where a list means several labels per example)."""
    series = table.get_column(col)
    if series.dtype == pl.String:
        return series
    if label and isinstance(series.dtype, (pl.List, pl.Array)):
        raise RelabelInputError("values are lists: several labels per example (multi-label "
                                "data) are not supported; give each example one label (or, "
                                "if each list holds several annotators' votes on one label, "
                                f"pass {option('--votes-col', col)})",
                                path=path, column=col)
    if isinstance(series.dtype, pl.Struct):  # nested records: name one field
        fields = ", ".join(f"{col}.{f.name}" for f in series.dtype.fields[:8])
        raise RelabelInputError(f"values are records; name one of their fields ({fields})",
                                path=path, column=col)
    if isinstance(series.dtype, (pl.List, pl.Array)) and series.dtype.inner == pl.String:
        raise RelabelInputError("values are lists of strings; join each list into one string "
                                "first (e.g. the turns of a dialogue, with newlines)",
                                path=path, column=col)
    if series.dtype.is_nested() or series.dtype == pl.Binary:
        raise RelabelInputError(
            f"values must be strings or numbers, found {series.dtype}", path=path, column=col
        )
    if label and series.dtype.is_float():
        # integer codes in a float column (pandas makes one of an int column with a missing
        # value): class 4, not "4.0"; apply and export cast them back to the column's floats
        whole = series.drop_nulls().drop_nans()
        if (whole.len() and (whole == whole.round(0)).all()
                and cast(float, whole.abs().max()) < 2 ** 53):
            return series.fill_nan(None).cast(pl.Int64).cast(pl.String)
    return series.cast(pl.String, strict=False)


def build_examples(
    table: pl.DataFrame,
    *,
    path: str | Path,
    text_col: str = DEFAULT_TEXT_COL,
    label_col: str = DEFAULT_LABEL_COL,
    id_col: str | None = None,
    drop_invalid: bool = False,
    extra_cols: tuple[str, ...] = (),
    problems: Problems | None = None,
    compare: bool = True,
    label_names: tuple[tuple[str, str], ...] | None = None,
) -> tuple[pl.DataFrame | None, list[str]]:
    """Validate a raw table and return the examples frame relabel works on.

    Parameters
    ----------
    table : pl.DataFrame
        The dataset as read, one row per example.
    path : str or Path
        The file it came from, for error messages.
    text_col, label_col : str
        Columns holding the text and the given label.
    id_col : str, optional
        Column holding a unique example id; default: :func:`default_id_col` (``id`` when it
        can serve, with a warning when it cannot), else the 0-based row number.
    drop_invalid : bool
        Skip rows with a null or empty text or label (with a warning) instead of failing.
    extra_cols : tuple of str
        Further columns to carry into the examples frame unchanged (e.g. entity spans).
    problems : Problems, optional
        Collects every error instead of raising the first (``relabel check``).
    compare : bool
        The labels are compared with each other (denoise, train): at least two classes, and
        not one distinct value per row (an id or text column given as the label). False for a
        test file (``relabel evaluate``), which may hold one class, or a few rows of many.

    Returns
    -------
    examples : pl.DataFrame or None
        Columns ``row`` (0-based input row, int64), ``id``, ``text``, ``label`` (strings) and
        ``extra_cols``, in input order; None when collected errors leave nothing to build.
    warnings : list of str
        Problems that do not stop the run.

    Raises
    ------
    RelabelInputError
        Empty dataset, missing column, null or empty values, duplicate ids, fewer than two classes.
    """
    problems = problems or Problems()
    warnings = problems.warnings
    if table.height == 0:
        problems.error(RelabelInputError("dataset is empty (no rows)", path=path))
        return None, warnings
    table = expose(table, [text_col, label_col, id_col, *extra_cols])  # data.text and the like
    if id_col is None:
        id_col, id_warning = default_id_col(table)
        if id_warning:
            warnings.append(id_warning)
    votes = votes_hint(table) if label_col not in table.columns else None
    if not require_columns(table, [text_col, label_col, *([id_col] if id_col else []),
                                   *extra_cols], path=path, problems=problems,
                           options={text_col: "--text-col", label_col: "--label-col",
                                    **({id_col: "--id-col"} if id_col else {})},
                           also={label_col: votes} if votes else None):
        return None, warnings
    try:
        text = _as_string(table, text_col, path=path)
        raw_label = _as_string(table, label_col, path=path, label=True)
        label = raw_label.str.strip_chars()
        if label_names:
            label = name_labels(label, label_names, path=path, column=label_col)
            raw_label = label
        if id_col:
            ids = _as_string(table, id_col, path=path)
        else:
            ids = pl.int_range(0, table.height, eager=True).cast(pl.String).alias("id")
    except RelabelInputError as err:
        problems.error(err)
        return None, warnings
    examples = pl.DataFrame(
        {
            "row": pl.int_range(0, table.height, eager=True, dtype=pl.Int64),
            "id": ids,
            "text": text,
            "label": label,
        }
    ).hstack(table.select(list(extra_cols)))

    all_rows = examples.get_column("row")
    keep = pl.repeat(True, table.height, eager=True).alias("keep")
    # a row with nothing in any column (a blank line of a spreadsheet between the records) is
    # said as such, not as a null text and a null label
    blank = blank_rows(table)
    if blank.any():
        rows = (all_rows.filter(blank) + 1).to_list()
        if not drop_invalid:
            problems.error(RelabelInputError(
                "empty row (every column blank): delete it, or use "
                f"{option('--drop-invalid', True)} to skip such rows", path=path, rows=rows))
        else:
            warnings.append(f"skipped {len(rows)} empty row(s) (first: "
                            f"{', '.join(map(str, rows[:5]))})")
        keep = keep & ~blank
    for col_name, series, what in ((text_col, text, "text"), (label_col, label, "label")):
        # a whitespace-only value, found without a stripped copy of every text
        bad = (series.is_null() | series.str.contains(r"^\s*$")) & ~blank
        if bad.any():
            rows = (all_rows.filter(bad) + 1).to_list()
            if not drop_invalid:
                problems.error(RelabelInputError(
                    f"null or empty {what} (use {option('--drop-invalid', True)} to skip such "
                    "rows)",
                    path=path, rows=rows, column=col_name,
                ))
            else:
                warnings.append(f"skipped {len(rows)} row(s) with a null or empty {what} "
                                f"(first: {', '.join(map(str, rows[:5]))})")
            keep = keep & ~bad
    # ids are checked over the rows that stay: every row, unless invalid ones are skipped
    if id_col:
        kept = examples.filter(keep) if drop_invalid else examples
        null_id = kept.get_column("id").is_null()
        if null_id.any():
            rows = (kept.get_column("row").filter(null_id) + 1).to_list()
            problems.error(RelabelInputError("null id", path=path, rows=rows, column=id_col))
        dup = kept.get_column("id").is_duplicated() & ~null_id
        if dup.any():
            rows = (kept.get_column("row").filter(dup) + 1).to_list()
            first = kept.get_column("id").filter(dup)[0]
            problems.error(RelabelInputError(f"duplicate ids (e.g. '{first}')", path=path,
                                             rows=rows, column=id_col))
    if not keep.all():  # (a filter copies every column, the texts included)
        examples = examples.filter(keep)
    if examples.height == 0:
        problems.error(RelabelInputError("no valid rows left after skipping invalid ones",
                                         path=path))
        return None, warnings

    counts = examples.get_column("label").value_counts(sort=True)
    if compare and counts.height < 2:
        problems.error(RelabelInputError(
            f"fewer than two classes (found {counts.height}); nothing to compare labels against",
            path=path, column=label_col,
        ))
    if (compare and examples.height >= MANY_CLASSES_MIN_ROWS
            and counts.height > examples.height / 2):
        problems.error(RelabelInputError(
            f"{counts.height} distinct labels in {examples.height} rows, most of them once: "
            "this looks like a text or id column, not labels; choose the label column with "
            f"{option('--label-col')}", path=path, column=label_col))
    if compare and examples.height >= MANY_CLASSES_MIN_ROWS and not extra_cols:
        # (a relation's sentence repeats, once per entity pair)
        _texts_like_labels(examples, counts, path=path, text_col=text_col, problems=problems,
                           warnings=warnings)
    warnings += _near_duplicate_classes(counts)
    warnings += _joined_labels(counts, examples.height)
    warnings += _json_texts(examples, text_col)
    padded = (raw_label != label).fill_null(False)
    if padded.any():
        first = raw_label.filter(padded)[0]
        warnings.append(f"{int(padded.sum())} label(s) have spaces around them (e.g. "
                        f"{first!r}): they are read without them, so {first.strip()!r} and "
                        f"{first!r} are one class, and a label relabel changes is written "
                        "without them")
    singles = counts.filter(pl.col("count") == 1).get_column("label").to_list()
    if singles and compare:
        shown = _listed(singles)
        warnings.append(f"{len(singles)} class(es) with a single example ({shown}): "
                        "their labels can only be judged by their neighbours")
    _text_warnings(examples, warnings)
    return examples, warnings


#: below this share of distinct texts among the rows, the text column is said to repeat
REPEATED_TEXT_SHARE = 0.2


def _texts_like_labels(examples: pl.DataFrame, counts: pl.DataFrame, *, path: str | Path,
                       text_col: str, problems: Problems, warnings: list[str]) -> None:
    """The text column mixed up with a label column: most texts are class names of the labels
    (an error, as a label column of distinct texts is), or few distinct texts, each repeated
    (a warning: duplicates are real in some data)."""
    text = examples.get_column("text")
    named = text.is_in(counts.get_column("label").implode())
    n = examples.height
    if cast(float, named.mean()) >= 0.5:
        problems.error(RelabelInputError(
            f"{int(named.sum())} of {n} texts are class names of the labels: this looks like a "
            f"label column, not texts; choose the text column with {option('--text-col')}",
            path=path,
            column=text_col))
        return
    distinct = text.n_unique()
    if distinct < REPEATED_TEXT_SHARE * n:
        warnings.append(f"only {distinct} distinct texts in {n} rows (each about "
                        f"{n / distinct:.0f} times): is '{text_col}' the text column? choose "
                        f"it with {option('--text-col')}")


def name_labels(codes: pl.Series, label_names: tuple[tuple[str, str], ...], *,
                path: str | Path, column: str) -> pl.Series:
    """``codes`` (strings; ``"1.0"`` reads as ``"1"``) replaced by their names; labels that
    are names already (a ``ClassLabel`` column, read by name) stay. Null stays null.

    Raises
    ------
    RelabelInputError
        A code without a name, with its rows.
    """
    mapping = dict(label_names)
    names = set(mapping.values())
    named = _names_of_codes(codes, mapping)
    known = named.is_not_null() | codes.is_in(list(names)) | codes.is_null()
    if not known.all():
        first = codes.filter(~known)[0]
        shown = ", ".join(list(mapping)[:10]) + (", ..." if len(mapping) > 10 else "")
        raise RelabelInputError(f"label {first!r} has no name in {option('--label-names')} "
                                f"(codes: {shown})",
                                path=path, rows=(np.flatnonzero(~known.to_numpy()) + 1).tolist(),
                                column=column)
    return named.fill_null(codes).alias(codes.name)


def labels_named(labels: pl.Series, label_names: tuple[tuple[str, str], ...] | None
                 ) -> pl.Series:
    """``labels`` as strings with each code replaced by its name, read as
    :func:`name_labels` reads them (``"1.0"`` is ``"1"``), but without raising: a value
    that is no code stays as it is. For comparing a column of codes with class names (the
    audit log of ``export``, the consensus's warnings)."""
    text = labels.cast(pl.String, strict=False)
    if not label_names:
        return text
    return _names_of_codes(text, dict(label_names)).fill_null(text).alias(labels.name)


def _names_of_codes(codes: pl.Series, mapping: dict[str, str]) -> pl.Series:
    """The name of each code of ``codes`` (strings; ``"1.0"`` reads as ``"1"``), null where a
    value is no code."""
    whole = codes.str.replace(r"^(-?\d+)\.0+$", "${1}")
    return whole.replace_strict(mapping, default=None, return_dtype=pl.String)


def _listed(names: list[str], most: int = 5) -> str:
    """The first ``most`` of ``names`` sorted and quoted, and how many more there are."""
    shown = ", ".join(repr(s) for s in sorted(names)[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _near_duplicate_classes(counts: pl.DataFrame) -> list[str]:
    """A warning for class names that differ only in case, spaces, hyphens, underscores or
    Unicode form (``Positive`` / ``positive``, ``card_arrival`` / ``card arrival``, a composed
    and a decomposed ``é``). relabel treats them as different classes, and they are most often
    one class spelled two ways (``counts``: the labels' ``value_counts``)."""
    keyed = counts.with_columns(
        pl.col("label").str.normalize("NFKC").str.to_lowercase()
        .str.replace_all(r"[\s_\-]+", " ").alias("key"))
    groups = (keyed.group_by("key").agg(pl.col("label"), pl.col("count"), pl.len().alias("n"))
              .filter(pl.col("n") > 1).sort("key"))
    if groups.height == 0:
        return []
    shown = "; ".join(
        " / ".join(f"{lab!r} ({c})" for c, lab in sorted(zip(r["count"], r["label"],
                                                              strict=True),
                                                          key=lambda x: (-x[0], x[1])))
        for r in groups.head(5).iter_rows(named=True))
    more = f" and {groups.height - 5} more" if groups.height > 5 else ""
    return [f"{groups.height} class name(s) differ only in case, spaces, '-', '_' or Unicode "
            "form "
            f"({shown}{more}): they are different classes to relabel; unify their spelling if "
            "they are one"]


#: separators of several labels written in one cell ("billing,refund")
LABEL_SEPARATORS = (",", ";", "|")
#: warn when at least this share of the rows (and 3 rows) carry joined labels
JOINED_SHARE = 0.01


def _joined_labels(counts: pl.DataFrame, rows: int) -> list[str]:
    """A warning for multi-label data written as text: labels that are several other labels of
    the same column joined by ``,``, ``;`` or ``|`` (``billing,refund`` where ``billing`` and
    ``refund`` are labels too). relabel reads each such cell as one class of its own; a class
    name with a comma whose parts are not labels (``food, drink``) is left alone."""
    known = set(counts.get_column("label").to_list())
    joined = {}
    for label, n in counts.iter_rows():
        for sep in LABEL_SEPARATORS:
            parts = [p.strip() for p in label.split(sep)]
            if len(parts) > 1 and all(p in known for p in parts):
                joined[label] = (n, sep)
                break
    n_rows = sum(n for n, _ in joined.values())
    if n_rows < max(3, JOINED_SHARE * rows):
        return []
    first = next(iter(joined))
    sep = joined[first][1]
    return [f"{n_rows} row(s) carry several labels joined by '{sep}' (e.g. {first!r}, whose parts "
            "are labels of other rows): relabel reads one label per example, so each such "
            f"combination is a class of its own ({len(joined)} of them); multi-label data is not "
            "supported: give each example its one label, or keep one row per label"]


#: texts read to tell whether a text column holds JSON documents (the first ones: cheap, and the
#: same answer on every run)
JSON_SAMPLE = 200


def _is_json_document(text: str) -> bool:
    """The whole text is a JSON object or array."""
    import json

    s = text.strip()
    if len(s) < 2 or s[0] not in "[{" or s[-1] not in "]}":
        return False
    try:
        return isinstance(json.loads(s), (dict, list))
    except ValueError:
        return False


def _json_texts(examples: pl.DataFrame, text_col: str) -> list[str]:
    """A warning when most texts are JSON objects or arrays (a conversation or a record
    serialised into the text column): the encoder reads each whole, keys included, and a label
    that judges one part of it is compared with all of it. On LeWiDi's ConvAbuse, whose label
    judges the user's last turn of a conversation and whose text is the whole conversation as
    JSON, relabel changed unanimous labels because an earlier turn was abusive
    (bench/RESULTS.md, "Subjective tasks")."""
    texts = examples.get_column("text").head(JSON_SAMPLE).to_list()
    found = [t for t in texts if _is_json_document(t)]  # (null texts were left out above)
    if not found or 2 * len(found) <= len(texts):
        return []
    shown = found[0].strip()
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return [f"{len(found)} of the first {len(texts)} texts in column '{text_col}' are JSON "
            f"documents (e.g. {shown!r}): the encoder reads each one whole, keys included; if "
            "the label judges one part of it (a conversation's last turn, say), put that part "
            f"in a column of its own and choose it with {option('--text-col')}"]


def few_per_fold_warning(examples: pl.DataFrame, folds: int) -> list[str]:
    """A warning for classes with 2 to ``folds - 1`` examples: cross-validation cannot give
    each fold one of them (singletons have their own warning)."""
    counts = examples.get_column("label").value_counts()
    few = counts.filter((pl.col("count") > 1) & (pl.col("count") < folds))
    if few.height == 0:
        return []
    shown = _listed(few.get_column("label").to_list())
    return [f"{few.height} class(es) with fewer than {folds} examples ({shown}): the corrector's "
            f"{folds}-fold cross-validation leaves them out of some folds"]


def _rows_note(rows: pl.Series) -> str:
    shown = ", ".join(str(r + 1) for r in rows.head(5).to_list())
    return f"row {shown}" if len(rows) == 1 else f"rows {shown}" + (
        f" and {len(rows) - 5} more" if len(rows) > 5 else "")


def _text_warnings(examples: pl.DataFrame, warnings: list[str]) -> None:
    """Texts that will not encode as the user may expect: very long ones (truncated) and ones
    holding U+FFFD replacement characters or NUL bytes (an encoding problem upstream)."""
    text = examples.get_column("text")
    rows = examples.get_column("row")
    long = text.str.len_chars() > LONG_TEXT_CHARS
    if long.any():
        warnings.append(f"{int(long.sum())} text(s) longer than {LONG_TEXT_CHARS:,} characters "
                        f"({_rows_note(rows.filter(long))}): only the first "
                        f"{option('--max-length')} tokens are encoded")
    odd = text.str.contains("\ufffd|\x00")
    if odd.any():
        warnings.append(f"{int(odd.sum())} text(s) with U+FFFD replacement characters or NUL "
                        f"bytes ({_rows_note(rows.filter(odd))}): was the file converted from "
                        "another encoding?")
