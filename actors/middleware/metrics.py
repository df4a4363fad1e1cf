"""The worker's own metrics, Dramatiq's Prometheus middleware in kind: messages by actor and
result, their durations and how many run now; and the exposition that serves them.

Dramatiq's own middleware keeps its files in one fixed folder for every Dramatiq on the host
(never emptied) and serves a fixed port; this one writes where app.metrics puts the worker
family's files, and the exposition, a Dramatiq fork process beside the worker processes, sums
what every worker process of this Dramatiq wrote. The fork runs
``app.metrics.worker_fork.serve``, outside this package, so it does not import the actors."""

import os
import time
from typing import Any

from dramatiq import Worker
from dramatiq.broker import Broker, MessageProxy
from dramatiq.middleware import Middleware

from app.metrics import WORKER_MESSAGE_LATENCY, WORKER_MESSAGES, WORKER_MESSAGES_IN_FLIGHT
from app.metrics.exposition import forget_process
from app.metrics.worker_fork import serve
from app.settings import settings


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
