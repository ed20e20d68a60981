"""Every option that names a path, checked before any work: one mechanism for every command.

A command lists its paths as :class:`PathArg` records (the option's name, the path, and what it
must be) and calls :func:`check_paths` first; the first problem is one
:class:`~relabel.errors.RelabelInputError` line naming the option and the path, before a model
is loaded or anything is written. Kinds:

- ``input``: an existing, readable file (``dir_ok``: or a directory, e.g. a Hugging Face dataset
  saved with ``save_to_disk`` or a run directory);
- ``run_dir``: an existing, readable directory that ``relabel denoise`` (or ``train``) wrote;
- ``output_dir``: a directory that is not a file, not inside a file, and writable (probed by
  creating and removing a temporary file in the nearest existing directory: permission bits
  say nothing about a read-only mount, or about root); with ``inputs``, a run directory none
  of whose files (:meth:`relabel.rundir.RunFiles.owned`) is one of the inputs (``denoise
  data/scores.csv --out data`` overwrote its input);
- ``output_file``: a file in an existing, writable directory, not a directory (unless
  ``dir_ok``), never one of the ``protect``\\ ed paths (the input, a run's own files);
- ``model``: a local path (anything that exists, or looks like a path) must be a readable
  directory; anything else is a Hugging Face model id, checked when it is loaded.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from relabel.errors import RelabelInputError, option

KINDS = ("input", "run_dir", "output_dir", "output_file", "model")


@dataclass(frozen=True)
class PathArg:
    """One path a command was given.

    Attributes
    ----------
    option : str
        How the user named it (``--out``, ``DATA``), for the message.
    path : str or Path or None
        None: not given, nothing to check.
    kind : str
        One of ``KINDS``.
    dir_ok : bool
        ``input`` / ``output_file``: a directory is acceptable too.
    inputs : tuple of Path
        ``output_file``: the inputs it must not overwrite; ``output_dir``: the inputs none of
        the run directory's own files may be.
    protect : tuple of Path
        ``output_file``: other paths it must not be (nor be inside, for directories): a run's
        own files.
    owns : tuple of str
        ``output_dir`` with ``inputs``: the names of the files and directories the command
        writes in it (default: a run directory's, :meth:`relabel.rundir.RunFiles.owned`).
    created : tuple of Path
        ``output_file``: directories the command creates itself before writing the file (its
        ``--out``): the file's directory may be one of them though it does not exist yet.
    """

    option: str
    path: str | Path | None
    kind: str
    dir_ok: bool = False
    inputs: tuple[Path, ...] = field(default_factory=tuple)
    protect: tuple[Path, ...] = field(default_factory=tuple)
    owns: tuple[str, ...] = field(default_factory=tuple)
    created: tuple[Path, ...] = field(default_factory=tuple)


def _fail(arg: PathArg, message: str) -> RelabelInputError:
    """``PATH: message (--option)``; a positional argument is named by its path alone."""
    named = f" ({option(arg.option)})" if arg.option.startswith("-") else ""
    return RelabelInputError(f"{message}{named}", path=arg.path)


def _readable(path: Path) -> bool:
    if path.is_dir():
        return os.access(path, os.R_OK | os.X_OK)
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False


def _file_above(path: Path) -> Path | None:
    """The first ancestor of ``path`` that exists and is not a directory, if any."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def _nearest_dir(path: Path) -> Path:
    for parent in (path, *path.parents):
        if parent.is_dir():
            return parent
    return Path(".")


def _writable(directory: Path) -> bool:
    try:
        fd, name = tempfile.mkstemp(prefix=".relabel-probe-", dir=directory)
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def looks_like_path(name: str) -> bool:
    """A ``--model`` value that means a local directory (not a Hugging Face id)."""
    return (Path(name).exists() or name.startswith((".", "/", "~"))
            or (os.sep in name and name.count("/") != 1))


def check_path(arg: PathArg) -> None:
    """Raise one line for the first problem of ``arg`` (module docstring)."""
    if arg.path is None:
        return
    if arg.kind not in KINDS:
        raise ValueError(f"unknown path kind {arg.kind!r}")
    path = Path(arg.path).expanduser()
    if arg.kind == "input":
        if not path.exists():
            above = _file_above(path)
            raise _fail(arg, f"no such file (inside the file {above})" if above
                        else "no such file or directory")
        if path.is_dir() and not arg.dir_ok:
            raise _fail(arg, "is a directory, expected a file")
        if not _readable(path):
            raise _fail(arg, "cannot be read (permission denied)")
    elif arg.kind == "run_dir":
        if not path.exists():
            raise _fail(arg, "no such directory; run `relabel denoise` first")
        if not path.is_dir():
            raise _fail(arg, "is a file, expected a run directory of `relabel denoise`")
        if not _readable(path):
            raise _fail(arg, "cannot be read (permission denied)")
    elif arg.kind == "model":
        name = str(arg.path)
        if not looks_like_path(name):
            return
        if not path.exists():
            raise _fail(arg, "model path does not exist")
        if not path.is_dir():
            raise _fail(arg, "is a file, expected a model directory")
        if not _readable(path):
            raise _fail(arg, "cannot be read (permission denied)")
    elif arg.kind == "output_dir":
        if path.exists() and not path.is_dir():
            raise _fail(arg, "is a file, expected a directory (choose another "
                             f"{option(arg.option)})")
        above = _file_above(path)
        if above is not None:
            raise _fail(arg, f"is inside the file {above}, not a directory")
        if not _writable(_nearest_dir(path)):
            raise _fail(arg, f"cannot be written (no permission in {_nearest_dir(path)})")
        if arg.inputs:  # a run directory: none of its files may be an input
            from relabel.rundir import RunFiles

            root = path.resolve()
            owns = ([root / name for name in arg.owns] if arg.owns
                    else RunFiles(root).owned())
            for other in arg.inputs:
                other = Path(other).resolve()
                for owned in owns:
                    if other == owned or _inside(other, owned):
                        raise _fail(arg, f"holds the input {other.name}, which the run would "
                                         f"overwrite with its own {owned.name}; choose another "
                                         f"{option(arg.option)}")
    else:  # output_file
        resolved = path.resolve()
        for other in arg.inputs:
            if resolved == Path(other).resolve():
                raise _fail(arg, "would overwrite the input; write somewhere else")
        for other in arg.protect:
            other = Path(other).resolve()
            if resolved == other or (other.is_dir() and _inside(resolved, other)):
                raise _fail(arg, f"would overwrite {other.name}, which relabel needs; write "
                                 "somewhere else")
        if path.is_dir() and not arg.dir_ok:
            raise _fail(arg, "is a directory, expected a file name")
        above = _file_above(path)
        if above is not None:
            raise _fail(arg, f"is inside the file {above}, not a directory")
        made = any(path.parent.resolve() == Path(d).resolve() for d in arg.created)
        if made and not path.parent.is_dir():  # the command's own --out: checked as that
            return
        if not path.parent.is_dir():
            raise _fail(arg, f"the directory {path.parent} does not exist; create it first")
        if not _writable(path.parent):
            raise _fail(arg, f"cannot be written (no permission in {path.parent})")


def check_paths(args: Iterable[PathArg]) -> None:
    """:func:`check_path` on each, in order."""
    for arg in args:
        check_path(arg)


__all__ = ["KINDS", "PathArg", "check_path", "check_paths", "looks_like_path"]
