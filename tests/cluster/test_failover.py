"""A Redis Cluster master SIGKILLed mid-load: its replica is promoted, and no payment answered
202 is lost. Every accept waits for one replica (``REDIS_MIN_REPLICAS_ACKED=1``), so what a
client was told is taken is on the replica that takes over. Clients retry a 503 or a dropped
connection with the same Idempotency-Key, as real clients do; the killed node is started again
and rejoins as a replica, so the replicated writes of its slots can be confirmed again.

Afterwards every accepted payment is terminal, charged once at the simulator, recorded once in
the ledger, and the ledger verifies.
"""

import collections
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import create_database, database_url_for, drop_database, migrate
from tests.support.payments import (
    PacedLoad,
    ledger_transactions_by_reference,
    send_paced,
    wait_until_terminal,
)
from tests.support.redis_cluster import RedisCluster
from tests.support.stack import Stack, cli, running_stack

PAYMENTS = 400
SEND_RATE_PER_S = 60
SENDERS = 16
KILL_AT_S = 2.0
#: Longer than the cluster's node timeout plus the election: the replica is master by then.
RESTART_AFTER_S = 4.0
ACCEPT_TIMEOUT_S = 60.0
#: Short attempt limits, so entries a worker held on the killed master come back quickly.
ATTEMPT_TIME_LIMIT_S = 5
RECLAIM_GRACE_S = 2
PROVIDER_TIMEOUT_S = 2
#: Card payments sent through the failover; a retry may only meet the 503 of a lost write.
LOAD = PacedLoad(
    count=PAYMENTS,
    rate_per_s=SEND_RATE_PER_S,
    senders=SENDERS,
    key_prefix="fo",
    body_of=lambda index: {
        "amount": 1_000 + index,
        "currency": "usd",
        "payment_method": "pm_card_visa",
    },
    accept_timeout_s=ACCEPT_TIMEOUT_S,
    refusals={503},
)
#: Below the reclaim idle (attempt limit + grace), as the settings demand of a delivery.
WEBHOOK_TIMEOUT_S = 3


@pytest.fixture
def failover_stack(tmp_path: Path) -> Iterator[tuple[RedisCluster, Stack]]:
    cluster = RedisCluster(tmp_path / "cluster")
    name = create_database()
    url = database_url_for(name)
    try:
        migrate(url)
        env = {
            "REDIS_MIN_REPLICAS_ACKED": "1",
            "CHARGE_TIME_LIMIT_S": str(ATTEMPT_TIME_LIMIT_S),
            "REFUND_TIME_LIMIT_S": str(ATTEMPT_TIME_LIMIT_S),
            "RECLAIM_GRACE_S": str(RECLAIM_GRACE_S),
            "PROVIDER_TIMEOUT_S": str(PROVIDER_TIMEOUT_S),
            "WEBHOOK_TIMEOUT_S": str(WEBHOOK_TIMEOUT_S),
        }
        for stack in running_stack(cluster.url, url, tmp_path, env):
            yield cluster, stack
    finally:
        cluster.stop()
        drop_database(name)


@pytest.mark.slow
def test_a_master_killed_mid_load_loses_no_accepted_payment(
    failover_stack: tuple[RedisCluster, Stack],
) -> None:
    cluster, stack = failover_stack
    # Not the node REDIS_URL names: processes started later must still find the cluster.
    victim = next(port for port in cluster.masters() if port != cluster.ports[0])
    started = time.monotonic()

    def kill_then_restart() -> None:
        time.sleep(KILL_AT_S)
        cluster.kill(victim)
        time.sleep(RESTART_AFTER_S)
        cluster.restart(victim)

    faults = threading.Thread(target=kill_then_restart)
    faults.start()
    try:
        payment_ids, statuses = send_paced(stack, LOAD, started)
    finally:
        faults.join()
    cluster.wait_healthy()
    assert victim in cluster.replicas(), "the killed master came back as a replica"

    final = wait_until_terminal(stack, list(payment_ids.values()))
    elapsed_s = time.monotonic() - started
    assert {payment["status"] for payment in final.values()} == {"succeeded"}
    charges = httpx.get(f"{stack.simulator_url}/_sim/charges").json()["charges"]
    charged = collections.Counter(charge["payment_id"] for charge in charges)
    assert charged == dict.fromkeys(final, 1), "money moved other than once per payment"
    assert ledger_transactions_by_reference(stack.env["DATABASE_URL"]) == dict.fromkeys(final, 1)
    verified = cli(stack.env, "ledger", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    print(f"{PAYMENTS} payments through a failover in {elapsed_s:.1f} s, answers {statuses}")
