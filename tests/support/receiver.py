"""A real HTTP endpoint that records what is posted to it: where tests point webhooks.

``Receiver`` serves from a thread of the test process. Run as ``python -m
tests.support.receiver PORT LOG``, it serves as a process of its own (``ReceiverProcess``
drives it): each delivery it answers 200 is appended to LOG as a JSON line, and ``/_control``
and ``/_state`` let the test set its refusals and delay and read its counters.
"""

import base64
import http.server
import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.processes import POLL_INTERVAL_S, Process, free_port, python_argv, wait_for_http

CONTROL_PATH = "/_control"
STATE_PATH = "/_state"

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

    def __init__(self, port: int | None = None, log: Path | None = None) -> None:
        self.deliveries: list[Delivery] = []
        self.refusals: list[int] = []
        self.retry_after: str | None = None
        #: How long each answer takes (a slow receiver keeps deliveries in flight).
        self.delay_s = 0.0
        #: Every POST, answered 200 or not; and those being answered right now.
        self.posts = 0
        self.answering = 0
        self._lock = threading.Lock()
        self._log = log
        self._port = port or free_port()
        self.url = f"http://127.0.0.1:{self._port}"
        self.start()

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                state = {"posts": receiver.posts, "answering": receiver.answering}
                self._answer(200, json.dumps(state).encode())

            def do_POST(self) -> None:  # noqa: N802  (the stdlib's name)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.path == CONTROL_PATH:
                    receiver._control(json.loads(body))
                    self._answer(200, b"")
                    return
                receiver.answering += 1
                time.sleep(receiver.delay_s)
                status = receiver._record(Delivery(self.path, dict(self.headers), body))
                receiver.answering -= 1
                self.send_response(status)
                if status != 200 and receiver.retry_after is not None:
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

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
            if self._log is not None:
                with self._log.open("a") as log:
                    log.write(json.dumps(_encoded(delivery)) + "\n")
            return 200

    def _control(self, changes: dict[str, object]) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(self, name, value)

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


def _encoded(delivery: Delivery) -> dict[str, object]:
    return {
        "path": delivery.path,
        "headers": delivery.headers,
        "body": base64.b64encode(delivery.body).decode(),
        "at_s": delivery.at_s,
    }


def _decoded(line: str) -> Delivery:
    fields = json.loads(line)
    return Delivery(
        fields["path"], fields["headers"], base64.b64decode(fields["body"]), fields["at_s"]
    )


class ReceiverProcess:
    """A receiver in a process of its own, driven like ``Receiver``: ``stop`` ends the process,
    ``start`` brings it back on the same port, and its log keeps what it received."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._log = log_dir / "received.jsonl"
        self._log.touch()
        self._port = free_port()
        self.url = f"http://127.0.0.1:{self._port}"
        self._process: Process | None = None
        self._starts = 0
        self.start()

    def start(self, delay_s: float = 0.0) -> None:
        """Serving again on the same port, each answer taking ``delay_s`` from the first."""
        self._starts += 1
        argv = python_argv(
            "-m", "tests.support.receiver", str(self._port), str(self._log), str(delay_s)
        )
        self._process = Process(f"receiver-{self._starts}", argv, {}, self._log_dir)
        wait_for_http(f"{self.url}{STATE_PATH}", self._process)

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()

    def _set(self, **changes: object) -> None:
        httpx.post(f"{self.url}{CONTROL_PATH}", json=changes).raise_for_status()

    def _state(self) -> dict[str, int]:
        return dict(httpx.get(f"{self.url}{STATE_PATH}").json())

    @property
    def refusals(self) -> list[int]:
        raise AttributeError("refusals can be set, not read")

    @refusals.setter
    def refusals(self, statuses: list[int]) -> None:
        self._set(refusals=statuses)

    @property
    def delay_s(self) -> float:
        raise AttributeError("delay_s can be set, not read")

    @delay_s.setter
    def delay_s(self, seconds: float) -> None:
        self._set(delay_s=seconds)

    @property
    def posts(self) -> int:
        """POSTs answered by the process running now (counters restart with it)."""
        return self._state()["posts"]

    @property
    def answering(self) -> int:
        return self._state()["answering"]

    @property
    def deliveries(self) -> list[Delivery]:
        return [_decoded(line) for line in self._log.read_text().splitlines() if line]


def main() -> None:
    port, log, delay_s = int(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    served = Receiver(port, log)
    served.delay_s = delay_s
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        served.stop()


if __name__ == "__main__":
    main()
