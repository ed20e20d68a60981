"""Progress bars on stderr (tqdm), shared by every long stage."""

from __future__ import annotations

from typing import Any


class _NoBar:
    """What a disabled bar is: ``update`` and ``close`` do nothing, and tqdm is not imported
    (``tqdm.auto`` warns in a notebook without ipywidgets even for a disabled bar)."""

    total: int | None = None

    def update(self, n: int = 1) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(enabled: bool, desc: str, total: int | None = None, unit: str = "it") -> Any:
    """A tqdm bar on stderr, or a disabled one that does nothing."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)


__all__ = ["progress_bar"]
