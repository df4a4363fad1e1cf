"""Stripe through its official SDK's async methods on our lean HTTP client (see
``app.providers.transport``): one PaymentIntent per payment, created and confirmed under
idempotency keys derived from our payment id.
"""

import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import stripe
from stripe import _api_requestor, _util

from app.providers.base import ChargeRequest, Outcome, ProviderAnswer, RefundRequest
from app.providers.http import HttpOptions
from app.providers.stripe import transformers
from app.providers.transport import LeanHTTPClient

#: Stripe keeps an idempotency key's answer for 24 h: repeating a refund under our refund id
#: replays the one refund rather than making a second, so an unknown refund may be re-sent.
REFUND_REPLAYS_UNDER_KEY = ProviderAnswer(
    Outcome.NOT_ATTEMPTED,
    failure_message="no refund id known; Stripe replays the refund under its idempotency key",
)

INTENTS_PATH = "/v1/payment_intents"
REFUNDS_PATH = "/v1/refunds"

#: The SDK logs request bodies at DEBUG and API error messages at INFO; both can carry the
#: payment method, so its logger stays at WARNING whatever the process configures.
SDK_LOG_LEVEL_MIN = logging.WARNING
#: The SDK's request path logs through these two functions, which it imports by name.
SDK_REQUEST_LOGGERS = {"log_debug": logging.DEBUG, "log_info": logging.INFO}


def _formatted_only_when_logged(name: str, level: int) -> Callable[..., None]:
    """The SDK's ``name`` (stripe._util), called only when its line could go anywhere: its
    console switch (``stripe.log``, ``STRIPE_LOG``) is on, or the ``stripe`` logger takes
    ``level``. The SDK formats each line before it looks at either, two lines per API call:
    measured at 5 % of a draining worker's CPU, for lines nobody sees."""
    original: Callable[..., None] = getattr(_util, name)

    def log(message: str, **params: Any) -> None:
        if _util._console_log_level() is not None or _util.logger.isEnabledFor(level):
            original(message, **params)

    return log


def _quiet_sdk_request_logs() -> None:
    for name, level in SDK_REQUEST_LOGGERS.items():
        # Wraps stripe._util's own function every time: calling this twice changes nothing.
        setattr(_api_requestor, name, _formatted_only_when_logged(name, level))


def _ai_agent_looked_up_once() -> None:
    """The SDK tags its User-Agent with the AI coding agent whose environment variable is set,
    and looks its ~20 variables up on every call: 25 µs, 2 % of a draining worker's CPU. A
    process's environment is set when it starts, so the answer is looked up once, here."""
    requestor = _api_requestor._APIRequestor
    agent = requestor._detect_ai_agent(os.environ)
    requestor._detect_ai_agent = staticmethod(lambda environ: agent)  # type: ignore[method-assign]


