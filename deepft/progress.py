"""Progress of long loops: a bar on a terminal, a periodic plain line in a log.

A loop that finishes within ``delay`` seconds (default 3 s) shows nothing. Past that:

- when the stream (default ``sys.stderr``) is a terminal: a one-line bar redrawn in place
  (``\\r``) at most every ``redraw`` seconds, ended with a newline when the loop ends;
- otherwise (a log file, a pipe, a batch job): a line through the ``deepft`` logger every
  ``interval`` seconds (default 30 s) and one when the loop ends, e.g.
  ``model-devi: 40/100 frames (40%), 12.0 s elapsed, about 18 s left``.

No dependency beyond the standard library. Usage::

    for frame in track(range(n), "model-devi", unit="frames"):
        ...

or ``with Progress(n, "neighbor-stat") as bar: ... bar.update(k)``.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

log = logging.getLogger("deepft.progress")

T = TypeVar("T")

BAR_WIDTH = 30


def _duration(seconds: float) -> str:
    """``12.3 s``, ``4 min 05 s`` or ``2 h 03 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class Progress:
    """Progress of ``total`` units of work (``total`` None or 0: unknown; no percentage).

    Args:
        total: units of work expected.
        desc: what is running (the command name), printed first.
        unit: name of a unit (``frames``).
        stream: where the bar goes (default ``sys.stderr``); its ``isatty()`` chooses the mode.
        delay: seconds of silence before anything is shown.
        interval: seconds between two plain lines (non-terminal mode).
        redraw: seconds between two redraws of the bar (terminal mode).
        clock: monotonic time source in seconds (tests pass a fake one).
    """

    def __init__(self, total: int | None, desc: str, *, unit: str = "", stream=None,
                 delay: float = 3.0, interval: float = 30.0, redraw: float = 0.2,
                 clock: Callable[[], float] = time.monotonic):
        self.total = int(total) if total else 0
        self.desc = desc
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.delay, self.interval, self.redraw = float(delay), float(interval), float(redraw)
        self.clock = clock
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty()) if callable(isatty) else False
        self.done = 0
        self.start = clock()
        self._last_shown: float | None = None  # clock time of the last bar/line
        self._bar_visible = False
        self._closed = False

    # ---- text --------------------------------------------------------------------------------
    def message(self, now: float) -> str:
        """``desc: done/total unit (pct%), elapsed, about ETA left`` at clock time ``now``."""
        elapsed = now - self.start
        unit = f" {self.unit}" if self.unit else ""
        if not self.total:
            return f"{self.desc}: {self.done}{unit}, {_duration(elapsed)} elapsed"
        pct = 100.0 * self.done / self.total
        text = f"{self.desc}: {self.done}/{self.total}{unit} ({pct:.0f}%), " \
               f"{_duration(elapsed)} elapsed"
        if 0 < self.done < self.total:
            text += f", about {_duration(elapsed * (self.total - self.done) / self.done)} left"
        return text

    def bar(self, now: float) -> str:
        """The terminal line: ``[#####.....]`` then :meth:`message`."""
        frac = min(1.0, self.done / self.total) if self.total else 0.0
        filled = int(round(frac * BAR_WIDTH))
        return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.message(now)}"

    # ---- updates -----------------------------------------------------------------------------
    def update(self, n: int = 1) -> None:
        """``n`` more units done; shows the bar/line when it is due."""
        self.done += int(n)
        now = self.clock()
        if now - self.start < self.delay:
            return
        if self.tty:
            if self._last_shown is None or now - self._last_shown >= self.redraw:
                self._draw(now)
        elif self._last_shown is None or now - self._last_shown >= self.interval:
            log.info("%s", self.message(now))
            self._last_shown = now

    def _draw(self, now: float) -> None:
        self.stream.write("\r" + self.bar(now) + "\033[K")
        self.stream.flush()
        self._bar_visible = True
        self._last_shown = now

    def close(self) -> None:
        """Final state: the full bar and a newline (terminal), or a last line (log) when
        something was shown before; nothing for a loop shorter than ``delay``."""
        if self._closed:
            return
        self._closed = True
        now = self.clock()
        if self.tty and self._bar_visible:
            self._draw(now)
            self.stream.write("\n")
            self.stream.flush()
        elif not self.tty and self._last_shown is not None:
            log.info("%s", self.message(now))

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def track(items: Iterable[T], desc: str, *, total: int | None = None, weight=None,
          **kwargs) -> Iterator[T]:
    """Yield ``items`` while showing their progress (see :class:`Progress` for ``kwargs``).

    ``total`` defaults to ``len(items)``; ``weight(item)`` gives the units each item counts
    for (default 1), e.g. the frames of a system.
    """
    if total is None:
        total = sum(weight(it) for it in items) if weight is not None else len(items)
    with Progress(total, desc, **kwargs) as progress:
        for item in items:
            yield item
            progress.update(weight(item) if weight is not None else 1)
