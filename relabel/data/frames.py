"""In-memory inputs of the Python API: polars and pandas DataFrames, Hugging Face ``Dataset``s,
pyarrow Tables, lists of dicts (records) and dicts of columns (``{"text": [...], "label":
[...]}``, what ``Dataset[:]`` returns), read as polars frames, and written back in their own type.

:func:`to_polars` keeps the row order (row i of the frame = row i of the input; a pandas index is
ignored). :func:`like_input` rebuilds the input's type from the original object and the new labels,
so every other column, dtype, index and feature passes through untouched. pandas and ``datasets``
are imported only when such an object is passed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from relabel.errors import RelabelInputError

#: the names the API gives each kind of input (``RunRecord.source_type``)
SOURCE_TYPES = ("file", "polars", "pandas", "hf_dataset", "arrow", "records", "columns")
_ACCEPTED = ("a file path, a polars or pandas DataFrame, a datasets.Dataset, a pyarrow Table, a "
             "list of dicts or a dict of columns")


def source_type(data: Any) -> str:
    """What kind of input ``data`` is; RelabelInputError for anything relabel cannot read."""
    if isinstance(data, (str, Path)):
        return "file"
    if isinstance(data, pl.DataFrame):
        return "polars"
    if isinstance(data, pl.LazyFrame):
        raise RelabelInputError("data is a polars LazyFrame; pass .collect() of it", path="data")
    mod = type(data).__module__.split(".")[0]
    name = type(data).__name__
    if mod == "pandas" and name == "DataFrame":
        return "pandas"
    if mod == "datasets" and name == "Dataset":
        return "hf_dataset"
    if mod == "datasets" and name in ("DatasetDict", "IterableDataset", "IterableDatasetDict"):
        hint = ("pick one split, e.g. data['train']" if name.endswith("Dict")
                else "materialise it first (Dataset.from_generator or .take)")
        raise RelabelInputError(f"data is a datasets.{name}; {hint}", path="data")
    if mod == "pyarrow" and name == "Table":
        return "arrow"
    if isinstance(data, Mapping):
        return _columns_kind(data)
    if isinstance(data, Sequence) and not isinstance(data, (bytes, bytearray, str)):
        if len(data) and all(isinstance(r, Mapping) for r in data):
            return "records"
        if not len(data):
            raise RelabelInputError("data is an empty list", path="data")
        if all(isinstance(r, str) for r in data):
            raise RelabelInputError("data is a list of texts without their labels: pass both as "
                                    "columns, {'text': texts, 'label': labels}", path="data")
        if all(isinstance(r, (tuple, list)) and len(r) == 2 for r in data):
            raise RelabelInputError("data is a list of pairs: pass them as columns, "
                                    "{'text': [t for t, _ in pairs], 'label': [y for _, y in "
                                    "pairs]}, or as records, [{'text': t, 'label': y}, ...]",
                                    path="data")
    raise RelabelInputError(f"cannot read data of type {type(data).__module__}.{name}: pass "
                            f"{_ACCEPTED}", path="data")


def _columns_kind(data: Mapping[Any, Any]) -> str:
    """``columns`` for a dict of equally long columns (lists, tuples, numpy arrays, pandas
    Series), else a one-line error saying what is wrong."""
    if not data:
        raise RelabelInputError("data is an empty dict", path="data")
    lengths = {}
    for key, col in data.items():
        if isinstance(col, (str, bytes)) or not hasattr(col, "__len__"):
            raise RelabelInputError(f"a dict of columns needs a list or array per column; "
                                    f"{key!r} holds a {type(col).__name__}", path="data",
                                    column=str(key))
        lengths[str(key)] = len(col)
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k} {n}" for k, n in list(lengths.items())[:6])
        raise RelabelInputError(f"the columns have different lengths ({shown})", path="data")
    return "columns"


def describe(kind: str) -> str:
    """The name of an in-memory input in error messages (where a file's path would stand)."""
    return {"polars": "polars DataFrame", "pandas": "pandas DataFrame",
            "hf_dataset": "datasets.Dataset", "arrow": "pyarrow Table",
            "records": "list of dicts", "columns": "dict of columns"}.get(kind, "data")


def to_polars(data: Any, kind: str | None = None) -> pl.DataFrame:
    """An in-memory input as a polars frame, row i = input row i.

    Raises
    ------
    RelabelInputError
        A type relabel cannot read, or values polars cannot hold in one column type.
    """
    kind = kind or source_type(data)
    where = describe(kind)
    try:
        if kind == "polars":
            return data
        if kind == "pandas":
            dupes = sorted({str(c) for c in data.columns if list(data.columns).count(c) > 1})
            if dupes:
                raise RelabelInputError(f"column names repeat: {', '.join(dupes)}", path=where)
            # a named index (``df.set_index("qid")``) is a column of the data, as pandas
            # itself writes it (``to_csv``); an unnamed one is row positions
            frame = data.reset_index(drop=pandas_index_name(data) is None)
            frame.columns = [str(c) for c in frame.columns]
            try:
                return pl.from_pandas(frame)
            except Exception:
                _mixed_column(frame, where)  # names the column and row when that is the cause
                raise
        if kind == "hf_dataset":
            return hf_frame(data)
        if kind == "arrow":
            frame = pl.from_arrow(data)
            assert isinstance(frame, pl.DataFrame)
            return frame
        if kind == "records":
            return pl.DataFrame(list(data), infer_schema_length=None)
        if kind == "columns":
            return pl.DataFrame({str(k): _column_values(v) for k, v in data.items()},
                                strict=False)
    except RelabelInputError:
        raise
    except Exception as exc:  # mixed types in a column and the like
        msg = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise RelabelInputError(f"cannot read it as a table ({msg})", path=where) from None
    raise ValueError(f"not an in-memory input kind: {kind}")


def pandas_index_name(frame: Any) -> str | None:
    """The name of a pandas frame's index when it is a column of the data: one level, named,
    the name not also a column; None otherwise (an unnamed index holds row positions)."""
    index = frame.index
    name = index.name
    if getattr(index, "nlevels", 1) != 1 or name is None or name in frame.columns:
        return None
    return str(name)


def _column_values(col: Any) -> Any:
    """One column of a dict of columns as polars takes it: numpy arrays and pandas Series as
    they are (their dtype kept), anything else as a list."""
    if isinstance(col, np.ndarray) or type(col).__name__ == "Series":
        return col
    return list(col)


def _take_column(col: Any, rows: list[int], values: list[Any] | None = None) -> Any:
    """``col`` (a column of a dict of columns) at ``rows``, in its own type; with ``values``,
    those instead (the new labels), cast back to the column's dtype where it can hold them."""
    if isinstance(col, np.ndarray):
        if values is None:
            return col[rows]
        if col.dtype.kind in "US":  # fixed-width text: a longer new label must not be cut
            return np.asarray(values, dtype=col.dtype.kind)
        try:
            return np.asarray(values, dtype=col.dtype)
        except (TypeError, ValueError):  # new labels the old dtype cannot hold
            return np.asarray(values, dtype=object)
    if type(col).__name__ == "Series":
        out = col.iloc[rows].copy()
        if values is not None:
            try:
                out = type(col)(values, index=out.index, name=col.name).astype(col.dtype)
            except (TypeError, ValueError):
                out = type(col)(values, index=out.index, name=col.name)
        return out
    picked = [col[i] for i in rows] if values is None else list(values)
    return tuple(picked) if isinstance(col, tuple) else picked


def _mixed_column(frame: Any, where: str) -> None:
    """Raise a one-line RelabelInputError naming the first ``object`` column of the pandas
    ``frame`` whose values are of more than one type (``"5"`` and ``5``), and its first row of
    a second type; return when there is none."""
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object:
            continue
        kinds = column.dropna().map(type)
        if kinds.nunique() < 2:
            continue
        first = kinds.iloc[0]
        odd = int(np.flatnonzero((kinds != first).to_numpy())[0])
        row = int(frame.index.get_loc(kinds.index[odd])) + 1
        raise RelabelInputError(
            f"values of more than one type in one column ({first.__name__} and "
            f"{kinds.iloc[odd].__name__}); make them one type, e.g. "
            f"df[{name!r}] = df[{name!r}].astype(str)", path=where, rows=[row], column=name)


def hf_frame(ds: Any) -> pl.DataFrame:
    """A ``datasets.Dataset`` as a polars frame, row i = ``ds[i]``.

    The dataset's indices mapping is applied: after ``select``, ``filter``, ``shuffle`` or
    ``train_test_split`` a dataset is a view of a larger table (``ds.data``), and reading that
    table read rows the user had left out. Each top-level ``ClassLabel`` column holds its class
    names instead of their integer codes (a code that names no class, such as the ``-1`` of an
    unlabelled example, becomes null), so that relabel reports, reviews and suggests names;
    :func:`like_input` and an export to a dataset directory turn them back into codes.
    """
    frame = pl.from_arrow(ds.with_format("arrow")[:])
    assert isinstance(frame, pl.DataFrame)
    names = {col: n for col, n in hf_class_labels(ds).items() if col in frame.columns}
    return frame.with_columns(
        pl.col(col).replace_strict(dict(enumerate(n)), default=None, return_dtype=pl.String)
        for col, n in names.items())


def hf_class_labels(ds: Any) -> dict[str, list[str]]:
    """The class names of each top-level ``ClassLabel`` column of a ``datasets.Dataset``."""
    import datasets

    return {col: list(feature.names) for col, feature in ds.features.items()
            if isinstance(feature, datasets.ClassLabel)}


def like_input(original: Any, kind: str, cleaned: pl.DataFrame, label_col: str,
               kept_rows: list[int]) -> Any:
    """The cleaned data in the type of ``original``.

    Parameters
    ----------
    original : object
        What the user passed (a polars or pandas DataFrame, a ``datasets.Dataset``, a pyarrow
        Table, a list of dicts, a dict of columns); None for a file input (the cleaned polars
        frame is returned).
    kind : str
        Its :func:`source_type`.
    cleaned : polars.DataFrame
        The input as a polars frame with the new labels, dropped rows removed.
    label_col : str
        The label column (or a dotted path into nested records, whose top-level column is
        then replaced by ``cleaned``'s).
    kept_rows : list of int
        Input rows (0-based) still in ``cleaned``, in order.

    Returns
    -------
    object
        Same type and columns as ``original``: only the label column's values change, and rows
        are removed only where ``kept_rows`` leaves them out. An ``original`` without the label
        column (several annotators' votes, one row per item) gets it as its last column.
    """
    if original is None or kind in ("file", "polars"):
        return cleaned
    from relabel.data.columns import nested_path

    path = nested_path(cleaned.head(0), label_col)
    if path is not None:  # a nested label: its whole top-level record column is replaced
        label_col = path[0]
    labels = cleaned[label_col].to_list()
    if kind == "pandas":
        out = original.iloc[kept_rows].copy()
        if label_col not in out.columns:
            out[label_col] = labels
            return out
        col = out[label_col]
        try:
            out[label_col] = type(col)(labels, index=out.index).astype(col.dtype)
        except (TypeError, ValueError):  # new labels that the old dtype cannot hold
            out[label_col] = type(col)(labels, index=out.index)
        return out
    if kind == "hf_dataset":
        ds = original.select(kept_rows) if len(kept_rows) != len(original) else original
        if label_col not in ds.column_names:
            return ds.add_column(label_col, labels)
        feature = ds.features[label_col]
        ds = ds.remove_columns(label_col).add_column(label_col, labels)
        try:  # a ClassLabel column was read as its names (hf_frame): back to its codes
            ds = ds.cast_column(label_col, feature)
        except (TypeError, ValueError):
            pass
        return ds.select_columns(list(original.column_names))
    if kind == "arrow":
        import pyarrow as pa

        out = original.take(pa.array(kept_rows, type=pa.int64()))
        index = out.schema.get_field_index(label_col)
        column = pl.Series(label_col, labels).to_arrow()
        if index < 0:
            return out.append_column(label_col, column)
        try:
            column = column.cast(out.schema.field(index).type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a new label the type cannot hold
            pass
        return out.set_column(index, out.schema.field(index).with_type(column.type), column)
    if kind == "records":
        return [{**original[i], label_col: lab} for i, lab in zip(kept_rows, labels, strict=True)]
    if kind == "columns":
        out = {key: _take_column(col, kept_rows, labels if str(key) == label_col else None)
               for key, col in original.items()}
        if label_col not in {str(key) for key in original}:
            out[label_col] = labels
        return out
    raise ValueError(f"not an input kind: {kind}")


__all__ = ["SOURCE_TYPES", "describe", "hf_class_labels", "hf_frame", "like_input",
           "source_type", "to_polars"]
