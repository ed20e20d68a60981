"""Command-line interface: one command per module, each a thin wrapper over one library call."""

from __future__ import annotations

from relabel.cli import (  # noqa: F401  (registers the commands)
    check,
    consensus,
    denoise,
    evaluate,
    export,
    noise,
    report,
    retrain,
    review_next,
    review_pull,
    review_push,
    review_status,
    train,
)
from relabel.cli._util import app, review_app, unwrap_help

unwrap_help(app, review_app)


def main() -> None:
    """Entry point of the ``relabel`` console script."""
    app()


__all__ = ["app", "main"]
