"""The options of a run, declared once: the CLI, the Python API and the stages read them here.

Two records:

- :class:`InputSpec`: what to read from the data (columns, task, relation spans). ``read_task``
  (:mod:`relabel.data.task`), ``relabel check``, ``review`` and ``export`` take only this.
- :class:`DenoiseConfig`: every option of ``denoise``; it extends the input spec.
  :func:`check_options` checks them before any work.

This module imports nothing heavy (no numpy, polars, torch or scikit-learn), so ``relabel --help``
and ``import relabel`` start fast. The values of the defaults, and why, are documented where
they act (``DEFAULT_TARGET_PRECISION`` in :mod:`relabel.detect.decide`, ``DEFAULT_MAX_LENGTH`` in
:mod:`relabel.embed.encoder`, ``DEFAULT_FOLDS`` in :mod:`relabel.correct.crossval`); those modules
import them from here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from relabel.errors import RelabelInputError, option

DEFAULT_TEXT_COL = "text"
DEFAULT_LABEL_COL = "label"
#: relation spans of a flat file: head start, head end, tail start, tail end (character offsets)
SPAN_COLS: tuple[str, str, str, str] = ("head_start", "head_end", "tail_start", "tail_end")
#: optional entity type columns of a flat relation file
TYPE_COLS: tuple[str, str] = ("head_type", "tail_type")
TASK_CHOICES = ("auto", "text", "relation")
POOLINGS = ("mean", "entity")
#: tokens per text (per window)
DEFAULT_MAX_LENGTH = 128
#: windows of DEFAULT_MAX_LENGTH tokens per long text (1 = truncate)
DEFAULT_MAX_WINDOWS = 1
#: a label is changed automatically only where the estimated probability of being right reaches
#: this (relabel/detect/decide.py)
DEFAULT_TARGET_PRECISION = 0.9
DEFAULT_FOLDS = 5
CORRECTOR_CHOICES = ("auto", "none", "linear", "head", "finetune")
DEFAULT_CORRECTOR = "auto"
LOSS_CHOICES = ("ce", "supcon", "soft", "distant_peer", "distant_peer_soft")
DEFAULT_LOSS = "distant_peer"
#: CPU inference precision of the encoder (relabel/embed/encoder.py; bench/bench_precision.py)
PRECISION_CHOICES = ("fp32", "bf16", "int8", "auto")
DEFAULT_PRECISION = "auto"
ENGINE_CHOICES = ("local", "dask")
DEFAULT_ENGINE = "local"
DEFAULT_SEED = 0
#: exponent of the class prior divided out of the combined posterior (detect/combine.py)
DEFAULT_PRIOR_BALANCE = 1.0


@dataclass(frozen=True)
class InputSpec:
    """What to read from a dataset: its columns and its task.

    Parameters
    ----------
    text_col, label_col : str
        Columns holding the text and the given label.
    id_col : str, optional
        Column of unique example ids (default: ``id`` when the input has such a column
        with no empty or repeated value, else the 0-based row number).
    task : {"auto", "text", "relation"}
        ``auto``: relation when entity span columns, or ``<e1>``/``<e2>`` tags in the
        texts, are present.
    span_cols : tuple of 4 str
        Relation spans of a flat file (head start, head end, tail start, tail end).
    type_cols : tuple of 2 str
        Optional entity type columns of a flat relation file.
    pooling : {"mean", "entity"}, optional
        Encoder pooling (default: entity for relations, mean for text).
    drop_invalid : bool
        Skip rows with a null or empty text or label (with a warning) instead of failing.
    label_names : optional
        Names of integer-coded labels, so that the report, the reviewers and the suggestions
        name classes while the export writes codes back: a list of names (code = position), a
        ``{code: name}`` mapping (WRENCH's ``label.json``), a JSON file of either, a text file
        with one name per line, or comma-separated names. Kept as ``(code, name)`` pairs
        (:func:`parse_label_names`).
    encoding : str, optional
        The text encoding of a CSV, TSV or JSON input (default UTF-8); ``export`` writes the
        cleaned file back in it (:mod:`relabel.data.encoding`).
    """

    text_col: str = DEFAULT_TEXT_COL
    label_col: str = DEFAULT_LABEL_COL
    id_col: str | None = None
    task: str = "auto"
    span_cols: tuple[str, ...] = SPAN_COLS
    type_cols: tuple[str, ...] = TYPE_COLS
    pooling: str | None = None
    drop_invalid: bool = False
    label_names: Any = None
    encoding: str | None = None

    def __post_init__(self) -> None:
        if self.label_names is not None:
            object.__setattr__(self, "label_names", parse_label_names(self.label_names))

    def check(self) -> None:
        """Raise RelabelInputError (one line) for the first option out of range."""
        if self.task not in TASK_CHOICES:
            raise RelabelInputError(f"{option('--task')} must be one of {', '.join(TASK_CHOICES)}, "
                                    f"got {self.task!r}")
        if self.pooling is not None and self.pooling not in POOLINGS:
            raise RelabelInputError(f"{option('--pooling')} must be one of {', '.join(POOLINGS)}, "
                                    f"got {self.pooling!r}")
        if len(self.span_cols) != 4:
            raise RelabelInputError(f"{option('--span-cols')} needs four column names: head start, "
                                    f"head end, tail start, tail end; got {len(self.span_cols)}")
        if len(self.type_cols) != 2:
            raise RelabelInputError(f"{option('--type-cols')} needs two column names: head type, "
                                    "tail type; "
                                    f"got {len(self.type_cols)}")
        if self.encoding is not None:
            from relabel.data.encoding import check_encoding

            check_encoding(self.encoding)

    def to_json(self) -> dict[str, Any]:
        return {"text_col": self.text_col, "label_col": self.label_col, "id_col": self.id_col,
                "task": self.task, "span_cols": list(self.span_cols),
                "type_cols": list(self.type_cols), "pooling": self.pooling,
                "drop_invalid": self.drop_invalid,
                "label_names": (None if self.label_names is None else
                                [list(p) for p in self.label_names]),
                "encoding": self.encoding}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> InputSpec:
        return cls(text_col=d.get("text_col", DEFAULT_TEXT_COL),
                   label_col=d.get("label_col", DEFAULT_LABEL_COL), id_col=d.get("id_col"),
                   task=d.get("task") or "auto",
                   span_cols=tuple(d.get("span_cols") or SPAN_COLS),
                   type_cols=tuple(d.get("type_cols") or TYPE_COLS),
                   pooling=d.get("pooling"), drop_invalid=bool(d.get("drop_invalid")),
                   label_names=d.get("label_names"), encoding=d.get("encoding"))


def parse_label_names(value: Any) -> tuple[tuple[str, str], ...]:
    """``(code, name)`` pairs from the forms :class:`InputSpec` documents for ``label_names``.

    Raises
    ------
    RelabelInputError
        An unreadable file, an empty name, or a name or code given twice.
    """
    import json

    source = option("--label-names")
    if isinstance(value, Path) or (isinstance(value, str) and (
            Path(value).suffix.lower() in (".json", ".txt", ".csv") or "/" in value
            or Path(value).is_file())):
        path = Path(value)
        source = str(path)
        if not path.is_file():
            raise RelabelInputError("no such file", path=path)
        text = path.read_text(encoding="utf-8-sig")
        if path.suffix.lower() == ".json":
            try:
                value = json.loads(text)
            except json.JSONDecodeError as err:
                raise RelabelInputError(f"not JSON ({err.msg}, line {err.lineno})",
                                        path=path) from None
        else:
            value = [line.strip() for line in text.splitlines() if line.strip()]
    elif isinstance(value, str):
        value = split_list(value)
    if isinstance(value, dict):
        pairs = [(str(k), v) for k, v in value.items()]
        if all(isinstance(v, int) for v in value.values()) and not all(
                str(k).lstrip("-").isdigit() for k in value):
            pairs = [(str(v), str(k)) for k, v in value.items()]  # {name: code}: label2id
    elif isinstance(value, (list, tuple)) and value and all(
            isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
        pairs = [(str(c), n) for c, n in value]
    elif isinstance(value, (list, tuple)):
        pairs = [(str(i), n) for i, n in enumerate(value)]
    else:
        raise RelabelInputError("label names must be a list of names or a {code: name} "
                                f"mapping, got {type(value).__name__}", path=source)
    if not pairs:
        raise RelabelInputError("no label names given", path=source)
    if any(not isinstance(n, (str, int)) or not str(n).strip() for _, n in pairs):
        raise RelabelInputError("a label name is empty or not a string", path=source)
    pairs = [(c.strip(), str(n).strip()) for c, n in pairs]
    for what, values in (("code", [c for c, _ in pairs]), ("name", [n for _, n in pairs])):
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise RelabelInputError(f"label {what} given twice: {', '.join(map(repr, twice))}",
                                    path=source)
    return tuple(pairs)


def split_list(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``"a, b,c"`` -> ``("a", "b", "c")`` (the CLI's comma lists); tuples pass through."""
    if isinstance(value, str):
        return tuple(c.strip() for c in value.split(",") if c.strip())
    return tuple(value)


def abstain_values(value: Any) -> tuple[str, ...]:
    """The vote values that are abstentions (``--abstain``) as text: None -> ``()``, ``"-1"``
    or ``"-1, abstain"`` split on commas, a number or a list of them as text (``-1`` and
    ``-1.0`` -> ``"-1"``)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return split_list(value)
    items = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for v in items:
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        out.append(str(v).strip())
    return tuple(v for v in out if v)


@dataclass(frozen=True)
class DenoiseConfig(InputSpec):
    """Every option of a ``denoise`` run: the input spec (:class:`InputSpec`, inherited) and the
    encoder, corrector and decision options. The CLI and :func:`relabel.denoise` declare their
    defaults from these fields; :attr:`input_spec` returns the input part as its own record.
    """

    model: str | None = None
    #: CPU inference precision of the encoder: fp32, bf16 (weights in bfloat16), int8 (dynamic
    #: quantisation, opt-in), auto (bf16 where the CPU computes it natively and a probe
    #: measures it faster with the same vectors; relabel/embed/encoder.py)
    precision: str = DEFAULT_PRECISION
    #: None = 64 on the CPU; on a GPU up to 2048 texts and 131,072 tokens per batch
    batch_size: int | None = None
    max_length: int = DEFAULT_MAX_LENGTH
    #: windows of max_length tokens per long text, averaged (1 = truncate; mean pooling only)
    max_windows: int = DEFAULT_MAX_WINDOWS
    #: flag where credibility is below this instead of the estimated noise count
    threshold: float | None = None
    #: change a label only where the estimated probability of being right reaches this
    target_precision: float = DEFAULT_TARGET_PRECISION
    #: passes of the rule: judge again on the labels a pass changed, where it changed more
    #: than 0.3% of the rows (None = the corrector's default, relabel.detect.score.PASSES: 2
    #: with linear, else 1; 1 = judge the given labels once)
    passes: int | None = None
    #: None = DEFAULT_WEIGHTS, or CORRECTOR_WEIGHTS with a corrector (relabel/detect/score.py)
    weights: dict[str, float] | None = None
    prior_balance: float = DEFAULT_PRIOR_BALANCE
    corrector: str = DEFAULT_CORRECTOR
    #: text classification with the linear corrector: average in a model of the texts' words
    #: (relabel/correct/lexical.py; up to LEXICAL_MAX_ROWS rows)
    words: bool = True
    folds: int = DEFAULT_FOLDS
    loss: str = DEFAULT_LOSS
    #: None = the corrector's own default (head: 12 epochs, lr 3e-3; finetune: 4, 5e-5)
    epochs: int | None = None
    lr: float | None = None
    grad_accum: int = 1
    #: precomputed (N, D) embeddings (.npy, row i = input row i) instead of encoding
    embeddings: str | Path | None = None
    seed: int = DEFAULT_SEED
    #: reviewers' decisions to trust (a reviews.parquet, a run directory, or a table with columns
    #: id and reviewed_label): relabel/review/reviews.py
    reviews: str | Path | None = None
    #: where encoding shards and corrector folds run: local, or dask (with ``scheduler``)
    engine: str = DEFAULT_ENGINE
    scheduler: str | None = None
    #: several annotators per item (relabel/crowd/api.py): the votes in a second file (long:
    #: item, annotator, label), or one label column per annotator (wide), or long votes in the
    #: data itself (``annotator_col`` set); the consensus becomes the given label
    annotations: str | Path | None = None
    label_cols: tuple[str, ...] | None = None
    #: ... or one row per item with a column listing its votes (``annotator_col``: who cast
    #: them, in the same order)
    votes_col: str | None = None
    annotator_col: str | None = None
    #: the items' id column in long votes (default ``item_id``)
    item_col: str | None = None
    #: keep the last of repeated (item, annotator) votes instead of failing
    dedupe: bool = False
    #: drop the votes on items the items' file lacks instead of failing (``--annotations``)
    skip_other_items: bool = False
    #: an annotator's several labels for one item are one multi-select answer: each of its m
    #: choices a vote of 1/m (long votes), instead of an error
    multi_select: bool = False
    #: vote values that mean "no vote" (WRENCH and Snorkel label functions write -1 when they
    #: abstain): dropped and counted (relabel/crowd/votes.py)
    abstain: tuple[str, ...] = ()

    def path_args(self) -> list[Any]:
        """The options that name paths, as :class:`relabel.paths.PathArg` records (checked
        before any work by :func:`relabel.paths.check_paths`)."""
        from relabel.paths import PathArg

        return [PathArg("--embeddings", self.embeddings, "input"),
                PathArg("--model", self.model, "model"),
                PathArg("--reviews", self.reviews if isinstance(self.reviews, (str, Path))
                        else None, "input", dir_ok=True),
                PathArg("--annotations", self.annotations
                        if isinstance(self.annotations, (str, Path)) else None, "input")]

    @property
    def multi_annotator(self) -> bool:
        """True when the data has several annotators per item."""
        return bool(self.annotations is not None or self.label_cols or self.votes_col
                    or self.annotator_col is not None)

    @property
    def input_spec(self) -> InputSpec:
        """The columns and task, as one record."""
        return InputSpec(**{f.name: getattr(self, f.name) for f in fields(InputSpec)})

    @classmethod
    def option_names(cls) -> list[str]:
        """The option names, in declaration order."""
        return [f.name for f in fields(cls)]


def check_engine_options(name: str, scheduler: str | None) -> None:
    """Raise RelabelInputError (one line) for an unknown engine name or a missing or needless
    scheduler; no connection is made."""
    if name not in ENGINE_CHOICES:
        raise RelabelInputError(f"{option('--engine')} must be one of {', '.join(ENGINE_CHOICES)}, "
                                f"got {name!r}")
    if name == "dask" and not scheduler:
        raise RelabelInputError(f"{option('--engine', 'dask')} needs "
                                f"{option('--scheduler', 'ADDRESS')} (e.g. tcp://127.0.0.1:8786)")
    if name != "dask" and scheduler:
        raise RelabelInputError(f"{option('--scheduler')} is only used with "
                                f"{option('--engine', 'dask')}")


def check_options(cfg: DenoiseConfig) -> None:
    """Raise RelabelInputError for the first option out of range (before any work; ``relabel
    check`` reports it too)."""
    if cfg.threshold is not None and not 0.0 <= cfg.threshold <= 1.0:
        raise RelabelInputError(f"{option('--threshold')} must be in [0, 1], got {cfg.threshold}")
    if cfg.corrector not in CORRECTOR_CHOICES:
        raise RelabelInputError(f"{option('--corrector')} must be one of "
                                f"{', '.join(CORRECTOR_CHOICES)}, "
                                f"got {cfg.corrector!r}")
    if cfg.precision not in PRECISION_CHOICES:
        raise RelabelInputError(f"{option('--precision')} must be one of "
                                f"{', '.join(PRECISION_CHOICES)}, "
                                f"got {cfg.precision!r}")
    if cfg.loss not in LOSS_CHOICES:
        raise RelabelInputError(f"{option('--loss')} must be one of {', '.join(LOSS_CHOICES)}, "
                                f"got {cfg.loss!r}")
    cfg.input_spec.check()
    if cfg.folds < 2:
        raise RelabelInputError(f"{option('--folds')} must be at least 2, got {cfg.folds}")
    check_engine_options(cfg.engine, cfg.scheduler)
    for name in ("epochs", "grad_accum", "max_windows", "batch_size", "passes"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise RelabelInputError(f"{option('--' + name.replace('_', '-'))} must be at least "
                                    f"1, got {value}")
    if cfg.max_length < 8:
        raise RelabelInputError(f"{option('--max-length')} must be at least 8, "
                                f"got {cfg.max_length}")
    if not 0.5 <= cfg.target_precision < 1.0:
        raise RelabelInputError(f"{option('--target-precision')} must be in [0.5, 1), got "
                                f"{cfg.target_precision}")
    if cfg.lr is not None and not cfg.lr > 0:
        raise RelabelInputError(f"{option('--lr')} must be positive, got {cfg.lr}")
    if cfg.label_cols and (cfg.annotations is not None or cfg.annotator_col is not None
                           or cfg.votes_col):
        raise RelabelInputError(f"{option('--label-cols')} (one column per annotator) cannot be "
                                f"combined with {option('--annotations')}, "
                                f"{option('--votes-col')} or {option('--annotator-col')}")
    if cfg.abstain and not cfg.multi_annotator:
        raise RelabelInputError(f"{option('--abstain')} applies to several annotators' votes "
                                f"({option('--votes-col')}, {option('--label-cols')}, "
                                f"{option('--annotations')} or {option('--annotator-col')})")
    if cfg.votes_col and cfg.annotations is not None:
        raise RelabelInputError(f"{option('--votes-col')} (a list of votes per item) cannot be "
                                f"combined with {option('--annotations')} (long votes in "
                                "another file)")


__all__ = ["DenoiseConfig", "InputSpec", "abstain_values", "check_engine_options",
           "check_options", "parse_label_names", "split_list"]
