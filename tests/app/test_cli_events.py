"""``paystream events list|show|resend``: what an operator asks of events and their webhooks."""

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis

from app import cli
from app.db import create_engine_for
from app.settings import settings
from app.webhooks import chain
from tests.support.webhooks import add_endpoint, new_payment_id, relay_event, rows

UNREACHABLE_DATABASE_URL = "postgresql://postgres@127.0.0.1:1/nowhere"


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, redis_url: str, database_url: str) -> Iterator[str]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    settings.cache_clear()
    yield database_url
    settings.cache_clear()


def one_delivered_event(database_url: str) -> tuple[str, str, str]:
    """(merchant, endpoint, event) with one failed attempt stored."""
    merchant_id = f"mer_{secrets.token_hex(4)}"
    endpoint_id, _ = add_endpoint(database_url, merchant_id, "*")
    payment_id = new_payment_id(settings().stream_partitions)
    event = relay_event(database_url, merchant_id, payment_id, 1, "payment.failed")
    engine = create_engine_for(database_url)
    attempt = chain.Attempt(event.id, endpoint_id, datetime.now(UTC), 502, 30, "", None)
    chain.finish(engine, [chain.Finished(attempt, payment_id, "pending", retry_in_s=600)])
    engine.dispose()
    return merchant_id, endpoint_id, event.id


def test_list_and_show_an_event_with_its_deliveries_and_attempts(
    configured: str, capsys: pytest.CaptureFixture[str]
) -> None:
    merchant_id, endpoint_id, event_id = one_delivered_event(configured)

    listed_status = cli.main(["events", "list", "--merchant", merchant_id])
    listed = json.loads(capsys.readouterr().out)
    shown_status = cli.main(["events", "show", event_id])
    shown = json.loads(capsys.readouterr().out)

    assert (listed_status, [e["id"] for e in listed]) == (0, [event_id])
    assert shown_status == 0
    assert shown["event"]["body"]["id"] == event_id
    assert [(d["endpoint_id"], d["status"]) for d in shown["deliveries"]] == [
        (endpoint_id, "pending")
    ]
    assert [a["status_code"] for a in shown["attempts"]] == [502]


def test_resend_makes_the_delivery_due_and_queues_it(
    configured: str, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    _, endpoint_id, event_id = one_delivered_event(configured)

    status = cli.main(["events", "resend", event_id])

    assert status == 0
    assert json.loads(capsys.readouterr().out)["resent_to"] == [endpoint_id]
    [(due,)] = rows(
        configured,
        "SELECT next_attempt_at <= now() FROM webhook_deliveries WHERE event_id = %s",
        event_id,
    )
    assert due


def test_an_unknown_event_exits_1_and_no_database_exits_2(
    configured: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli.main(["events", "show", "evt_nothing"]) == 1
    assert cli.main(["events", "resend", "evt_nothing"]) == 1
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE_DATABASE_URL)
    settings.cache_clear()
    assert cli.main(["events", "list"]) == 2
