"""The worker's own metrics, Dramatiq's Prometheus middleware in kind: messages by actor and
result, their durations and how many run now; and the exposition that serves them.

Dramatiq's own middleware keeps its files in one fixed folder for every Dramatiq on the host
(never emptied) and serves a fixed port; this one writes where app.metrics puts the worker
family's files, and the exposition, a Dramatiq fork process beside the worker processes, sums
what every worker process of this Dramatiq wrote."""

import os
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from dramatiq import Worker
from dramatiq.broker import Broker, MessageProxy
from dramatiq.middleware import Middleware
from prometheus_client import CONTENT_TYPE_LATEST

from app.metrics import WORKER_MESSAGE_LATENCY, WORKER_MESSAGES, WORKER_MESSAGES_IN_FLIGHT
from app.metrics.exposition import exposition, forget_process
from app.settings import settings

#: Where the exposition listens; the port is WORKER_METRICS_PORT.
EXPOSITION_HOST = "0.0.0.0"
METRICS_PATH = "/metrics"


class WorkerMetrics(Middleware):
    def __init__(self) -> None:
        self._started_s: dict[str, float] = {}

    @property
    def forks(self) -> list[Any]:
        return [serve] if settings().worker_metrics_port else []

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        self._started_s[message.message_id] = time.perf_counter()
        WORKER_MESSAGES_IN_FLIGHT.labels(message.actor_name).inc()

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        started_s = self._started_s.pop(message.message_id, None)
        actor = message.actor_name
        WORKER_MESSAGES_IN_FLIGHT.labels(actor).dec()
        if started_s is not None:
            WORKER_MESSAGE_LATENCY.labels(actor).observe(time.perf_counter() - started_s)
        WORKER_MESSAGES.labels(actor, _result(message, exception)).inc()

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        if self._started_s.pop(message.message_id, None) is not None:
            WORKER_MESSAGES_IN_FLIGHT.labels(message.actor_name).dec()
        WORKER_MESSAGES.labels(message.actor_name, "skipped").inc()

    def after_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        forget_process(os.getpid())


def _result(message: MessageProxy, exception: BaseException | None) -> str:
    """Read after Retries' own hook (this middleware comes before it, so its after-hooks run
    later): by then a message out of retries is marked failed."""
    if exception is None:
        return "done"
    return "rejected" if message.failed else "retried"


class _Exposition(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
        if self.path != METRICS_PATH:
            self.send_error(404)
            return
        body = exposition()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are no news: nothing logged per request."""


def serve() -> int:
    """A Dramatiq fork: serve the worker family's metrics until stopped."""
    server = HTTPServer((EXPOSITION_HOST, settings().worker_metrics_port), _Exposition)
    server.serve_forever()
    return 0
