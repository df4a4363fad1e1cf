"""A stop is one stop, however many processes relay it.

Platforms send SIGTERM to every process of a dyno or container (Heroku signals the whole
process group), and Dramatiq's main process relays it to its worker processes too: a worker
hears it twice within milliseconds, and Dramatiq takes a second SIGTERM as "kill now", skipping
the graceful stop that lets messages in flight finish and hands the rest back. Installed when a
worker process boots, this lets the SIGTERMs that follow the first within a short window count
as that same stop; a later one still kills at once, as an operator would expect.
"""

import signal
import time
from types import FrameType
from typing import Any

from dramatiq.broker import Broker
from dramatiq.middleware import Middleware

#: SIGTERMs this close to the first are the same stop, relayed.
DUPLICATE_WINDOW_S = 2.0


class OneStop(Middleware):
    def __init__(self) -> None:
        self._first_s: float | None = None

    def after_process_boot(self, broker: Broker) -> None:
        # Dramatiq's worker process installs its own handler before it loads the broker.
        stop = signal.getsignal(signal.SIGTERM)
        if not callable(stop):
            return

        def once(signum: int, frame: FrameType | None) -> Any:
            now_s = time.monotonic()
            if self._first_s is not None and now_s - self._first_s < DUPLICATE_WINDOW_S:
                return None
            self._first_s = self._first_s or now_s
            return stop(signum, frame)

        signal.signal(signal.SIGTERM, once)
