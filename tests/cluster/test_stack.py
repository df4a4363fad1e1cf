"""The whole stack (uvicorn, dramatiq, simulator, PostgreSQL) on a Redis Cluster, with every
accept and recovery point waiting for one replica (``REDIS_MIN_REPLICAS_ACKED=1``): the
end-to-end test unchanged, and a 503 when the replicas cannot confirm, whose retry answers the
same payment instead of claiming a second."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.console import data as console_data
from app.settings import load
from tests import test_end_to_end as end_to_end
from tests.conftest import create_database, database_url_for, drop_database, migrate
from tests.support.payments import REQUEST_TIMEOUT_S, wait_until_terminal
from tests.support.redis_cluster import RedisCluster
from tests.support.stack import Stack, cli, running_stack

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


def test_the_command_line_and_the_console_read_the_cluster(cluster_stack: Stack) -> None:
    headers = {"Authorization": f"Bearer {cluster_stack.api_key}", "Idempotency-Key": "ops"}
    body = {"amount": 1234, "currency": "usd", "payment_method": "pm_card_visa"}
    payment_id = httpx.post(
        f"{cluster_stack.base_url}/v1/payments", json=body, headers=headers
    ).json()["id"]
    wait_until_terminal(cluster_stack, [payment_id])

    config = load(cluster_stack.env)
    status = cli(cluster_stack.env, "queue", "status")
    assert status.returncode == 0, status.stderr
    assert len(status.stdout.splitlines()) == 1 + config.stream_partitions
    shown = cli(cluster_stack.env, "payment", "show", payment_id)
    assert shown.returncode == 0 and payment_id in shown.stdout, shown.stderr

    with console_data.redis_client(config) as client:
        listed = [record.id for record in console_data.payments(client, None)]
        found = console_data.payment(client, payment_id, config.stream_partitions)
        assert payment_id in listed
        assert found is not None and found.id == payment_id
        assert console_data.timeline(client, payment_id, config.stream_partitions)
