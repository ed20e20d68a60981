"""``relabel retrain RUN_DIR TEST``: a model trained on the labels as given against one trained
on the cleaned labels, scored on a test set (:func:`relabel.train.retrain.retrain`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from relabel.cli._util import app, handle_errors


@app.command("retrain")
@handle_errors
def retrain_command(
    run_dir: Annotated[Path, typer.Argument(readable=False,
                                            help="Output directory of `relabel denoise`.")],
    test: Annotated[Path, typer.Argument(readable=False, help="Labelled test set (any format "
                                         "`denoise` reads).")],
    drop_flagged: Annotated[bool, typer.Option("--drop-flagged", help="Leave out of the "
                            "cleaned training set the flagged rows that were neither "
                            "relabelled nor confirmed, as export --drop-flagged does.")
                            ] = False,
    apply: Annotated[str, typer.Option(help="Which new labels the cleaned set takes, as for "
                     "export.")] = "auto",
    finetune: Annotated[bool, typer.Option("--finetune", help="Fine-tune the encoder instead "
                        "of training a head on the frozen one (slow without a GPU).")] = False,
    model: Annotated[str | None, typer.Option(help="Base encoder (default: the run's).")
                     ] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs (default as for train).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of both trainings and of the bootstrap.")
                    ] = 0,
    text_col: Annotated[str | None, typer.Option(help="The test set's text column (default: "
                        "the run's).")] = None,
    label_col: Annotated[str | None, typer.Option(help="The test set's label column "
                         "(default: the run's).")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of a CSV, TSV or JSON "
                        "test set (default UTF-8), e.g. cp1252.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Train on the labels as given and on the cleaned labels, and compare on a test set."""
    from relabel.train.retrain import retrain

    res = retrain(run_dir, test, drop_flagged=drop_flagged, apply=apply,
                  head_only=not finetune, model=model, epochs=epochs, seed=seed,
                  text_col=text_col, label_col=label_col, encoding=encoding,
                  progress=not quiet and not as_json)
    if as_json:
        typer.echo(json.dumps(res.to_json(), indent=2))
        return
    where = (f"the model is in {res.given.model_dir}"
             if res.cleaned.model_dir == res.given.model_dir else
             f"the models are in {res.given.model_dir} and {res.cleaned.model_dir}")
    typer.echo("\n".join([*res.lines(), f"wrote {res.path} and the report's section; {where}"]))
