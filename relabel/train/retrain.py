"""``relabel retrain``: does a model trained on the cleaned labels do better?

The last step of the loop. From a ``denoise`` run directory and a labelled test set, two
classifiers are trained with the same settings and seed (:func:`relabel.train.classifier.
train_classifier`): one on the labels as given, one on the cleaned labels that ``export``
writes (relabel's confident changes and the reviewers' decisions applied; with
``drop_flagged`` the flagged rows that were neither relabelled nor confirmed are left out, as
``export --drop-flagged`` does). Both are scored on the test set. The gain in accuracy comes
with a 95% interval from a paired bootstrap over the test examples: the test set is resampled
with replacement ``BOOTSTRAP`` times and the difference of the two models' accuracies taken on
each resample, so an interval that contains 0 says the test set cannot tell the two apart.
The same is given per test class (:func:`relabel.train.compare.class_gains`).

A run on several annotators' votes (``denoise --annotations`` and the like) has no single
given label: its baseline is what a model trains on without relabel, each item's plain
majority vote (:func:`relabel.export.export_majority`), against relabel's labels (the
consensus with relabel's changes, as ``export`` writes them).

Everything goes under ``RUN/retrain/``: ``given/`` and ``cleaned/`` (each the training file in
the input's format and ``model/``) and ``retrain.json`` (the result), which the run's
``report.html`` shows as its "Retrained model" section. A head-only model (the
default) trains on the run's cached embeddings, so only the test texts are encoded.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from relabel.train.compare import (
    LEVEL,
    SHOWN_CLASSES,
    ClassGain,
    class_gains,
    paired_bootstrap,
    points,
    training_moves,
)

#: the run directory's subdirectory of the two trainings
RETRAIN_DIR = "retrain"
#: the output warns when at least this share of the test texts are training texts (not tuned:
#: one in a hundred can move a gain of a point)
OVERLAP_SHARE = 0.01


@dataclass(frozen=True)
class TrainedModel:
    """One of the two models of :func:`retrain`.

    Attributes
    ----------
    labels : str
        ``"given"`` (``"majority"`` for a run on several annotators' votes) or ``"cleaned"``:
        the training labels.
    train_rows : int
        Rows it was trained on.
    accuracy, macro_f1 : float
        On the test set, in [0, 1].
    model_dir : Path
        Its directory (``relabel evaluate`` reads it). When the cleaned labels are the labels
        as given, the cleaned model is the given one (trained once).
    """

    labels: str
    train_rows: int
    accuracy: float
    macro_f1: float
    model_dir: Path
    #: test examples whose class the model never saw in training (always wrong), and the
    #: classes
    unseen_examples: int = 0
    unseen_classes: tuple[str, ...] = ()

    def unseen_line(self) -> str:
        """The test examples of classes this model never saw, in one line."""
        shown = ", ".join(f"'{c}'" for c in self.unseen_classes[:5])
        more = (f" and {len(self.unseen_classes) - 5} more" if len(self.unseen_classes) > 5
                else "")
        return (f"{self.unseen_examples:,} test example(s) are of class(es) the model trained "
                f"on the {self.labels} labels never saw ({shown}{more}): it gets them wrong")


@dataclass(frozen=True)
class RetrainResult:
    """What :func:`retrain` measured (also written to ``RUN/retrain/retrain.json``).

    Attributes
    ----------
    given, cleaned : TrainedModel
        Trained on the labels as given (on a run on several annotators' votes: each item's
        majority vote), and on the cleaned labels.
    gain : float
        ``cleaned.accuracy - given.accuracy``.
    interval : tuple of float
        ``LEVEL`` paired-bootstrap interval of ``gain``.
    only_cleaned_right, only_given_right : int
        Test examples one model got right and the other wrong.
    test_examples : int
    relabelled, dropped : int
        Labels the cleaned training set changed, and flagged rows it left out.
    path : Path
        ``retrain.json``.
    """

    given: TrainedModel
    cleaned: TrainedModel
    gain: float
    interval: tuple[float, float]
    only_cleaned_right: int
    only_given_right: int
    test_examples: int
    relabelled: int
    dropped: int
    path: Path
    #: ``drop_flagged``: the line on the classes the drop removed (None: none)
    removed: str | None = None
    #: test texts that are also training texts (normalised): they measure memory, not
    #: generalisation
    test_in_training: int = 0
    #: each test class under both models (:func:`relabel.train.compare.class_gains`), largest
    #: gain first; empty when there is one model
    per_class: tuple[ClassGain, ...] = ()
    #: a run on several annotators' votes: the baseline (``given``) is the plain majority vote,
    #: and this many items' run label (the consensus, or an only vote) differs from it; None
    #: for a run with one label per example
    majority_differs: int | None = None

    @property
    def one_model(self) -> bool:
        """The two training sets are the same, so one model was trained."""
        return same_training_sets(self.relabelled, self.dropped, self.majority_differs or 0)

    def per_class_frame(self) -> pl.DataFrame:
        """``per_class`` as a table: one row per test class, with ``gain`` and its interval as
        ``gain_low``, ``gain_high``."""
        schema = {"label": pl.String, "test_examples": pl.Int64,
                  "accuracy_given": pl.Float64, "accuracy_cleaned": pl.Float64,
                  "gain": pl.Float64, "gain_low": pl.Float64, "gain_high": pl.Float64,
                  "f1_given": pl.Float64, "f1_cleaned": pl.Float64, "relabelled_to": pl.Int64,
                  "relabelled_from": pl.Int64, "dropped": pl.Int64}
        rows = [{**{k: v for k, v in asdict(c).items() if k != "interval"}, "gain": c.gain,
                 "gain_low": c.interval[0], "gain_high": c.interval[1]}
                for c in self.per_class]
        return pl.DataFrame(rows, schema=schema)

    def class_line(self) -> str | None:
        """The classes whose test accuracy changed beyond chance, the largest each way, in one
        line (None when there is one model)."""
        if not self.per_class:
            return None
        up = [k for k in self.per_class if k.interval[0] > 0]
        down = [k for k in reversed(self.per_class) if k.interval[1] < 0]
        head = (f"per class, test accuracy beyond chance ({100 * LEVEL:.0f}% paired bootstrap "
                "on each class's n test examples): ")
        if not up and not down:
            return head + f"no class changed ({len(self.per_class)} classes)"
        parts = [f"{verb} on {len(ks)} ({', '.join(k.short() for k in ks[:SHOWN_CLASSES])}"
                 f"{', ...' if len(ks) > SHOWN_CLASSES else ''})"
                 for verb, ks in (("better", up), ("worse", down)) if ks]
        return head + "; ".join(parts) + f" of {len(self.per_class)} classes"

    def lines(self) -> list[str]:
        """The result in a few sentences (what ``relabel retrain`` prints)."""
        g, c = self.given, self.cleaned
        crowd = self.majority_differs is not None
        base = "the annotators' majority vote" if crowd else "the labels as given"
        if self.one_model:
            same = ("relabel's labels are the annotators' majority vote: the consensus agrees "
                    "with it on every item and nothing was relabelled or left out" if crowd
                    else "the cleaned labels are the labels as given: nothing was relabelled "
                    "or left out")
            return [f"{same}, so there is one model ({g.train_rows:,} rows): test accuracy "
                    f"{100 * g.accuracy:.1f}%, macro F1 {100 * g.macro_f1:.1f}%",
                    *([g.unseen_line()] if g.unseen_examples else []),
                    *([self.overlap_line()] if self._overlap_matters() else [])]
        gain, low, high = (points(v) for v in (self.gain, *self.interval))
        ours = "relabel's labels" if crowd else "the cleaned labels"
        verdict = (f"{ours} gave the better model" if self.interval[0] > 0 else
                   f"{base} gave the better model" if self.interval[1] < 0 else
                   "the test set cannot tell the two models apart")
        differs = (f"the consensus differs from the majority on {self.majority_differs:,}, "
                   if crowd else "")
        return [
            f"trained on {base} ({g.train_rows:,} rows): test accuracy "
            f"{100 * g.accuracy:.1f}%, macro F1 {100 * g.macro_f1:.1f}%",
            f"trained on {ours} ({c.train_rows:,} rows: {differs}{self.relabelled:,} "
            f"relabelled, {self.dropped:,} flagged rows left out): test accuracy "
            f"{100 * c.accuracy:.1f}%, macro F1 {100 * c.macro_f1:.1f}%",
            *([self.removed] if self.removed else []),
            *[m.unseen_line() for m in (g, c) if m.unseen_examples],
            f"gain {gain:+.1f} points ({100 * LEVEL:.0f}% interval "
            f"{low:+.1f} to {high:+.1f}, paired bootstrap over "
            f"{self.test_examples:,} test examples; {self.only_cleaned_right:,} only the "
            f"cleaned model got right, {self.only_given_right:,} only the other): {verdict}",
            *([line] if (line := self.class_line()) else []),
            *([self.overlap_line()] if self._overlap_matters() else []),
        ]

    def _overlap_matters(self) -> bool:
        """Enough test texts are training texts to say so: ``OVERLAP_SHARE`` of the test set
        (banking77's own splits share 2 texts of 3,080, which changes nothing)."""
        return self.test_in_training > 0 and (
            self.test_in_training >= OVERLAP_SHARE * self.test_examples)

    def overlap_line(self) -> str:
        """The warning on test texts that are also in the training set."""
        return (f"warning: {self.test_in_training:,} of the {self.test_examples:,} test texts "
                "are also in the training set (the same text after normalising case, spaces "
                "and punctuation): on them the models are scored on what they were trained "
                "on; a test set without them measures the gain better")

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        """A notebook shows the two models side by side and the gain."""
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(m.labels)}</td><td>{m.train_rows:,}</td>"
            f"<td>{100 * m.accuracy:.1f}%</td><td>{100 * m.macro_f1:.1f}%</td></tr>"
            for m in (self.given, self.cleaned))
        return ("<table><tr><th>trained on the labels</th><th>rows</th><th>test accuracy</th>"
                f"<th>macro F1</th></tr>{rows}</table>"
                + "".join(f"<p>{escape(line)}</p>" for line in self._after_models()))

    def _after_models(self) -> list[str]:
        """The lines after the two models' (the whole text when there is one model)."""
        lines = self.lines()
        return lines if self.one_model else lines[2:]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("given", "cleaned"):
            d[key]["model_dir"] = str(d[key]["model_dir"])
        d["interval"] = list(self.interval)
        d["path"] = str(self.path)
        d["per_class"] = self.per_class_frame().to_dicts()
        return d


