"""``/v1/webhook_endpoints`` on real PostgreSQL and Redis: created idempotently with a secret
shown once, listed Stripe's way, read and deleted; the URL rules and the private-address guard;
the per-merchant cap."""

import dataclasses
import secrets
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.webhooks.endpoints import ENDPOINTS_PER_MERCHANT_MAX
from tests.app.conftest import Merchant

PUBLIC_URL = "https://93.184.215.14/hooks"
LOCAL_URL = "http://127.0.0.1:9/hooks"
UNREACHABLE_DATABASE_URL = "postgresql://postgres@127.0.0.1:1/nowhere"


@pytest.fixture
def local_api(settings: Settings) -> Iterator[TestClient]:
    """The API with private addresses allowed, as in local development."""
    config = dataclasses.replace(settings, webhook_allow_private_urls=True)
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        yield client


def create(
    api: TestClient,
    merchant: Merchant,
    body: object,
    key: str | None = None,
) -> "object":
    headers = {**merchant.headers, "Idempotency-Key": key or secrets.token_hex(8)}
    return api.post("/v1/webhook_endpoints", json=body, headers=headers)


def endpoint_body(url: str = LOCAL_URL, events: list[str] | None = None) -> dict[str, object]:
    return {"url": url, "enabled_events": events or ["payment.succeeded"]}


def test_create_answers_201_with_the_secret_once_and_replays_it(
    local_api: TestClient, merchant: Merchant
) -> None:
    first = create(local_api, merchant, endpoint_body(), key="we-key-1")
    again = create(local_api, merchant, endpoint_body(), key="we-key-1")
    created = first.json()
    shown = local_api.get(f"/v1/webhook_endpoints/{created['id']}", headers=merchant.headers)

    assert first.status_code == 201
    assert first.headers["location"] == f"/v1/webhook_endpoints/{created['id']}"
    assert created["id"].startswith("we_")
    assert created["object"] == "webhook_endpoint"
    assert created["status"] == "enabled"
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert shown.status_code == 200
    assert "secret" not in shown.json()
    assert shown.json() == {k: v for k, v in created.items() if k != "secret"}


def test_a_key_reused_with_another_payload_is_422(
    local_api: TestClient, merchant: Merchant
) -> None:
    create(local_api, merchant, endpoint_body(), key="we-key-2")
    other = create(local_api, merchant, endpoint_body(events=["*"]), key="we-key-2")

    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


def test_create_needs_an_idempotency_key(local_api: TestClient, merchant: Merchant) -> None:
    answer = local_api.post("/v1/webhook_endpoints", json=endpoint_body(), headers=merchant.headers)
    assert (answer.status_code, answer.json()["code"]) == (400, "idempotency_key_missing")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"enabled_events": ["*"]}, "url"),
        ({"url": 7, "enabled_events": ["*"]}, "url"),
        ({"url": "ftp://example.com/x", "enabled_events": ["*"]}, "url"),
        ({"url": "https://user:pw@example.com/x", "enabled_events": ["*"]}, "url"),
        ({"url": "https://", "enabled_events": ["*"]}, "url"),
        ({"url": "https://example.com/" + "a" * 2048, "enabled_events": ["*"]}, "url"),
        ({"url": LOCAL_URL}, "enabled_events"),
        ({"url": LOCAL_URL, "enabled_events": []}, "enabled_events"),
        ({"url": LOCAL_URL, "enabled_events": ["payment.exploded"]}, "enabled_events"),
        ({"url": LOCAL_URL, "enabled_events": ["*", "*"]}, "enabled_events"),
        ({"url": LOCAL_URL, "enabled_events": "payment.succeeded"}, "enabled_events"),
        ({"url": LOCAL_URL, "enabled_events": ["*"], "secret": "mine"}, "secret"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(
    local_api: TestClient, merchant: Merchant, body: dict[str, object], field: str
) -> None:
    answer = create(local_api, merchant, body)

    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert (answer.json()["code"], answer.json()["field"]) == ("invalid_request", field)


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.215.14/hooks",  # plain http, outside local use
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://[::ffff:192.168.0.1]/hooks",
        "https://localhost/hooks",
        "https://224.0.0.1/hooks",
        "https://0.0.0.0/hooks",
        "https://does-not-resolve.invalid/hooks",
    ],
)
def test_private_and_unresolvable_addresses_are_refused(
    api: TestClient, merchant: Merchant, url: str
) -> None:
    answer = create(api, merchant, endpoint_body(url=url))

    assert answer.status_code == 400
    assert answer.json()["field"] == "url"


