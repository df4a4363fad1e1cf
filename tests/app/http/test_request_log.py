"""Every answer carries a Request-Id and leaves one access line naming the route, not the raw
path; the id of a payment's request travels in its worker message."""

import json
import logging
from typing import Any

import pytest
import redis
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from app.http.request_log import NEW_ID_PREFIX, UNMATCHED_PATH
from app.main import create_app
from app.queue.dispatch import REQUEST_ID_OPTION
from app.settings import Settings
from tests.app.conftest import Merchant
from tests.app.http.routes.test_payments import BODY, new_key, post, stream_entries


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        record.msg
        for record in caplog.records
        if isinstance(record.msg, dict) and record.msg.get("event") == "http.request"
    ]


def test_a_sane_client_id_is_kept_and_logged_with_the_route_and_merchant(
    api: TestClient, merchant: Merchant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    created = post(api, merchant, BODY, new_key(), **{"X-Request-Id": "order-77.retry:2"})
    read = api.get(f"/v1/payments/{created.json()['id']}", headers=merchant.headers)

    assert created.headers["request-id"] == "order-77.retry:2"
    assert read.headers["request-id"].startswith(NEW_ID_PREFIX)
    first, second = access_lines(caplog)
    assert first["request_id"] == "order-77.retry:2"
    assert (first["method"], first["path"], first["status"]) == ("POST", "/v1/payments", 202)
    assert first["merchant_id"] == merchant.merchant_id
    assert first["latency_ms"] > 0
    assert second["path"] == "/v1/payments/{payment_id}"
    assert second["request_id"] == read.headers["request-id"]


@pytest.mark.parametrize(
    "client_id", ["", "a b", "x" * 129, "na\u00efve".encode(), '{"event":"forged"}']
)
def test_an_insane_client_id_is_replaced(api: TestClient, client_id: str | bytes) -> None:
    answer = api.get("/healthz", headers={"X-Request-Id": client_id})

    assert answer.headers["request-id"].startswith(NEW_ID_PREFIX)


def test_a_404_and_a_401_carry_an_id_and_log_no_raw_path(
    api: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    missing = api.get("/no/such/secret-path")
    refused = api.get("/v1/payments/pay_x")

    assert missing.status_code == 404 and missing.headers["request-id"]
    assert refused.status_code == 401 and refused.headers["request-id"]
    lines = access_lines(caplog)
    assert [(line["path"], line["status"]) for line in lines] == [
        (UNMATCHED_PATH, 404),
        ("/v1/payments/{payment_id}", 401),
    ]
    assert "secret-path" not in json.dumps(lines)


def test_a_500_carries_its_id_and_leaves_its_line(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(_: Request) -> Response:
        raise RuntimeError("a bug")

    caplog.set_level(logging.INFO)
    app = create_app(settings)
    app.router.routes.append(Route("/broken", broken))
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/broken")

    assert answer.status_code == 500
    assert answer.headers["request-id"].startswith(NEW_ID_PREFIX)
    [line] = access_lines(caplog)
    assert (line["path"], line["status"]) == ("/broken", 500)
    assert line["request_id"] == answer.headers["request-id"]


def test_the_request_id_travels_in_the_payments_message(
    api: TestClient, merchant: Merchant, redis_client: redis.Redis, settings: Settings
) -> None:
    created = post(api, merchant, BODY, new_key(), **{"X-Request-Id": "checkout-42"})

    [message] = stream_entries(redis_client, created.json()["id"], settings.stream_partitions)
    assert message["options"][REQUEST_ID_OPTION] == "checkout-42"
