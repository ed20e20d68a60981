"""One writer per run directory: a lock file naming the process that holds it.

``denoise``, ``consensus``, ``export``, ``review push`` / ``pull`` / ``next`` and ``train`` take
the lock of the directory they write (``DIR/.relabel.lock``, created with ``O_EXCL``). A second
command on the same directory refuses with one line naming the holder (its PID, command and
start time). A lock whose process is gone (a killed run) is taken over, with a warning, and the
temporary files that process's atomic writes left in the directory (``.NAME.*.tmp``, and the
``.NAME.old-PID`` of a directory being replaced) are removed: the lock says no other relabel
process writes there. The lock is released when the command ends, however it ends (an
exception, Ctrl-C); a directory the command created and left empty is removed with it.

Re-entrant within one process: a stage that calls another (``denoise`` runs ``consensus`` into
the same directory) holds the lock once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from relabel.errors import RelabelInputError

LOCK_NAME = ".relabel.lock"
log = logging.getLogger("relabel")

_held: dict[Path, int] = {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


#: an empty or unreadable lock file older than this is a crashed writer's: taken over
STALE_EMPTY_S = 10.0


def _create(path: Path, info: dict) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(info, f)
    except BaseException:  # a full disk: leave no empty lock behind
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return True


def _age(path: Path) -> float:
    import time

    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


@contextlib.contextmanager
def run_lock(run_dir: str | Path, command: str) -> Iterator[Path]:
    """Hold the lock of ``run_dir`` (created if needed) while the block runs.

    Raises
    ------
    RelabelInputError
        Another live process holds the lock.
    """
    root = Path(run_dir).resolve()
    if root in _held:
        _held[root] += 1
        try:
            yield root / LOCK_NAME
        finally:
            _held[root] -= 1
        return
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    crashed: list[int] = []
    for _ in range(5):
        if _create(path, info):
            break
        other = _read(path)
        pid = int(other.get("pid") or 0)
        same_host = other.get("host") in (None, info["host"])
        if (pid and same_host and not _alive(pid)) or pid == os.getpid():
            log.warning("%s: taking over the lock of process %s (%s), which is gone", root,
                        pid, other.get("command", "relabel"))
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            if pid != os.getpid():
                crashed.append(pid)
            continue
        if not other:  # being written right now (look again), or left empty by a crash
            if _age(path) > STALE_EMPTY_S:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            else:
                import time

                time.sleep(0.2)
            continue
        raise RelabelInputError(
            f"in use by another relabel process (pid {pid}, `{other.get('command', '?')}`, "
            f"started {other.get('started', '?')}"
            + ("" if same_host else f", on {other.get('host')}")
            + "); wait for it to finish or stop it", path=root)
    else:
        raise RelabelInputError("cannot take the run directory's lock", path=root)
    if crashed:
        from relabel.data.write import remove_leftovers

        remove_leftovers(root, crashed)
    _held[root] = 1
    try:
        yield path
    finally:
        _held.pop(root, None)
        if _read(path).get("pid") == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if created:  # a command that failed before writing anything leaves nothing behind
            with contextlib.suppress(OSError):
                root.rmdir()  # only when empty


F = TypeVar("F", bound=Callable[..., Any])


def locks_run_dir(command: str) -> Callable[[F], F]:
    """Decorate a function whose first argument is a run directory: the directory is checked
    (:mod:`relabel.paths`) and its lock held while the function runs."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(run_dir: str | Path, *args: Any, **kwargs: Any) -> Any:
            from relabel.paths import PathArg, check_paths

            check_paths([PathArg("DIR", run_dir, "run_dir")])
            with run_lock(run_dir, command):
                return func(run_dir, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


__all__ = ["LOCK_NAME", "locks_run_dir", "run_lock"]
