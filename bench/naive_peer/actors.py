"""The peer's one actor: charge a payment at its provider, then INSERT its outcome."""

import functools
import os
import threading
from typing import Any

import dramatiq
import httpx
import psycopg

TABLE = "naive_payments"
CREATE_TABLE_SQL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    payment_id text PRIMARY KEY,
    provider text NOT NULL,
    provider_reference text NOT NULL,
    amount bigint NOT NULL,
    currency text NOT NULL,
    enqueued_at timestamptz NOT NULL,
    inserted_at timestamptz NOT NULL DEFAULT clock_timestamp()
)
"""
INSERT_SQL = f"""
INSERT INTO {TABLE} (payment_id, provider, provider_reference, amount, currency, enqueued_at)
VALUES (%s, %s, %s, %s, %s, to_timestamp(%s))
ON CONFLICT (payment_id) DO NOTHING
"""
#: Like paystream's PROVIDER_TIMEOUT_S default: a provider call may take this long.
HTTP_TIMEOUT_S = 20.0
#: More connections than Dramatiq's default threads, so no thread waits for one.
HTTP_CONNECTIONS_MAX = 32
CUSTOMER_EMAIL = "bench@example.com"
_connections = threading.local()


@functools.cache
def http_client() -> httpx.Client:
    """One pooled client per worker process, shared by its threads (httpx.Client is
    thread-safe); created on first use, so after Dramatiq forked the process."""
    return httpx.Client(
        timeout=HTTP_TIMEOUT_S,
        limits=httpx.Limits(max_connections=HTTP_CONNECTIONS_MAX),
    )


def database() -> psycopg.Connection[Any]:
    """One autocommit connection per worker thread, kept for the thread's life."""
    if getattr(_connections, "connection", None) is None:
        _connections.connection = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    connection: psycopg.Connection[Any] = _connections.connection
    return connection


def bearer(variable: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {os.environ.get(variable, 'sk_test_naive')}"}


def charge_stripe(payment_id: str, amount: int, currency: str, payment_method: str) -> str:
    base = os.environ["STRIPE_API_BASE"]
    created = http_client().post(
        f"{base}/v1/payment_intents",
        data={
            "amount": amount,
            "currency": currency,
            "payment_method": payment_method,
            "metadata[payment_id]": payment_id,
        },
        headers={**bearer("STRIPE_SECRET_KEY"), "Idempotency-Key": payment_id},
    )
    intent_id = str(created.raise_for_status().json()["id"])
    confirmed = http_client().post(
        f"{base}/v1/payment_intents/{intent_id}/confirm",
        data={"off_session": "true"},
        headers={**bearer("STRIPE_SECRET_KEY"), "Idempotency-Key": f"{payment_id}-confirm"},
    )
    if confirmed.raise_for_status().json()["status"] != "succeeded":
        raise RuntimeError(f"{payment_id}: intent {intent_id} did not succeed")
    return intent_id


def charge_paystack(payment_id: str, amount: int, currency: str, authorization: str) -> str:
    answer = http_client().post(
        f"{os.environ['PAYSTACK_API_BASE']}/transaction/charge_authorization",
        json={
            "email": CUSTOMER_EMAIL,
            "amount": amount,
            "currency": currency.upper(),
            "authorization_code": authorization,
            # Paystack allows no "_" in a reference; the metadata names the payment for the
            # simulator's list of charges.
            "reference": payment_id.replace("_", "-"),
            "metadata": {"payment_id": payment_id},
        },
        headers=bearer("PAYSTACK_SECRET_KEY"),
    )
    data = answer.raise_for_status().json()["data"]
    if data["status"] != "success":
        raise RuntimeError(f"{payment_id}: Paystack answered {data['status']}")
    return str(data["reference"])


@dramatiq.actor
def charge_payment(
    payment_id: str,
    provider: str,
    amount: int,
    currency: str,
    payment_method: str,
    enqueued_at_s: float,
) -> None:
    if provider == "paystack":
        reference = charge_paystack(payment_id, amount, currency, payment_method)
    else:
        reference = charge_stripe(payment_id, amount, currency, payment_method)
    database().execute(
        INSERT_SQL, (payment_id, provider, reference, amount, currency, enqueued_at_s)
    )
