"""Columns named by a dotted path into nested records: ``--text-col data.text`` reads the field
``text`` of the struct column ``data``, as JSON Lines exports (Label Studio's ``data``, Prodigy's
``meta``), nested Parquet and ``datasets`` features hold them.

A name is first looked up as it is: a top-level column called ``data.text`` (WRENCH's keyed JSON
is read that way, :mod:`relabel.data.io`) wins over a nested field. Only struct fields are
followed; a list on the way (``annotations.0.label``) is not a path this module follows.
:func:`expose` adds the fields asked for as top-level columns of that name, for reading;
:func:`assign` writes a column back, into its struct where the name is a nested path, so that
an export keeps the input's layout.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import polars as pl


def nested_path(table: pl.DataFrame, name: str) -> list[str] | None:
    """The struct path ``[column, field, ...]`` that ``name`` names in ``table``, or None where
    ``name`` is a top-level column or no such nested field exists."""
    if name in table.columns or "." not in name:
        return None
    parts = name.split(".")
    # the longest top-level prefix that is a column ("a.b" may itself be a column name)
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head in table.columns:
            dtype = table.schema[head]
            rest = parts[cut:]
            if _has_fields(dtype, rest):
                return [head, *rest]
    return None


def _has_fields(dtype: Any, fields: list[str]) -> bool:
    for name in fields:
        if not isinstance(dtype, pl.Struct):
            return False
        inner = {f.name: f.dtype for f in dtype.fields}
        if name not in inner:
            return False
        dtype = inner[name]
    return True


def _field_expr(path: list[str]) -> pl.Expr:
    expr = pl.col(path[0])
    for name in path[1:]:
        expr = expr.struct.field(name)
    return expr


def expose(table: pl.DataFrame, names: Iterable[str | None]) -> pl.DataFrame:
    """``table`` with each of ``names`` that is a nested field (:func:`nested_path`) added as a
    top-level column of that name; names that are columns, or name nothing, are left for the
    caller's checks to report."""
    exprs = []
    for name in dict.fromkeys(n for n in names if n):
        path = nested_path(table, name)
        if path is not None:
            exprs.append(_field_expr(path).alias(name))
    return table.with_columns(exprs) if exprs else table


def _with_field(struct: pl.Expr, path: list[str], value: pl.Expr, dtype: pl.DataType
                ) -> pl.Expr:
    """``struct`` (of ``dtype``) with the field at ``path`` replaced by ``value``, rebuilt level
    by level so that every other field keeps its place and type."""
    assert isinstance(dtype, pl.Struct)
    inner = {f.name: f.dtype for f in dtype.fields}
    head, rest = path[0], path[1:]
    new = value if not rest else _with_field(struct.struct.field(head), rest, value,
                                             cast(pl.DataType, inner[head]))
    return pl.struct([new.alias(f.name) if f.name == head
                      else struct.struct.field(f.name).alias(f.name) for f in dtype.fields])


def assign(table: pl.DataFrame, name: str, values: pl.Series) -> pl.DataFrame:
    """``table`` with column ``name`` set to ``values``: a top-level column, or the nested
    field it names (:func:`nested_path`) inside its struct, which keeps every other field.
    Rows where the struct itself is null stay null."""
    path = nested_path(table, name)
    if path is None:
        return table.with_columns(values.alias(name))
    top = path[0]
    value = pl.lit(values.alias("__value"))
    rebuilt = _with_field(pl.col(top), path[1:], value, table.schema[top])
    return table.with_columns(
        pl.when(pl.col(top).is_null()).then(None).otherwise(rebuilt).alias(top))


def labels_as(labels: pl.Series, dtype: pl.DataType) -> pl.Series:
    """``labels`` (strings, as relabel names classes) in the label column's own type ``dtype``
    where every value fits it, else as they are. Booleans are read as ``"true"``/``"false"``,
    which polars does not cast back to Boolean, so they are mapped."""
    try:
        if dtype == pl.Boolean:
            return labels.replace_strict({"true": True, "false": False}, return_dtype=pl.Boolean)
        return labels.cast(dtype, strict=True)
    except Exception:  # labels of another type than the suggestions: keep them as strings
        return labels


__all__ = ["assign", "expose", "labels_as", "nested_path"]
