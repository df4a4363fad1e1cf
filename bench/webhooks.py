"""Webhook delivery lag: from a payment's state change to the merchant receiver's 2xx, at a
steady payment rate through the whole stack, one run.

    .venv/bin/python bench/webhooks.py [--rate 200] [--seconds 15]

Starts the stack as the tests do (simulator, uvicorn, two dramatiq workers, a private Redis, a
fresh database) and a real HTTP receiver subscribed to every event; sends card payments at a
steady rate; and for each payment.succeeded event measures the time from its state change (the
millisecond in its event id, written by the move that made it) to the receiver's answer. Prints
p50/p99/max lag, how many of the events arrived, and the rates sent and delivered.
"""

import argparse
import concurrent.futures
import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.events.outbox import EVENT_ID_PREFIX  # noqa: E402
from app.queue import keys  # noqa: E402
from tests.conftest import create_database, database_url_for, drop_database, migrate  # noqa: E402
from tests.support.receiver import Receiver  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402
from tests.support.stack import running_stack  # noqa: E402

SENDERS = 32
ARRIVAL_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 0.2
STACK_ENV = {"WEBHOOK_ALLOW_PRIVATE_URLS": "true"}


def subscribe(base_url: str, api_key: str, url: str) -> None:
    answer = httpx.post(
        f"{base_url}/v1/webhook_endpoints",
        json={"url": url, "enabled_events": ["*"]},
        headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": "bench-webhooks"},
    )
    answer.raise_for_status()


def send_steadily(base_url: str, api_key: str, rate: int, seconds: int) -> tuple[int, float]:
    """Card payments at ``rate`` per second for ``seconds``; (sent, achieved rate)."""
    count = rate * seconds
    headers = {"Authorization": f"Bearer {api_key}"}
    limits = httpx.Limits(max_connections=SENDERS)
    started = time.monotonic()
    with (
        httpx.Client(base_url=base_url, headers=headers, limits=limits, timeout=10) as client,
        concurrent.futures.ThreadPoolExecutor(SENDERS) as pool,
    ):

        def one(index: int) -> None:
            # Each payment leaves at its slot in the steady schedule, not as fast as possible.
            time.sleep(max(0.0, started + index / rate - time.monotonic()))
            body = {"amount": 1000 + index, "currency": "usd", "payment_method": "pm_card_visa"}
            answer = client.post(
                "/v1/payments", json=body, headers={"Idempotency-Key": f"wb{index}"}
            )
            answer.raise_for_status()

        list(pool.map(one, range(count)))
    return count, count / (time.monotonic() - started)


def lags_ms(receiver: Receiver, expected: int) -> list[float]:
    """Lag of the first delivery of each event, once ``expected`` events arrived (or timed out)."""
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    while (
        time.monotonic() < deadline
        and len({d.headers["webhook-id"] for d in receiver.deliveries}) < expected
    ):
        time.sleep(POLL_INTERVAL_S)
    first: dict[str, float] = {}
    for delivery in list(receiver.deliveries):
        event_id = delivery.headers["webhook-id"]
        if event_id in first or json.loads(delivery.body)["type"] != "payment.succeeded":
            continue
        changed_ms = keys.created_ms_of(event_id, EVENT_ID_PREFIX)
        first[event_id] = delivery.at_s * 1000 - changed_ms
    return sorted(first.values())


#: Where the lag goes: state change -> event in PostgreSQL (the relay), -> first attempt sent.
_STAGES = """
    SELECT extract(epoch FROM event.relayed_at) * 1000 - event.created_ms,
           extract(epoch FROM min(attempt.attempted_at) - event.relayed_at) * 1000
      FROM events AS event JOIN webhook_attempts AS attempt ON attempt.event_id = event.id
     GROUP BY event.id
"""


def stages_ms(database_url: str) -> tuple[list[float], list[float]]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(_STAGES).fetchall()
    return sorted(float(r[0]) for r in rows), sorted(float(r[1]) for r in rows)


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    name = create_database()
    url = database_url_for(name)
    migrate(url)
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as scratch:
        log_dir = Path(scratch)
        server = RedisServer(log_dir / "redis", appendonly=True)
        try:
            stack_runs = running_stack(server.url, url, log_dir, STACK_ENV)
            stack = next(stack_runs)
            subscribe(stack.base_url, stack.api_key, f"{receiver.url}/hooks")
            sent, sent_rate = send_steadily(stack.base_url, stack.api_key, args.rate, args.seconds)
            started = time.monotonic()
            lags = lags_ms(receiver, sent)
            drained_s = time.monotonic() - started
            relayed, attempted = stages_ms(url)
            # The stack prints its processes' logs as it stops: not part of the figures.
            with contextlib.redirect_stderr(io.StringIO()):
                stack_runs.close()
        finally:
            receiver.stop()
            server.stop()
            drop_database(name)
    print(
        f"webhooks: {sent} card payments at {sent_rate:.0f}/s "
        f"(asked {args.rate}/s) for {args.seconds} s"
    )
    print(
        f"events delivered: {len(lags)} of {sent}; "
        f"last arrived {drained_s:.1f} s after sending ended"
    )
    if lags:
        print(
            f"lag state change -> receiver 2xx: p50 {percentile(lags, 0.50):.0f} ms, "
            f"p99 {percentile(lags, 0.99):.0f} ms, max {lags[-1]:.0f} ms, "
            f"mean {statistics.fmean(lags):.0f} ms"
        )
    if relayed:
        print(
            f"  of which state change -> event in PostgreSQL: p50 {percentile(relayed, 0.5):.0f}"
            f" ms, p99 {percentile(relayed, 0.99):.0f} ms; -> first attempt sent: p50 "
            f"{percentile(attempted, 0.5):.0f} ms, p99 {percentile(attempted, 0.99):.0f} ms"
        )


if __name__ == "__main__":
    main()
