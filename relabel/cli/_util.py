"""The typer app shared by every command, and the one place errors become exit codes."""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from relabel.config import PRECISION_CHOICES, DenoiseConfig, split_list
from relabel.errors import RelabelError, cli_options

app = typer.Typer(
    name="relabel",
    help="Find and fix wrong labels in annotated datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

def _print_version(value: bool) -> None:
    if value:
        from relabel import __version__

        typer.echo(f"relabel {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print relabel's version and exit.")] = False) -> None:
    pass


#: ``relabel review push|pull``: human review in Label Studio
review_app = typer.Typer(
    name="review",
    help="Human review in Label Studio: push suggestions, pull decisions. The server and key "
         "come from LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY (or ~/.config/relabel/config.toml).",
    no_args_is_help=True,
)
app.add_typer(review_app, name="review")


def unwrap_help(*apps: typer.Typer) -> None:
    """Give every command of ``apps`` its docstring as help with each paragraph on one line:
    the rich help keeps a docstring's line breaks, which cut the command list mid-sentence."""
    import inspect

    for sub in apps:
        for info in sub.registered_commands:
            if info.help is None and info.callback is not None:
                doc = inspect.getdoc(info.callback) or ""
                info.help = "\n\n".join(" ".join(p.split()) for p in doc.split("\n\n"))

F = TypeVar("F", bound=Callable[..., Any])

#: exit code for bad input (same as a usage error)
EXIT_BAD_INPUT = 2


class _StderrHandler(logging.Handler):
    """Writes ``warning: ...`` lines to whatever ``sys.stderr`` is at the time of the call."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(f"{record.levelname.lower()}: {record.getMessage()}\n")


def setup_logging() -> None:
    """Send the library's warnings to stderr as ``warning: ...`` lines."""
    log = logging.getLogger("relabel")
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        log.addHandler(_StderrHandler())
    log.setLevel(logging.WARNING)
    log.propagate = False


#: exit code for a full disk (the environment, not the input)
EXIT_DISK_FULL = 1
#: exit code after Ctrl-C (128 + SIGINT, as shells report it)
EXIT_INTERRUPTED = 130
INTERRUPTED = "interrupted; run the same command again to resume"


def _disk_full(exc: BaseException) -> OSError | None:
    """The ENOSPC / EDQUOT error behind ``exc``: raised directly, wrapped by a library, or
    reported as text by a Rust writer (polars, pyarrow: "No space left on device")."""
    import errno

    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return exc
        if "No space left on device" in str(exc) or "Disk quota exceeded" in str(exc):
            return OSError(errno.ENOSPC, "No space left on device")
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
        seen += 1
    return None


@contextlib.contextmanager
def summary_prints_warnings() -> Iterator[None]:
    r"""Around a library call whose summary the command prints with its warnings: the
    :class:`~relabel.errors.RelabelWarning`\ s the Python API issues are not shown twice."""
    import warnings

    from relabel.errors import RelabelWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RelabelWarning)
        yield


