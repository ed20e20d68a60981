"""Progress on stderr, shared by every long stage: a tqdm bar in a terminal or a notebook, and
a plain line now and then when stderr is a file or a pipe (a log, CI, ``nohup``), where a
redrawn bar leaves carriage returns and cursor-movement codes in the text."""

from __future__ import annotations

import sys
import time
from typing import Any

#: seconds between two progress lines written to a log
LINE_INTERVAL = 30.0


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


class LineBar(_NoBar):
    """Progress as whole lines (``encoding: 1200/5000 texts (24%), 41 s``), at most one every
    ``interval`` seconds, for a stderr that is not a terminal; nothing for a stage that ends
    sooner."""

    def __init__(self, desc: str, total: int | None, unit: str, *,
                 interval: float | None = None, stream: Any = None) -> None:
        self.desc, self.total, self.unit = desc, total, unit
        self.interval = LINE_INTERVAL if interval is None else interval
        self.n = 0
        self._stream = stream
        self._start = self._last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._write(now)

    def _write(self, now: float) -> None:
        share = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        of = f"/{self.total}" if self.total is not None else ""
        stream = self._stream if self._stream is not None else sys.stderr
        unit = self.unit if self.unit in ("it", "") or self.unit.endswith("s") else self.unit + "s"
        stream.write(f"{self.desc}: {self.n}{of} {unit}{share}, "
                     f"{now - self._start:.0f} s\n")
        stream.flush()


def _live_display() -> bool:
    """Whether stderr is a terminal or a notebook's output (where a redrawn bar belongs)."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def progress_bar(enabled: bool, desc: str, total: int | None = None, unit: str = "it") -> Any:
    """A tqdm bar on stderr in a terminal or a notebook, a :class:`LineBar` when stderr is a
    file or a pipe, or a disabled one that does nothing."""
    if not enabled:
        return _NoBar()
    if not _live_display():
        return LineBar(desc, total, unit)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)


__all__ = ["LINE_INTERVAL", "LineBar", "progress_bar"]
