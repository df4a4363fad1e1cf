"""Builders for webhook tests: endpoints and relayed events written straight to PostgreSQL,
and the deliveries and attempts read back."""

import json
import secrets
import time
from typing import Any

import psycopg

from app.db import create_engine_for
from app.events.outbox import EVENT_ID_PREFIX
from app.events.relay import Relayed, StoredEvent, write
from app.queue import keys
from app.webhooks.endpoints import ENDPOINT_ID_PREFIX, ENDPOINT_PARTITION, new_secret


def rows(database_url: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as connection:
        return connection.execute(query, params).fetchall()


def add_endpoint(
    database_url: str,
    merchant_id: str,
    *enabled_events: str,
    url: str = "https://example.com/hook",
) -> tuple[str, str]:
    """A new endpoint's id and its secret."""
    endpoint_id = keys.new_id(ENDPOINT_ID_PREFIX, ENDPOINT_PARTITION)
    secret = new_secret()
    created_ms = keys.created_ms_of(endpoint_id, ENDPOINT_ID_PREFIX)
    rows(
        database_url,
        """INSERT INTO webhook_endpoints (id, merchant_id, url, enabled_events, status, secret,
               created, created_ms, idempotency_key_hash, fingerprint, answer)
           VALUES (%s, %s, %s, %s, 'enabled', %s, %s, %s, %s, 'f', '{}') RETURNING id""",
        endpoint_id,
        merchant_id,
        url,
        list(enabled_events or ("*",)),
        secret,
        created_ms // 1000,
        created_ms,
        secrets.token_hex(8),
    )
    return endpoint_id, secret


def new_payment_id(partitions: int) -> str:
    return keys.new_id(keys.PAYMENT_ID_PREFIX, secrets.randbelow(partitions))


def relay_event(
    database_url: str, merchant_id: str, payment_id: str, seq: int, event_type: str
) -> StoredEvent:
    """An event of ``payment_id`` written as the relay writes it (deliveries included)."""
    event_id = keys.new_id(EVENT_ID_PREFIX, 0)
    document = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": {"id": payment_id, "object": "payment"}},
    }
    event = StoredEvent(
        id=event_id,
        type=event_type,
        merchant_id=merchant_id,
        payment_id=payment_id,
        seq=seq,
        created_ms=keys.created_ms_of(event_id, EVENT_ID_PREFIX),
        body=json.dumps(document, separators=(",", ":")),
    )
    engine = create_engine_for(database_url)
    write(engine, [Relayed(event, None, None)])
    engine.dispose()
    return event


def delivery_of(database_url: str, event_id: str) -> tuple[str, int]:
    [(status, attempts)] = rows(
        database_url,
        "SELECT status, attempts FROM webhook_deliveries WHERE event_id = %s",
        event_id,
    )
    return status, attempts


def make_due(database_url: str, event_id: str) -> None:
    rows(
        database_url,
        "UPDATE webhook_deliveries SET next_attempt_at = now() WHERE event_id = %s RETURNING 1",
        event_id,
    )
