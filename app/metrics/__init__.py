"""Prometheus metrics of web and worker processes, correct however many of each run.

Every process of a family served by one scrape (uvicorn's workers, Dramatiq's worker
processes) writes its values to files in one directory, prometheus_client's multiprocess
mode, and a scrape sums them: a counter never depends on which process answered. The family
is the processes one supervisor forked, so the directory is named by the parent's pid.
prometheus_client picks its value store when first imported, which may have happened before
this module set the directory (any import order): it picks again here, before any metric.
"""

import os
import tempfile

#: Where each family's directory goes; PAYSTREAM_METRICS_DIR overrides the system temp folder.
METRICS_DIRECTORY_ENV = "PAYSTREAM_METRICS_DIR"
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def family_directory() -> str:
    base = os.environ.get(METRICS_DIRECTORY_ENV) or os.path.join(
        tempfile.gettempdir(), "paystream-metrics"
    )
    return os.path.join(base, str(os.getppid()))


# Always chosen here, never inherited: a paystream process that starts others (a test, a
# benchmark) must not hand them its own family's folder.
os.environ[MULTIPROCESS_ENV] = family_directory()
os.makedirs(os.environ[MULTIPROCESS_ENV], exist_ok=True)

from prometheus_client import Counter, Gauge, Histogram, values  # noqa: E402

values.ValueClass = values.get_value_class()

#: Seconds; from a fast accept (ms) to a slow settle (minutes).
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SETTLE_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 86400.0)

# The web process.
PAYMENTS_ACCEPTED = Counter("paystream_payments_accepted_total", "New payments accepted (202).")
PAYMENTS_REPLAYED = Counter(
    "paystream_payments_replayed_total", "Stored answers replayed for a repeated Idempotency-Key."
)
PROBLEMS = Counter("paystream_http_problems_total", "Problem responses by stable code.", ["code"])
ACCEPT_LATENCY = Histogram(
    "paystream_accept_latency_seconds",
    "Time to answer an accept (payment or refund), answered or refused.",
    ["operation"],
    buckets=LATENCY_BUCKETS_S,
)

# The worker processes.
PAYMENTS_SETTLED = Counter(
    "paystream_payments_total", "Payments that reached a final step, by outcome.", ["outcome"]
)
REFUNDS_SETTLED = Counter(
    "paystream_refunds_total", "Refunds that reached a final step, by outcome.", ["outcome"]
)
SETTLE_LATENCY = Histogram(
    "paystream_settle_latency_seconds",
    "From the accept (the time in the object's id) to its final step.",
    ["kind"],
    buckets=SETTLE_BUCKETS_S,
)
PROVIDER_CALL_LATENCY = Histogram(
    "paystream_provider_call_seconds",
    "Provider calls by provider, call and outcome (an exception is outcome 'error').",
    ["provider", "call", "outcome"],
    buckets=LATENCY_BUCKETS_S,
)
WORKER_MESSAGES = Counter(
    "paystream_worker_messages_total",
    "Messages a worker finished, by actor and result (done, retried, rejected, skipped).",
    ["actor", "result"],
)
WORKER_MESSAGE_LATENCY = Histogram(
    "paystream_worker_message_seconds",
    "Time one message took in the actor, by actor.",
    ["actor"],
    buckets=LATENCY_BUCKETS_S,
)
WORKER_MESSAGES_IN_FLIGHT = Gauge(
    "paystream_worker_messages_in_flight",
    "Messages running now, over the live worker processes.",
    ["actor"],
    multiprocess_mode="livesum",
)

#: The merchants' webhook deliveries by result (delivered, failed, disabled): the delivery
#: worker counts each attempt here as ``WEBHOOK_DELIVERIES.labels(result).inc()``.
WEBHOOK_DELIVERIES = Counter(
    "paystream_webhook_deliveries_total", "Webhook delivery attempts by result.", ["result"]
)
