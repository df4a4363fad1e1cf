"""``/v1/events/{id}/attempts`` and ``/v1/events/{id}/resend`` on real PostgreSQL and Redis."""

from datetime import UTC, datetime

import dramatiq
import redis
from starlette.testclient import TestClient

from app.db import create_engine_for
from app.queue import keys
from app.queue.dispatch import DELIVER_ACTOR, WEBHOOKS_QUEUE
from app.settings import Settings
from app.webhooks import chain
from tests.app.conftest import Merchant
from tests.support.webhooks import add_endpoint, new_payment_id, relay_event, rows


def finished_attempt(settings: Settings, event_id: str, endpoint_id: str, payment_id: str) -> None:
    engine = create_engine_for(settings.database_url)
    attempt = chain.Attempt(event_id, endpoint_id, datetime.now(UTC), 500, 12, "oops", None)
    chain.finish(engine, [chain.Finished(attempt, payment_id, "pending", retry_in_s=3600)])
    engine.dispose()


def queued_chains(client: redis.Redis, settings: Settings, payment_id: str) -> set[str]:
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, settings.stream_partitions)
    assert partition is not None
    entries = client.xrange(keys.stream_key(partition, WEBHOOKS_QUEUE))
    messages = [dramatiq.Message.decode(fields[b"m"]) for _, fields in entries]
    return {
        str(m.args[0])
        for m in messages
        if m.actor_name == DELIVER_ACTOR and m.args[1] == payment_id
    }


def test_attempts_are_listed_newest_first_for_the_merchant_only(
    api: TestClient, settings: Settings, merchant: Merchant, other_merchant: Merchant
) -> None:
    endpoint_id, _ = add_endpoint(settings.database_url, merchant.merchant_id, "*")
    payment_id = new_payment_id(settings.stream_partitions)
    event = relay_event(
        settings.database_url, merchant.merchant_id, payment_id, 1, "payment.succeeded"
    )
    finished_attempt(settings, event.id, endpoint_id, payment_id)
    path = f"/v1/events/{event.id}/attempts"

    listed = api.get(path, headers=merchant.headers).json()
    hidden = api.get(path, headers=other_merchant.headers)

    assert (listed["object"], listed["url"], listed["has_more"]) == ("list", path, False)
    [attempt] = listed["data"]
    assert attempt["object"] == "webhook_attempt"
    assert (attempt["endpoint_id"], attempt["status_code"]) == (endpoint_id, 500)
    assert (attempt["latency_ms"], attempt["response_head"]) == (12, "oops")
    assert (hidden.status_code, hidden.json()["code"]) == (404, "not_found")


def test_resend_makes_every_delivery_due_now_and_queues_its_chain(
    api: TestClient,
    settings: Settings,
    redis_client: redis.Redis,
    merchant: Merchant,
    other_merchant: Merchant,
) -> None:
    payment_id = new_payment_id(settings.stream_partitions)
    early, _ = add_endpoint(settings.database_url, merchant.merchant_id, "*")
    event = relay_event(
        settings.database_url, merchant.merchant_id, payment_id, 1, "payment.succeeded"
    )
    finished_attempt(settings, event.id, early, payment_id)
    late, _ = add_endpoint(settings.database_url, merchant.merchant_id, "payment.succeeded")

    hidden = api.post(f"/v1/events/{event.id}/resend", headers=other_merchant.headers)
    resent = api.post(f"/v1/events/{event.id}/resend", headers=merchant.headers)

    assert hidden.status_code == 404
    assert resent.status_code == 202
    assert resent.json()["resent_to"] == sorted([early, late])
    deliveries = rows(
        settings.database_url,
        "SELECT endpoint_id, status, attempts, next_attempt_at <= now()"
        " FROM webhook_deliveries WHERE event_id = %s",
        event.id,
    )
    assert sorted(deliveries) == sorted([(early, "pending", 0, True), (late, "pending", 0, True)])
    assert queued_chains(redis_client, settings, payment_id) >= {early, late}


def test_resend_while_an_attempt_is_in_flight_is_409_with_retry_after(
    api: TestClient, settings: Settings, merchant: Merchant
) -> None:
    endpoint_id, _ = add_endpoint(settings.database_url, merchant.merchant_id, "*")
    payment_id = new_payment_id(settings.stream_partitions)
    event = relay_event(
        settings.database_url, merchant.merchant_id, payment_id, 1, "payment.succeeded"
    )
    engine = create_engine_for(settings.database_url)
    held = chain.claim(engine, endpoint_id, payment_id, 30)
    engine.dispose()

    answer = api.post(f"/v1/events/{event.id}/resend", headers=merchant.headers)

    assert isinstance(held, chain.Claimed)
    assert (answer.status_code, answer.json()["code"]) == (409, "delivery_in_flight")
    assert 1 <= int(answer.headers["retry-after"]) <= 30


def test_an_unknown_event_is_404(api: TestClient, merchant: Merchant) -> None:
    assert api.get("/v1/events/evt_nothing/attempts", headers=merchant.headers).status_code == 404
    assert api.post("/v1/events/evt_nothing/resend", headers=merchant.headers).status_code == 404
