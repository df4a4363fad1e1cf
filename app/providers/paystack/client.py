"""Paystack over aiohttp (see ``app.providers.http``): charge a saved authorization with a
``reference`` mapped one-to-one from our payment id (``transformers.reference_of``), and verify
that reference after any ambiguous answer.
"""

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, replace
from urllib.parse import quote

import aiohttp

from app.providers.base import ChargeRequest, Outcome, ProviderAnswer, RefundRequest
from app.providers.http import HttpOptions
from app.providers.outcome_rules import TRANSPORT_ERRORS
from app.providers.paystack import transformers

#: Paystack has no refund idempotency and finds a refund only by its own id: a refund whose
#: answer was lost stays unknown (its amount stays reserved) until an operator reconciles it.
REFUND_NOT_FINDABLE = ProviderAnswer(
    Outcome.UNKNOWN,
    failure_message="Paystack finds a refund only by its id, which the lost answer carried",
)


@dataclass(frozen=True)
class Response:
    status_code: int
    headers: Mapping[str, str]
    content: bytes


class PaystackProvider:
    name = "paystack"
    #: The reference is ours, so charging is the only call.
    calls_to_charge = 1

    def __init__(self, secret_key: str, api_base: str, http: HttpOptions) -> None:
        self._secret_key = secret_key
        self._api_base = api_base.rstrip("/")
        self._http = http
        self._session: aiohttp.ClientSession | None = None

    async def _call(self, method: str, path: str, body: object = None) -> Response:
        """One call's status, headers and body; aiohttp's errors reach the caller."""
        if self._session is None:
            # Built inside the event loop that first calls Paystack: aiohttp binds to it.
            self._session = aiohttp.ClientSession(
                connector=self._http.connector(),
                timeout=self._http.timeout(),
                headers={"Authorization": f"Bearer {self._secret_key}"},
            )
        # A redirected charge could land anywhere; Paystack's API never redirects.
        async with self._session.request(
            method, self._api_base + path, json=body, allow_redirects=False
        ) as response:
            return Response(response.status, response.headers, await response.read())

    async def prepare(self, request: ChargeRequest) -> ProviderAnswer:
        # Paystack needs no object before the charge: the reference is our payment id's.
        if not request.customer_email:
            return transformers.EMAIL_REQUIRED
        reference = transformers.reference_of(request.payment_id)
        return ProviderAnswer(Outcome.NOT_ATTEMPTED, provider_reference=reference)

    async def charge(self, request: ChargeRequest, provider_reference: str) -> ProviderAnswer:
        reference = transformers.reference_of(provider_reference)
        if not request.customer_email:
            return replace(transformers.EMAIL_REQUIRED, provider_reference=reference)
        body = transformers.charge_body(request, reference)
        try:
            response = await self._call("POST", transformers.CHARGE_PATH, body)
        except TRANSPORT_ERRORS as error:
            outcome = transformers.classify_transport_error(error)
            return replace(outcome, provider_reference=reference)
        envelope = transformers.parse_envelope(response.content)
        if transformers.is_duplicate_reference(response.status_code, envelope):
            # An earlier attempt under this reference ran and its answer was lost; Paystack
            # will never charge the reference twice, and verify tells what that attempt did.
            return transformers.as_charge_answer(await self.lookup(request, reference))
        if response.status_code == 200:
            outcome = transformers.transaction_answer(envelope, request, reference)
        else:
            outcome = transformers.classify_failure(
                response.status_code, response.headers, envelope
            )
        return replace(transformers.as_charge_answer(outcome), provider_reference=reference)

    async def lookup(self, request: ChargeRequest, provider_reference: str) -> ProviderAnswer:
        reference = transformers.reference_of(provider_reference)
        path = transformers.VERIFY_PATH.format(reference=quote(reference, safe=""))
        try:
            response = await self._call("GET", path)
        except TRANSPORT_ERRORS as error:
            outcome = transformers.classify_transport_error(error)
            return replace(outcome, provider_reference=reference)
        envelope = transformers.parse_envelope(response.content)
        if transformers.is_reference_not_found(response.status_code, envelope):
            return ProviderAnswer(Outcome.NOT_ATTEMPTED, provider_reference=reference)
        if response.status_code == 200:
            outcome = transformers.transaction_answer(envelope, request, reference)
        else:
            failure = transformers.classify_failure(
                response.status_code, response.headers, envelope
            )
            outcome = transformers.as_lookup_failure(failure)
        return replace(outcome, provider_reference=reference)

    async def abandon(self, request: ChargeRequest, provider_reference: str) -> ProviderAnswer:
        """Paystack cannot cancel a charge waiting for its customer: this only verifies it. A
        customer completing it later shows up as a charge.success for a failed payment."""
        return await self.lookup(request, provider_reference)

    async def refund(self, request: RefundRequest) -> ProviderAnswer:
        body = transformers.refund_body(request)
        return await self._refund_call(self._call("POST", transformers.REFUND_PATH, body), request)

    async def lookup_refund(
        self, request: RefundRequest, provider_refund_reference: str | None
    ) -> ProviderAnswer:
        if provider_refund_reference is None:
            return REFUND_NOT_FINDABLE
        path = transformers.REFUND_FETCH_PATH.format(
            refund_id=quote(provider_refund_reference, safe="")
        )
        return await self._refund_call(self._call("GET", path), request, lookup=True)

    async def _refund_call(
        self, call: Awaitable[Response], request: RefundRequest, *, lookup: bool = False
    ) -> ProviderAnswer:
        """A refund call's answer; a refused lookup says nothing of the refund itself."""
        try:
            response = await call
        except TRANSPORT_ERRORS as error:
            return transformers.classify_transport_error(error)
        envelope = transformers.parse_envelope(response.content)
        if response.status_code == 200:
            return transformers.refund_answer(envelope, request)
        failure = transformers.classify_failure(response.status_code, response.headers, envelope)
        if lookup:
            failure = transformers.as_lookup_failure(failure)
        return transformers.as_refund_failure(failure)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
