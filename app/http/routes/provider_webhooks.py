"""``/v1/webhooks/stripe`` and ``/v1/webhooks/paystack``: provider events in, no bearer key.

The signature is checked on the raw body before anything else is believed; a verified event is
stored and queued (``app.provider_events``) before the 200, and a worker applies it as it would
a lookup's answer. A bad, stale or missing signature is a 400 with nothing processed.
"""

import logging

from starlette.requests import Request
from starlette.responses import Response

from app.errors import InvalidSignature
from app.http.body import read_body
from app.http.responses import json_response
from app.provider_events.receive import Inbox, Receipt
from app.providers.events import ProviderEvent, WebhookRejected
from app.providers.paystack import webhooks as paystack_webhooks
from app.providers.stripe import webhooks as stripe_webhooks
from app.settings import Settings

#: Far above any provider event we act on; a bound so a forged flood cannot exhaust memory.
WEBHOOK_BODY_BYTES_MAX = 256 * 1024
STRIPE_SIGNATURE_HEADER = "stripe-signature"
logger = logging.getLogger(__name__)


async def stripe_webhook(request: Request) -> Response:
    body = await read_body(request, WEBHOOK_BODY_BYTES_MAX)
    settings: Settings = request.app.state.settings
    signature = request.headers.get(STRIPE_SIGNATURE_HEADER)
    try:
        event = stripe_webhooks.verified_event(body, signature, settings.stripe_webhook_secret)
    except WebhookRejected as error:
        raise InvalidSignature(f"The Stripe-Signature does not verify: {error}") from None
    return await _take_in(
        request, "stripe", event.get("type"), stripe_webhooks.provider_events(event)
    )


async def paystack_webhook(request: Request) -> Response:
    body = await read_body(request, WEBHOOK_BODY_BYTES_MAX)
    settings: Settings = request.app.state.settings
    signature = request.headers.get(paystack_webhooks.SIGNATURE_HEADER)
    try:
        payload = paystack_webhooks.verified_payload(body, signature, settings.paystack_secret_key)
    except WebhookRejected as error:
        raise InvalidSignature(f"The x-paystack-signature does not verify: {error}") from None
    events = paystack_webhooks.provider_events(payload, body)
    return await _take_in(request, "paystack", payload.get("event"), events)


async def _take_in(
    request: Request, provider: str, event_type: object, events: list[ProviderEvent]
) -> Response:
    inbox: Inbox = request.app.state.provider_inbox
    if not events:
        logger.info("%s event %s settles nothing we drive; ignored", provider, event_type)
    for event in events:
        receipt = await inbox.receive(event)
        if receipt is not Receipt.TAKEN:
            logger.info(
                "%s event %s (%s) for %s: %s",
                provider,
                event.event_id,
                event.type,
                event.payment_id,
                receipt.value,
            )
    return json_response({"received": True})
