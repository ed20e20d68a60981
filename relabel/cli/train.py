"""``relabel train DATA --out MODEL_DIR``: train a text classifier (the retrain step)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relabel.cli._util import Encoding, LabelNames, app, handle_errors
from relabel.config import DEFAULT_LABEL_COL, DEFAULT_TEXT_COL


@app.command("train")
@handle_errors
def train_command(
    data: Annotated[Path, typer.Argument(readable=False,
                                         help="Labelled dataset (any format `denoise` reads).")],
    out: Annotated[Path, typer.Option("--out", "-o", readable=False,
                                                     help="Model directory to write.")],
    model: Annotated[str | None, typer.Option(help="Base encoder (default: the packaged "
                     "all-MiniLM-L6-v2).")] = None,
    head_only: Annotated[bool, typer.Option("--head-only", help="Train a head on frozen "
                         "embeddings instead of fine-tuning the encoder.")] = False,
    epochs: Annotated[int | None, typer.Option(help="Epochs (default: head 30, finetune 4)."
                      )] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate (default: head 3e-3, "
                  "finetune 5e-5).")] = None,
    max_length: Annotated[int, typer.Option(min=8, help="Tokens kept per text.")] = 128,
    text_col: Annotated[str, typer.Option(help="Column holding the text.")] = DEFAULT_TEXT_COL,
    label_col: Annotated[str, typer.Option(help="Column holding the label."
                                           )] = DEFAULT_LABEL_COL,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    label_names: LabelNames = None,
    encoding: Encoding = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train a classifier; an interrupted run resumes from its last finished epoch."""
    from relabel.train.classifier import train_classifier

    res = train_classifier(data, out, model=model, head_only=head_only, epochs=epochs, lr=lr,
                           max_length=max_length, text_col=text_col, label_col=label_col,
                           seed=seed, progress=not quiet, label_names=label_names,
                           encoding=encoding)
    resumed = f", resumed after epoch {res['resumed_from']}" if res["resumed_from"] else ""
    typer.echo(f"wrote {out} ({len(res['classes'])} classes, {res['epochs']} epochs{resumed}; "
               f"final training loss {res['loss'][-1]:.4f}); next: relabel evaluate {out} TEST")
