"""Settings pointing the adapters at the session's simulator, and lookup helpers."""

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

import app.settings
from app.providers.base import Outcome, ProviderAnswer
from app.queue.keys import PAYMENT_ID_PREFIX, new_id
from app.settings import Settings
from tests.support.processes import free_port

SIMULATOR_TIMEOUT_S = 5.0
#: An adapter timeout far below the latency the timeout tests inject.
TINY_TIMEOUT_S = 0.3
INJECTED_LATENCY_MS = 1500
LOOKUP_DEADLINE_S = 10.0
LOOKUP_INTERVAL_S = 0.1


@pytest.fixture
def settings(simulator_url: str) -> Settings:
    return dataclasses.replace(
        app.settings.load(),
        stripe_api_base=simulator_url,
        paystack_api_base=simulator_url,
        provider_timeout_s=SIMULATOR_TIMEOUT_S,
    )


@pytest.fixture
def payment_id() -> str:
    return new_id(PAYMENT_ID_PREFIX, 0)


def refused_connection() -> aiohttp.ClientConnectorError:
    """What aiohttp raises when a provider's port refuses the connection."""
    key = ConnectionKey("127.0.0.1", 1, False, True, None, None, None)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))


def closed_port_url() -> str:
    """An address nobody listens on: connecting is refused before anything is sent."""
    return f"http://127.0.0.1:{free_port()}"


async def lookup_until_settled(lookup: Callable[[], Awaitable[ProviderAnswer]]) -> ProviderAnswer:
    """Look up until the provider has finished with the charge (a timed-out request may still
    be executing on the simulator's side)."""
    deadline = time.monotonic() + LOOKUP_DEADLINE_S
    outcome = await lookup()
    while (
        outcome.outcome in (Outcome.NOT_ATTEMPTED, Outcome.PENDING) and time.monotonic() < deadline
    ):
        await asyncio.sleep(LOOKUP_INTERVAL_S)
        outcome = await lookup()
    return outcome
