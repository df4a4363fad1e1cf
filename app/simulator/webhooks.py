"""The providers' webhooks, sent as they send them: signed, retried, and (by choice) delayed,
duplicated or reordered, so a receiver is tested against what real deliveries do.

Stripe signs ``"{t}.{body}"`` with HMAC-SHA256 under the endpoint secret (``Stripe-Signature:
t=…,v1=…``, a fresh ``t`` per attempt); Paystack signs the body with HMAC-SHA512 under the
account's secret key (``x-paystack-signature``). A delivery answered with anything but a 2xx,
or not at all, is tried again after a growing wait, as both providers do (on a compressed
schedule). Sending happens in background tasks: a provider call never waits for a webhook, and
with no URL set nothing is built or sent at all.
"""

import asyncio
import hashlib
import hmac
import json
import math
import random
import secrets
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import httpx

from app.simulator.config import ConfigError

STRIPE_WEBHOOK_SECRET_DEFAULT = "whsec_paystream_simulator"
#: The API version Stripe stamps on events; the objects follow the simulator's shapes.
STRIPE_API_VERSION = "2024-06-20"
EVENT_ID_RANDOM_BYTES = 12
#: Attempts per delivery, and the wait before the second, doubling up to its cap: the
#: providers retry for days; a test run needs the same shape in seconds.
DELIVERY_ATTEMPTS_MAX = 8
RETRY_DELAY_S_FIRST = 0.25
RETRY_DELAY_S_MAX = 4.0
DELIVERY_TIMEOUT_S = 10.0
#: Deliveries in flight at once, per simulator: a provider paces its webhooks, and a burst of
#: thousands of charges must not open thousands of connections to one receiver.
DELIVERIES_IN_FLIGHT_MAX = 16
#: A delivery held back to be overtaken goes out after the next one, or after this long.
REORDER_HOLD_S_MAX = 2.0
DELAY_MS_MAX = 60_000.0
URL_LENGTH_MAX = 2048


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    #: Where each provider's events go; None sends none.
    stripe_webhook_url: str | None = None
    paystack_webhook_url: str | None = None
    #: The Stripe endpoint's signing secret (Paystack signs with the charge's API key).
    stripe_webhook_secret: str = STRIPE_WEBHOOK_SECRET_DEFAULT
    #: Share of deliveries held back ``webhook_delay_ms`` before their first attempt.
    webhook_delay_rate: float = 0.0
    webhook_delay_ms: float = 1_000.0
    #: Share of deliveries sent twice.
    webhook_duplicate_rate: float = 0.0
    #: Share of deliveries held back until the next one has gone out.
    webhook_reorder_rate: float = 0.0

    def updated(self, changes: dict[str, object]) -> "WebhookConfig":
        """A copy with ``changes`` applied; raises ConfigError on any bad one."""
        # Any: each value is of its field's type, which `_field` checked by name.
        parsed: dict[str, Any] = {name: _field(name, value) for name, value in changes.items()}
        return replace(self, **parsed)

    def as_json(self) -> dict[str, object]:
        return asdict(self)


WEBHOOK_FIELDS = tuple(config_field.name for config_field in fields(WebhookConfig))
_URL_FIELDS = ("stripe_webhook_url", "paystack_webhook_url")
_RATE_FIELDS = ("webhook_delay_rate", "webhook_duplicate_rate", "webhook_reorder_rate")


def _field(name: str, value: object) -> object:
    if name in _URL_FIELDS:
        return _url(name, value)
    if name == "stripe_webhook_secret":
        if not isinstance(value, str) or not value:
            raise ConfigError("stripe_webhook_secret must be a non-empty string")
        return value
    value_max = 1.0 if name in _RATE_FIELDS else DELAY_MS_MAX
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number")
    if not math.isfinite(value) or not 0 <= value <= value_max:
        raise ConfigError(f"{name} must be within 0..{value_max:g}, got {value!r}")
    return float(value)


