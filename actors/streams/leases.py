"""The stream entries a process holds: delivered to it and not yet acked, nacked or requeued."""

import threading
from typing import NamedTuple


class Entry(NamedTuple):
    """Where a delivered message lives: the stream key and the entry id within it."""

    stream_key: str
    entry_id: str


class Leases:
    """Entries held for one queue, shared by every consumer the worker builds for that queue.

    The consumer thread takes leases while worker threads release them (ack, nack), and a consumer
    rebuilt after a connection error inherits the messages still running, so the set lives on the
    broker and is guarded by a condition the consumer can wait on when prefetch is full.
    """

    def __init__(self) -> None:
        self._entries: set[Entry] = set()
        self._changed = threading.Condition()

    def take(self, entry: Entry) -> None:
        with self._changed:
            self._entries.add(entry)

    def release(self, entry: Entry) -> None:
        with self._changed:
            self._entries.discard(entry)
            self._changed.notify_all()

    def holds(self, entry: Entry) -> bool:
        with self._changed:
            return entry in self._entries

    def count(self) -> int:
        with self._changed:
            return len(self._entries)

    def wait_below(self, limit: int, timeout_s: float) -> bool:
        """Wait until fewer than ``limit`` entries are held; False when ``timeout_s`` ran out."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._entries) < limit, timeout_s)

    def by_stream(self) -> dict[str, list[str]]:
        """The held entry ids grouped by stream key."""
        with self._changed:
            entries = list(self._entries)
        grouped: dict[str, list[str]] = {}
        for entry in entries:
            grouped.setdefault(entry.stream_key, []).append(entry.entry_id)
        return grouped
