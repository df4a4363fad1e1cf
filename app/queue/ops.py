"""What operators ask of the queues: how full they are, what died, and putting it back.

Redis-level only (the key layout of app.keys), so the command line needs no worker code.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from app.queue import keys
from app.queue.connection import SyncClient
from app.queue.scripts import lua_source

REPLAY_LUA = lua_source(Path(__file__).parent, "replay_dead")
#: Dead entries listed per partition at most, newest first.
DEAD_LIST_ENTRIES_MAX = 100
#: Dead entries read per round trip by ``replay_all``.
REPLAY_BATCH_ENTRIES = 100
#: ``replay_all`` reads at most this many times the entries a partition held when it began.
REPLAY_ROUNDS_MAX = 2
#: Message options that count a message's spent attempts (Dramatiq's Retries, our deferrals).
BUDGET_OPTIONS = frozenset({"retries", "deferrals"})


@dataclass(frozen=True)
class PartitionStatus:
    partition: int
    length: int
    pending: int
    oldest_pending_idle_ms: int | None
    lag: int | None
    delayed: int
    dead: int


@dataclass(frozen=True)
class DeadEntry:
    partition: int
    entry_id: str
    reason: str
    deliveries: str
    message: dict[str, Any]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _group(client: SyncClient, stream: str) -> dict[str, Any] | None:
    try:
        groups = client.xinfo_groups(stream)
    except redis.ResponseError:  # no stream yet
        return None
    for group in groups:
        if _text(group["name"]) == keys.CONSUMER_GROUP:
            return dict(group)
    return None


def _oldest_idle_ms(client: SyncClient, stream: str) -> int | None:
    oldest = client.xpending_range(stream, keys.CONSUMER_GROUP, min="-", max="+", count=1)
    return int(oldest[0]["time_since_delivered"]) if oldest else None


def partition_status(client: SyncClient, queue: str, partition: int) -> PartitionStatus:
    stream = keys.stream_key(partition, queue)
    group = _group(client, stream)
    return PartitionStatus(
        partition=partition,
        length=int(client.xlen(stream)),
        pending=int(group["pending"]) if group else 0,
        oldest_pending_idle_ms=_oldest_idle_ms(client, stream) if group else None,
        lag=None if group is None or group.get("lag") is None else int(group["lag"]),
        delayed=int(client.zcard(keys.delayed_key(partition, queue))),
        dead=int(client.xlen(keys.dead_key(partition, queue))),
    )


def queue_status(client: SyncClient, queue: str, partitions: int) -> list[PartitionStatus]:
    return [partition_status(client, queue, partition) for partition in range(partitions)]


def _dead_entry(partition: int, entry: Any) -> DeadEntry:
    """A (id, fields) pair as redis-py returns it."""
    entry_id, raw = entry
    fields = {_text(name): _text(value) for name, value in raw.items()}
    return DeadEntry(
        partition=partition,
        entry_id=_text(entry_id),
        reason=fields.get("reason", ""),
        deliveries=fields.get("deliveries", ""),
        message=json.loads(fields[keys.MESSAGE_FIELD]),
    )


def dead_entries(client: SyncClient, queue: str, partitions: int) -> list[DeadEntry]:
    found = []
    for partition in range(partitions):
        stream = keys.dead_key(partition, queue)
        for entry in client.xrevrange(stream, count=DEAD_LIST_ENTRIES_MAX) or []:
            found.append(_dead_entry(partition, entry))
    return found


def dead_entry(client: SyncClient, queue: str, partition: int, entry_id: str) -> DeadEntry | None:
    found = client.xrange(keys.dead_key(partition, queue), min=entry_id, max=entry_id)
    return _dead_entry(partition, found[0]) if found else None


def dead_count(client: SyncClient, queue: str, partitions: int) -> int:
    return sum(int(client.xlen(keys.dead_key(partition, queue))) for partition in range(partitions))


def replay_all(
    client: SyncClient, queue: str, partitions: int, replayed_one: Callable[[], None]
) -> int:
    """Every dead entry back to work, oldest first, ``REPLAY_BATCH_ENTRIES`` read at a time;
    how many were replayed. Entries dead-lettered meanwhile are replayed too, up to a bound, so
    a message that dies again at once cannot keep this running."""
    replayed = 0
    for partition in range(partitions):
        dead = keys.dead_key(partition, queue)
        budget = int(client.xlen(dead)) * REPLAY_ROUNDS_MAX
        while budget > 0:
            batch = client.xrange(dead, count=min(REPLAY_BATCH_ENTRIES, budget))
            if not batch:
                break
            for entry_id, _ in batch:
                if replay(client, queue, partition, str(_text(entry_id or ""))) is not None:
                    replayed += 1
                    replayed_one()
            budget -= len(batch)
    return replayed


def renewed(message: dict[str, Any]) -> bytes:
    """The message with a fresh retry and deferral budget: an operator replays a message to
    give it another full chance, not the one attempt its spent budget would leave."""
    options = {
        name: value for name, value in message["options"].items() if name not in BUDGET_OPTIONS
    }
    return json.dumps({**message, "options": options}, separators=(",", ":")).encode()


def replay(client: SyncClient, queue: str, partition: int, entry_id: str) -> str | None:
    """Move one dead entry back to work; the new entry id, or None when it is not there."""
    dead = dead_entry(client, queue, partition, entry_id)
    if dead is None:
        return None
    script = client.register_script(REPLAY_LUA)
    new_entry = script(
        keys=[keys.dead_key(partition, queue), keys.stream_key(partition, queue)],
        args=[entry_id, renewed(dead.message)],
    )
    return None if new_entry is None else _text(new_entry)
