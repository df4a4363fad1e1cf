"""What the console reads, in one place: payments and refunds from Redis, the queues, the
dead letters, the ledger.

The payments list scans Redis (a bounded number of keys): Redis keeps records for their TTL
and has no index by time. When the durable payments history in PostgreSQL lands, ``payments``
is the one function to point at it; nothing else in the console changes.
"""

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

import psycopg
from sqlalchemy.exc import SQLAlchemyError

from app import verifications
from app.db import create_engine_for
from app.ledger.balances import Balances, balances
from app.ledger.errors import LedgerError
from app.ledger.store import read_head, read_only_snapshot
from app.payments.record import PAYMENTS, PaymentRecord
from app.queue import keys, ops
from app.queue.connection import SyncClient, tool_client
from app.queue.dispatch import PAYMENTS_QUEUE
from app.refunds.record import REFUNDS, RefundRecord
from app.settings import Settings

#: Keys one listing looks at, at most: a console page must answer quickly however big Redis is.
SCAN_KEYS_MAX = 5_000
SCAN_BATCH_KEYS = 500
PAYMENTS_SHOWN_MAX = 50
PAYMENT_KEY_PATTERN = "{ps:*}:pay:*"
#: ``{ps:N}:pay:<id>`` has three.
RECORD_KEY_COLONS = 3


@contextmanager
def redis_client(settings: Settings) -> Iterator[SyncClient]:
    client = tool_client(settings.redis_url)
    try:
        yield client
    finally:
        client.close()


def _scan(client: SyncClient, pattern: str) -> list[bytes]:
    """Record keys matching ``pattern`` (``{ps:N}:<kind>:<id>``), not the keys that hang off a
    record (``…:<id>:refunds``)."""
    found: list[bytes] = []
    for key in client.scan_iter(match=pattern, count=SCAN_BATCH_KEYS):
        if key.count(b":") != RECORD_KEY_COLONS:
            continue
        found.append(key)
        if len(found) >= SCAN_KEYS_MAX:
            break
    return found


def _records(client: SyncClient, found: list[bytes]) -> Iterator[Mapping[bytes, bytes]]:
    pipeline = client.pipeline(transaction=False)
    for key in found:
        pipeline.hgetall(key)
    for raw in pipeline.execute():
        if raw:
            yield cast(Mapping[bytes, bytes], raw)


def payments(client: SyncClient, status: str | None) -> list[PaymentRecord]:
    """The newest payments Redis holds (of ``status``), newest first."""
    records = [PAYMENTS.decode(raw) for raw in _records(client, _scan(client, PAYMENT_KEY_PATTERN))]
    chosen = [record for record in records if status is None or record.status == status]
    chosen.sort(key=lambda record: record.id[len(keys.PAYMENT_ID_PREFIX) + 2 :], reverse=True)
    return chosen[:PAYMENTS_SHOWN_MAX]


def payment(client: SyncClient, payment_id: str, partitions: int) -> PaymentRecord | None:
    key = PAYMENTS.key_of(payment_id, partitions)
    raw = cast(Mapping[bytes, bytes], client.hgetall(key)) if key else {}
    return PAYMENTS.decode(raw) if raw else None


def refunds_of(client: SyncClient, payment_id: str, partitions: int) -> list[RefundRecord]:
    """The payment's refunds: they live on its partition (their ids carry it)."""
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, partitions)
    if partition is None:
        return []
    pattern = f"{keys.tag(partition)}:refund:*"
    found = [REFUNDS.decode(raw) for raw in _records(client, _scan(client, pattern))]
    return sorted((r for r in found if r.payment_id == payment_id), key=lambda r: r.id)


@dataclass(frozen=True)
class TrailEntry:
    """One line of a payment's timeline."""

    #: Unix seconds.
    at: float
    point: str
    note: str


def timeline(client: SyncClient, payment_id: str, partitions: int) -> list[TrailEntry]:
    """The payment's moves and provider calls, oldest first, from its trail."""
    partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, partitions)
    if partition is None:
        return []
    entries = cast(
        list[tuple[bytes, dict[bytes, bytes]]],
        client.xrange(keys.trail_key(partition, payment_id)),
    )
    return [_trail_entry(entry_id, fields) for entry_id, fields in entries]


def _trail_entry(entry_id: bytes, raw: Mapping[bytes, bytes]) -> TrailEntry:
    at = int(entry_id.split(b"-")[0]) / 1000
    fields = {key.decode(): value.decode() for key, value in raw.items()}
    if "call" in fields:
        note = f"{fields['outcome']} in {fields['latency_ms']} ms"
        return TrailEntry(at, fields["call"], note)
    record = fields["record"].rpartition(":")[2]
    note = f"{record}: from {fields['from']}"
    if fields.get("event"):
        note += f"; event {fields['event']}"
    return TrailEntry(at, fields["to"], note)


@dataclass(frozen=True)
class DeadLetter:
    entry: ops.DeadEntry

    @property
    def object_id(self) -> str:
        args = self.entry.message.get("args") or [""]
        return str(args[0])

    @property
    def request_id(self) -> str | None:
        value = self.entry.message.get("options", {}).get("request_id")
        return value if isinstance(value, str) else None


def dead_letters(client: SyncClient, partitions: int) -> list[DeadLetter]:
    return [DeadLetter(entry) for entry in ops.dead_entries(client, PAYMENTS_QUEUE, partitions)]


def dead_letter(client: SyncClient, partition: int, entry_id: str) -> DeadLetter | None:
    entry = ops.dead_entry(client, PAYMENTS_QUEUE, partition, entry_id)
    return None if entry is None else DeadLetter(entry)


def queue(client: SyncClient, partitions: int) -> list[ops.PartitionStatus]:
    return ops.queue_status(client, PAYMENTS_QUEUE, partitions)


@dataclass(frozen=True)
class LedgerView:
    head_seq: int | None
    balances: Balances
    last_verification: verifications.Verification | None
    #: Why PostgreSQL could not be read, when it could not.
    unavailable: str | None = None


def ledger(client: SyncClient, settings: Settings) -> LedgerView:
    last = verifications.decode(cast(bytes | None, client.get(keys.LEDGER_VERIFICATION_KEY)))
    engine = create_engine_for(settings.database_url)
    try:
        with read_only_snapshot(engine) as connection:
            head = read_head(connection, for_update=False)
        return LedgerView(head.seq, balances(engine), last)
    except (SQLAlchemyError, psycopg.Error, LedgerError) as error:
        return LedgerView(None, {}, last, unavailable=type(error).__name__)
    finally:
        engine.dispose()


def message_json(letter: DeadLetter) -> str:
    return json.dumps(letter.entry.message, indent=2, sort_keys=True)
