"""Sending one delivery: Standard Webhooks 1.0 headers and ``v1`` signature (by the
``standardwebhooks`` reference library), over a client that only connects to public addresses.

The guard sits in the resolver: the address it hands the connection is the one it checked, so
a host whose DNS changes between registration and delivery (rebinding) still cannot send a
webhook into our own network. A URL naming an IP literal is checked before any connection.
"""

import ipaddress
import socket
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from standardwebhooks import Webhook

from app.webhooks.addresses import is_public
from app.webhooks.models import RESPONSE_HEAD_BYTES_MAX
from app.webhooks.schedule import parse_retry_after

#: Connections to all endpoints at once, and to one: a slow merchant cannot take every socket.
CONNECTIONS_MAX = 256
CONNECTIONS_PER_HOST_MAX = 32
#: Part of the delivery timeout a connection may take to open.
CONNECT_TIMEOUT_S_MAX = 5.0
USER_AGENT = "paystream-webhooks/1"


class AddressRefused(OSError):
    """The endpoint's host resolves only to addresses webhooks must not go to."""


class PublicOnlyResolver(AbstractResolver):
    """The system resolver, keeping only public addresses."""

    def __init__(self) -> None:
        self._resolver = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        allowed = [result for result in found if is_public(result["host"])]
        if not allowed:
            raise AddressRefused(f"{host} resolves to no public address")
        return allowed

    async def close(self) -> None:
        await self._resolver.close()


@dataclass(frozen=True)
class Answer:
    """What one attempt got: an HTTP answer, or the error that stood in for one."""

    status_code: int | None
    latency_ms: int
    response_head: str
    error: str | None
    retry_after_s: float | None


def signed_headers(secret: str, event_id: str, body: str, at: datetime) -> dict[str, str]:
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def _literal_refused(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return not is_public(host)


class Sender:
    def __init__(self, timeout_s: float, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._timeout = aiohttp.ClientTimeout(
            total=timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S_MAX)
        )
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use, inside the event loop that will use it.
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=CONNECTIONS_MAX,
                limit_per_host=CONNECTIONS_PER_HOST_MAX,
                resolver=None if self._allow_private else PublicOnlyResolver(),
            )
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self._session

    async def send(self, url: str, secret: str, event_id: str, body: str) -> Answer:
        """POST the event; never raises for what the network or the receiver did."""
        started = time.monotonic()
        if not self._allow_private and _literal_refused(url):
            return Answer(None, 0, "", "address not allowed", None)
        headers = signed_headers(secret, event_id, body, datetime.now(UTC))
        try:
            async with self._client().post(
                url, data=body.encode(), headers=headers, allow_redirects=False
            ) as response:
                head = await response.content.read(RESPONSE_HEAD_BYTES_MAX)
                return Answer(
                    response.status,
                    _elapsed_ms(started),
                    head.decode("utf-8", "replace")[:RESPONSE_HEAD_BYTES_MAX],
                    None,
                    parse_retry_after(response.headers.get("Retry-After")),
                )
        except aiohttp.ClientConnectorError as error:
            refused = isinstance(error.os_error, AddressRefused)
            reason = "address not allowed" if refused else type(error).__name__
            return Answer(None, _elapsed_ms(started), "", reason, None)
        except TimeoutError:
            return Answer(None, _elapsed_ms(started), "", "timed out", None)
        except (aiohttp.ClientError, OSError) as error:
            return Answer(None, _elapsed_ms(started), "", type(error).__name__, None)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
