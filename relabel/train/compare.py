"""Comparing two classifiers on one test set: the statistics of ``relabel retrain``.

Pure functions on arrays and frames: the paired bootstrap of a difference of accuracies over
the same test examples (:func:`paired_bootstrap`), each test class under both models
(:class:`ClassGain`, :func:`class_gains`), and how two training sets' labels differ, as an
audit log (:func:`training_moves`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

#: resamples of the paired bootstrap
BOOTSTRAP = 2000
#: coverage of the gain's interval
LEVEL = 0.95
#: classes named in the printed line on either side (the largest changes beyond chance); the
#: report and ``per_class`` have them all
SHOWN_CLASSES = 3


@dataclass(frozen=True)
class ClassGain:
    """One test class under the two models of :func:`retrain`.

    Attributes
    ----------
    label : str
    test_examples : int
        Its examples in the test set.
    accuracy_given, accuracy_cleaned : float
        The share of its test examples each model got right (its recall), in [0, 1].
    interval : tuple of float
        ``LEVEL`` paired-bootstrap interval of ``accuracy_cleaned - accuracy_given`` over the
        class's test examples (:func:`paired_bootstrap`). With about 40 test examples a class
        moves by 10 points by chance; with 77 classes about 4 intervals miss 0 by chance too.
    f1_given, f1_cleaned : float
        The class's F1, which also counts the other classes' examples predicted as this one.
    relabelled_to, relabelled_from : int
        Training labels the cleaned set changed to this class, and away from it.
    dropped : int
        Training rows of this class the cleaned set left out (``drop_flagged``).
    """

    label: str
    test_examples: int
    accuracy_given: float
    accuracy_cleaned: float
    interval: tuple[float, float]
    f1_given: float
    f1_cleaned: float
    relabelled_to: int = 0
    relabelled_from: int = 0
    dropped: int = 0

    @property
    def gain(self) -> float:
        """``accuracy_cleaned - accuracy_given``."""
        return self.accuracy_cleaned - self.accuracy_given

    @property
    def beyond_chance(self) -> bool:
        """The interval of the gain misses 0."""
        return self.interval[0] > 0 or self.interval[1] < 0

    def short(self) -> str:
        """``'label' +12.5 (n=40)``: the gain in points, and the class's test examples."""
        return f"'{self.label}' {points(self.gain):+.1f} (n={self.test_examples:,})"


def class_gains(true: np.ndarray, pred_given: np.ndarray, pred_cleaned: np.ndarray,
                classes: list[str], changes: pl.DataFrame | None = None, *, seed: int = 0
                ) -> tuple[ClassGain, ...]:
    """Each test class's accuracy (recall, with a paired-bootstrap interval of its change) and
    F1 under both models, with the training labels the cleaned set moved to and from it;
    largest gain first (ties by label).

    Parameters
    ----------
    true, pred_given, pred_cleaned : np.ndarray
        ``(N,)`` test labels and the two models' predictions, as strings.
    classes : list of str
        The classes the models know (a test class outside them is wrong under both).
    changes : polars.DataFrame, optional
        The cleaned set's audit log (``action, old_label, new_label``:
        :data:`relabel.export.CHANGES_SCHEMA`).
    seed : int
        Seed of the bootstraps.

    Returns
    -------
    tuple of ClassGain
        One per class with at least one test example.
    """
    from relabel.train.classifier import classification_metrics

    true, pred_given, pred_cleaned = (np.asarray(x) for x in (true, pred_given, pred_cleaned))
    given = classification_metrics(true.tolist(), pred_given.tolist(), classes)["per_class"]
    cleaned = classification_metrics(true.tolist(), pred_cleaned.tolist(), classes)["per_class"]
    moved: dict[str, dict[str, int]] = {}
    if changes is not None and changes.height:
        counts = (changes.group_by("action", "old_label", "new_label").len()
                  .iter_rows(named=True))
        for row in counts:
            if row["action"] == "drop":
                _bump(moved, row["old_label"], "dropped", row["len"])
            else:
                _bump(moved, row["old_label"], "relabelled_from", row["len"])
                _bump(moved, row["new_label"], "relabelled_to", row["len"])
    out = []
    for c, g in given.items():
        mask = true == c
        if not mask.any():
            continue
        right_given, right_cleaned = pred_given[mask] == c, pred_cleaned[mask] == c
        out.append(ClassGain(
            label=c, test_examples=int(mask.sum()), accuracy_given=float(right_given.mean()),
            accuracy_cleaned=float(right_cleaned.mean()),
            interval=paired_bootstrap(right_given, right_cleaned, seed=seed),
            f1_given=g["f1"], f1_cleaned=cleaned[c]["f1"],
            relabelled_to=moved.get(c, {}).get("relabelled_to", 0),
            relabelled_from=moved.get(c, {}).get("relabelled_from", 0),
            dropped=moved.get(c, {}).get("dropped", 0)))
    return tuple(sorted(out, key=lambda k: (-k.gain, k.label)))