def handle_errors(func: F) -> F:
    """Turn library errors into one line on stderr: bad input exit 2, a full disk exit 1,
    Ctrl-C exit 130 (every write is atomic, so nothing partial is left under a final name, and
    the caches let the same command resume)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        setup_logging()
        try:
            with cli_options():  # messages name --options, not Python keywords
                return func(*args, **kwargs)
        except RelabelError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except KeyboardInterrupt:
            typer.echo(INTERRUPTED, err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            full = _disk_full(exc)
            if full is None:
                raise
            where = f" while writing {full.filename}" if full.filename else ""
            typer.echo(f"error: the disk is full{where}; free some space and run the same "
                       "command again (earlier outputs are intact)", err=True)
            raise typer.Exit(EXIT_DISK_FULL) from None

    return wrapper  # type: ignore[return-value]


# Options shared by several commands, declared once (as spaCy's cli/_util.py does); their defaults
# come from relabel.config.DenoiseConfig, so the CLI and the Python API cannot drift apart.
DEFAULTS = DenoiseConfig()
TextCol = Annotated[str, typer.Option(help="Column holding the text.")]
LabelCol = Annotated[str, typer.Option(help="Column holding the given label.")]
IdCol = Annotated[str | None, typer.Option(help="Column with unique example ids "
                                                "(default: the column 'id' when there is one "
                                                "with no empty or repeated value, else the "
                                                "0-based row number).")]
TaskOpt = Annotated[str, typer.Option(help="text, relation (a text with head and tail entity "
                                           "spans), or auto: relation when span columns, or "
                                           "<e1>..</e1> <e2>..</e2> tags in the texts, are "
                                           "present.")]
SpanCols = Annotated[str, typer.Option(help="Relation spans of a flat file: head start, head "
                                            "end, tail start, tail end (character offsets, end "
                                            "exclusive).")]
TypeCols = Annotated[str, typer.Option(help="Optional entity type columns (head, tail) of a "
                                            "flat relation file.")]
Folds = Annotated[int, typer.Option(help="Cross-validation folds of the corrector.")]
Precision = Annotated[str, typer.Option(help="Encoder precision on the CPU: " + ", ".join(
    PRECISION_CHOICES) + ". bf16: about 2x faster where the CPU has AVX-512 BF16 or AMX, "
    "vectors within cosine 0.9999 of fp32; int8: faster still but less faithful (opt-in); auto "
    "(default): bf16 where the CPU computes it natively and a probe measures it faster with the "
    "same vectors, else fp32.")]
BatchSize = Annotated[int | None, typer.Option(min=1, help="Texts per encoder batch (default 64 "
                                               "on the CPU; on a GPU up to 2048 texts and "
                                               "131,072 tokens).")]
MaxLength = Annotated[int, typer.Option(min=8, help="Tokens per text (per window with "
                                        "--max-windows).")]
MaxWindows = Annotated[int, typer.Option(help="Encode a long text as up to this many windows of "
                                         "--max-length tokens and average them (1 = keep the "
                                         "first --max-length tokens).")]
LabelNames = Annotated[str | None, typer.Option(help="Names of integer-coded labels: a JSON "
                                                    "file (a list, or {code: name} as WRENCH's "
                                                    "label.json), a text file with one name "
                                                    "per line, or comma-separated names (code = "
                                                    "position). Reports, reviews and "
                                                    "suggestions name the classes; the export "
                                                    "writes codes.")]
Encoding = Annotated[str | None, typer.Option(help="Text encoding of a CSV, TSV or JSON input "
                                                "(default UTF-8), e.g. cp1252 for a CSV saved "
                                                "by a spreadsheet program on Windows, utf-16; "
                                                "export writes the cleaned file back in it.")]
DropInvalid = Annotated[bool, typer.Option("--drop-invalid", help="Skip rows with a null or "
                                           "empty text or label (with a warning) instead of "
                                           "failing.")]
Embeddings = Annotated[Path | None, typer.Option(readable=False,
                                                 help="Precomputed embeddings (.npy, N x D, "
                                                      "row i = input row i) to use instead of "
                                                      "encoding.")]
# several annotators per item (relabel consensus, and denoise on such data)
Annotations = Annotated[Path | None, typer.Option(readable=False,
                                                  help="Votes of several annotators per item, "
                                                       "long format (item_id, annotator, "
                                                       "label), when DATA holds the items.")]
LabelCols = Annotated[str | None, typer.Option(help="Several annotators per item, wide format: "
                                                    "one label column per annotator, "
                                                    "comma-separated.")]
VotesCol = Annotated[str | None, typer.Option(help="Several annotators per item, one row per "
                                                   "item: the column listing its votes (a list, "
                                                   "or comma-separated text as in LeWiDi "
                                                   "2023); --annotator-col may name the column "
                                                   "listing who cast them.")]
ItemCol = Annotated[str | None, typer.Option(help="Item id column of the votes (default "
                                                  "item_id; in wide format --id-col or the row "
                                                  "number).")]
Dedupe = Annotated[bool, typer.Option("--dedupe", help="Keep the last of repeated (item, "
                                      "annotator) votes instead of failing.")]
SkipOtherItems = Annotated[bool, typer.Option(
    "--skip-other-items", help="With --annotations: use only the votes on DATA's items "
    "(a whole project's votes beside one split), dropping and counting the others, instead of "
    "failing.")]
MultiSelect = Annotated[bool, typer.Option(
    "--multi-select", help="Long votes: an annotator's several labels for one item are one "
    "multi-select answer, each of its m choices a vote of 1/m, instead of failing.")]
Abstain = Annotated[str | None, typer.Option(help="Vote values that mean 'no vote', "
                                             "comma-separated (-1 for WRENCH and Snorkel label "
                                             "functions): dropped and counted.")]
SPAN_COLS_DEFAULT = ",".join(DEFAULTS.span_cols)
TYPE_COLS_DEFAULT = ",".join(DEFAULTS.type_cols)


def input_options(text_col: str, label_col: str, id_col: str | None, task: str, span_cols: str,
                  type_cols: str, drop_invalid: bool, label_names: str | None = None,
                  encoding: str | None = None) -> dict[str, Any]:
    """The input-spec fields of :class:`~relabel.config.DenoiseConfig` from the shared options
    (comma lists split once, here)."""
    return {"text_col": text_col, "label_col": label_col, "id_col": id_col, "task": task,
            "span_cols": split_list(span_cols), "type_cols": split_list(type_cols),
            "drop_invalid": drop_invalid, "label_names": label_names, "encoding": encoding}


def vote_options(annotations: Path | None, label_cols: str | None, votes_col: str | None,
                 annotator_col: str | None, item_col: str | None, dedupe: bool,
                 abstain: str | None = None, skip_other_items: bool = False,
                 multi_select: bool = False) -> dict[str, Any]:
    """The several-annotators fields of :class:`~relabel.config.DenoiseConfig` from their
    options (``denoise``, ``check``): with ``--annotations`` the votes' annotator column is
    ``annotator`` unless named."""
    return {"annotations": annotations,
            "label_cols": split_list(label_cols) if label_cols else None,
            "votes_col": votes_col,
            "annotator_col": annotator_col or ("annotator" if annotations else None),
            "item_col": item_col, "dedupe": dedupe, "abstain": split_list(abstain or ""),
            "skip_other_items": skip_other_items, "multi_select": multi_select}
