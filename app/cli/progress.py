"""Progress for a person at a terminal: one line on stderr, rewritten in place. Nothing at all
when stderr is not a terminal, so logs and pipes get only the final result."""

import sys
import time
from typing import TextIO

#: Rewrites at most this often: a terminal need not redraw for every item.
REDRAW_INTERVAL_S = 0.1


class Progress:
    def __init__(self, label: str, total: int | None = None, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream or sys.stderr
        self._shown = self._stream.isatty()
        self._started_s = time.monotonic()
        self._drawn_s = 0.0

    def advance(self, count: int = 1) -> None:
        self.done += count
        self.draw()

    def draw(self, force: bool = False) -> None:
        now_s = time.monotonic()
        if not self._shown or (not force and now_s - self._drawn_s < REDRAW_INTERVAL_S):
            return
        self._drawn_s = now_s
        count = f"{self.done}/{self.total}" if self.total is not None else ""
        elapsed_s = now_s - self._started_s
        self._stream.write(f"\r{self.label} {count} {elapsed_s:.1f} s ")
        self._stream.flush()

    def finish(self) -> None:
        if self._shown:
            self.draw(force=True)
            self._stream.write("\n")
            self._stream.flush()
