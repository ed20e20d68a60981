"""``relabel evaluate MODEL_DIR TEST_FILE``: accuracy, macro F1, per-class scores, confusion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from relabel.cli._util import Encoding, app, handle_errors


@app.command("evaluate")
@handle_errors
def evaluate_command(
    model_dir: Annotated[Path, typer.Argument(readable=False,
                                              help="Model directory of `relabel train`.")],
    test: Annotated[Path, typer.Argument(readable=False, help="Labelled test file.")],
    text_col: Annotated[str | None, typer.Option(help="Text column (default: as trained)."
                        )] = None,
    label_col: Annotated[str | None, typer.Option(help="Label column (default: as trained)."
                         )] = None,
    label_names: Annotated[str | None, typer.Option(help="Names of the test file's integer "
                           "codes, as for train (default: the names the model was trained "
                           "with).")] = None,
    encoding: Encoding = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Score a trained model on a labelled test file."""
    from relabel.train.classifier import evaluate_model

    res = evaluate_model(model_dir, test, text_col=text_col, label_col=label_col,
                         label_names=label_names, encoding=encoding)
    if as_json:
        typer.echo(json.dumps(res, indent=2))
        return
    lines = [f"{res['examples']} examples: accuracy {100 * res['accuracy']:.2f}%, "
             f"macro F1 {100 * res['macro_f1']:.2f}%", "",
             f"{'class':30s} {'precision':>9s} {'recall':>7s} {'f1':>6s} {'support':>8s}"]
    # a class neither in the test file nor predicted has nothing to show: a 77-class model on
    # a small test file printed a page of zeros
    predicted = [sum(col) for col in zip(*res["confusion"], strict=True)] if res["confusion"] \
        else [0] * len(res["per_class"])
    quiet = 0
    for (c, m), n_pred in zip(res["per_class"].items(), predicted, strict=True):
        if m["support"] == 0 and n_pred == 0:
            quiet += 1
            continue
        lines.append(f"{c[:30]:30s} {m['precision']:9.3f} {m['recall']:7.3f} {m['f1']:6.3f} "
                     f"{m['support']:8d}")
    if quiet:
        lines.append(f"({quiet} more classes of the model have no test example and were never "
                     "predicted: --json lists every class)")
    if res["unseen_labels"]:
        lines.append(f"labels not seen in training (always wrong): "
                     f"{', '.join(res['unseen_labels'])}")
    lines.append("confusion matrix: --json")
    typer.echo("\n".join(lines))
