"""The Redis key layout, in one place.

Every key that one atomic step touches shares a ``{ps:N}`` hash tag, so the step runs on one
Redis Cluster slot. N is the stream partition; a payment's partition is written into its id so
any process can find its keys from the id alone.

    {ps:N}:idem:<merchant_id>:<sha256(idempotency key)>   hash   stored answer + fingerprint
    {ps:N}:idem:<merchant_id>:<payment_id>:refunds:<sha256(idempotency key)>
                                                         hash   stored refund answer + fingerprint
    {ps:N}:pay:<payment_id>                              hash   payment record and recovery point
    {ps:N}:pay:<payment_id>:refunds                      set    the payment's refund ids
    {ps:N}:refund:<refund_id>                            hash   refund record and recovery point
    {ps:N}:pevt:<provider>:<sha256(event id)>            hash   a provider webhook event taken
                                                                in (type, received): its dedupe
                                                                mark, on its payment's partition
    {ps:N}:q:<queue>                                     stream Dramatiq messages (group "workers")
    {ps:N}:q:<queue>:delayed                             zset   message id -> due time in ms
    {ps:N}:q:<queue>:delayed:msgs                        hash   message id -> encoded message
    {ps:N}:q:<queue>:dead                                stream dead-lettered messages
    {ps:N}:list:<merchant_id>                            zset   payment id -> created ms (kept)
    {ps:N}:rate:<merchant_id>                            hash   the merchant's accept bucket
    {ps:N}:event:<event_id>                              hash   an event, until relayed
    {ps:N}:trail:<payment_id>                            stream the payment's moves and calls
    ps:auth                                              hash   sha256(api key) -> merchant id
    ps:ledger:verification                               string the last ledger verify (JSON)
"""

import hashlib
import re
import secrets
import time
import zlib

PAYMENT_ID_PREFIX = "pay_"
#: A refund id carries its payment's partition, so the refund lives on the payment's slot.
REFUND_ID_PREFIX = "re_"
AUTH_KEY = "ps:auth"
LEDGER_VERIFICATION_KEY = "ps:ledger:verification"
CONSUMER_GROUP = "workers"
#: The one field of a work-stream entry: the encoded Dramatiq message. Lua scripts get it as
#: the constant MESSAGE_FIELD (see app.queue.scripts).
MESSAGE_FIELD = "m"
#: The member of a list index scored with the created ms from which on the index holds every
#: payment of its merchant on its partition: only older ones may be in PostgreSQL alone. Not an
#: id, so never listed.
LIST_SINCE_MEMBER = "~since"
#: Fields of a payment or refund record naming the event its last move published, and the
#: relay's message for it, while the worker that moved it has not relayed it (actors.relay);
#: Lua scripts get them as RELAY_PENDING_FIELD and RELAY_MESSAGE_FIELD.
RELAY_PENDING_FIELD = "relay_pending"
RELAY_MESSAGE_FIELD = "relay_message"
#: Entries a payment's trail keeps (about): a payment with a few refunds needs a few dozen.
TRAIL_ENTRIES_MAX = 200
#: A partition is two hex digits of every id, so there are at most 256.
PARTITION_HEX_DIGITS = 2
PARTITIONS_MAX = 16**PARTITION_HEX_DIGITS

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_TIME_CHARS = 10
_RANDOM_CHARS = 16


def tag(partition: int) -> str:
    return f"{{ps:{partition}}}"


def tag_of(key: str) -> str:
    """The hash tag a key's slot is chosen by: keys with equal tags share a Cluster slot."""
    return key[: key.index("}") + 1]


def partition_of_key(key: str) -> int:
    """The partition in a ``{ps:N}:...`` key's hash tag."""
    return int(tag_of(key)[len("{ps:") : -1])


def partition_for(scope: str, partitions: int) -> int:
    """Stable partition of an idempotency scope (merchant + key): a replay lands on its slot."""
    return zlib.crc32(scope.encode()) % partitions


def _base32(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))


def new_id(prefix: str, partition: int) -> str:
    """``prefix`` + 2 hex partition digits + a time-ordered, 80-bit random suffix."""
    millis = time.time_ns() // 1_000_000
    suffix = _base32(millis, _TIME_CHARS) + _base32(secrets.randbits(80), _RANDOM_CHARS)
    return f"{prefix}{partition:0{PARTITION_HEX_DIGITS}x}{suffix}"


