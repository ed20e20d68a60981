"""torch's intra-op thread count, shared by the stages that run work side by side in threads
(the encoder's CPU streams, concurrent corrector folds)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: torch's thread count is per process: one caller divides it at a time
_LOCK = threading.RLock()


@contextmanager
def torch_threads_divided(n_jobs: int) -> Iterator[None]:
    """Divide torch's intra-op threads among ``n_jobs`` concurrent tasks (at least one each),
    then restore them. Held by one caller at a time, so two callers cannot leave the process
    with the divided count."""
    import torch

    with _LOCK:
        before = torch.get_num_threads()
        torch.set_num_threads(max(1, before // n_jobs))
        try:
            yield
        finally:
            torch.set_num_threads(before)
