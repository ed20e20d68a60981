"""The Python API: what ``import relabel`` gives a notebook, and what the CLI commands call.

>>> import relabel
>>> run = relabel.denoise(df, text="text", label="label", out="relabel-out/x")  # doctest: +SKIP
>>> run.issues                          # flagged rows, least credible first   # doctest: +SKIP
>>> cleaned = run.apply()               # same type and columns as df          # doctest: +SKIP

- :func:`denoise`: a file path, a polars or pandas DataFrame, a ``datasets.Dataset`` or a list
  of dicts in, a :class:`Run` out (written to a run directory, as ``relabel denoise`` does).
- :func:`load_run`: reopen a run directory.
- :func:`find_label_issues`: arrays in (labels, and your own model's out-of-fold ``pred_probs``
  and / or ``embeddings``), a frame out, under relabel's decision rule.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from relabel.config import DEFAULT_SEED, DEFAULT_TARGET_PRECISION, DenoiseConfig
from relabel.errors import RelabelInputError
from relabel.rundir import RunFiles, RunRecord, load_record

#: columns of :attr:`Run.issues` and of :func:`find_label_issues`, in order
ISSUE_COLUMNS = ("row", "id", "text", "label", "credibility", "suggested_label", "confidence",
                 "reason", "p_wrong", "alternative_label")


class Run:
    """A denoise run: its scores, its summary, and what can be done with them.

    Made by :func:`denoise` or :func:`load_run`; every method reads and writes the run directory,
    exactly as the CLI commands do.

    Attributes
    ----------
    out_dir : Path
        The run directory.
    record : RunRecord
        How the run read its input (``run.json``).
    """

    def __init__(self, out_dir: str | Path, *, scores: pl.DataFrame | None = None,
                 summary: dict[str, Any] | None = None, data: Any = None) -> None:
        self.out_dir = Path(out_dir)
        self._files = RunFiles(self.out_dir)
        self.record: RunRecord = load_record(self.out_dir)
        self._scores = scores
        self._summary = summary
        # the object the user passed (kept so apply() can return its type untouched)
        self._data = data

    def __repr__(self) -> str:
        s = self.summary
        dec = s.get("decisions") or {}
        return (f"<relabel.Run {self.out_dir}: {s['examples']} examples, {s['classes']} classes, "
                f"{s['flagged']} flagged, {dec.get('changes', s['suggested'])} changed "
                f"automatically>")

    @property
    def scores(self) -> pl.DataFrame:
        """Every example, in input order (``scores.parquet``): ``row, id, label, credibility``,
        per-signal scores, ``flagged, suggested_label, suggestion_confidence,
        alternative_label, alternative_prob, p_wrong, reason``."""
        if self._scores is None:
            if not self._files.scores.is_file():
                raise RelabelInputError("no scores.parquet here; run `relabel denoise` first",
                                        path=self.out_dir)
            self._scores = pl.read_parquet(self._files.scores)
        return self._scores

    @property
    def summary(self) -> dict[str, Any]:
        """What ``summary.json`` holds."""
        if self._summary is None:
            self._summary = json.loads(self._files.summary.read_text(encoding="utf-8"))
        return self._summary

    @property
    def classes(self) -> list[str]:
        """Every class of the run, sorted."""
        return [str(c) for c in self.summary["label_classes"]]

    @property
    def issues(self) -> pl.DataFrame:
        """The flagged examples, least credible first: ``row, id, text, label, credibility,
        suggested_label, confidence, reason, p_wrong, alternative_label`` (``suggested_label``
        is null where relabel abstains and asks a human)."""
        from relabel.rundir import load_examples

        flagged = self.scores.filter(pl.col("flagged"))
        texts = load_examples(self.out_dir).select("row", "text")
        return (flagged.join(texts, on="row", how="left")
                .rename({"suggestion_confidence": "confidence"})
                .sort(["credibility", "row"])
                .select(list(ISSUE_COLUMNS)))

    def _decisions(self, reviews: Any, apply: str) -> pl.DataFrame:
        from relabel.export import run_decisions
        from relabel.review.ledger import decision_status
        from relabel.review.reviews import read_review_source

        if reviews is None or reviews is True:
            return run_decisions(self.out_dir, self.scores, apply)
        # the same reader as denoise --reviews: a reviews.parquet, a run directory, or any
        # table with id and reviewed_label; the status is read off the given label, as there
        decided = read_review_source(reviews).join(
            self.scores.select("id", pl.col("label").alias("given_label")), on="id", how="left")
        return run_decisions(self.out_dir, self.scores, apply, reviews=decision_status(decided))

    def apply(self, suggestions: bool = True, reviews: Any = None, *,
              drop_flagged: bool = False) -> Any:
        """The cleaned data, in the input's type with the input's columns.

        Parameters
        ----------
        suggestions : bool
            Apply relabel's confident suggestions (where no reviewer decided).
        reviews : None, bool, str, Path or DataFrame
            Reviewers' decisions to apply first. None (default): the run's own
            (``reviews.parquet``, from ``relabel review pull``, :meth:`pull_from_label_studio`
            or ``denoise --reviews``) when it has any; ``True``: those, and an error when there
            are none; ``False``: none; or a ``reviews.parquet``, a run directory, or a file or
            frame with columns ``id, reviewed_label`` (as ``denoise --reviews`` reads).
        drop_flagged : bool
            Remove flagged rows whose label was neither replaced nor confirmed by a reviewer.

        Returns
        -------
        object
            For a DataFrame, Dataset or list of dicts given to :func:`denoise` in this session:
            the same type, with only the label column changed. Otherwise (a file input, or a run
            reopened with :func:`load_run`): the input as a polars frame, or rebuilt in the
            type it had (pandas, ``datasets.Dataset``, list of dicts) from the run's copy.
        """
        from relabel.data.frames import like_input, to_polars
        from relabel.export import apply_plan, plan_labels

        if reviews is None and self._files.reviews.is_file():
            reviews = True
        if reviews is None or reviews is False:
            reviews = None
            apply = "suggestions" if suggestions else "none"
        else:
            apply = "reviewed+suggestions" if suggestions else "reviewed"
        plan = plan_labels(self.scores, self._decisions(reviews, apply), apply=apply,
                           drop_flagged=drop_flagged)
        kind = self.record.source_type
        original = self._data
        table = to_polars(original, kind) if original is not None else self.record.read_source()
        cleaned = apply_plan(table, self.record.label_col, plan)
        dropped = set(plan.dropped_rows)
        kept = [i for i in range(table.height) if i not in dropped]
        if original is not None:
            return like_input(original, kind, cleaned, self.record.label_col, kept)
        if kind == "pandas":
            return cleaned.to_pandas()
        if kind == "records":
            return cleaned.to_dicts()
        if kind == "hf_dataset":
            import datasets

            return datasets.Dataset(cleaned.to_arrow())
        return cleaned

    def export(self, to: str | Path, *, apply: str = "auto",
               drop_flagged: bool = False) -> Path:
        """Write the cleaned dataset (format from the extension) and ``changes.csv`` beside
        it, as ``relabel export`` does; returns the path written."""
        from relabel.export import export_dataset

        return export_dataset(self.out_dir, to, apply=apply, drop_flagged=drop_flagged).path

    def report(self, path: str | Path | None = None, *, truth_col: str | None = None) -> Path:
        """Write the HTML report (default ``DIR/report.html``), as ``relabel report`` does."""
        from relabel.report.html import build_report

        return build_report(self.out_dir, truth_col=truth_col, to=path)

    def push_to_label_studio(self, project: str, *, only: str = "flagged",
                             limit: int | None = None) -> Any:
        """Create or update one Label Studio task per example, as ``relabel review push``
        does (server and key from ``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY``)."""
        from connectors.label_studio import push

        return push(self.out_dir, project, only=only, limit=limit)

    def pull_from_label_studio(self, project: str) -> Any:
        """Write the reviewers' decisions to ``reviews.parquet``, as ``relabel review pull``
        does; ``apply(reviews=True)`` then applies them."""
        from connectors.label_studio import pull

        return pull(self.out_dir, project)


def load_run(out_dir: str | Path) -> Run:
    """Reopen a run directory written by :func:`denoise` or ``relabel denoise``.

    Raises
    ------
    RelabelInputError
        ``out_dir`` is not a run directory.
    """
    return Run(out_dir)


_ALIASES = {"text": "text_col", "label": "label_col", "id": "id_col"}


def make_config(config: DenoiseConfig | None = None, **options: Any) -> DenoiseConfig:
    """A :class:`~relabel.config.DenoiseConfig` from keyword options (``text``, ``label``, ``id``
    are short for ``text_col``, ``label_col``, ``id_col``); TypeError for an unknown one."""
    names = set(DenoiseConfig.option_names())
    values: dict[str, Any] = {}
    for key, value in options.items():
        name = _ALIASES.get(key, key)
        if name not in names:
            raise TypeError(f"denoise() got an unexpected option {key!r}")
        values[name] = value
    for name in ("span_cols", "type_cols"):
        if isinstance(values.get(name), str):
            from relabel.config import split_list

            values[name] = split_list(values[name])
    base = config or DenoiseConfig()
    return dataclasses.replace(base, **values)


def denoise(
    data: Any,
    *,
    text: str | None = None,
    label: str | None = None,
    id: str | None = None,
    out: str | Path | None = None,
    embeddings: Any = None,
    reviews: Any = None,
    config: DenoiseConfig | None = None,
    encoder: Any = None,
    progress: bool = True,
    **options: Any,
) -> Run:
    """Score every example's label, flag suspicious ones and suggest corrections.

    Parameters
    ----------
    data : str, Path, polars.DataFrame, pandas.DataFrame, datasets.Dataset or list of dict
        A dataset file (CSV, TSV, JSONL, JSON, Parquet, a Hugging Face dataset directory) or
        an in-memory table; row order and types are kept.
    text, label, id : str, optional
        Column names (default ``text``, ``label``, and the 0-based row number as the id).
    out : str or Path, optional
        Run directory (default ``relabel-out/<file name>``; required for in-memory data).
    embeddings : array-like or str or Path, optional
        ``(N, D)`` precomputed embeddings, row i = input row i, or a ``.npy`` file of them,
        instead of encoding.
    reviews : str, Path or DataFrame, optional
        Reviewers' decisions to trust: a ``reviews.parquet`` (``relabel review pull``), an
        earlier run directory, or a table with columns ``id, reviewed_label``. Reviewed
        examples keep the reviewer's label, are never flagged again, count fully in the
        neighbour votes and the corrector's training, and recalibrate the decisions on the rest.
    config : DenoiseConfig, optional
        Options as a record; keyword ``options`` override its fields.
    encoder : TextEncoder, optional
        An encoder object (``encode(texts) -> (N, D)`` and ``key``) instead of ``model``.
    progress : bool
        Progress bars on stderr.
    **options
        Any field of :class:`~relabel.config.DenoiseConfig`: ``model``, ``corrector``,
        ``target_precision``, ``folds``, ``task``, ``max_length``, ``seed``, ...

    Returns
    -------
    Run

    Raises
    ------
    RelabelInputError
        Bad data or options, with the same one-line messages as the CLI.
    """
    from relabel.pipeline import denoise as run_pipeline

    short = {k: v for k, v in (("text", text), ("label", label), ("id", id)) if v is not None}
    if isinstance(embeddings, (str, Path)):
        options["embeddings"], embeddings = embeddings, None
    if isinstance(reviews, (str, Path)):
        options["reviews"], reviews = reviews, None
    cfg = make_config(config, **short, **options)
    result = run_pipeline(data, out_dir=out, config=cfg, encoder=encoder, embeddings=embeddings,
                          reviews=reviews, progress=progress)
    keep = data if not isinstance(data, (str, Path)) else None
    return Run(result.out_dir, scores=result.scores, summary=result.summary, data=keep)


def _check_probs(pred_probs: Any, n: int) -> np.ndarray:
    try:
        probs = np.asarray(pred_probs, dtype=np.float64)
    except (TypeError, ValueError):
        raise RelabelInputError("pred_probs must be an (N, K) array of numbers",
                                path="pred_probs") from None
    if probs.ndim != 2 or probs.shape[0] != n or probs.shape[1] < 2:
        raise RelabelInputError(f"pred_probs have shape {probs.shape}; expected ({n}, K) with "
                                "K >= 2 (one row per label)", path="pred_probs")
    bad = ~np.isfinite(probs).all(axis=1) | (probs < 0).any(axis=1)
    if bad.any():
        raise RelabelInputError("pred_probs hold negative or non-finite values",
                                path="pred_probs", rows=(np.flatnonzero(bad) + 1).tolist())
    sums = probs.sum(axis=1, keepdims=True)
    if (sums <= 0).any():
        raise RelabelInputError("pred_probs rows sum to 0", path="pred_probs",
                                rows=(np.flatnonzero(sums[:, 0] <= 0) + 1).tolist())
    probs = probs / sums
    return np.clip(probs, 1e-6, None) / np.clip(probs, 1e-6, None).sum(axis=1, keepdims=True)


def find_label_issues(
    labels: Sequence[Any] | np.ndarray,
    pred_probs: Any = None,
    embeddings: Any = None,
    *,
    classes: Sequence[Any] | None = None,
    texts: Sequence[str] | None = None,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    return_all: bool = False,
    seed: int = DEFAULT_SEED,
) -> pl.DataFrame:
    """Label issues from your own signals, under relabel's decision rule.

    The rule is :func:`relabel.detect.decide.decide`: with ``pred_probs`` alone its exponent is
    ``GAMMA["pred_probs"]`` (chosen by leave-one-dataset-out with relabel's linear out-of-fold
    probabilities standing in for a user's model); with embeddings too, the signals are combined
    as for relabel's linear corrector (``cv`` 0.7, kNN vote 0.3) with its exponent.

    Parameters
    ----------
    labels : array-like
        ``(N,)`` given labels: class names, or integer codes into ``classes`` (with
        ``pred_probs``, codes ``0..K-1`` index its columns, as in cleanlab).
    pred_probs : array-like, optional
        ``(N, K)`` out-of-fold predicted probabilities of your model (each row from a model that
        did not train on that example). Used as relabel's cross-validated corrector.
    embeddings : array-like, optional
        ``(N, D)`` vectors of the examples: relabel adds its kNN vote and KDE, and flags
        duplicate conflicts and outliers.
    classes : sequence, optional
        The class of each column of ``pred_probs`` (default: ``0..K-1`` for integer labels,
        else the sorted distinct labels).
    texts : sequence of str, optional
        ``N`` texts, for exact-duplicate conflicts (with ``embeddings``).
    target_precision : float
        A label is changed only where the estimated probability that the change is right
        reaches this; otherwise relabel abstains (``suggested_label`` null).
    return_all : bool
        Every row in input order, with a ``flagged`` column, instead of the flagged rows least
        credible first.
    seed : int
        Seed of the KDE's parameter selection.

    Returns
    -------
    polars.DataFrame
        ``row, label, credibility, suggested_label, confidence, reason, p_wrong,
        alternative_label`` (and ``flagged`` with ``return_all``); labels in the type given.

    Raises
    ------
    RelabelInputError
        Neither ``pred_probs`` nor ``embeddings``, or arrays whose shapes or values do not fit.
    """
    from relabel.config import check_options
    from relabel.detect.decide import CORRECTOR_WEIGHTS, DEFAULT_WEIGHTS, decide
    from relabel.detect.score import neighbour_signals

    check_options(DenoiseConfig(target_precision=target_precision))
    if pred_probs is None and embeddings is None:
        raise RelabelInputError("give pred_probs (N, K), embeddings (N, D), or both",
                                path="find_label_issues")
    given = np.asarray(labels)
    if given.ndim != 1 or not len(given):
        raise RelabelInputError(f"labels must be a non-empty 1-D array, got shape "
                                f"{given.shape}", path="labels")
    n = len(given)
    probs = _check_probs(pred_probs, n) if pred_probs is not None else None
    if classes is None:
        if probs is not None and np.issubdtype(given.dtype, np.integer):
            classes = list(range(probs.shape[1]))
        else:
            classes = sorted(set(given.tolist()))
    cls = list(classes)
    index = {c: i for i, c in enumerate(cls)}
    try:
        codes = np.array([index[v] for v in given.tolist()], dtype=np.int64)
    except KeyError as exc:
        bad = [i + 1 for i, v in enumerate(given.tolist()) if v not in index]
        raise RelabelInputError(f"label {exc.args[0]!r} is not one of the classes",
                                path="labels", rows=bad) from None
    if probs is not None and probs.shape[1] != len(cls):
        raise RelabelInputError(f"pred_probs have {probs.shape[1]} columns but there are "
                                f"{len(cls)} classes; pass classes=", path="pred_probs")
    k = len(cls)
    posteriors: dict[str, np.ndarray] = {}
    graph = None
    if embeddings is not None:
        from relabel.embed.precomputed import embeddings_from_array

        emb = embeddings_from_array(embeddings, n_rows=n, rows=np.arange(n))
        sig = neighbour_signals(emb, codes, k, seed=seed)
        posteriors.update(sig.posteriors)
        graph = sig.graph
    if probs is not None:
        posteriors["cv"] = probs.astype(np.float32)
        weights = CORRECTOR_WEIGHTS if embeddings is not None else {"cv": 1.0}
    else:
        weights = DEFAULT_WEIGHTS
    res = decide(codes, posteriors, weights=weights, target_precision=target_precision,
                 graph=graph, texts=list(texts) if texts is not None else None,
                 corrector="linear" if embeddings is not None else "pred_probs")
    names = np.empty(k, dtype=object)
    names[:] = cls
    label_series = pl.Series("label", given.tolist())
    sugg = [names[s] if s >= 0 else None for s in res.suggested]
    frame = pl.DataFrame({
        "row": np.arange(n, dtype=np.int64),
        "label": label_series,
        "credibility": res.credibility.astype(np.float64),
        "flagged": res.flagged,
        "suggested_label": pl.Series(sugg, dtype=label_series.dtype),
        "confidence": pl.Series(res.confidence).fill_nan(None),
        "reason": pl.Series(res.reason, dtype=pl.String),
        "p_wrong": res.p_wrong.astype(np.float64),
        "alternative_label": pl.Series([names[a] for a in res.alternative],
                                       dtype=label_series.dtype),
    })
    if return_all:
        return frame
    return frame.filter(pl.col("flagged")).sort(["credibility", "row"]).drop("flagged")


__all__ = ["ISSUE_COLUMNS", "Run", "denoise", "find_label_issues", "load_run", "make_config"]
