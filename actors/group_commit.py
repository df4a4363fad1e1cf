"""Group commit for the ledger: outcomes recorded at the same moment by a worker's messages in
flight go into the chain as one batch, one head lock and one transaction.

Each caller still waits for, and gets, its own ``Recorded`` (or its own error), so a state
machine moves its recovery point only after its outcome is durably in the ledger. The first
caller to find no batch being written starts a writer, which appends everything queued, then
anything queued meanwhile, and stops once the queue is empty. Under load batches grow by
themselves; alone, an entry is appended at once. Nothing ever waits for a batch to fill.

The append itself is synchronous (psycopg COPY) and runs on a thread, so the event loop keeps
serving the other messages while PostgreSQL works.
"""

import asyncio
from dataclasses import dataclass

from sqlalchemy import Engine

from app.ledger import Entry, LedgerError, Recorded, append

#: Entries per append call, within the ledger writer's own batch bound.
BATCH_ENTRIES_MAX = 1000


@dataclass(frozen=True)
class _Waiter:
    entry: Entry
    future: "asyncio.Future[Recorded]"


class GroupCommit:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: list[_Waiter] = []
        self._writer: asyncio.Task[None] | None = None
        #: Append calls made, for observing how much batching the load produced.
        self.batches = 0

    @property
    def queued(self) -> int:
        """Entries waiting for the next batch."""
        return len(self._queue)

    async def record(self, entry: Entry) -> Recorded:
        future: asyncio.Future[Recorded] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiter(entry, future))
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_all())
        return await future

    async def _write_all(self) -> None:
        try:
            while self._queue:
                batch = self._queue[:BATCH_ENTRIES_MAX]
                del self._queue[:BATCH_ENTRIES_MAX]
                await self._write(batch)
        finally:
            self._writer = None

    async def _write(self, batch: list[_Waiter]) -> None:
        try:
            recorded = await asyncio.to_thread(append, self._engine, [w.entry for w in batch])
            _settle(batch, recorded)
        except LedgerError:
            # One refused entry must not fail the others: write each on its own.
            for waiter in batch:
                await self._write_alone(waiter)
        except asyncio.CancelledError:
            # Shutdown: the append may still commit on its thread; a rerun finds it recorded.
            for waiter in batch:
                waiter.future.cancel()
            raise
        except Exception as error:  # every waiter must hear of it (database down, ...)
            for waiter in batch:
                _fail(waiter, error)
        finally:
            self.batches += 1

    async def _write_alone(self, waiter: _Waiter) -> None:
        try:
            _settle([waiter], await asyncio.to_thread(append, self._engine, [waiter.entry]))
        except Exception as error:
            _fail(waiter, error)


def _settle(batch: list[_Waiter], recorded: list[Recorded]) -> None:
    if len(recorded) != len(batch):
        raise RuntimeError(f"Bug: {len(batch)} entries appended, {len(recorded)} answers")
    for waiter, result in zip(batch, recorded, strict=True):
        if not waiter.future.done():
            waiter.future.set_result(result)


def _fail(waiter: _Waiter, error: Exception) -> None:
    if not waiter.future.done():
        waiter.future.set_exception(error)
