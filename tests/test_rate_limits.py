"""Rate limits with real processes: waiting for capacity, ours or the provider's, never uses a
payment's retry budget. The workers run with no retries at all, so a single counted attempt
would dead-letter its payment."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.payments import (
    dead_letter_count,
    ids_of,
    send_card_payments,
    wait_until_terminal,
)
from tests.support.redis_server import RedisServer
from tests.support.simulator import Simulator
from tests.support.stack import Stack, running_stack

#: Our limit on the one Stripe account; each Stripe payment makes two calls (create, confirm).
STRIPE_ACCOUNT_RATE_PER_S = 10
PAYMENTS = 30
CALLS_PER_PAYMENT = 2
#: The simulator's limiter refuses this share of calls on top.
PROVIDER_429_RATE = 0.3


@pytest.fixture
def limited_stack(
    private_redis: RedisServer, fresh_database_url: str, tmp_path: Path
) -> Iterator[Stack]:
    yield from running_stack(
        private_redis.url,
        fresh_database_url,
        tmp_path,
        {
            "STRIPE_ACCOUNT_RATE_PER_S": str(STRIPE_ACCOUNT_RATE_PER_S),
            "CHARGE_RETRIES_MAX": "0",
        },
    )


@pytest.mark.slow
def test_rate_limited_payments_all_settle_without_using_retries(limited_stack: Stack) -> None:
    simulator = Simulator(limited_stack.simulator_url)
    simulator.configure(rate_limit_rate=PROVIDER_429_RATE)
    started = time.monotonic()

    payment_ids = ids_of(send_card_payments(limited_stack, PAYMENTS, "limit"))
    final = wait_until_terminal(limited_stack, payment_ids)
    elapsed_s = time.monotonic() - started

    assert {payment["status"] for payment in final.values()} == {"succeeded"}
    assert sorted(charge["payment_id"] for charge in simulator.charges()) == sorted(payment_ids)
    assert dead_letter_count(limited_stack.env["REDIS_URL"]) == 0
    # The limiter held the calls back: they cannot all have gone out faster than it allows
    # (less one window, which a burst may straddle).
    calls_s = PAYMENTS * CALLS_PER_PAYMENT / STRIPE_ACCOUNT_RATE_PER_S
    assert elapsed_s >= calls_s - 1
