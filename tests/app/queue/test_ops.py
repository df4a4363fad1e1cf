"""Operators' view of the queues (status, dead letters, replay) over what the real broker did,
through the library and the paystream command line."""

import os
import subprocess

import redis

from actors.streams.broker import StreamsBroker
from app.queue import ops as queue_ops
from tests.actors.streams.test_broker import drain, probe
from tests.support.broker import IDLE_TIMEOUT_MS, PARTITIONS
from tests.support.processes import ROOT, python_argv
from tests.support.stack import CLI_TIMEOUT_S


def paystream(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": redis_url, "STREAM_PARTITIONS": str(PARTITIONS)}
    return subprocess.run(
        python_argv("-m", "app.cli", *args),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )


def test_status_shows_pending_work_and_a_dead_message_can_be_replayed_once(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str, redis_url: str
) -> None:
    broker.declare_queue(queue_name)
    spent = {"retries": 12, "deferrals": 3}
    sent = [
        broker.enqueue(probe(queue_name, index, partition=2).copy(options=spent))
        for index in range(2)
    ]
    consumer = broker.consume(queue_name, prefetch=2, timeout=IDLE_TIMEOUT_MS)
    held, rejected = drain(consumer, 2)

    consumer.nack(rejected)
    status = queue_ops.partition_status(redis_client, queue_name, 2)
    [dead] = queue_ops.dead_entries(redis_client, queue_name, PARTITIONS)

    assert (status.length, status.pending, status.dead) == (1, 1, 1)
    assert status.oldest_pending_idle_ms is not None
    assert (dead.partition, dead.reason) == (2, "rejected")
    assert dead.message["message_id"] == sent[1].message_id
    listed = paystream(redis_url, "dlq", "list", "--queue", queue_name)
    assert f"2/{dead.entry_id}" in listed.stdout, listed.stderr
    shown = paystream(redis_url, "dlq", "show", f"2/{dead.entry_id}", "--queue", queue_name)
    assert sent[1].message_id in shown.stdout

    replayed = paystream(redis_url, "dlq", "replay", f"2/{dead.entry_id}", "--queue", queue_name)
    again = paystream(redis_url, "dlq", "replay", f"2/{dead.entry_id}", "--queue", queue_name)

    assert replayed.returncode == 0, replayed.stderr
    assert again.returncode == 1, "a dead message goes back to work once"
    assert queue_ops.dead_entries(redis_client, queue_name, PARTITIONS) == []
    [back] = drain(consumer, 1)
    assert back.message_id == sent[1].message_id
    assert "retries" not in back.options, "a replayed message has its full retry budget"
    consumer.ack(held)
    consumer.ack(back)
    consumer.close()
    table = paystream(redis_url, "queue", "status", "--queue", queue_name)
    assert table.returncode == 0
    assert table.stdout.splitlines()[3].split() == ["2", "0", "0", "-", "0", "0", "0"]


def dead_letters(broker: StreamsBroker, queue_name: str, count: int) -> list[str]:
    """``count`` messages on every partition in turn, each rejected into its dead stream."""
    broker.declare_queue(queue_name)
    sent = [
        broker.enqueue(probe(queue_name, index, partition=index % PARTITIONS)).message_id
        for index in range(count)
    ]
    consumer = broker.consume(queue_name, prefetch=count, timeout=IDLE_TIMEOUT_MS)
    for proxy in drain(consumer, count):
        consumer.nack(proxy)
    consumer.close()
    return sent


def test_replay_all_puts_every_dead_message_back_once(
    broker: StreamsBroker, redis_client: redis.Redis, queue_name: str, redis_url: str
) -> None:
    sent = dead_letters(broker, queue_name, 7)
    assert queue_ops.dead_count(redis_client, queue_name, PARTITIONS) == 7

    replayed = paystream(redis_url, "dlq", "replay", "--all", "--queue", queue_name)
    again = paystream(redis_url, "dlq", "replay", "--all", "--queue", queue_name)

    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.strip() == "replayed 7 dead message(s)"
    assert again.stdout.strip() == "replayed 0 dead message(s)"
    assert queue_ops.dead_count(redis_client, queue_name, PARTITIONS) == 0
    consumer = broker.consume(queue_name, prefetch=7, timeout=IDLE_TIMEOUT_MS)
    back = drain(consumer, 7)
    assert sorted(proxy.message_id for proxy in back) == sorted(sent)
    for proxy in back:
        consumer.ack(proxy)
    consumer.close()


def test_replay_needs_one_entry_or_all(redis_url: str) -> None:
    neither = paystream(redis_url, "dlq", "replay")
    both = paystream(redis_url, "dlq", "replay", "0/1-0", "--all")

    assert neither.returncode != 0 and "--all" in neither.stderr
    assert both.returncode != 0 and "--all" in both.stderr
