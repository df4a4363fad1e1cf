"""HTTP plumbing both provider faces share: bodies in, JSON out, bearer keys, waiting."""

import asyncio
import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.simulator.faults import Faults

#: Both providers issue secret keys as ``sk_test_…`` / ``sk_live_…``; any such key is accepted.
API_KEY_PREFIX = "sk_"
#: Far above any real charge request, low enough that a runaway client cannot exhaust memory.
BODY_BYTES_MAX = 64 * 1024
JSON_MEDIA_TYPE = "application/json"

Headers = tuple[tuple[str, str], ...]
#: A provider event an executed call gives rise to: its type and its object (or data).
Webhook = tuple[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Answer:
    """What an executed provider call decided."""

    status_code: int
    body: dict[str, Any]
    #: The call changed provider state (an object created, money moved), so a failure
    #: injected after it leaves the client unsure whether it happened.
    changed: bool
    #: The event the provider sends about it, whatever becomes of the answer itself.
    webhook: Webhook | None = None


class BodyTooLarge(ValueError):
    """The request body exceeds BODY_BYTES_MAX."""


def json_bytes(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(status_code: int, body: object, headers: Headers = ()) -> Response:
    return raw_json_response(status_code, json_bytes(body), headers)


def raw_json_response(status_code: int, content: bytes, headers: Headers = ()) -> Response:
    return Response(content, status_code, dict(headers), media_type=JSON_MEDIA_TYPE)


def bearer_key(request: Request) -> str | None:
    """The secret key of an ``Authorization: Bearer sk_…`` header; None when absent or malformed."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return _secret_key(key)


def bearer_or_basic_key(request: Request) -> str | None:
    """Stripe's two ways of sending the key: as a bearer token, or as the HTTP Basic user with
    an empty password (``curl -u sk_test_…:``)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return bearer_key(request)
    try:
        user_password = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, _ = user_password.partition(":")
    return _secret_key(user)


def _secret_key(key: str) -> str | None:
    if not key.startswith(API_KEY_PREFIX) or len(key) == len(API_KEY_PREFIX):
        return None
    return key


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > BODY_BYTES_MAX:
        raise BodyTooLarge(f"request bodies are limited to {BODY_BYTES_MAX} bytes")
    body = await request.body()
    if len(body) > BODY_BYTES_MAX:
        raise BodyTooLarge(f"request bodies are limited to {BODY_BYTES_MAX} bytes")
    return body


async def pause(faults: Faults, method: str | None = None) -> None:
    """Spend the simulated execution time without blocking the other requests in flight."""
    await wait_s(faults.latency_s(method))


async def wait_s(delay_s: float) -> None:
    # asyncio, not time.sleep: a hung or slow answer must not hold up the other requests.
    if delay_s > 0:
        await asyncio.sleep(delay_s)
