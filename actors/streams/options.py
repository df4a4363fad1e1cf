"""The limits one Streams broker runs with, checked once where they are set."""

from dataclasses import dataclass

from app.queue.keys import PARTITIONS_MAX

#: The most entries one XREADGROUP (and one reclaim pass per partition) takes: bounds a reply.
READ_COUNT_MAX = 64
#: The longest one blocking read lasts, in ms; the worker's idle timeout and due maintenance cut
#: it shorter. Keep it below the client's socket timeout.
BLOCK_MS = 1000
#: Messages of async actors one process runs at once: each waits on the network, not a thread.
CONCURRENCY = 256
#: How long a stopping worker lets its async messages finish before handing them back, in ms;
#: with the rest of a shutdown this stays inside a platform's 30 s between SIGTERM and SIGKILL.
SHUTDOWN_GRACE_MS = 15_000


@dataclass(frozen=True)
class StreamOptions:
    """``reclaim_idle_ms`` is how long an entry pending to a silent consumer waits before another
    consumer takes it; live consumers renew the entries they hold, so it need not cover a
    message's run time. Past ``deliveries_max`` deliveries an entry is dead-lettered. Async actors
    run ``concurrency`` messages at once per process; a stopping worker gives them
    ``shutdown_grace_ms`` to finish."""

    partitions: int
    reclaim_idle_ms: int
    deliveries_max: int
    read_count_max: int = READ_COUNT_MAX
    block_ms: int = BLOCK_MS
    concurrency: int = CONCURRENCY
    shutdown_grace_ms: int = SHUTDOWN_GRACE_MS

    def __post_init__(self) -> None:
        if not 1 <= self.partitions <= PARTITIONS_MAX:
            raise ValueError(f"partitions must be within 1..{PARTITIONS_MAX}")
        # block_ms too: BLOCK 0 would wait for ever.
        positive = (
            "reclaim_idle_ms",
            "deliveries_max",
            "read_count_max",
            "block_ms",
            "concurrency",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.shutdown_grace_ms < 0:
            raise ValueError("shutdown_grace_ms must not be negative")
