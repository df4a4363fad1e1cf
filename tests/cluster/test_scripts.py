"""Every Lua script paystream runs, run on a real Redis Cluster: a script whose keys span two
slots fails there, never on a single Redis. Each runs on partitions spread over every master,
with its keys built by the same key functions the code uses."""

import json
from collections.abc import Callable

import redis.cluster

from actors.middleware import throttle
from actors.state import ADVANCE_LUA, RELAYED_LUA, SETTLE_REFUND_LUA
from actors.streams.scripts import SOURCES as STREAM_SOURCES
from app.payments.accept import ACCEPT_LUA
from app.provider_events.receive import RECEIVE_LUA
from app.queue import keys
from app.queue.dispatch import EVENTS_QUEUE, PAYMENTS_QUEUE, charge_message
from app.queue.ops import REPLAY_LUA
from app.refunds.accept import REFUND_LUA
from app.settings import load
from tests.support.processes import ROOT
from tests.support.redis_cluster import RedisCluster

#: Lua files that are no script of their own: helpers pasted into the scripts that use them.
HELPERS = {"actors/lua/publish.lua", "app/merchants/accept_rate.lua"}
PARTITIONS = 8
MERCHANT = "m_cluster"
TTL_S = 3600
#: The merchant's accept rate per second on the partition, and its bucket: room to spare.
RATE = [100, 100]
GROUP = keys.CONSUMER_GROUP
CONSUMER = "cluster-test"

Run = Callable[[str, list[str], list[object]], object]
Command = Callable[..., list[tuple[bytes, object]]]


def lua_files() -> set[str]:
    found = {*ROOT.glob("app/**/*.lua"), *ROOT.glob("actors/**/*.lua")}
    return {str(path.relative_to(ROOT)) for path in found} - HELPERS