def _url(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must be an http(s) URL or null")
    if len(value) > URL_LENGTH_MAX:
        raise ConfigError(f"{name} must be at most {URL_LENGTH_MAX} characters")
    return value


@dataclass(frozen=True, slots=True)
class _Delivery:
    url: str
    body: bytes
    #: Signs the body for each attempt: Stripe's signature carries the attempt's time.
    stripe_secret: str | None
    paystack_key: str | None

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.stripe_secret is not None:
            signed_at = int(time.time())
            signed = f"{signed_at}.".encode() + self.body
            digest = hmac.new(self.stripe_secret.encode(), signed, hashlib.sha256).hexdigest()
            headers["Stripe-Signature"] = f"t={signed_at},v1={digest}"
        if self.paystack_key is not None:
            digest = hmac.new(self.paystack_key.encode(), self.body, hashlib.sha512).hexdigest()
            headers["x-paystack-signature"] = digest
        return headers


class WebhookSender:
    def __init__(self, config: WebhookConfig, seed: int | None) -> None:
        self.config = config
        self._random = random.Random(seed)
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight: asyncio.Semaphore | None = None
        self._held: list[_Delivery] = []

    def apply(self, config: WebhookConfig) -> None:
        self.config = config

    def stripe(self, event_type: str, stripe_object: dict[str, Any]) -> None:
        """Send a Stripe event about ``stripe_object`` when a Stripe URL is set."""
        url = self.config.stripe_webhook_url
        if url is None:
            return
        event = {
            "id": "evt_" + secrets.token_hex(EVENT_ID_RANDOM_BYTES),
            "object": "event",
            "api_version": STRIPE_API_VERSION,
            "created": int(time.time()),
            "data": {"object": stripe_object},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        self._send(_Delivery(url, _json(event), self.config.stripe_webhook_secret, None))

    def paystack(self, event_type: str, data: dict[str, Any], secret_key: str) -> None:
        """Send a Paystack event, signed with the key of the account it happened on."""
        url = self.config.paystack_webhook_url
        if url is None:
            return
        body = _json({"event": event_type, "data": data})
        self._send(_Delivery(url, body, None, secret_key))

    def _send(self, delivery: _Delivery) -> None:
        if self._hit(self.config.webhook_reorder_rate):
            self._held.append(delivery)
            self._spawn(self._release_held_after(REORDER_HOLD_S_MAX))
            return
        delay_s = self.config.webhook_delay_ms / 1000
        copies = 2 if self._hit(self.config.webhook_duplicate_rate) else 1
        wait_s = delay_s if self._hit(self.config.webhook_delay_rate) else 0.0
        for _ in range(copies):
            self._spawn(self._deliver(delivery, wait_s))
        # Whatever was held back goes out after this one: the two arrive out of order.
        held, self._held = self._held, []
        for overtaken in held:
            self._spawn(self._deliver(overtaken, wait_s + RETRY_DELAY_S_FIRST))

    async def _release_held_after(self, wait_s: float) -> None:
        await asyncio.sleep(wait_s)
        held, self._held = self._held, []
        for delivery in held:
            await self._deliver(delivery, 0.0)

    async def _deliver(self, delivery: _Delivery, wait_s: float) -> None:
        await asyncio.sleep(wait_s)
        retry_delay_s = RETRY_DELAY_S_FIRST
        for _ in range(DELIVERY_ATTEMPTS_MAX):
            if await self._attempt(delivery):
                return
            await asyncio.sleep(retry_delay_s)
            retry_delay_s = min(retry_delay_s * 2, RETRY_DELAY_S_MAX)

    async def _attempt(self, delivery: _Delivery) -> bool:
        if self._client is None or self._in_flight is None:
            # Built inside the event loop that sends: both bind to it.
            limits = httpx.Limits(max_connections=DELIVERIES_IN_FLIGHT_MAX)
            self._client = httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_S, limits=limits)
            self._in_flight = asyncio.Semaphore(DELIVERIES_IN_FLIGHT_MAX)
        async with self._in_flight:
            try:
                response = await self._client.post(
                    delivery.url, content=delivery.body, headers=delivery.headers()
                )
            except httpx.HTTPError:
                return False
        return 200 <= response.status_code <= 299

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        # Held until done: the event loop keeps only weak references to its tasks.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _hit(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate


def _json(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()