class StripeProvider:
    name = "stripe"
    #: Create the PaymentIntent, then confirm it.
    calls_to_charge = 2

    def __init__(self, secret_key: str, api_base: str, http: HttpOptions) -> None:
        logging.getLogger("stripe").setLevel(SDK_LOG_LEVEL_MIN)
        _quiet_sdk_request_logs()
        _ai_agent_looked_up_once()
        # The SDK reports each call's latency to Stripe in a header of the next: a process-wide
        # switch, and work on every call that moves no money.
        stripe.enable_telemetry = False
        self._secret_key = secret_key
        self._api_base = api_base
        self._http = http
        self._stripe: stripe.StripeClient | None = None
        self._transport: LeanHTTPClient | None = None

    @property
    def _client(self) -> stripe.StripeClient:
        """The SDK's client, built inside the event loop that first calls Stripe."""
        if self._stripe is None:
            ssl_context = ssl.create_default_context(cafile=stripe.ca_bundle_path)
            self._transport = self._http.lean_client(ssl_context)
            self._stripe = stripe.StripeClient(
                self._secret_key,
                base_addresses={"api": self._api_base},
                http_client=self._transport,
                # The worker does the retrying: it classifies each failure, persists a recovery
                # point first and keeps the retry span inside the idempotency key's lifetime.
                # SDK retries would hide an ambiguous failure and stretch one call past its
                # time limit.
                max_network_retries=0,
            )
        return self._stripe

    async def _call(self, method: str, path: str, **params: Any) -> dict[str, Any]:
        """One API call through the SDK (its auth, encoding, idempotency option and error
        types), answered as the JSON object Stripe sent: the transformers read dicts, so
        turning every answer into StripeObjects first (a fifth of a worker's CPU) buys nothing."""
        response = await self._client.raw_request_async(method, path, **params)
        data: dict[str, Any] = response.data
        return data

    async def prepare(self, request: ChargeRequest) -> ProviderAnswer:
        try:
            intent = await self._call(
                "post",
                INTENTS_PATH,
                idempotency_key=transformers.create_idempotency_key(request),
                **transformers.create_params(request),
            )
        except stripe.StripeError as error:
            outcome = transformers.classify_error(error)
            if outcome.outcome is Outcome.UNKNOWN:
                # Stripe stores an ambiguous 500 against the create key and replays it for
                # 24 h, so repeating the create can never reveal the intent: search for it.
                outcome = await self._find_intent(request) or outcome
            return transformers.without_payment_method(outcome, request.payment_method)
        return ProviderAnswer(Outcome.NOT_ATTEMPTED, provider_reference=intent["id"])

    async def _find_intent(self, request: ChargeRequest) -> ProviderAnswer | None:
        """The intent created for this payment, found by its metadata, if Stripe has one."""
        query = f"metadata['payment_id']:'{request.payment_id}'"
        try:
            found = await self._call("get", f"{INTENTS_PATH}/search", query=query, limit=2)
        except stripe.StripeError:
            return None
        if len(found["data"]) != 1:
            return None
        return ProviderAnswer(Outcome.NOT_ATTEMPTED, provider_reference=found["data"][0]["id"])

    async def charge(self, request: ChargeRequest, provider_reference: str) -> ProviderAnswer:
        outcome = await self._intent_call(
            request,
            transformers.classify_error,
            "post",
            f"{intent_path(provider_reference)}/confirm",
            idempotency_key=transformers.confirm_idempotency_key(request),
            **transformers.confirm_params(),
        )
        return _answer(transformers.as_charge_answer(outcome), request, provider_reference)

    async def lookup(self, request: ChargeRequest, provider_reference: str) -> ProviderAnswer:
        outcome = await self._intent_call(
            request, _lookup_failure, "get", intent_path(provider_reference)
        )
        return _answer(outcome, request, provider_reference)

    async def abandon(self, request: ChargeRequest, provider_reference: str) -> ProviderAnswer:
        """Cancel the intent, so a customer who authenticates late can no longer be charged;
        Stripe refuses to cancel one that already succeeded, and says so with the intent."""
        outcome = await self._intent_call(
            request,
            _lookup_failure,
            "post",
            f"{intent_path(provider_reference)}/cancel",
            idempotency_key=transformers.cancel_idempotency_key(request),
            **transformers.cancel_params(),
        )
        return _answer(outcome, request, provider_reference)

    async def _intent_call(
        self,
        request: ChargeRequest,
        failed: Callable[[stripe.StripeError], ProviderAnswer],
        method: str,
        path: str,
        **params: Any,
    ) -> ProviderAnswer:
        """What the intent a call answers with says of the charge, or what ``failed`` makes of
        the call's error: an error means something else to a confirm than to a lookup."""
        try:
            intent = await self._call(method, path, **params)
        except stripe.StripeError as error:
            return failed(error)
        return transformers.outcome_of_intent(transformers.checked_intent(intent, request))

    async def refund(self, request: RefundRequest) -> ProviderAnswer:
        try:
            refund = await self._call(
                "post",
                REFUNDS_PATH,
                idempotency_key=transformers.refund_idempotency_key(request),
                **transformers.refund_params(request),
            )
        except stripe.StripeError as error:
            return transformers.as_refund_failure(transformers.classify_error(error))
        return transformers.outcome_of_refund(transformers.checked_refund(refund, request))

    async def lookup_refund(
        self, request: RefundRequest, provider_refund_reference: str | None
    ) -> ProviderAnswer:
        if provider_refund_reference is None:
            return REFUND_REPLAYS_UNDER_KEY
        try:
            refund_path = f"{REFUNDS_PATH}/{quote(provider_refund_reference, safe='')}"
            refund = await self._call("get", refund_path)
        except stripe.StripeError as error:
            failure = transformers.as_lookup_failure(transformers.classify_error(error))
            return transformers.as_refund_failure(failure)
        return transformers.outcome_of_refund(transformers.checked_refund(refund, request))

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.close_async()


def _lookup_failure(error: stripe.StripeError) -> ProviderAnswer:
    return transformers.as_lookup_failure(transformers.classify_error(error))


def intent_path(intent_id: str) -> str:
    return f"{INTENTS_PATH}/{quote(intent_id, safe='')}"


def _answer(outcome: ProviderAnswer, request: ChargeRequest, reference: str) -> ProviderAnswer:
    referenced = replace(outcome, provider_reference=reference)
    return transformers.without_payment_method(referenced, request.payment_method)
