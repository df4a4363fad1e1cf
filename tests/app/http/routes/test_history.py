"""Reading payments back: one by id from Redis or else the history, and the merchant's list,
on real Redis and PostgreSQL. Read your writes, history outlives Redis, never a false 404."""

import dataclasses
import threading
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from app.db import create_engine_for
from app.history.projection import project_payment, write_payments
from app.main import create_app
from app.payments.record import PAYMENTS
from app.queue import keys
from app.settings import Settings
from tests.app.conftest import Merchant
from tests.app.http.routes.test_payments import BODY, new_key, post

UNREACHABLE_DATABASE_URL = "postgresql://postgres@127.0.0.1:1/nowhere"
UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"
PAGE_LIMIT = 7
CONCURRENT_PAYMENTS = 40


def client_for(settings: Settings, **changes: str) -> TestClient:
    return TestClient(
        create_app(dataclasses.replace(settings, **changes)), raise_server_exceptions=False
    )


def accept(api: TestClient, merchant: Merchant, count: int) -> list[str]:
    """Payments accepted one after another: newest last."""
    ids = []
    for _ in range(count):
        answer = post(api, merchant, BODY, new_key())
        assert answer.status_code == 202
        ids.append(answer.json()["id"])
    return ids


def listed(api: TestClient, merchant: Merchant, **params: Any) -> Any:
    answer = api.get("/v1/payments", params=params, headers=merchant.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def all_pages(api: TestClient, merchant: Merchant, **params: Any) -> list[str]:
    seen: list[str] = []
    page = listed(api, merchant, limit=PAGE_LIMIT, **params)
    seen += [p["id"] for p in page["data"]]
    while page["has_more"]:
        page = listed(api, merchant, limit=PAGE_LIMIT, starting_after=seen[-1], **params)
        seen += [p["id"] for p in page["data"]]
    return seen


def record_key(settings: Settings, payment_id: str) -> str:
    key = PAYMENTS.key_of(payment_id, settings.stream_partitions)
    assert key is not None
    return key


def project(settings: Settings, redis_client: redis.Redis, payment_ids: list[str]) -> None:
    """What the relay does for a payment's event: its state into the history."""
    engine = create_engine_for(settings.database_url)
    with engine.begin() as connection:
        write_payments(
            connection,
            [
                project_payment(PAYMENTS.decode(redis_client.hgetall(record_key(settings, i))))
                for i in payment_ids
            ],
        )
    engine.dispose()


def forget_in_redis(
    settings: Settings, client: redis.Redis, merchant: Merchant, ids: list[str]
) -> None:
    """The records and their list entries gone, as after their TTL or a lost Redis."""
    for payment_id in ids:
        client.delete(record_key(settings, payment_id))
        partition = keys.partition_of(
            payment_id, keys.PAYMENT_ID_PREFIX, settings.stream_partitions
        )
        assert partition is not None
        client.zrem(keys.list_key(partition, merchant.merchant_id), payment_id)


def test_the_list_is_newest_first_in_stripes_shape_and_only_this_merchants(
    api: TestClient, merchant: Merchant, other_merchant: Merchant
) -> None:
    ids = accept(api, merchant, 5)
    accept(api, other_merchant, 2)

    page = listed(api, merchant, limit=3)

    assert (page["object"], page["url"], page["has_more"]) == ("list", "/v1/payments", True)
    assert [p["id"] for p in page["data"]] == ids[::-1][:3]
    assert page["data"][0] == api.get(f"/v1/payments/{ids[-1]}", headers=merchant.headers).json()
    rest = listed(api, merchant, limit=3, starting_after=ids[2])
    assert ([p["id"] for p in rest["data"]], rest["has_more"]) == (ids[1::-1], False)
    back = listed(api, merchant, limit=3, ending_before=ids[1])
    assert ([p["id"] for p in back["data"]], back["has_more"]) == (ids[4:1:-1], False)
    assert listed(api, merchant)["data"] == listed(api, merchant, limit=10)["data"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("limit=1&limit=2", "limit"),
        ("starting_after=pay_nope", "starting_after"),
        ("ending_before=re_0001m8vxs9hb9nawvqdb3vf25ss2", "ending_before"),
        ("status=lost", "status"),
        ("colour=red", "colour"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(
    api: TestClient, merchant: Merchant, query: str, field: str
) -> None:
    answer = api.get(f"/v1/payments?{query}", headers=merchant.headers)

    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["field"] == field


def test_both_cursors_at_once_are_refused(api: TestClient, merchant: Merchant) -> None:
    first, second = accept(api, merchant, 2)

    answer = api.get(
        f"/v1/payments?starting_after={first}&ending_before={second}", headers=merchant.headers
    )

    assert answer.status_code == 400


def test_a_payment_is_listed_from_its_202_while_postgresql_is_down(
    settings: Settings, merchant: Merchant
) -> None:
    with client_for(settings, database_url=UNREACHABLE_DATABASE_URL) as api:
        ids = accept(api, merchant, 3)

        assert [p["id"] for p in listed(api, merchant)["data"]] == ids[::-1]
        assert api.get(f"/v1/payments/{ids[0]}", headers=merchant.headers).status_code == 200


def test_the_history_answers_once_redis_has_let_the_payments_go(
    api: TestClient, settings: Settings, redis_client: redis.Redis, merchant: Merchant
) -> None:
    ids = accept(api, merchant, 4)
    project(settings, redis_client, ids)
    before = {i: api.get(f"/v1/payments/{i}", headers=merchant.headers).json() for i in ids}
    gone = ids[:2]
    forget_in_redis(settings, redis_client, merchant, gone)

    for payment_id in gone:
        answer = api.get(f"/v1/payments/{payment_id}", headers=merchant.headers)
        assert (answer.status_code, answer.json()) == (200, before[payment_id])
    assert [p["id"] for p in listed(api, merchant)["data"]] == ids[::-1]
    assert listed(api, merchant)["data"] == [before[i] for i in ids[::-1]]


def test_a_status_filter_sees_each_payment_as_it_stands_now(
    api: TestClient, settings: Settings, redis_client: redis.Redis, merchant: Merchant
) -> None:
    ids = accept(api, merchant, 4)
    project(settings, redis_client, ids)  # the history: all pending
    moved = ids[1]
    redis_client.hset(record_key(settings, moved), "step", "declined")

    assert [p["id"] for p in listed(api, merchant, status="failed")["data"]] == [moved]
    pending = [p["id"] for p in listed(api, merchant, status="pending")["data"]]
    assert pending == [i for i in ids[::-1] if i != moved]


def test_neither_store_answering_is_a_503_never_a_404(
    api: TestClient, settings: Settings, redis_client: redis.Redis, merchant: Merchant
) -> None:
    [kept, unknown] = accept(api, merchant, 2)
    project(settings, redis_client, [kept])
    forget_in_redis(settings, redis_client, merchant, [kept, unknown])

    with client_for(settings, database_url=UNREACHABLE_DATABASE_URL) as no_database:
        answer = no_database.get(f"/v1/payments/{kept}", headers=merchant.headers)
        assert answer.status_code == 503
        assert "Retry-After" in answer.headers
    with client_for(settings, redis_url=UNREACHABLE_REDIS_URL) as no_redis:
        # The key check needs Redis: authentication fails closed first.
        assert no_redis.get(f"/v1/payments/{kept}", headers=merchant.headers).status_code == 503
    assert api.get(f"/v1/payments/{unknown}", headers=merchant.headers).status_code == 404


def test_without_postgresql_a_page_reaching_past_redis_is_a_503(
    api: TestClient, settings: Settings, redis_client: redis.Redis, merchant: Merchant
) -> None:
    ids = accept(api, merchant, 12)
    trimmed_before = keys.created_ms_of(ids[6], keys.PAYMENT_ID_PREFIX)
    for partition in range(settings.stream_partitions):
        # As after Redis trimmed the merchant's oldest entries: older ones are PostgreSQL's.
        index = keys.list_key(partition, merchant.merchant_id)
        redis_client.zadd(index, {keys.LIST_SINCE_MEMBER: trimmed_before})

    with client_for(settings, database_url=UNREACHABLE_DATABASE_URL) as no_database:
        first = no_database.get("/v1/payments?limit=3", headers=merchant.headers)
        deep = no_database.get("/v1/payments?limit=100", headers=merchant.headers)

    assert first.status_code == 200
    assert [p["id"] for p in first.json()["data"]] == ids[::-1][:3]
    assert deep.status_code == 503


def test_pages_neither_skip_nor_repeat_while_payments_keep_arriving(
    api: TestClient, settings: Settings, redis_client: redis.Redis, merchant: Merchant
) -> None:
    existing = accept(api, merchant, 30)
    project(settings, redis_client, existing[:20])
    forget_in_redis(settings, redis_client, merchant, existing[:10])
    stop = threading.Event()
    arrived: list[str] = []

    def keep_accepting() -> None:
        with client_for(settings) as other:
            while not stop.is_set() and len(arrived) < CONCURRENT_PAYMENTS:
                arrived.extend(accept(other, merchant, 1))

    writer = threading.Thread(target=keep_accepting)
    writer.start()
    try:
        seen = all_pages(api, merchant)
    finally:
        stop.set()
        writer.join()

    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in existing] == existing[::-1]
    assert set(seen) <= set(existing) | set(arrived)
