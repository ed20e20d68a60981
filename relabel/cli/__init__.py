"""Command-line interface: one command per module, each a thin wrapper over one library call."""

from __future__ import annotations

from relabel.cli import denoise, export, noise, report  # noqa: F401  (registers the commands)
from relabel.cli._util import app


def main() -> None:
    """Entry point of the ``relabel`` console script."""
    app()


__all__ = ["app", "main"]
