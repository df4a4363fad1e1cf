"""Webhook endpoints in PostgreSQL: created idempotently, listed, read and deleted.

The signing secret is made here and shown once, in the create answer (kept, with the request's
fingerprint, so a replay of that request gets it back byte for byte); it is never part of the
endpoint as read or listed later.
"""

import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text, update

from app.errors import IdempotencyKeyReused, WebhookEndpointsLimit
from app.history.pages import Page, PageRequest, keyset, page_of
from app.queue import keys
from app.webhooks.models import WebhookEndpoint

ENDPOINT_ID_PREFIX = "we_"
SECRET_PREFIX = "whsec_"
#: Standard Webhooks asks for at least 24 random bytes.
SECRET_BYTES = 32
#: Endpoints one merchant may have at once: each event is sent to every one of them.
ENDPOINTS_PER_MERCHANT_MAX = 16
#: Endpoint ids carry no partition (they live in PostgreSQL only).
ENDPOINT_PARTITION = 0
CREATED_STATUS = 201
#: Serialises one merchant's creates, so the endpoint cap holds under concurrent requests.
_LOCK_MERCHANT = text("SELECT pg_advisory_xact_lock(hashtext('webhook_endpoints:' || :merchant))")


@dataclass(frozen=True)
class NewEndpoint:
    """A validated create request, bound to its Idempotency-Key."""

    merchant_id: str
    url: str
    enabled_events: list[str]
    key_hash: str
    fingerprint: str


@dataclass(frozen=True)
class Created:
    """The create answer (with the secret), and whether it is the replay of an earlier one."""

    body: str
    replayed: bool


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def public(row: Any) -> dict[str, Any]:
    """The endpoint (a model or a row of its columns) as merchants read it: all but its
    secret."""
    return {
        "id": row.id,
        "object": "webhook_endpoint",
        "url": row.url,
        "enabled_events": list(row.enabled_events),
        "status": row.status,
        "created": row.created,
    }


def _encode(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


def _earlier(connection: Connection, new: NewEndpoint, client_key: str) -> Created | None:
    found = connection.execute(
        select(WebhookEndpoint.fingerprint, WebhookEndpoint.answer).where(
            WebhookEndpoint.merchant_id == new.merchant_id,
            WebhookEndpoint.idempotency_key_hash == new.key_hash,
        )
    ).one_or_none()
    if found is None:
        return None
    if found.fingerprint != new.fingerprint:
        raise IdempotencyKeyReused(
            f"Idempotency-Key '{client_key}' was already used with a different payload."
        )
    return Created(found.answer, replayed=True)


def earlier(engine: Engine, new: NewEndpoint, client_key: str) -> Created | None:
    """The first answer to this key, when the request is a replay (422 for another payload)."""
    with engine.connect() as connection:
        return _earlier(connection, new, client_key)


def _count(connection: Connection, merchant_id: str) -> int:
    query = select(func.count()).where(
        WebhookEndpoint.merchant_id == merchant_id, WebhookEndpoint.deleted.is_(False)
    )
    return int(connection.execute(query).scalar_one())


def create(engine: Engine, new: NewEndpoint, client_key: str) -> Created:
    """The endpoint made (or, for a repeated key and payload, the first answer again); 422 for
    a key reused with another payload; 400 past the per-merchant cap."""
    with engine.begin() as connection:
        connection.execute(_LOCK_MERCHANT, {"merchant": new.merchant_id})
        earlier = _earlier(connection, new, client_key)
        if earlier is not None:
            return earlier
        if _count(connection, new.merchant_id) >= ENDPOINTS_PER_MERCHANT_MAX:
            raise WebhookEndpointsLimit(
                f"A merchant may have at most {ENDPOINTS_PER_MERCHANT_MAX} webhook endpoints; "
                "delete one first."
            )
        endpoint_id = keys.new_id(ENDPOINT_ID_PREFIX, ENDPOINT_PARTITION)
        created_ms = keys.created_ms_of(endpoint_id, ENDPOINT_ID_PREFIX)
        row = WebhookEndpoint(
            id=endpoint_id,
            merchant_id=new.merchant_id,
            url=new.url,
            enabled_events=new.enabled_events,
            status="enabled",
            secret=new_secret(),
            created=created_ms // 1000,
            created_ms=created_ms,
            idempotency_key_hash=new.key_hash,
            fingerprint=new.fingerprint,
            answer="",
        )
        row.answer = _encode({**public(row), "secret": row.secret})
        connection.execute(
            WebhookEndpoint.__table__.insert(),  # type: ignore[attr-defined]
            {column: getattr(row, column) for column in _COLUMNS},
        )
    return Created(row.answer, replayed=False)


_COLUMNS = (
    "id",
    "merchant_id",
    "url",
    "enabled_events",
    "status",
    "secret",
    "created",
    "created_ms",
    "idempotency_key_hash",
    "fingerprint",
    "answer",
)


def _mine(merchant_id: str) -> Any:
    return (WebhookEndpoint.merchant_id == merchant_id) & WebhookEndpoint.deleted.is_(False)


def find(engine: Engine, merchant_id: str, endpoint_id: str) -> str | None:
    query = select(WebhookEndpoint).where(_mine(merchant_id), WebhookEndpoint.id == endpoint_id)
    with engine.connect() as connection:
        row = connection.execute(query).one_or_none()
    return None if row is None else _encode(public(row))


def list_page(engine: Engine, merchant_id: str, page: PageRequest) -> Page:
    query = select(WebhookEndpoint).where(_mine(merchant_id))
    query = keyset(query, WebhookEndpoint.created_ms, WebhookEndpoint.id, page)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return page_of([_encode(public(row)) for row in rows], page)


def delete(engine: Engine, merchant_id: str, endpoint_id: str) -> bool:
    """Deleted (kept, marked, so past attempts still name it), or False when not found.
    Deliveries still pending to it fail when their turn comes."""
    query = (
        update(WebhookEndpoint)
        .where(_mine(merchant_id), WebhookEndpoint.id == endpoint_id)
        .values(deleted=True)
    )
    with engine.begin() as connection:
        return connection.execute(query).rowcount == 1
