"""Where the parallel work of a run executes: encoding shards and cross-validation folds.

``LocalEngine`` runs tasks in this process (one at a time, or in threads); ``DaskEngine`` sends
them to an existing ``dask.distributed`` cluster given by its scheduler address. Both expose
one method, ``map_unordered(fn, items, **shared)``, which yields ``(index, fn(item, **shared))``
as tasks finish, so the caller can save each finished shard or fold at once (a crashed run then
resumes from what was saved). ``shared`` holds the large inputs every task reads (the encoder,
the embeddings, the labels): Dask sends them to each worker once, not once per task. An input
that is a read-only memory map of a file every worker can see with the same size and
modification time (shared storage, or a cluster on one machine) is not sent at all: the workers
map the file themselves (:class:`MappedFile`).

The tasks themselves are deterministic (seeded folds, fixed shards, fixed blocks of rows), so a
run gives the same result on either engine; the driver (this process) plans the neighbour
graph and merges what the tasks return: the blocks of the graph, the kNN vote, the KDE and the
decisions' row-wise passes (:mod:`relabel.detect.decide`) come back as rows it puts in place.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from relabel.config import ENGINE_CHOICES, check_engine_options
from relabel.errors import RelabelError, option

ENGINES = ENGINE_CHOICES
#: seconds to wait for the scheduler to answer
CONNECT_TIMEOUT = 15


class EngineError(RelabelError):
    """The Dask cluster cannot be reached or lost the work."""


@dataclass(frozen=True)
class MappedFile:
    """A read-only memory-mapped array named by its file: what a worker gets instead of the
    array's bytes when it sees the same file (same size and modification time).

    Attributes
    ----------
    path : str
        The mapped file, absolute.
    dtype : str
    shape : tuple of int
    offset : int
        Byte offset of the array in the file (the ``.npy`` header's length).
    size, mtime_ns : int
        The file's size and modification time when it was mapped, so a worker never maps a
        different file of the same name.
    """

    path: str
    dtype: str
    shape: tuple[int, ...]
    offset: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, value: Any) -> MappedFile | None:
        """The file behind ``value`` when it is a whole read-only ``np.memmap`` (as
        ``np.load(mmap_mode="r")`` returns), else None (views, spilled arrays of unlinked
        files, ordinary arrays)."""
        import numpy as np

        if not (isinstance(value, np.memmap) and isinstance(value.base, mmap.mmap)
                and value.filename and value.mode == "r" and value.flags.c_contiguous):
            return None
        try:
            st = os.stat(value.filename)
        except OSError:
            return None
        return cls(str(value.filename), value.dtype.str, tuple(int(s) for s in value.shape),
                   int(value.offset), st.st_size, st.st_mtime_ns)

    def visible(self) -> bool:
        """Whether this machine sees the same file."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return st.st_size == self.size and st.st_mtime_ns == self.mtime_ns

    def open(self) -> Any:
        """The array, mapped read-only here."""
        import numpy as np

        return np.memmap(self.path, dtype=np.dtype(self.dtype), mode="r", shape=self.shape,
                         offset=self.offset)


class LocalEngine:
    """Tasks in this process: one after another, or ``n_jobs`` at a time in threads."""

    name = "local"

    def __init__(self, n_jobs: int = 1) -> None:
        self.n_jobs = max(1, int(n_jobs))

    def map_unordered(self, fn: Callable[..., Any], items: Sequence[Any], *,
                      window: int | None = None, **shared: Any) -> Iterator[tuple[int, Any]]:
        """Yield ``(i, fn(items[i], **shared))`` as each task finishes (``window``: see
        :meth:`DaskEngine.map_unordered`; threads here take items as they free up anyway)."""
        if self.n_jobs == 1 or len(items) < 2:
            for i, item in enumerate(items):
                yield i, fn(item, **shared)
            return
        with ThreadPoolExecutor(self.n_jobs) as pool:
            futures = {pool.submit(fn, item, **shared): i for i, item in enumerate(items)}
            for fut in as_completed(futures):
                yield futures[fut], fut.result()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}

    def close(self) -> None:
        pass


