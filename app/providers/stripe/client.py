"""Stripe through its official SDK's async methods on httpx: one PaymentIntent per payment,
created and confirmed under idempotency keys derived from our payment id.
"""

import logging
import ssl
from dataclasses import replace

import httpx
import stripe

from app.providers.base import ChargeRequest, Outcome, ProviderAnswer, RefundRequest
from app.providers.stripe import transformers

#: Stripe keeps an idempotency key's answer for 24 h: repeating a refund under our refund id
#: replays the one refund rather than making a second, so an unknown refund may be re-sent.
REFUND_REPLAYS_UNDER_KEY = ProviderAnswer(
    Outcome.NOT_ATTEMPTED,
    failure_message="no refund id known; Stripe replays the refund under its idempotency key",
)

#: The SDK logs request bodies at DEBUG and API error messages at INFO; both can carry the
#: payment method, so its logger stays at WARNING whatever the process configures.
SDK_LOG_LEVEL_MIN = logging.WARNING


class PooledHTTPXClient(stripe.HTTPXClient):
    """The SDK's httpx transport, with a connection pool sized for the messages in flight.

    The SDK builds its ``httpx.AsyncClient`` with httpx's defaults (100 connections, 20 kept
    alive): hundreds of concurrent calls would queue for a connection and open a new one for
    most calls. Its constructor takes no limits, so the client it built is replaced.
    """

    def __init__(self, timeout: httpx.Timeout, limits: httpx.Limits) -> None:
        super().__init__(timeout=timeout, allow_sync_methods=False, verify_ssl_certs=True)
        verify = ssl.create_default_context(cafile=stripe.ca_bundle_path)
        self._client_async = httpx.AsyncClient(verify=verify, limits=limits)


class StripeProvider:
    name = "stripe"
    #: Create the PaymentIntent, then confirm it.
    calls_to_charge = 2

    def __init__(
        self, secret_key: str, api_base: str, timeout: httpx.Timeout, limits: httpx.Limits
    ) -> None:
        logging.getLogger("stripe").setLevel(SDK_LOG_LEVEL_MIN)
        self._http_client = PooledHTTPXClient(timeout, limits)
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base},
            http_client=self._http_client,
            # The worker does the retrying: it classifies each failure, persists a recovery
            # point first and keeps the retry span inside the idempotency key's lifetime. SDK
            # retries would hide an ambiguous failure and stretch one call past the time limit.
            max_network_retries=0,
        )

    async def prepare(self, request: ChargeRequest) -> ProviderAnswer:
        try:
            intent = await self._client.v1.payment_intents.create_async(
                transformers.create_params(request),
                {"idempotency_key": transformers.create_idempotency_key(request)},
            )
        except stripe.StripeError as error:
            outcome = transformers.classify_error(error)
            if outcome.outcome is Outcome.UNKNOWN:
                # Stripe stores an ambiguous 500 against the create key and replays it for
                # 24 h, so repeating the create can never reveal the intent: search for it.
                outcome = await self._find_intent(request) or outcome
            return transformers.without_payment_method(outcome, request.payment_method)
        return ProviderAnswer(Outcome.NOT_ATTEMPTED, provider_reference=intent.id)

    async def _find_intent(self, request: ChargeRequest) -> ProviderAnswer | None:
        """The intent created for this payment, found by its metadata, if Stripe has one."""
        query = f"metadata['payment_id']:'{request.payment_id}'"
        try:
            found = await self._client.v1.payment_intents.search_async({"query": query, "limit": 2})
        except stripe.StripeError:
            return None
        if len(found.data) != 1:
            return None
        return ProviderAnswer(Outcome.NOT_ATTEMPTED, provider_reference=found.data[0].id)

    async def charge(self, request: ChargeRequest, provider_reference: str) -> ProviderAnswer:
        try:
            intent = await self._client.v1.payment_intents.confirm_async(
                provider_reference,
                transformers.confirm_params(),
                {"idempotency_key": transformers.confirm_idempotency_key(request)},
            )
        except stripe.StripeError as error:
            outcome = transformers.classify_error(error)
        else:
            checked = transformers.checked_intent(intent.to_dict(), request)
            outcome = transformers.outcome_of_intent(checked)
        return _answer(transformers.as_charge_answer(outcome), request, provider_reference)

    async def lookup(self, request: ChargeRequest, provider_reference: str) -> ProviderAnswer:
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(provider_reference)
        except stripe.StripeError as error:
            outcome = transformers.as_lookup_failure(transformers.classify_error(error))
        else:
            checked = transformers.checked_intent(intent.to_dict(), request)
            outcome = transformers.outcome_of_intent(checked)
        return _answer(outcome, request, provider_reference)

    async def refund(self, request: RefundRequest) -> ProviderAnswer:
        try:
            refund = await self._client.v1.refunds.create_async(
                transformers.refund_params(request),
                {"idempotency_key": transformers.refund_idempotency_key(request)},
            )
        except stripe.StripeError as error:
            return transformers.as_refund_failure(transformers.classify_error(error))
        return transformers.outcome_of_refund(
            transformers.checked_refund(refund.to_dict(), request)
        )

    async def lookup_refund(
        self, request: RefundRequest, provider_refund_reference: str | None
    ) -> ProviderAnswer:
        if provider_refund_reference is None:
            return REFUND_REPLAYS_UNDER_KEY
        try:
            refund = await self._client.v1.refunds.retrieve_async(provider_refund_reference)
        except stripe.StripeError as error:
            failure = transformers.as_lookup_failure(transformers.classify_error(error))
            return transformers.as_refund_failure(failure)
        return transformers.outcome_of_refund(
            transformers.checked_refund(refund.to_dict(), request)
        )

    async def aclose(self) -> None:
        await self._http_client.close_async()


def _answer(outcome: ProviderAnswer, request: ChargeRequest, reference: str) -> ProviderAnswer:
    referenced = replace(outcome, provider_reference=reference)
    return transformers.without_payment_method(referenced, request.payment_method)
