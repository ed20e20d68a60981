"""``relabel noise DATA --to FILE``: a noisy copy of a dataset, the true label kept."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relabel.cli._util import Encoding, app, handle_errors
from relabel.config import DEFAULT_LABEL_COL, DEFAULT_TEXT_COL
from relabel.data.noise import KINDS


@app.command("noise")
@handle_errors
def noise_command(
    data: Annotated[Path, typer.Argument(readable=False, help="Dataset with clean labels.")],
    to: Annotated[Path, typer.Option("--to", readable=False,
                                             help="Noisy copy to write (format from the "
                  "extension).")],
    rate: Annotated[float, typer.Option(help="Fraction of labels to flip, in [0, 1].")] = 0.2,
    kind: Annotated[str, typer.Option(help="Noise: " + ", ".join(KINDS) + ".")] = "uniform",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    text_col: Annotated[str, typer.Option(help="Column holding the text.")] = DEFAULT_TEXT_COL,
    label_col: Annotated[str, typer.Option(help="Column holding the label."
                                           )] = DEFAULT_LABEL_COL,
    true_col: Annotated[str, typer.Option(help="New column for the original label."
                                          )] = "true_label",
    model: Annotated[str | None, typer.Option(help="Encoder for nearest-class noise.")] = None,
    encoding: Encoding = None,
) -> None:
    """Flip a fraction of the labels (keeping the originals), for benchmarks and demos."""
    from relabel.data.noise import write_noisy_copy

    res = write_noisy_copy(data, to, rate=rate, kind=kind, seed=seed, text_col=text_col,
                           label_col=label_col, true_col=true_col, model=model,
                           encoding=encoding)
    typer.echo(f"wrote {res['path']}: {res['flipped']} of {res['rows']} labels flipped "
               f"({kind}, {res['classes']} classes); original labels in '{true_col}'")