class DaskEngine:
    """Tasks on an existing ``dask.distributed`` cluster.

    Parameters
    ----------
    scheduler : str
        Scheduler address, e.g. ``tcp://10.0.0.5:8786``.
    timeout : float, optional
        Seconds to wait for the scheduler (default ``CONNECT_TIMEOUT``).
    """

    name = "dask"

    def __init__(self, scheduler: str, *, timeout: float | None = None) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise EngineError(f"{option('--engine', 'dask')} needs dask.distributed: "
                              "pip install 'relabel[dask]'") from None
        self.scheduler = scheduler
        #: per shared input of the last map_unordered: "file" (workers mapped it), "sent" (sent
        #: now), or "kept" (sent by an earlier call of this engine and still on the workers)
        self.sent: dict[str, str] = {}
        self._visible: dict[MappedFile, bool] = {}
        #: read-only arrays already on the workers: id -> (the array, its future)
        self._kept: dict[int, tuple[Any, Any]] = {}
        try:
            self.client = Client(scheduler, set_as_default=False,
                                 timeout=CONNECT_TIMEOUT if timeout is None else timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise EngineError(f"cannot reach the Dask scheduler at {scheduler} "
                              f"({reason})") from None

    def map_unordered(self, fn: Callable[..., Any], items: Sequence[Any], *,
                      window: int | None = None, **shared: Any) -> Iterator[tuple[int, Any]]:
        """Yield ``(i, fn(items[i], **shared))`` as each task finishes on the cluster.

        ``window``: at most this many tasks are submitted and not yet finished, for items that
        are large themselves (a block of rows each): the driver then holds a bounded number of
        them in flight instead of serialising all at once. Default: all at once.
        """
        from distributed import as_completed as dask_completed

        if not items:
            return
        # each shared input goes to every worker once per call; a mapped file every worker
        # sees goes as its name only, and a large read-only array once per run
        refs, self.sent, temporary = {}, {}, []
        for name, value in shared.items():
            ref = MappedFile.of(value)
            if ref is not None and self._all_see(ref):
                refs[name], self.sent[name] = self._scatter(ref), "file"
                temporary.append(refs[name])
            elif _reusable(value):  # the embeddings: one copy per worker for the whole run
                kept = self._kept.get(id(value))
                self.sent[name] = "kept" if kept is not None and kept[0] is value else "sent"
                if kept is None or self.sent[name] == "sent":
                    kept = self._kept[id(value)] = (value, self._scatter(value))
                refs[name] = kept[1]
            else:
                refs[name], self.sent[name] = self._scatter(value), "sent"
                temporary.append(refs[name])
        window = len(items) if window is None else max(1, int(window))
        live = {}  # submitted and not yet handed back: key -> (item index, future)
        for i, item in enumerate(items[:window]):
            fut = self.client.submit(_call, fn, item, refs, pure=False)
            live[fut.key] = (i, fut)
        submitted = len(live)
        pending = dask_completed([f for _, f in live.values()], loop=self.client.loop)
        try:
            for fut in pending:
                if submitted < len(items):  # keep the window full
                    nxt = self.client.submit(_call, fn, items[submitted], refs, pure=False)
                    live[nxt.key] = (submitted, nxt)
                    submitted += 1
                    pending.add(nxt)
                try:
                    result = fut.result()
                except Exception as exc:
                    if type(exc).__name__ in ("KilledWorker", "CommClosedError",
                                              "CancelledError", "FutureCancelledError"):
                        raise EngineError(f"the Dask cluster at {self.scheduler} lost a task "
                                          f"({type(exc).__name__}); run again to resume") from None
                    raise
                i, _ = live.pop(fut.key)
                fut.release()  # the cluster may forget the result now
                yield i, result
        finally:
            for _, fut in live.values():
                fut.release()
            for ref in temporary:
                ref.release()

    def _scatter(self, value: Any) -> Any:
        """``value`` on every worker (the list wrapper keeps a container in one piece)."""
        return self.client.scatter([value], broadcast=True, hash=False)[0]

    def _all_see(self, ref: MappedFile) -> bool:
        """Whether every worker sees ``ref``'s file (asked once per file)."""
        if ref not in self._visible:
            try:
                seen = self.client.run(ref.visible)
            except Exception:  # a worker that cannot answer gets the bytes
                seen = {}
            self._visible[ref] = bool(seen) and all(seen.values())
        return self._visible[ref]

    def describe(self) -> dict[str, Any]:
        workers = self.client.scheduler_info().get("workers", {})
        return {"name": self.name, "scheduler": self.scheduler, "workers": len(workers),
                "threads": sum(int(w.get("nthreads", 0)) for w in workers.values())}

    def close(self) -> None:
        for _, fut in self._kept.values():
            fut.release()
        self._kept.clear()
        self.client.close()


def _reusable(value: Any) -> bool:
    """Whether a shared input may stay on the workers for later calls: a large read-only
    array (the run's embeddings; nothing writes to it through this reference)."""
    import numpy as np

    return (isinstance(value, np.ndarray) and not value.flags.writeable
            and value.nbytes >= 1 << 16)


def _call(fn: Callable[..., Any], item: Any, shared: dict[str, Any]) -> Any:
    shared = {name: value.open() if isinstance(value, MappedFile) else value
              for name, value in shared.items()}
    return fn(item, **shared)


#: blocks of rows in flight per worker thread in :func:`blocks_on` (each carries its own rows)
BLOCKS_IN_FLIGHT = 4


def blocks_on(engine: Any, fn: Callable[..., Any], blocks: Sequence[Any], **shared: Any
              ) -> Iterator[tuple[int, Any]]:
    """Yield ``(i, fn(blocks[i], **shared))``: here, in order, without a remote engine; on a
    Dask ``engine`` with at most ``BLOCKS_IN_FLIGHT`` blocks per worker thread submitted at a
    time (blocks that carry their own rows of a large array), in any order."""
    engine = remote(engine)
    if engine is None:
        for i, block in enumerate(blocks):
            yield i, fn(block, **shared)
        return
    yield from engine.map_unordered(fn, blocks, window=BLOCKS_IN_FLIGHT * worker_threads(engine),
                                    **shared)


def worker_threads(engine: Any) -> int:
    """Worker threads of ``engine`` (at least 1): what the blocks of a stage are sized by."""
    return max(1, int(engine.describe().get("threads", 1)))


def remote(engine: Any) -> Any:
    """``engine`` when it sends work elsewhere (Dask), else None: a local engine would only add
    a copy per task to work the caller does best in place."""
    return engine if engine is not None and getattr(engine, "name", "local") != "local" else None


def make_engine(name: str, scheduler: str | None = None, *, n_jobs: int = 1
                ) -> LocalEngine | DaskEngine:
    """The engine ``--engine NAME [--scheduler ADDRESS]`` asks for; raises RelabelError (one
    line) for bad options (:func:`check_engine_options`) or a cluster out of reach."""
    check_engine_options(name, scheduler)
    if name == "dask":
        assert scheduler is not None
        return DaskEngine(scheduler)
    return LocalEngine(n_jobs)


__all__ = ["BLOCKS_IN_FLIGHT", "ENGINES", "DaskEngine", "EngineError", "LocalEngine",
           "MappedFile", "blocks_on", "check_engine_options",
           "make_engine", "remote", "worker_threads"]
