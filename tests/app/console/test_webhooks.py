"""The console's webhook pages over HTTP: endpoints and failing deliveries, an event's attempts,
its resend behind CSRF, and a payment's events on its page."""

import dataclasses
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from app.db import create_engine_for
from app.main import create_app
from app.settings import Secret, Settings
from app.webhooks import chain
from tests.app.conftest import Merchant
from tests.app.console.test_access import TOKEN, logged_in
from tests.app.http.routes.test_payments import BODY, new_key, post
from tests.support.webhooks import add_endpoint, relay_event, rows

UNREACHABLE_DATABASE_URL = "postgresql://postgres@127.0.0.1:1/nowhere"


@pytest.fixture
def console(settings: Settings) -> Iterator[TestClient]:
    enabled = dataclasses.replace(settings, console_token=Secret(TOKEN))
    with TestClient(create_app(enabled), raise_server_exceptions=False) as client:
        yield client


def failing_event(settings: Settings, merchant_id: str, payment_id: str) -> tuple[str, str]:
    """(endpoint, event): a delivery whose attempt got a 502, waiting to be retried."""
    endpoint_id, _ = add_endpoint(settings.database_url, merchant_id, "*")
    event = relay_event(settings.database_url, merchant_id, payment_id, 1, "payment.succeeded")
    engine = create_engine_for(settings.database_url)
    attempt = chain.Attempt(event.id, endpoint_id, datetime.now(UTC), 502, 41, "bad gateway", None)
    chain.finish(engine, [chain.Finished(attempt, payment_id, "pending", retry_in_s=3600)])
    engine.dispose()
    return endpoint_id, event.id


def test_the_webhooks_page_lists_endpoints_and_failing_deliveries(
    console: TestClient, settings: Settings, api: TestClient, merchant: Merchant
) -> None:
    payment_id = post(api, merchant, BODY, new_key()).json()["id"]
    endpoint_id, event_id = failing_event(settings, merchant.merchant_id, payment_id)
    logged_in(console)

    page = console.get("/console/webhooks")

    assert page.status_code == 200
    assert endpoint_id in page.text and event_id in page.text
    assert "502" in page.text
    assert "Webhooks" in console.get("/console/payments").text  # in the navigation


def test_an_event_page_shows_attempts_and_resend_needs_csrf(
    console: TestClient, settings: Settings, api: TestClient, merchant: Merchant
) -> None:
    payment_id = post(api, merchant, BODY, new_key()).json()["id"]
    endpoint_id, event_id = failing_event(settings, merchant.merchant_id, payment_id)
    csrf = logged_in(console)

    page = console.get(f"/console/events/{event_id}")
    refused = console.post(f"/console/events/{event_id}/resend", data={})
    resent = console.post(
        f"/console/events/{event_id}/resend", data={"csrf": csrf}, follow_redirects=False
    )
    shown_payment = console.get(f"/console/payments/{payment_id}")

    assert page.status_code == 200
    assert "bad gateway" in page.text and endpoint_id in page.text
    assert (refused.status_code, refused.json()["code"]) == (403, "csrf_refused")
    assert resent.status_code == 303 and resent.headers["location"].endswith("?resent=1")
    [(status, attempts, due)] = rows(
        settings.database_url,
        "SELECT status, attempts, next_attempt_at <= now() FROM webhook_deliveries"
        " WHERE event_id = %s",
        event_id,
    )
    assert (status, attempts, due) == ("pending", 0, True)
    assert event_id in shown_payment.text


def test_resend_while_in_flight_says_so_and_unknown_events_are_404(
    console: TestClient, settings: Settings
) -> None:
    merchant_id = f"mer_{secrets.token_hex(4)}"
    payment_id = "pay_00" + "0" * 26
    endpoint_id, _ = add_endpoint(settings.database_url, merchant_id, "*")
    event = relay_event(settings.database_url, merchant_id, payment_id, 1, "payment.succeeded")
    engine = create_engine_for(settings.database_url)
    chain.claim(engine, endpoint_id, payment_id, 30)
    engine.dispose()
    csrf = logged_in(console)

    held = console.post(
        f"/console/events/{event.id}/resend", data={"csrf": csrf}, follow_redirects=False
    )
    unknown = console.post("/console/events/evt_nothing/resend", data={"csrf": csrf})

    assert held.headers["location"].endswith("?in_flight=1")
    assert unknown.status_code == 404
    assert console.get("/console/events/evt_nothing").status_code == 404


def test_webhook_pages_say_when_postgresql_is_down(settings: Settings) -> None:
    config = dataclasses.replace(
        settings, console_token=Secret(TOKEN), database_url=UNREACHABLE_DATABASE_URL
    )
    with TestClient(create_app(config), raise_server_exceptions=False) as console:
        logged_in(console)
        page = console.get("/console/webhooks")

    assert page.status_code == 503
    assert "unavailable" in page.text
