"""Progress bars on stderr (tqdm), shared by every long stage."""

from __future__ import annotations

from typing import Any


def progress_bar(enabled: bool, desc: str, total: int | None = None, unit: str = "it") -> Any:
    """A tqdm bar on stderr, or a disabled one that does nothing (``update``/``close`` work)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=False,
                dynamic_ncols=True)


__all__ = ["progress_bar"]
