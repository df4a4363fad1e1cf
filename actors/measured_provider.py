"""Every provider call timed, by provider, call and outcome, for the worker's metrics, and
written to its payment's trail for operators.

A wrapper around each adapter rather than code in the adapters, which know nothing of the
worker's metrics, and rather than code in every phase that calls one."""

import time
from collections.abc import Awaitable

from actors.trail import Trail
from app.metrics import PROVIDER_CALL_LATENCY
from app.providers.base import ChargeRequest, Provider, ProviderAnswer, RefundRequest

#: The outcome of a call that raised instead of answering.
ERROR_OUTCOME = "error"


class MeasuredProvider:
    """A ``Provider`` that times each call of the one it wraps."""

    def __init__(self, provider: Provider, trail: Trail) -> None:
        self._provider = provider
        self._trail = trail
        self.name = provider.name
        self.calls_to_charge = provider.calls_to_charge

    async def _timed(
        self, payment_id: str, call: str, answer: Awaitable[ProviderAnswer]
    ) -> ProviderAnswer:
        started_s = time.perf_counter()
        outcome = ERROR_OUTCOME
        try:
            result = await answer
            outcome = result.outcome.value
            return result
        finally:
            elapsed_s = time.perf_counter() - started_s
            PROVIDER_CALL_LATENCY.labels(self.name, call, outcome).observe(elapsed_s)
            await self._trail.call(
                payment_id, f"{self.name}.{call}", outcome, round(elapsed_s * 1000)
            )

    async def prepare(self, request: ChargeRequest) -> ProviderAnswer:
        return await self._timed(request.payment_id, "prepare", self._provider.prepare(request))

    async def charge(self, request: ChargeRequest, provider_reference: str) -> ProviderAnswer:
        answer = self._provider.charge(request, provider_reference)
        return await self._timed(request.payment_id, "charge", answer)

    async def lookup(self, request: ChargeRequest, provider_reference: str) -> ProviderAnswer:
        answer = self._provider.lookup(request, provider_reference)
        return await self._timed(request.payment_id, "lookup", answer)

    async def abandon(self, request: ChargeRequest, provider_reference: str) -> ProviderAnswer:
        answer = self._provider.abandon(request, provider_reference)
        return await self._timed(request.payment_id, "abandon", answer)

    async def refund(self, request: RefundRequest) -> ProviderAnswer:
        return await self._timed(request.payment_id, "refund", self._provider.refund(request))

    async def lookup_refund(
        self, request: RefundRequest, provider_refund_reference: str | None
    ) -> ProviderAnswer:
        call = self._provider.lookup_refund(request, provider_refund_reference)
        return await self._timed(request.payment_id, "lookup_refund", call)

    async def aclose(self) -> None:
        await self._provider.aclose()
