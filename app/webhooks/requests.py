"""``POST /v1/webhook_endpoints`` bodies: validated, and their URL's host resolved and checked
against the private-address guard before anything is stored."""

import asyncio
import socket
from dataclasses import dataclass
from typing import Any

from app.errors import InvalidRequest
from app.events.outbox import EVENT_TYPES
from app.webhooks.addresses import UrlRefused, check_url, refused_addresses
from app.webhooks.deliveries import ALL_EVENTS
from app.webhooks.models import ENABLED_EVENTS_MAX

FIELDS = ("url", "enabled_events")
#: A host that does not resolve this fast is refused rather than holding the request.
RESOLVE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class EndpointRequest:
    url: str
    enabled_events: list[str]

    def canonical(self) -> dict[str, Any]:
        return {"url": self.url, "enabled_events": self.enabled_events}


def _url(document: dict[str, Any], allow_private: bool) -> str:
    url = document.get("url")
    if not isinstance(url, str):
        raise InvalidRequest("'url' is required, as a string.", field="url")
    try:
        check_url(url, allow_private)
    except UrlRefused as refusal:
        raise InvalidRequest(str(refusal), field="url") from None
    return url


def _enabled_events(document: dict[str, Any]) -> list[str]:
    events = document.get("enabled_events")
    allowed = (ALL_EVENTS, *EVENT_TYPES)
    if not isinstance(events, list) or not 1 <= len(events) <= ENABLED_EVENTS_MAX:
        raise InvalidRequest(
            f"'enabled_events' must be a list of 1 to {ENABLED_EVENTS_MAX} event types.",
            field="enabled_events",
        )
    for event in events:
        if event not in allowed:
            raise InvalidRequest(
                f"'enabled_events' may hold only: {', '.join(allowed)}.", field="enabled_events"
            )
    if len(set(events)) != len(events):
        raise InvalidRequest("'enabled_events' lists a type twice.", field="enabled_events")
    return [str(event) for event in events]


def validate_endpoint(document: dict[str, Any], allow_private: bool) -> EndpointRequest:
    for name in document:
        if name not in FIELDS:
            raise InvalidRequest(f"Unknown field '{name}'.", field=name)
    return EndpointRequest(_url(document, allow_private), _enabled_events(document))


async def check_host(url: str, allow_private: bool) -> None:
    """400 unless the URL's host resolves, and only to public addresses (or private ones are
    allowed here)."""
    if allow_private:
        return
    parts = check_url(url, allow_private)
    try:
        found = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(
                parts.hostname, parts.port or 443, type=socket.SOCK_STREAM
            ),
            RESOLVE_TIMEOUT_S,
        )
    except (OSError, TimeoutError):
        raise InvalidRequest("The URL's host does not resolve.", field="url") from None
    addresses = [str(info[4][0]) for info in found]
    if not addresses or refused_addresses(addresses):
        raise InvalidRequest(
            "The URL's host resolves to a private, loopback, link-local, multicast or reserved "
            "address; webhooks go to public addresses only.",
            field="url",
        )
