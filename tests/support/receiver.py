"""A real HTTP endpoint that records what is posted to it: where tests point webhooks."""

import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.support.processes import POLL_INTERVAL_S, free_port

RECEIVE_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    #: Unix seconds when it was answered 200 (for delivery lag).
    at_s: float = field(default_factory=time.time)


class Receiver:
    """Answers 200 to every POST, or a status from ``refusals`` first (with ``retry_after`` as
    its Retry-After, when set), and keeps each one; ``stop`` and ``start`` take it down and
    bring it back on the same port."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.refusals: list[int] = []
        self.retry_after: str | None = None
        #: How long each answer takes (a slow receiver keeps deliveries in flight).
        self.delay_s = 0.0
        #: Every POST, answered 200 or not; and those being answered right now.
        self.posts = 0
        self.answering = 0
        self._lock = threading.Lock()
        self._port = free_port()
        self.url = f"http://127.0.0.1:{self._port}"
        self.start()

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (the stdlib's name)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.answering += 1
                time.sleep(receiver.delay_s)
                status = receiver._record(Delivery(self.path, dict(self.headers), body))
                receiver.answering -= 1
                self.send_response(status)
                if status != 200 and receiver.retry_after is not None:
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reads the deliveries, not a log."""

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _record(self, delivery: Delivery) -> int:
        with self._lock:
            self.posts += 1
            if self.refusals:
                return self.refusals.pop(0)
            self.deliveries.append(delivery)
            return 200

    def wait_for(self, count: int, timeout_s: float = RECEIVE_TIMEOUT_S) -> list[Delivery]:
        """The first ``count`` deliveries answered 200, once that many have arrived."""
        deadline = time.monotonic() + timeout_s
        while len(self.deliveries) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.deliveries)} deliveries arrived, not {count}")
            time.sleep(POLL_INTERVAL_S)
        return self.deliveries[:count]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    yield endpoint
    endpoint.stop()
