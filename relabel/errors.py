"""Errors raised by the library. Only the CLI turns them into messages and exit codes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

#: how messages name options: "python" (keywords, the default: the library is called from
#: Python) or "cli" (set by the command line for the duration of each command)
_OPTION_STYLE: ContextVar[str] = ContextVar("relabel_option_style", default="python")


@contextmanager
def cli_options() -> Iterator[None]:
    """Messages made inside this block name options as the command line spells them."""
    token = _OPTION_STYLE.set("cli")
    try:
        yield
    finally:
        _OPTION_STYLE.reset(token)


def on_command_line() -> bool:
    """Whether messages are being made for the command line (see :func:`cli_options`)."""
    return _OPTION_STYLE.get() == "cli"


def option(name: str, value: object = None) -> str:
    """An option as a message names it to the user who will type it.

    ``name`` is the command-line spelling (``"--text-col"``). On the command line (inside
    :func:`cli_options`) it is ``--text-col sentence``; from Python it is the keyword of the
    same name, ``text_col='sentence'``. ``value`` True marks a flag (``--drop-invalid``,
    ``drop_invalid=True``); an upper-case placeholder (``DIR``) stays bare; None names the
    option alone (``--text-col`` / ``text_col``).
    """
    if on_command_line():
        return name if value is None or value is True else f"{name} {value}"
    key = name.lstrip("-").replace("-", "_")
    if value is None:
        return key
    if isinstance(value, str) and not (value.isupper() and value.isalpha()):
        return f"{key}={value!r}"
    return f"{key}={value}"


class RelabelError(Exception):
    """Base class for every error relabel raises on purpose (bad input, bad state)."""


class RelabelWarning(UserWarning):
    """What the Python API says without stopping (the CLI prints the same as ``warning:``
    lines): e.g. signals that cannot separate the classes."""


class RelabelInputError(RelabelError, ValueError):
    """Bad user input, with the place it was found.

    Parameters
    ----------
    message : str
        What is wrong, in one line.
    path : str or Path, optional
        The file the problem is in.
    rows : sequence of int, optional
        1-based data row numbers (the header is not a row); at most the first few are shown.
    column : str, optional
        The column the problem is in.
    """

    max_rows_shown = 5

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        rows: Sequence[int] | None = None,
        column: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.rows = list(rows) if rows is not None else []
        self.column = column
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[: self.max_rows_shown])
            more = len(self.rows) - self.max_rows_shown
            noun = "row" if len(self.rows) == 1 else "rows"
            where.append(f"{noun} {shown}" + (f" (and {more} more)" if more > 0 else ""))
        if self.column is not None:
            where.append(f"column '{self.column}'")
        prefix = ": ".join([", ".join(where)]) if where else ""
        return f"{prefix}: {self.message}" if prefix else self.message


class Problems:
    """Where the input checks put what they find.

    By default (``denoise``) the first error is raised at once. With ``collect=True``
    (``relabel check``) every error is recorded and the checks go on as far as they can, so the
    user sees every problem of a file in one pass. Warnings never stop anything.
    """

    def __init__(self, collect: bool = False) -> None:
        self.collect = collect
        self.errors: list[RelabelInputError] = []
        self.warnings: list[str] = []

    def error(self, err: RelabelInputError) -> None:
        if not self.collect:
            raise err
        self.errors.append(err)


def unexpected_option(function: str, key: str, known: Iterable[str]) -> TypeError:
    """The TypeError for a keyword ``function`` does not take, naming the closest of ``known``
    (``denoise() got an unexpected option 'corector'; did you mean 'corrector'?``)."""
    import difflib

    near = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return TypeError(f"{function}() got an unexpected option {key!r}{hint}")
