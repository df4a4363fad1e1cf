"""``/v1/events`` on real PostgreSQL and Redis: the merchant's events, newest first, found
before the relay has carried them too."""

import dataclasses
import json
import secrets
import time

import pytest
import redis
from starlette.testclient import TestClient

from app.db import create_engine_for
from app.events.outbox import EVENT_ID_PREFIX
from app.events.relay import Relayed, StoredEvent, write
from app.main import create_app
from app.queue import keys
from app.settings import Settings
from tests.app.conftest import Merchant

UNREACHABLE_DATABASE_URL = "postgresql://postgres@127.0.0.1:1/nowhere"


def new_event(merchant: Merchant, event_type: str, seq: int = 1) -> StoredEvent:
    event_id = keys.new_id(EVENT_ID_PREFIX, secrets.randbelow(8))
    payment_id = keys.new_id(keys.PAYMENT_ID_PREFIX, 0)
    body = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": {"id": payment_id, "object": "payment"}},
    }
    time.sleep(0.002)  # distinct milliseconds: the list order is the ids' own
    return StoredEvent(
        id=event_id,
        type=event_type,
        merchant_id=merchant.merchant_id,
        payment_id=payment_id,
        seq=seq,
        created_ms=keys.created_ms_of(event_id, EVENT_ID_PREFIX),
        body=json.dumps(body, separators=(",", ":")),
    )


def relayed(settings: Settings, *events: StoredEvent) -> None:
    engine = create_engine_for(settings.database_url)
    write(engine, [Relayed(event, None, None) for event in events])
    engine.dispose()


def ids_of(answer: object) -> list[str]:
    assert isinstance(answer, dict)
    return [event["id"] for event in answer["data"]]


def test_events_are_listed_newest_first_by_type_and_only_the_merchants(
    api: TestClient, settings: Settings, merchant: Merchant, other_merchant: Merchant
) -> None:
    kinds = ["payment.succeeded", "payment.failed", "refund.succeeded", "payment.succeeded"]
    events = [new_event(merchant, kind) for kind in kinds]
    relayed(settings, *events, new_event(other_merchant, "payment.succeeded"))

    everything = api.get("/v1/events", headers=merchant.headers).json()
    first = api.get("/v1/events?limit=2", headers=merchant.headers).json()
    rest = api.get(f"/v1/events?starting_after={events[2].id}", headers=merchant.headers).json()
    succeeded = api.get("/v1/events?type=payment.succeeded", headers=merchant.headers).json()

    assert (everything["object"], everything["url"]) == ("list", "/v1/events")
    assert ids_of(everything) == [e.id for e in reversed(events)]
    assert everything["data"][0] == json.loads(events[-1].body)
    assert (ids_of(first), first["has_more"]) == ([events[3].id, events[2].id], True)
    assert (ids_of(rest), rest["has_more"]) == ([events[1].id, events[0].id], False)
    assert ids_of(succeeded) == [events[3].id, events[0].id]


def test_an_event_is_found_by_id_relayed_or_not_yet(
    api: TestClient,
    settings: Settings,
    redis_client: redis.Redis,
    merchant: Merchant,
    other_merchant: Merchant,
) -> None:
    carried, waiting = (
        new_event(merchant, "payment.succeeded"),
        new_event(merchant, "payment.failed"),
    )
    relayed(settings, carried)
    partition = keys.partition_of(waiting.id, EVENT_ID_PREFIX, settings.stream_partitions)
    assert partition is not None
    redis_client.hset(
        keys.event_key(partition, waiting.id),
        mapping={"body": waiting.body, "merchant": merchant.merchant_id, "payment": "p", "seq": 1},
    )

    for event in (carried, waiting):
        answer = api.get(f"/v1/events/{event.id}", headers=merchant.headers)
        assert (answer.status_code, answer.json()) == (200, json.loads(event.body))
        assert api.get(f"/v1/events/{event.id}", headers=other_merchant.headers).status_code == 404
    assert api.get("/v1/events/evt_nope", headers=merchant.headers).status_code == 404

    down = dataclasses.replace(settings, database_url=UNREACHABLE_DATABASE_URL)
    with TestClient(create_app(down), raise_server_exceptions=False) as no_database:
        assert no_database.get(f"/v1/events/{waiting.id}", headers=merchant.headers).json() == (
            json.loads(waiting.body)
        )
        assert (
            no_database.get(f"/v1/events/{carried.id}", headers=merchant.headers).status_code == 503
        )
        assert no_database.get("/v1/events", headers=merchant.headers).status_code == 503


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("type=payment.lost", "type"),
        ("limit=0", "limit"),
        ("starting_after=pay_x", "starting_after"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(
    api: TestClient, merchant: Merchant, query: str, field: str
) -> None:
    answer = api.get(f"/v1/events?{query}", headers=merchant.headers)

    assert (answer.status_code, answer.json()["field"]) == (400, field)
