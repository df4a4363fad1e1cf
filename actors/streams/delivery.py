"""A delivered message, and how its stream entry is settled: acked, dead-lettered or handed back.

Both ways of running a message (Dramatiq's worker threads, and the event loop of ``inflight``)
settle entries with the same scripts and arguments, built here.
"""

from typing import Any

from dramatiq.broker import MessageProxy
from dramatiq.message import Message

from actors.streams.leases import Entry
from app.queue.keys import CONSUMER_GROUP, dead_key

#: The dead stream's reason field: the worker rejected the message (retries exhausted, throws,
#: age limit), its consumer kept dying on it, or it is not a Dramatiq message at all.
REASON_REJECTED = "rejected"
REASON_DELIVERIES_EXCEEDED = "deliveries_exceeded"
REASON_UNDECODABLE = "undecodable"

ScriptCall = tuple[list[str], list[Any]]


class StreamMessageProxy(MessageProxy):
    """A delivered message that remembers which stream entry to settle.

    ``keep_pending`` is set when the message's retry could not be scheduled: acking it would lose
    the message, so the ack leaves the entry pending for reclaim instead.
    """

    def __init__(self, message: Message[Any], *, partition: int, stream_entry: Entry) -> None:
        super().__init__(message)
        self.partition = partition
        self.stream_entry = stream_entry
        self.keep_pending = False


def ack_call(entry: Entry) -> ScriptCall:
    """KEYS and ARGV of ack.lua for ``entry``."""
    return [entry.stream_key], [CONSUMER_GROUP, entry.entry_id]


def dead_letter_call(
    queue_name: str, partition: int, entry: Entry, body: bytes, reason: str
) -> ScriptCall:
    """KEYS and ARGV of dead_letter.lua: ``body`` goes to the partition's dead stream."""
    keys = [entry.stream_key, dead_key(partition, queue_name)]
    return keys, [CONSUMER_GROUP, entry.entry_id, body, reason]


def requeue_call(consumer_name: str, entry: Entry) -> ScriptCall:
    """KEYS and ARGV of requeue.lua: the entry goes back to the group, for anyone to take."""
    return [entry.stream_key], [CONSUMER_GROUP, consumer_name, entry.entry_id]


def stream_proxy(message: MessageProxy) -> StreamMessageProxy:
    if not isinstance(message, StreamMessageProxy):
        raise TypeError(f"not a message delivered by a StreamsConsumer: {message!r}")
    return message
