"""Metrics from real processes, two of each kind: whichever uvicorn worker answers a scrape,
the counts are the family's; the worker's exporter sums its Dramatiq processes."""

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.payments import REQUEST_TIMEOUT_S, wait_until_terminal
from tests.support.processes import Process, free_port, python_argv, wait_for_http
from tests.support.redis_server import RedisServer
from tests.support.stack import Stack, running_stack

SUCCEEDED = 12
DECLINED = 3
SCRAPES = 6


@pytest.fixture
def metered(
    private_redis: RedisServer, fresh_database_url: str, tmp_path: Path
) -> Iterator[tuple[Stack, str]]:
    port = free_port()
    env = {
        "WEB_CONCURRENCY": "2",
        "PAYSTREAM_METRICS_DIR": str(tmp_path / "metrics"),
        "WORKER_METRICS_PORT": str(port),
    }
    for stack in running_stack(private_redis.url, fresh_database_url, tmp_path, env, workers=0):
        argv = python_argv("-m", "actors", "--processes", "2", "--threads", "1")
        worker = Process("worker-pair", argv, stack.env, tmp_path)
        try:
            wait_for_http(f"http://127.0.0.1:{port}/metrics", worker)
            yield stack, f"http://127.0.0.1:{port}/metrics"
        finally:
            worker.stop()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of an exposition, 0 when absent."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        found = re.fullmatch(r"([a-zA-Z_:]+)(?:\{(.*)\})? (\S+)", line)
        if found is None or found.group(1) != name:
            continue
        present = ",".join(sorted((found.group(2) or "").split(","))) if found.group(2) else ""
        if present == wanted:
            return float(found.group(3))
    return 0.0


def test_web_and_worker_metrics_add_up_over_two_processes_each(
    metered: tuple[Stack, str],
) -> None:
    stack, worker_metrics = metered
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    methods = ["pm_card_visa"] * SUCCEEDED + ["pm_card_chargeDeclined"] * DECLINED
    ids = []
    for index, method in enumerate(methods):
        # A connection each: the kernel hands them to either uvicorn worker.
        answer = httpx.post(
            f"{stack.base_url}/v1/payments",
            json={"amount": 100 + index, "currency": "usd", "payment_method": method},
            headers={**headers, "Idempotency-Key": f"metrics-{index}"},
            timeout=REQUEST_TIMEOUT_S,
        )
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["id"])
    wait_until_terminal(stack, ids)

    for _ in range(SCRAPES):
        web = httpx.get(f"{stack.base_url}/metrics", timeout=REQUEST_TIMEOUT_S).text
        assert sample(web, "paystream_payments_accepted_total") == len(methods)
        assert sample(web, "paystream_accept_latency_seconds_count", operation="payment") == len(
            methods
        )
    assert sample(web, "paystream_queue_dead_letters", queue="payments", partition="0") == 0
    assert "paystream_queue_oldest_pending_idle_seconds" in web

    worker = httpx.get(worker_metrics, timeout=REQUEST_TIMEOUT_S).text
    assert sample(worker, "paystream_payments_total", outcome="succeeded") == SUCCEEDED
    assert sample(worker, "paystream_payments_total", outcome="failed") == DECLINED
    assert sample(worker, "paystream_settle_latency_seconds_count", kind="payment") == len(methods)
    charges = sample(
        worker,
        "paystream_provider_call_seconds_count",
        provider="stripe",
        call="charge",
        outcome="succeeded",
    )
    assert charges == SUCCEEDED
    done = sample(worker, "paystream_worker_messages_total", actor="charge_payment", result="done")
    assert done >= len(methods)
