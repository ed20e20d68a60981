"""Where the parallel work of a run executes: encoding shards and cross-validation folds.

``LocalEngine`` runs tasks in this process (one at a time, or in threads); ``DaskEngine`` sends
them to an existing ``dask.distributed`` cluster given by its scheduler address. Both expose
one method, ``map_unordered(fn, items, **shared)``, which yields ``(index, fn(item, **shared))``
as tasks finish, so the caller can save each finished shard or fold at once (a crashed run then
resumes from what was saved). ``shared`` holds the large inputs every task reads (the encoder,
the embeddings, the labels): Dask sends them to each worker once, not once per task.

The tasks themselves are deterministic (seeded folds, fixed shards), so a run gives the same
result on either engine; the driver (this process) still builds the neighbour graph and makes
every decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from relabel.config import ENGINE_CHOICES, check_engine_options
from relabel.errors import RelabelError

ENGINES = ENGINE_CHOICES
#: seconds to wait for the scheduler to answer
CONNECT_TIMEOUT = 15


class EngineError(RelabelError):
    """The Dask cluster cannot be reached or lost the work."""


class LocalEngine:
    """Tasks in this process: one after another, or ``n_jobs`` at a time in threads."""

    name = "local"

    def __init__(self, n_jobs: int = 1) -> None:
        self.n_jobs = max(1, int(n_jobs))

    def map_unordered(self, fn: Callable[..., Any], items: Sequence[Any], **shared: Any
                      ) -> Iterator[tuple[int, Any]]:
        """Yield ``(i, fn(items[i], **shared))`` as each task finishes."""
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
            raise EngineError("--engine dask needs dask.distributed: "
                              "pip install 'relabel[dask]'") from None
        self.scheduler = scheduler
        try:
            self.client = Client(scheduler, set_as_default=False,
                                 timeout=CONNECT_TIMEOUT if timeout is None else timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise EngineError(f"cannot reach the Dask scheduler at {scheduler} "
                              f"({reason})") from None

    def map_unordered(self, fn: Callable[..., Any], items: Sequence[Any], **shared: Any
                      ) -> Iterator[tuple[int, Any]]:
        """Yield ``(i, fn(items[i], **shared))`` as each task finishes on the cluster."""
        from distributed import as_completed as dask_completed

        if not items:
            return
        # each shared input goes to every worker once; the list wrapper keeps a dict (or any
        # container) in one piece
        refs = {name: self.client.scatter([value], broadcast=True, hash=False)[0]
                for name, value in shared.items()}
        futures = [self.client.submit(_call, fn, item, refs, pure=False) for item in items]
        index = {fut.key: i for i, fut in enumerate(futures)}
        try:
            for fut in dask_completed(futures, loop=self.client.loop):
                try:
                    result = fut.result()
                except Exception as exc:
                    if type(exc).__name__ in ("KilledWorker", "CommClosedError",
                                              "CancelledError", "FutureCancelledError"):
                        raise EngineError(f"the Dask cluster at {self.scheduler} lost a task "
                                          f"({type(exc).__name__}); run again to resume") from None
                    raise
                yield index[fut.key], result
        finally:
            for fut in futures:
                fut.release()
            for ref in refs.values():
                ref.release()

    def describe(self) -> dict[str, Any]:
        workers = self.client.scheduler_info().get("workers", {})
        return {"name": self.name, "scheduler": self.scheduler, "workers": len(workers),
                "threads": sum(int(w.get("nthreads", 0)) for w in workers.values())}

    def close(self) -> None:
        self.client.close()


def _call(fn: Callable[..., Any], item: Any, shared: dict[str, Any]) -> Any:
    return fn(item, **shared)


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


__all__ = ["ENGINES", "DaskEngine", "EngineError", "LocalEngine", "check_engine_options",
           "make_engine", "remote"]
