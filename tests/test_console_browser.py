"""The console in a real headless browser against real processes: log in, find a payment,
open its timeline, replay a dead letter with its confirmation, find a failing webhook delivery
and resend its event; screenshots kept in artifacts/."""

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from app.db import create_engine_for
from app.queue import keys
from app.queue.dispatch import PAYMENTS_QUEUE
from app.settings import load
from app.webhooks import chain
from tests.support.browser import chromium, screenshot
from tests.support.payments import REQUEST_TIMEOUT_S
from tests.support.redis_server import RedisServer
from tests.support.stack import Stack, running_stack
from tests.support.webhooks import add_endpoint, relay_event

TOKEN = secrets.token_urlsafe(32)
#: How long a page reached by a form's redirect may take to load.
PAGE_TIMEOUT_S = 10


@pytest.fixture
def console_stack(
    private_redis: RedisServer, fresh_database_url: str, tmp_path: Path
) -> Iterator[Stack]:
    # No worker: the payment's message stays where the test puts it.
    env = {"CONSOLE_TOKEN": TOKEN}
    yield from running_stack(private_redis.url, fresh_database_url, tmp_path, env, workers=0)


def accept(stack: Stack, method: str, index: int) -> str:
    answer = httpx.post(
        f"{stack.base_url}/v1/payments",
        json={"amount": 4200 + index, "currency": "usd", "payment_method": method},
        headers={"Authorization": f"Bearer {stack.api_key}", "Idempotency-Key": f"b-{index}"},
        timeout=REQUEST_TIMEOUT_S,
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def dead_letter(client: redis.Redis, payment_id: str) -> int:
    """Moves the payment's message to its partition's dead stream, as the broker would after
    too many deliveries; the partition."""
    partitions = load().stream_partitions
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, partitions)
    assert partition is not None
    stream = keys.stream_key(partition, PAYMENTS_QUEUE)
    for entry_id, fields in client.xrange(stream):
        if json.loads(fields[b"m"])["args"] == [payment_id]:
            client.xadd(
                keys.dead_key(partition, PAYMENTS_QUEUE),
                {
                    "m": fields[b"m"],
                    "reason": "deliveries_exceeded",
                    "entry": entry_id,
                    "deliveries": "10",
                    "consumer": "worker-gone",
                },
            )
            client.xdel(stream, entry_id)
    return partition


def failing_delivery(database_url: str, payment_id: str) -> str:
    """An event of the payment whose delivery got a 502 and waits for its retry; its id."""
    merchant_id = f"mer_{secrets.token_hex(4)}"
    endpoint_id, _ = add_endpoint(database_url, merchant_id, "*")
    event = relay_event(database_url, merchant_id, payment_id, 1, "payment.succeeded")
    engine = create_engine_for(database_url)
    attempt = chain.Attempt(event.id, endpoint_id, datetime.now(UTC), 502, 40, "", None)
    chain.finish(engine, [chain.Finished(attempt, payment_id, "pending", retry_in_s=3600)])
    engine.dispose()
    return event.id


def test_an_operator_finds_a_payment_replays_its_dead_letter_and_resends_a_webhook(
    console_stack: Stack, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(console_stack.env["REDIS_URL"])
    payment_id = accept(console_stack, "pm_card_visa", 0)
    accept(console_stack, "pm_card_chargeDeclined", 1)
    partition = dead_letter(client, payment_id)
    event_id = failing_delivery(console_stack.env["DATABASE_URL"], payment_id)
    base = f"{console_stack.base_url}/console"

    with chromium(tmp_path / "profile") as browser:
        browser.get(f"{base}/payments")
        assert browser.current_url.endswith("/console/login")
        browser.find_element(By.ID, "token").send_keys(TOKEN)
        browser.find_element(By.ID, "log-in").click()
        assert payment_id in browser.find_element(By.ID, "payments").text
        screenshot(browser, "console-payments")

        browser.find_element(By.ID, "search").send_keys(payment_id)
        browser.find_element(By.ID, "search").submit()
        assert browser.find_element(By.ID, "payment-id").text == payment_id
        timeline = browser.find_element(By.ID, "timeline").text
        assert "accepted" in timeline
        screenshot(browser, "console-payment")

        browser.find_element(By.PARTIAL_LINK_TEXT, f"{partition}/").click()
        assert "deliveries_exceeded" in browser.page_source
        browser.find_element(By.ID, "confirm-replay").click()
        assert "Replayed" in browser.find_element(By.ID, "replayed").text
        screenshot(browser, "console-dead-letters")

        browser.find_element(By.LINK_TEXT, "Webhooks").click()
        assert event_id in browser.find_element(By.ID, "failing").text
        screenshot(browser, "console-webhooks")
        browser.find_element(By.LINK_TEXT, event_id).click()
        assert "502" in browser.find_element(By.ID, "attempts").text
        browser.find_element(By.ID, "confirm-resend").click()
        resent = WebDriverWait(browser, PAGE_TIMEOUT_S).until(
            expected_conditions.presence_of_element_located((By.ID, "resent"))
        )
        assert "Resent" in resent.text

    dead = client.xlen(keys.dead_key(partition, PAYMENTS_QUEUE))
    work = client.xrange(keys.stream_key(partition, PAYMENTS_QUEUE))
    client.close()
    back = [entry for entry in work if json.loads(entry[1][b"m"])["args"] == [payment_id]]
    assert (dead, len(back)) == (0, 1), "the dead letter is back on its stream, once"