def id_pattern(prefix: str) -> str:
    """A regular expression (Python's and JSON Schema's alike) of the ids ``new_id`` makes."""
    partition = f"[0-9a-fA-F]{{{PARTITION_HEX_DIGITS}}}"
    return f"{prefix}{partition}[{_CROCKFORD}]{{{_TIME_CHARS + _RANDOM_CHARS}}}"


_ID_BODY = re.compile(id_pattern(""))


def partition_of(object_id: str, prefix: str, partitions: int) -> int | None:
    """The partition written into an id, or None when the id is not one of ours."""
    if not object_id.startswith(prefix):
        return None
    body = object_id[len(prefix) :]
    # A compiled pattern: every key a worker builds checks its id here, several a phase.
    if _ID_BODY.fullmatch(body) is None:
        return None
    partition = int(body[:PARTITION_HEX_DIGITS], 16)
    return partition if partition < partitions else None


def created_ms_of(object_id: str, prefix: str) -> int:
    """``created_ms`` of an id known to be ours: with the id, its place in lists."""
    millis = created_ms(object_id, prefix)
    if millis is None:
        raise ValueError(f"{object_id!r} is not a {prefix} id")
    return millis


def created_ms(object_id: str, prefix: str) -> int | None:
    """The unix milliseconds written into an id of ours when it was made, or None."""
    time_chars = object_id[len(prefix) + PARTITION_HEX_DIGITS :][:_TIME_CHARS]
    if not object_id.startswith(prefix) or len(time_chars) != _TIME_CHARS:
        return None
    millis = 0
    for char in time_chars:
        digit = _CROCKFORD.find(char)
        if digit < 0:
            return None
        millis = millis * 32 + digit
    return millis


def idempotency_key(partition: int, merchant_id: str, client_key: str) -> str:
    digest = hashlib.sha256(client_key.encode()).hexdigest()
    return f"{tag(partition)}:idem:{merchant_id}:{digest}"


def refund_idempotency_key(
    partition: int, merchant_id: str, payment_id: str, client_key: str
) -> str:
    """Refund keys are scoped to their payment (the path they were sent to), on its partition."""
    digest = hashlib.sha256(client_key.encode()).hexdigest()
    return f"{tag(partition)}:idem:{merchant_id}:{payment_id}:refunds:{digest}"


def payment_key(partition: int, payment_id: str) -> str:
    return f"{tag(partition)}:pay:{payment_id}"


def payment_refunds_key(partition: int, payment_id: str) -> str:
    return f"{payment_key(partition, payment_id)}:refunds"


def provider_event_key(partition: int, provider: str, event_id: str) -> str:
    digest = hashlib.sha256(event_id.encode()).hexdigest()
    return f"{tag(partition)}:pevt:{provider}:{digest}"


def refund_key(partition: int, refund_id: str) -> str:
    return f"{tag(partition)}:refund:{refund_id}"


def list_key(partition: int, merchant_id: str) -> str:
    """The merchant's payments accepted on the partition, by created milliseconds: lists read
    them, so a payment is listed from its 202 on, whatever the history has caught up with."""
    return f"{tag(partition)}:list:{merchant_id}"


def trail_key(partition: int, payment_id: str) -> str:
    """What happened to a payment and its refunds, in order: each recovery point stored and
    each provider call made, for an operator asking why a payment is where it is."""
    return f"{tag(partition)}:trail:{payment_id}"


def event_key(partition: int, event_id: str) -> str:
    """An event written with the move it announces, until the relay has it in PostgreSQL."""
    return f"{tag(partition)}:event:{event_id}"


def stream_key(partition: int, queue: str) -> str:
    return f"{tag(partition)}:q:{queue}"


def delayed_key(partition: int, queue: str) -> str:
    return f"{stream_key(partition, queue)}:delayed"


def delayed_messages_key(partition: int, queue: str) -> str:
    return f"{stream_key(partition, queue)}:delayed:msgs"


def dead_key(partition: int, queue: str) -> str:
    return f"{stream_key(partition, queue)}:dead"


def accept_rate_key(partition: int, merchant_id: str) -> str:
    """The merchant's token bucket of accepts on the partition (app.merchants.accept_rate)."""
    return f"{tag(partition)}:rate:{merchant_id}"
