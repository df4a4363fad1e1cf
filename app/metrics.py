"""Prometheus metrics of the HTTP surface."""

from prometheus_client import Counter

PAYMENTS_ACCEPTED = Counter("paystream_payments_accepted_total", "New payments accepted (202).")
PAYMENTS_REPLAYED = Counter(
    "paystream_payments_replayed_total", "Stored answers replayed for a repeated Idempotency-Key."
)
PROBLEMS = Counter("paystream_http_problems_total", "Problem responses by stable code.", ["code"])
