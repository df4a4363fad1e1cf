"""Group commit for the ledger: outcomes recorded at the same moment by a worker's threads go
into the chain as one batch, one head lock and one transaction.

Each thread still waits for, and gets, its own ``Recorded`` (or its own error), so an actor's
recovery point moves only after its outcome is durably in the ledger. The thread that finds
no batch in flight leads: it appends everything queued, then anything queued meanwhile, and
returns once the queue is empty. Under load batches grow by themselves; alone, a thread
appends its single entry at once. Nothing ever waits for a batch to fill.
"""

import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine

from app.ledger import Entry, LedgerError, Recorded, append

#: Entries per append call, within the ledger writer's own batch bound.
BATCH_ENTRIES_MAX = 1000
#: How long a follower waits for its leader before giving up (the leader's append is bounded
#: by the head-lock and statement timeouts well below this).
FOLLOWER_WAIT_S_MAX = 120.0


@dataclass
class _Waiter:
    entry: Entry
    done: threading.Event = field(default_factory=threading.Event)
    result: Recorded | None = None
    error: BaseException | None = None


class GroupCommit:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._queue: list[_Waiter] = []
        self._leading = False
        #: Append calls made, for observing how much batching the load produced.
        self.batches = 0

    @property
    def queued(self) -> int:
        """Entries waiting for the next batch."""
        with self._lock:
            return len(self._queue)

    def record(self, entry: Entry) -> Recorded:
        waiter = _Waiter(entry)
        with self._lock:
            self._queue.append(waiter)
            lead = not self._leading
            self._leading = True
        if lead:
            self._lead()
        if not waiter.done.wait(FOLLOWER_WAIT_S_MAX):
            raise TimeoutError(f"ledger batch not written within {FOLLOWER_WAIT_S_MAX} s")
        if waiter.error is not None:
            raise waiter.error
        if waiter.result is None:
            raise RuntimeError("Bug: a ledger waiter was released without a result")
        return waiter.result

    def _lead(self) -> None:
        while True:
            with self._lock:
                batch = self._queue[:BATCH_ENTRIES_MAX]
                del self._queue[:BATCH_ENTRIES_MAX]
                if not batch:
                    self._leading = False
                    return
            self._write(batch)

    def _write(self, batch: list[_Waiter]) -> None:
        try:
            self._settle(batch, append(self._engine, [waiter.entry for waiter in batch]))
        except LedgerError:
            # One refused entry must not fail the others: write each on its own.
            for waiter in batch:
                self._write_alone(waiter)
        except BaseException as error:  # every waiter must hear of it (database down, ...)
            for waiter in batch:
                waiter.error = error
                waiter.done.set()
        finally:
            self.batches += 1

    def _write_alone(self, waiter: _Waiter) -> None:
        try:
            self._settle([waiter], append(self._engine, [waiter.entry]))
        except BaseException as error:
            waiter.error = error
            waiter.done.set()

    @staticmethod
    def _settle(batch: list[_Waiter], recorded: list[Recorded]) -> None:
        if len(recorded) != len(batch):
            raise RuntimeError(f"Bug: {len(batch)} entries appended, {len(recorded)} answers")
        for waiter, result in zip(batch, recorded, strict=True):
            waiter.result = result
            waiter.done.set()
