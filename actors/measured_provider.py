"""Every provider call timed, by provider, call and outcome, for the worker's metrics.

A wrapper around each adapter rather than code in the adapters, which know nothing of the
worker's metrics, and rather than code in every phase that calls one."""

import time
from collections.abc import Awaitable

from app.metrics import PROVIDER_CALL_LATENCY
from app.providers.base import ChargeRequest, Provider, ProviderAnswer, RefundRequest

#: The outcome of a call that raised instead of answering.
ERROR_OUTCOME = "error"


class MeasuredProvider:
    """A ``Provider`` that times each call of the one it wraps."""

    def __init__(self, provider: Provider) -> None:
        self._provider = provider
        self.name = provider.name
        self.calls_to_charge = provider.calls_to_charge

    async def _timed(self, call: str, answer: Awaitable[ProviderAnswer]) -> ProviderAnswer:
        started_s = time.perf_counter()
        outcome = ERROR_OUTCOME
        try:
            result = await answer
            outcome = result.outcome.value
            return result
        finally:
            elapsed_s = time.perf_counter() - started_s
            PROVIDER_CALL_LATENCY.labels(self.name, call, outcome).observe(elapsed_s)

    async def prepare(self, request: ChargeRequest) -> ProviderAnswer:
        return await self._timed("prepare", self._provider.prepare(request))

    async def charge(self, request: ChargeRequest, provider_reference: str) -> ProviderAnswer:
        return await self._timed("charge", self._provider.charge(request, provider_reference))

    async def lookup(self, request: ChargeRequest, provider_reference: str) -> ProviderAnswer:
        return await self._timed("lookup", self._provider.lookup(request, provider_reference))

    async def abandon(self, request: ChargeRequest, provider_reference: str) -> ProviderAnswer:
        return await self._timed("abandon", self._provider.abandon(request, provider_reference))

    async def refund(self, request: RefundRequest) -> ProviderAnswer:
        return await self._timed("refund", self._provider.refund(request))

    async def lookup_refund(
        self, request: RefundRequest, provider_refund_reference: str | None
    ) -> ProviderAnswer:
        call = self._provider.lookup_refund(request, provider_refund_reference)
        return await self._timed("lookup_refund", call)

    async def aclose(self) -> None:
        await self._provider.aclose()