def run_all(run: Run, command: Command, partition: int) -> set[str]:
    """Runs every script once on ``partition``, in an order that gives each something to do;
    the files it ran."""
    ran: set[str] = set()

    def call(path: str, source: str, script_keys: list[str], args: list[object]) -> object:
        ran.add(path)
        return run(source, script_keys, args)

    payment_id = keys.new_id(keys.PAYMENT_ID_PREFIX, partition)
    stream = keys.stream_key(partition, PAYMENTS_QUEUE)
    pay = keys.payment_key(partition, payment_id)
    message = charge_message(payment_id, partition)
    record = {"id": payment_id, "merchant_id": MERCHANT, "provider": "stripe"}
    data = json.dumps(record | {"amount": 1000, "currency": "usd"})
    accepted = call(
        "app/payments/accept.lua",
        ACCEPT_LUA,
        [
            keys.idempotency_key(partition, MERCHANT, f"key-{payment_id}"),
            pay,
            stream,
            keys.list_key(partition, MERCHANT),
            keys.accept_rate_key(partition, MERCHANT),
        ],
        ["fp", 202, "{}", "/v1/payments/x", TTL_S, TTL_S, message, payment_id,
         keys.created_ms_of(payment_id, keys.PAYMENT_ID_PREFIX), *RATE,
         "data", data, "step", "accepted"],
    )  # fmt: skip
    assert accepted is not None

    event_id = f"evt_{payment_id}"
    events_stream = keys.stream_key(partition, EVENTS_QUEUE)
    trail = keys.trail_key(partition, payment_id)
    moved = call(
        "actors/lua/advance.lua",
        ADVANCE_LUA,
        [pay, pay, keys.event_key(partition, event_id), events_stream, trail],
        ["accepted", "recorded", event_id, "{}", MERCHANT, payment_id, "relay", TTL_S,
         "provider_reference", "pi_1"],
    )  # fmt: skip
    assert moved == [1, 1]
    named = call(
        "actors/lua/relayed.lua",
        RELAYED_LUA,
        [pay, keys.event_key(partition, event_id), events_stream],
        [event_id, "queue"],
    )
    assert named == 1

    refund_id = keys.new_id(keys.REFUND_ID_PREFIX, partition)
    refund = keys.refund_key(partition, refund_id)
    created = call(
        "app/refunds/accept.lua",
        REFUND_LUA,
        [
            keys.refund_idempotency_key(partition, MERCHANT, payment_id, f"r-{refund_id}"),
            pay,
            refund,
            stream,
            keys.payment_refunds_key(partition, payment_id),
            keys.accept_rate_key(partition, MERCHANT),
        ],
        ["fp", MERCHANT, 100, refund_id, 1, TTL_S, TTL_S, message, "/v1/refunds/x", 202, *RATE],
    )
    assert created[0] == b"created", created  # type: ignore[index]
    refund_event = f"evt_{refund_id}"
    settled = call(
        "actors/lua/settle_refund.lua",
        SETTLE_REFUND_LUA,
        [refund, pay, keys.event_key(partition, refund_event), events_stream, trail],
        ["pending", "refunded", 100, "refunded", refund_event, "{}", MERCHANT, payment_id,
         "relay", TTL_S],
    )  # fmt: skip
    assert settled is not None

    call(
        "app/provider_events/receive.lua",
        RECEIVE_LUA,
        [keys.provider_event_key(partition, "stripe", "evt_1"), pay, stream],
        ["charge.succeeded", 1, TTL_S, message],
    )

    streams_dir = "actors/streams/lua"
    delayed = [
        keys.delayed_key(partition, PAYMENTS_QUEUE),
        keys.delayed_messages_key(partition, PAYMENTS_QUEUE),
    ]
    call(f"{streams_dir}/schedule.lua", STREAM_SOURCES["schedule"], delayed, ["msg-1", 0, message])
    assert call(f"{streams_dir}/move.lua", STREAM_SOURCES["move"], [*delayed, stream], [10]) == 1
    read = call(f"{streams_dir}/read.lua", STREAM_SOURCES["read"], [stream], [GROUP, CONSUMER, 10])
    entries = [entry[1] for entry in read[0]]  # type: ignore[index]
    assert len(entries) == 4, read  # accept, refund accept, provider event, moved
    first, second, third, fourth = entries
    call(f"{streams_dir}/renew.lua", STREAM_SOURCES["renew"], [stream], [GROUP, CONSUMER, first])
    assert call(f"{streams_dir}/ack.lua", STREAM_SOURCES["ack"], [stream], [GROUP, first]) == 1
    requeued = call(
        f"{streams_dir}/requeue.lua", STREAM_SOURCES["requeue"], [stream], [GROUP, CONSUMER, second]
    )
    assert requeued == 1
    reclaimed = call(
        f"{streams_dir}/reclaim.lua",
        STREAM_SOURCES["reclaim"],
        [stream],
        [GROUP, "another", 0, "0-0", 10],
    )
    assert len(reclaimed[1]) == 2  # type: ignore[index]  # third and fourth
    dead = keys.dead_key(partition, PAYMENTS_QUEUE)
    dead_lettered = call(
        f"{streams_dir}/dead_letter.lua",
        STREAM_SOURCES["dead_letter"],
        [stream, dead],
        [GROUP, third, message, "test"],
    )
    assert dead_lettered == 1
    ((dead_id, _),) = command("XRANGE", dead, "-", "+")
    replayed = call("app/queue/replay_dead.lua", REPLAY_LUA, [dead, stream], [dead_id, message])
    assert replayed

    limits = throttle.provider_limits(load({"STRIPE_RATE_PER_S": "100"}))["stripe"]
    admitted = call(
        "actors/middleware/lua/admit.lua",
        throttle.ADMIT_LUA,
        list(limits),
        [throttle.RATE_WINDOW_S, 1, *limits.values()],
    )
    assert admitted == throttle.ADMITTED
    return ran


def test_every_script_runs_on_a_cluster(
    cluster: RedisCluster, cluster_client: redis.cluster.RedisCluster
) -> None:
    for partition in range(PARTITIONS):
        for queue in (PAYMENTS_QUEUE, EVENTS_QUEUE):
            cluster_client.xgroup_create(
                keys.stream_key(partition, queue), GROUP, id="0", mkstream=True
            )
    masters = {cluster_client.get_node_from_key(keys.tag(p)).name for p in range(PARTITIONS)}
    assert len(masters) == len(cluster.masters()), "the partitions miss a master"

    def run(source: str, script_keys: list[str], args: list[object]) -> object:
        return cluster_client.register_script(source)(keys=script_keys, args=args)

    ran: set[str] = set()
    try:
        for partition in range(PARTITIONS):
            ran |= run_all(run, cluster_client.execute_command, partition)
    finally:
        # Its stand-in records are no payments: the cluster's other tests must not list them.
        cluster_client.flushall(target_nodes=redis.cluster.RedisCluster.PRIMARIES)
    assert ran == lua_files()