def _bump(counts: dict[str, dict[str, int]], label: str | None, key: str, n: int) -> None:
    if label is not None:
        counts.setdefault(label, {}).setdefault(key, 0)
        counts[label][key] += n


def training_moves(base: pl.DataFrame, cleaned: pl.DataFrame) -> pl.DataFrame:
    """How the cleaned training set's labels differ from the baseline's, as an audit log.

    Parameters
    ----------
    base, cleaned : polars.DataFrame
        The audit logs (:data:`relabel.export.CHANGES_SCHEMA`) of the two training sets, each
        against the run's given labels: empty ``base`` for a run with one label per example
        (the baseline is the given labels), the majority vote's
        (:func:`relabel.export.majority_plan`) for a run on several annotators' votes.

    Returns
    -------
    polars.DataFrame
        ``row, action, old_label, new_label``: ``relabel`` where the cleaned label differs
        from the baseline's, ``drop`` (``new_label`` null) for the rows the cleaned set left
        out, ``old_label`` the baseline's label.
    """
    b = base.filter(pl.col("action") == "relabel").select(
        "row", pl.col("old_label").alias("given_b"), pl.col("new_label").alias("base"))
    c = cleaned.select("row", "action", pl.col("old_label").alias("given_c"),
                       pl.col("new_label").alias("final"))
    j = b.join(c, on="row", how="full", coalesce=True).with_columns(
        pl.coalesce("base", "given_b", "given_c").alias("old_label"))
    j = j.with_columns(
        pl.when(pl.col("action") == "drop").then(pl.lit("drop")).otherwise(pl.lit("relabel"))
        .alias("action"),
        pl.when(pl.col("action") == "drop").then(pl.lit(None, dtype=pl.String))
        .otherwise(pl.coalesce("final", "given_b")).alias("new_label"))
    return (j.filter((pl.col("action") == "drop") | (pl.col("new_label") != pl.col("old_label")))
            .select("row", "action", "old_label", "new_label").sort("row"))


def points(share: float) -> float:
    """A difference of accuracies in percentage points, rounded to 0.1, so that -0.04 points
    reads +0.0 (not -0.0) once formatted with a sign."""
    return round(100 * share, 1) + 0.0


def paired_bootstrap(right_a: np.ndarray, right_b: np.ndarray, *, resamples: int = BOOTSTRAP,
                     level: float = LEVEL, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of ``mean(right_b) - mean(right_a)`` over test examples resampled
    with replacement (the same resample for both: the comparison is paired).

    Parameters
    ----------
    right_a, right_b : np.ndarray
        ``(N,)`` bool: which test examples each model got right.

    Returns
    -------
    tuple of float
        The interval's ends.
    """
    diff = right_b.astype(np.float64) - right_a.astype(np.float64)
    n = len(diff)
    if n == 0:
        return 0.0, 0.0
    chunk = max(1, 10_000_000 // n)  # resamples at a time: at most 10M indices (80 MB)
    rng = np.random.default_rng(seed)
    means = np.concatenate([diff[rng.integers(0, n, (min(chunk, resamples - s), n))].mean(1)
                            for s in range(0, resamples, chunk)])
    tail = (1 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


__all__ = ["BOOTSTRAP", "LEVEL", "SHOWN_CLASSES", "ClassGain", "class_gains",
           "paired_bootstrap", "points", "training_moves"]
