"""The provider simulator as a real child process, shared by the adapter tests."""

import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import app.settings
from app.keys import PAYMENT_ID_PREFIX, new_id
from app.providers.base import ChargeOutcome, Outcome
from app.settings import Settings
from tests.support.processes import Process, free_port, python_argv, wait_for_http

#: Fault rates and latency back to zero after every test, so no test inherits another's faults.
CLEAN_CONFIG = {"latency_ms": 0, "fail_before_rate": 0, "fail_after_rate": 0, "rate_limit_rate": 0}
SIMULATOR_TIMEOUT_S = 5.0
#: An adapter timeout far below the latency the timeout tests inject.
TINY_TIMEOUT_S = 0.3
INJECTED_LATENCY_MS = 1500
LOOKUP_DEADLINE_S = 10.0
LOOKUP_INTERVAL_S = 0.1


class Simulator:
    """The simulator's control surface: faults in, movements of money out."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def configure(self, **changes: float) -> None:
        response = httpx.post(
            f"{self.base_url}/_sim/config", json=changes, timeout=SIMULATOR_TIMEOUT_S
        )
        response.raise_for_status()

    def charges_for(self, payment_id: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.base_url}/_sim/charges", timeout=SIMULATOR_TIMEOUT_S)
        response.raise_for_status()
        return [
            charge for charge in response.json()["charges"] if charge["payment_id"] == payment_id
        ]


@pytest.fixture(scope="session")
def simulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log_dir: Path = tmp_path_factory.mktemp("simulator")
    argv = python_argv("-m", "app.simulator", "--port", str(port))
    process = Process("simulator", argv, {}, log_dir)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/_sim/charges", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


@pytest.fixture
def simulator(simulator_url: str) -> Iterator[Simulator]:
    controls = Simulator(simulator_url)
    controls.configure(**CLEAN_CONFIG)
    yield controls
    controls.configure(**CLEAN_CONFIG)


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


def closed_port_url() -> str:
    """An address nobody listens on: connecting is refused before anything is sent."""
    return f"http://127.0.0.1:{free_port()}"


def lookup_until_settled(lookup: Callable[[], ChargeOutcome]) -> ChargeOutcome:
    """Look up until the provider has finished with the charge (a timed-out request may still
    be executing on the simulator's side)."""
    deadline = time.monotonic() + LOOKUP_DEADLINE_S
    outcome = lookup()
    while (
        outcome.outcome in (Outcome.NOT_ATTEMPTED, Outcome.PENDING) and time.monotonic() < deadline
    ):
        time.sleep(LOOKUP_INTERVAL_S)
        outcome = lookup()
    return outcome
