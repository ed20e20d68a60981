"""Every check of user input, each with one clear error naming the file, rows and column.

Row numbers in messages are 1-based data rows (the header of a CSV file is not a row).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from relabel.errors import RelabelInputError

#: default column names, shared by the CLI and the library
DEFAULT_TEXT_COL = "text"
DEFAULT_LABEL_COL = "label"


def require_columns(table: pl.DataFrame, columns: list[str], *, path: str | Path) -> None:
    """Raise if any of ``columns`` is missing from ``table``, listing the available ones."""
    available = ", ".join(table.columns) if table.columns else "none"
    for col in columns:
        if col not in table.columns:
            raise RelabelInputError(
                f"no column '{col}' (available: {available}); choose one with the matching --*-col "
                "option",
                path=path,
            )


def _as_string(table: pl.DataFrame, col: str, *, path: str | Path) -> pl.Series:
    series = table.get_column(col)
    if series.dtype == pl.String:
        return series
    if series.dtype.is_nested() or series.dtype == pl.Binary:
        raise RelabelInputError(
            f"values must be strings or numbers, found {series.dtype}", path=path, column=col
        )
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
) -> tuple[pl.DataFrame, list[str]]:
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
        Column holding a unique example id; default: the 0-based row number.
    drop_invalid : bool
        Skip rows with a null or empty text or label (with a warning) instead of failing.
    extra_cols : tuple of str
        Further columns to carry into the examples frame unchanged (e.g. entity spans).

    Returns
    -------
    examples : pl.DataFrame
        Columns ``row`` (0-based input row, int64), ``id``, ``text``, ``label`` (strings) and
        ``extra_cols``, in input order.
    warnings : list of str
        Problems that do not stop the run.

    Raises
    ------
    RelabelInputError
        Empty dataset, missing column, null or empty values, duplicate ids, fewer than two classes.
    """
    warnings: list[str] = []
    if table.height == 0:
        raise RelabelInputError("dataset is empty (no rows)", path=path)
    require_columns(table, [text_col, label_col, *([id_col] if id_col else []), *extra_cols],
                    path=path)

    text = _as_string(table, text_col, path=path)
    label = _as_string(table, label_col, path=path).str.strip_chars()
    if id_col:
        ids = _as_string(table, id_col, path=path)
    else:
        ids = pl.Series("id", [str(i) for i in range(table.height)], dtype=pl.String)
    examples = pl.DataFrame(
        {
            "row": pl.int_range(0, table.height, eager=True, dtype=pl.Int64),
            "id": ids,
            "text": text,
            "label": label,
        }
    ).hstack(table.select(list(extra_cols)))

    all_rows = examples.get_column("row")
    keep = pl.Series("keep", [True] * table.height)
    for col_name, series, what in ((text_col, text, "text"), (label_col, label, "label")):
        bad = series.is_null() | (series.str.strip_chars().str.len_chars() == 0)
        if bad.any():
            rows = (all_rows.filter(bad) + 1).to_list()
            if not drop_invalid:
                raise RelabelInputError(
                    f"null or empty {what} (use --drop-invalid to skip such rows)",
                    path=path, rows=rows, column=col_name,
                )
            warnings.append(f"skipped {len(rows)} row(s) with a null or empty {what} "
                            f"(first: {', '.join(map(str, rows[:5]))})")
            keep = keep & ~bad
    examples = examples.filter(keep)
    if examples.height == 0:
        raise RelabelInputError("no valid rows left after skipping invalid ones", path=path)

    if id_col:
        null_id = examples.get_column("id").is_null()
        if null_id.any():
            rows = (examples.get_column("row").filter(null_id) + 1).to_list()
            raise RelabelInputError("null id", path=path, rows=rows, column=id_col)
        dup = examples.get_column("id").is_duplicated()
        if dup.any():
            rows = (examples.get_column("row").filter(dup) + 1).to_list()
            first = examples.get_column("id").filter(dup)[0]
            raise RelabelInputError(f"duplicate ids (e.g. '{first}')", path=path, rows=rows,
                                    column=id_col)

    counts = examples.get_column("label").value_counts(sort=True)
    if counts.height < 2:
        raise RelabelInputError(
            f"fewer than two classes (found {counts.height}); nothing to compare labels against",
            path=path, column=label_col,
        )
    singles = counts.filter(pl.col("count") == 1).get_column("label").to_list()
    if singles:
        shown = ", ".join(repr(s) for s in sorted(singles)[:5])
        warnings.append(f"{len(singles)} class(es) with a single example ({shown}): "
                        "their labels can only be judged by their neighbours")
    return examples, warnings
