"""The whole stack (uvicorn, dramatiq, simulator, PostgreSQL) on a Redis Cluster, with every
accept and recovery point waiting for one replica (``REDIS_MIN_REPLICAS_ACKED=1``): the
end-to-end test unchanged, and a 503 when the replicas cannot confirm, whose retry answers the
same payment instead of claiming a second."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import test_end_to_end as end_to_end
from tests.conftest import create_database, database_url_for, drop_database, migrate
from tests.support.payments import REQUEST_TIMEOUT_S, wait_until_terminal
from tests.support.redis_cluster import RedisCluster
from tests.support.stack import Stack, running_stack

REPLICATED = {"REDIS_MIN_REPLICAS_ACKED": "1", "REDIS_REPLICAS_ACK_TIMEOUT_MS": "300"}


@pytest.fixture(scope="module")
def cluster_stack(
    cluster: RedisCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    name = create_database()
    url = database_url_for(name)
    migrate(url)
    log_dir: Path = tmp_path_factory.mktemp("cluster-stack")
    yield from running_stack(cluster.url, url, log_dir, extra_env=REPLICATED)
    drop_database(name)


def test_two_hundred_payments_settle_exactly_once_on_a_cluster(cluster_stack: Stack) -> None:
    end_to_end.test_two_hundred_payments_settle_exactly_once(cluster_stack)


def test_unconfirmed_by_replicas_is_a_503_and_its_retry_the_same_payment(
    cluster: RedisCluster, cluster_stack: Stack
) -> None:
    headers = {"Authorization": f"Bearer {cluster_stack.api_key}", "Idempotency-Key": "unacked"}
    body = {"amount": 4242, "currency": "usd", "payment_method": "pm_card_visa"}
    with httpx.Client(base_url=cluster_stack.base_url, timeout=REQUEST_TIMEOUT_S) as client:
        replicas = cluster.replicas()
        for port in replicas:
            cluster.pause(port)
        try:
            refused = client.post("/v1/payments", json=body, headers=headers)
        finally:
            for port in replicas:
                cluster.resume(port)
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1
        cluster.wait_healthy()

        retried = client.post("/v1/payments", json=body, headers=headers)
        assert retried.status_code == 202, retried.text
        # The refused request's claim stood on the primary: the retry is its replay.
        assert "idempotent-replayed" in retried.headers
        payment_id = retried.json()["id"]
        again = client.post("/v1/payments", json=body, headers=headers)
        assert again.json()["id"] == payment_id

    final = wait_until_terminal(cluster_stack, [payment_id])
    assert final[payment_id]["status"] == "succeeded"
    charges = httpx.get(f"{cluster_stack.simulator_url}/_sim/charges").json()["charges"]
    assert [charge["payment_id"] for charge in charges].count(payment_id) == 1
