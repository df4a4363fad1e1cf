"""Clients of the session's simulator, wiped and fault-free before every test."""

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import stripe

from tests.support.simulator import FAULT_FREE

API_KEY = "sk_test_simulator"
CLIENT_TIMEOUT_S = 10.0


@pytest.fixture
def sim(simulator_url: str) -> Iterator[httpx.Client]:
    """A client for the simulator's control endpoints, on a clean, fault-free simulator."""
    with httpx.Client(base_url=simulator_url, timeout=CLIENT_TIMEOUT_S) as client:
        client.post("/_sim/reset").raise_for_status()
        client.post("/_sim/config", json=FAULT_FREE).raise_for_status()
        yield client


@pytest.fixture
def api(sim: httpx.Client) -> Iterator[httpx.Client]:
    """A raw HTTP client carrying a secret key, for wire-level assertions on either face."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=sim.base_url, headers=headers, timeout=CLIENT_TIMEOUT_S) as client:
        yield client


@pytest.fixture
def stripe_client(sim: httpx.Client) -> Iterator[stripe.StripeClient]:
    """The official SDK, exactly as an adapter builds it; retries off so each call is one call."""
    http_client = stripe.HTTPXClient(allow_sync_methods=True)
    yield stripe.StripeClient(
        API_KEY,
        base_addresses={"api": str(sim.base_url).rstrip("/")},
        http_client=http_client,
        max_network_retries=0,
    )
    http_client.close()


@pytest.fixture
def charges(sim: httpx.Client) -> Callable[[], list[dict[str, Any]]]:
    """Reads `GET /_sim/charges`: one entry per movement of money."""

    def read() -> list[dict[str, Any]]:
        response = sim.get("/_sim/charges")
        response.raise_for_status()
        return list(response.json()["charges"])

    return read
