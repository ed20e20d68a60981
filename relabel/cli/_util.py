"""The typer app shared by every command, and the one place errors become exit codes."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from relabel.errors import RelabelError

app = typer.Typer(
    name="relabel",
    help="Find and fix wrong labels in annotated datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: ``relabel review push|pull``: human review in Label Studio
review_app = typer.Typer(
    name="review",
    help="Human review in Label Studio: push suggestions, pull decisions. The server and key "
         "come from LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY (or ~/.config/relabel/config.toml).",
    no_args_is_help=True,
)
app.add_typer(review_app, name="review")

F = TypeVar("F", bound=Callable[..., Any])

#: exit code for bad input (same as a usage error)
EXIT_BAD_INPUT = 2


class _StderrHandler(logging.Handler):
    """Writes ``warning: ...`` lines to whatever ``sys.stderr`` is at the time of the call."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(f"{record.levelname.lower()}: {record.getMessage()}\n")


def setup_logging() -> None:
    """Send the library's warnings to stderr as ``warning: ...`` lines."""
    log = logging.getLogger("relabel")
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        log.addHandler(_StderrHandler())
    log.setLevel(logging.WARNING)
    log.propagate = False


def handle_errors(func: F) -> F:
    """Turn library errors into a one-line message on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        setup_logging()
        try:
            return func(*args, **kwargs)
        except RelabelError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except KeyboardInterrupt:
            typer.echo("interrupted; re-run the same command to resume", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