def test_a_public_address_is_taken_without_the_local_setting(
    api: TestClient, merchant: Merchant
) -> None:
    answer = create(api, merchant, endpoint_body(url=PUBLIC_URL))
    assert answer.status_code == 201


def test_list_is_newest_first_paged_and_the_merchants_own(
    local_api: TestClient, merchant: Merchant, other_merchant: Merchant
) -> None:
    made = [create(local_api, merchant, endpoint_body()).json()["id"] for _ in range(3)]
    create(local_api, other_merchant, endpoint_body())

    everything = local_api.get("/v1/webhook_endpoints", headers=merchant.headers).json()
    first = local_api.get("/v1/webhook_endpoints?limit=2", headers=merchant.headers).json()
    rest = local_api.get(
        f"/v1/webhook_endpoints?starting_after={first['data'][1]['id']}",
        headers=merchant.headers,
    ).json()
    bad = local_api.get("/v1/webhook_endpoints?limit=0", headers=merchant.headers)

    assert (everything["object"], everything["url"]) == ("list", "/v1/webhook_endpoints")
    assert [e["id"] for e in everything["data"]] == list(reversed(made))
    assert all("secret" not in e for e in everything["data"])
    assert ([e["id"] for e in first["data"]], first["has_more"]) == ([made[2], made[1]], True)
    assert ([e["id"] for e in rest["data"]], rest["has_more"]) == ([made[0]], False)
    assert (bad.status_code, bad.json()["field"]) == (400, "limit")


def test_another_merchants_endpoint_is_404_and_delete_removes_it(
    local_api: TestClient, merchant: Merchant, other_merchant: Merchant
) -> None:
    endpoint_id = create(local_api, merchant, endpoint_body()).json()["id"]
    path = f"/v1/webhook_endpoints/{endpoint_id}"

    assert local_api.get(path, headers=other_merchant.headers).status_code == 404
    assert local_api.delete(path, headers=other_merchant.headers).status_code == 404
    deleted = local_api.delete(path, headers=merchant.headers)
    assert deleted.status_code == 200
    assert deleted.json() == {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}
    assert local_api.get(path, headers=merchant.headers).status_code == 404
    assert local_api.delete(path, headers=merchant.headers).status_code == 404
    assert local_api.get("/v1/webhook_endpoints/we_nothing", headers=merchant.headers).json()[
        "code"
    ] == ("not_found")


def test_a_merchant_has_at_most_the_cap_of_endpoints(
    local_api: TestClient, merchant: Merchant
) -> None:
    made = [create(local_api, merchant, endpoint_body()) for _ in range(ENDPOINTS_PER_MERCHANT_MAX)]
    over = create(local_api, merchant, endpoint_body())
    local_api.delete(f"/v1/webhook_endpoints/{made[0].json()['id']}", headers=merchant.headers)
    after_delete = create(local_api, merchant, endpoint_body())

    assert all(answer.status_code == 201 for answer in made)
    assert (over.status_code, over.json()["code"]) == (400, "webhook_endpoints_limit")
    assert after_delete.status_code == 201


def test_no_key_is_401(local_api: TestClient) -> None:
    assert local_api.get("/v1/webhook_endpoints").status_code == 401


def test_postgresql_down_is_503_not_500(settings: Settings, merchant: Merchant) -> None:
    config = dataclasses.replace(
        settings, database_url=UNREACHABLE_DATABASE_URL, webhook_allow_private_urls=True
    )
    with TestClient(create_app(config), raise_server_exceptions=False) as api:
        listed = api.get("/v1/webhook_endpoints", headers=merchant.headers)
        created = create(api, merchant, endpoint_body())

    assert (listed.status_code, listed.json()["code"]) == (503, "unavailable")
    assert (created.status_code, created.json()["code"]) == (503, "unavailable")
