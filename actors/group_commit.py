"""Group commit: what a worker's messages in flight write to PostgreSQL at the same moment goes
in as one batch and one transaction (ledger entries: one head lock for the batch; relayed
events: one insert per table).

Each caller still waits for, and gets, its own answer (or its own error), so a state machine
moves its recovery point only after its outcome is durably written. The first
caller to find no batch being written starts a writer, which appends everything queued, then
anything queued meanwhile, and stops once the queue is empty. Under load batches grow by
themselves; alone, an entry is appended at once. Nothing ever waits for a batch to fill.

The write itself is synchronous (psycopg) and runs on a thread, so the event loop keeps
serving the other messages while PostgreSQL works.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from actors.middleware.retries import Defer
from app.events.relay import Relayed
from app.events.relay import write as write_relayed
from app.ledger import Entry, LedgerError, Recorded, append

#: Entries per write call, within the ledger writer's own batch bound.
BATCH_ENTRIES_MAX = 1000
#: How long to wait for PostgreSQL before writing again; doubling up to the maximum so a long
#: outage costs few attempts, while a short one is caught up quickly.
RETRY_DELAY_MS = 1_000
RETRY_DELAY_MS_MAX = 15_000
logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Answer = TypeVar("Answer")
#: Writes a batch in one transaction, answering each item in order; raises ``refused`` when
#: one item is refused, so the others can be written on their own.
Write = Callable[[Engine, list[Item]], list[Answer]]


@dataclass(frozen=True)
class _Waiter(Generic[Item, Answer]):
    entry: Item
    future: "asyncio.Future[Answer]"


class GroupCommit(Generic[Item, Answer]):
    def __init__(
        self, engine: Engine, write: Write[Item, Answer], refused: type[Exception]
    ) -> None:
        self._engine = engine
        self._write_batch = write
        self._refused = refused
        self._queue: list[_Waiter[Item, Answer]] = []
        self._writer: asyncio.Task[None] | None = None
        #: Write calls made, for observing how much batching the load produced.
        self.batches = 0

    @property
    def queued(self) -> int:
        """Entries waiting for the next batch."""
        return len(self._queue)

    async def record(self, entry: Item) -> Answer:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiter(entry, future))
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_all())
        return await future

    async def durably(self, entry: Item, object_id: str) -> Answer:
        """``entry`` written, or ``Defer`` while PostgreSQL cannot take it: whatever waits on
        it waits durably in Redis meanwhile, so however long the outage, nothing fails."""
        try:
            return await self.record(entry)
        except (SQLAlchemyError, psycopg.Error) as error:
            logger.warning("PostgreSQL unavailable for %s: %s", object_id, type(error).__name__)
            raise Defer(
                "PostgreSQL unavailable", delay=RETRY_DELAY_MS, delay_max=RETRY_DELAY_MS_MAX
            ) from None

    async def _write_all(self) -> None:
        try:
            while self._queue:
                batch = self._queue[:BATCH_ENTRIES_MAX]
                del self._queue[:BATCH_ENTRIES_MAX]
                await self._write(batch)
        finally:
            self._writer = None

    async def _write(self, batch: list[_Waiter[Item, Answer]]) -> None:
        try:
            answers = await asyncio.to_thread(
                self._write_batch, self._engine, [w.entry for w in batch]
            )
            _settle(batch, answers)
        except self._refused:
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

    async def _write_alone(self, waiter: _Waiter[Item, Answer]) -> None:
        try:
            answers = await asyncio.to_thread(self._write_batch, self._engine, [waiter.entry])
            _settle([waiter], answers)
        except Exception as error:
            _fail(waiter, error)


def _settle(batch: list[_Waiter[Item, Answer]], answers: list[Answer]) -> None:
    if len(answers) != len(batch):
        raise RuntimeError(f"Bug: {len(batch)} entries written, {len(answers)} answers")
    for waiter, result in zip(batch, answers, strict=True):
        if not waiter.future.done():
            waiter.future.set_result(result)


def _fail(waiter: "_Waiter[Item, Answer]", error: Exception) -> None:
    if not waiter.future.done():
        waiter.future.set_exception(error)


def ledger_writer(engine: Engine) -> GroupCommit[Entry, Recorded]:
    """Ledger entries, chained a batch at a time."""
    return GroupCommit(engine, append, LedgerError)


def relay_writer(engine: Engine) -> GroupCommit[Relayed, list[str]]:
    """Relayed events, with their history and deliveries, a batch per transaction."""
    return GroupCommit(engine, write_relayed, IntegrityError)