def same_training_sets(relabelled: int, dropped: int, base_relabelled: int) -> bool:
    """The cleaned training set is the baseline's, so one model serves both: the cleaned set
    relabelled and left out nothing, and the baseline's labels are the run's own
    (``base_relabelled``: items whose majority vote differs from the run's label, 0 for a run
    with one label per example)."""
    return relabelled == 0 and dropped == 0 and base_relabelled == 0


def _test_in_training(test: pl.Series, training: pl.Series) -> int:
    """How many test texts are also training texts, after normalising case, white space and
    punctuation (:func:`relabel.detect.reasons.normalise_text`; by 64-bit hashes)."""
    from relabel.detect.reasons import normalised_text_hashes

    return int(np.isin(normalised_text_hashes(test.to_list()),
                       normalised_text_hashes(training.to_list())).sum())


def _training_file(run_input: str, folder: Path) -> Path:
    """Where a training set in the run's input format goes: the input's name in ``folder``
    (a directory input, Hugging Face or Parquet parts, stays a directory)."""
    return folder / Path(run_input).name


def retrain(run_dir: str | Path, test: str | Path, *, drop_flagged: bool = False,
            apply: str = "auto", head_only: bool = True, model: str | None = None,
            epochs: int | None = None, seed: int = 0, text_col: str | None = None,
            label_col: str | None = None, encoding: str | None = None,
            progress: bool = False) -> RetrainResult:
    """Train a classifier on the labels as given and one on the cleaned labels; score both on
    ``test`` (module docstring).

    Parameters
    ----------
    run_dir : str or Path
        Output directory of ``denoise``.
    test : str or Path
        Labelled test set, any format ``denoise`` reads, with the run's text and label
        columns unless ``text_col`` / ``label_col`` name its own.
    drop_flagged : bool
        Leave out of the cleaned set the flagged rows that were neither relabelled nor
        confirmed by a reviewer (as ``export --drop-flagged``). Off by default, as in
        ``export``: on small sets the rows lost can cost more than their noise
        (bench/RESULTS.md, "relabel retrain").
    apply : str
        Which new labels the cleaned set takes (as ``export --apply``).
    head_only : bool
        A head on the frozen encoder (default, fast on a CPU); False fine-tunes the encoder.
    model : str, optional
        Base encoder; default the run's own (the packaged model when the run was given
        precomputed vectors).
    epochs : int, optional
        Default as ``relabel train``.
    seed : int
        Seed of both trainings and of the bootstrap.
    text_col, label_col : str, optional
        The test set's columns (default: the run's).
    encoding : str, optional
        The test set's text encoding (default UTF-8; the training files are in the run's).

    Returns
    -------
    RetrainResult

    Raises
    ------
    RelabelInputError
        No such run, or a bad test set.
    """
    from relabel.data.write import write_json
    from relabel.export import export_dataset, export_majority, load_run
    from relabel.rundir import RunFiles
    from relabel.train.classifier import (
        classification_metrics,
        predict_task,
        read_examples,
        train_classifier,
    )

    files = RunFiles(Path(run_dir))
    record, _ = load_run(run_dir)
    crowd = files.consensus.is_file()  # several annotators' votes: the baseline is majority
    # the test set is read once, before anything is trained (a bad one fails in a second, not
    # after the first model), as the models' own configs would read it
    test_info = read_examples(test, text_col or record.spec.text_col,
                              label_col or record.label_col, record.task, compare=False,
                              encoding=encoding, label_names=record.spec.label_names)
    in_training = _test_in_training(test_info.frame["text"],
                                    pl.read_parquet(files.examples, columns=["text"])["text"])
    summary = json.loads(files.summary.read_text(encoding="utf-8"))
    encoder = summary.get("encoder", {})
    model = model if model is not None else encoder.get("model")
    out = files.root / RETRAIN_DIR
    trained: dict[str, tuple[Any, ...]] = {}
    for name, kw in (("given", {"apply": "none"}),
                     ("cleaned", {"apply": apply, "drop_flagged": drop_flagged})):
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        to = _training_file(record.input, folder)
        exported = (export_majority(run_dir, to) if crowd and name == "given" else
                    export_dataset(run_dir, to, **kw))
        if name == "cleaned" and same_training_sets(exported.relabelled, exported.dropped,
                                                    trained["given"][0].relabelled):
            # the same training set: the same model (same seed), so it is not trained twice
            trained[name] = (exported, *trained["given"][1:])
            break
        model_dir = folder / "model"
        train_classifier(exported.path, model_dir, model=model, head_only=head_only,
                         epochs=epochs, seed=seed, max_length=encoder.get("max_length", 128),
                         text_col=record.spec.text_col, label_col=record.label_col,
                         task=record.task, progress=progress,
                         cache_dir=files.embedding_cache if head_only else None,
                         label_names=record.spec.label_names, encoding=record.spec.encoding)
        true, pred, classes = predict_task(model_dir, test_info,
                                           cache_dir=files.embedding_cache if head_only
                                           else None)
        trained[name] = (exported, model_dir, np.asarray(true), np.asarray(pred), classes)

    models = {}
    for name, (exported, model_dir, true, pred, classes) in trained.items():
        m = classification_metrics(true.tolist(), pred.tolist(), classes)
        unseen = tuple(m["unseen_labels"])
        models[name] = TrainedModel(labels="majority" if crowd and name == "given" else name,
                                    train_rows=exported.rows,
                                    accuracy=m["accuracy"], macro_f1=m["macro_f1"],
                                    model_dir=model_dir,
                                    unseen_examples=int(np.isin(true, unseen).sum()),
                                    unseen_classes=unseen)
    right_given = trained["given"][3] == trained["given"][2]
    right_cleaned = trained["cleaned"][3] == trained["cleaned"][2]
    given_export, cleaned_export = trained["given"][0], trained["cleaned"][0]
    per_class = (() if trained["cleaned"][1] == trained["given"][1] else
                 class_gains(trained["given"][2], trained["given"][3], trained["cleaned"][3],
                             sorted(set(trained["given"][4]) | set(trained["cleaned"][4])),
                             training_moves(given_export.changes, cleaned_export.changes)))
    result = RetrainResult(
        given=models["given"], cleaned=models["cleaned"],
        gain=models["cleaned"].accuracy - models["given"].accuracy,
        interval=paired_bootstrap(right_given, right_cleaned, seed=seed),
        only_cleaned_right=int((right_cleaned & ~right_given).sum()),
        only_given_right=int((right_given & ~right_cleaned).sum()),
        test_examples=len(right_given), relabelled=cleaned_export.relabelled,
        dropped=cleaned_export.dropped, path=out / "retrain.json",
        removed=cleaned_export.removed_line(), test_in_training=in_training,
        per_class=per_class, majority_differs=given_export.relabelled if crowd else None)
    write_json(result.to_json(), result.path)
    from relabel.report.html import build_report

    build_report(files.root)  # the report gains its "Retrained model" section
    return result


__all__ = ["OVERLAP_SHARE", "RETRAIN_DIR", "RetrainResult", "TrainedModel", "retrain",
           "same_training_sets"]
