"""A merchant's payments, newest first, from both stores.

Redis lists a payment from its 202 on (the accept adds it to the merchant's index on its
partition, ``keys.list_key``) and holds the live record; PostgreSQL holds the history, every
payment that ever published an event, long after Redis let the record go. A page merges the
partitions' indexes with the history in list order, and shows each payment as Redis has it when
Redis still does (the history may lag a relay behind), else as the history does.

When PostgreSQL is down a page is answered from Redis alone as far as Redis is known to hold
everything: each index's ``LIST_SINCE_MEMBER`` says from when on it holds every payment of its
partition (a missing index: the merchant never had a payment there). A page that would reach
past that answers 503 instead of leaving payments out. When Redis is down, lists answer 503: the
newest payments are only there.
"""

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.errors import Unavailable
from app.history.pages import Cursor, Page, PageRequest
from app.history.read import HistoryRow, payments_by_id, payments_page
from app.payments.record import PAYMENTS, view
from app.queue import keys
from app.queue.batch import Batcher
from app.queue.connection import unavailable_as_503

#: Index entries read per partition per round.
INDEX_CHUNK_ENTRIES = 100
#: Index entries one page may read before it stops looking in Redis for more (a status filter
#: can skip many): past that, matching payments come from the history.
INDEX_SCAN_ENTRIES_MAX = 5_000
DATABASE_ERRORS = (SQLAlchemyError, psycopg.Error)

Position = tuple[int, str]


@dataclass
class _Source:
    """One sorted run of candidates: a partition's index, or the history."""

    buffer: deque[Position] = field(default_factory=deque)
    exhausted: bool = False


@dataclass
class _Index(_Source):
    key: str = ""
    offset: int = 0
    #: Created ms from which on it holds every payment of its partition.
    since_ms: int = 0


@dataclass
class _History(_Source):
    rows: dict[str, HistoryRow] = field(default_factory=dict)
    cursor: Cursor | None = None


class PaymentLister:
    def __init__(self, batcher: Batcher, engine: Engine, partitions: int) -> None:
        self._batcher = batcher
        self._engine = engine
        self._partitions = partitions

    async def page(self, merchant_id: str, request: PageRequest, status: str | None) -> Page:
        with unavailable_as_503():
            return await _Listing(self, merchant_id, request, status).run()


class _Listing:
    """One page being read."""

    def __init__(
        self, lister: PaymentLister, merchant_id: str, request: PageRequest, status: str | None
    ) -> None:
        self._batcher = lister._batcher
        self._engine = lister._engine
        self._merchant_id = merchant_id
        self._request = request
        self._status = status
        self._backwards = request.ending_before is not None
        self._cursor = request.ending_before or request.starting_after
        self._indexes = [
            _Index(key=keys.list_key(partition, merchant_id))
            for partition in range(lister._partitions)
        ]
        self._history = _History(cursor=self._cursor)
        self._database_down = False
        self._scanned = 0

    async def run(self) -> Page:
        want = self._request.limit + 1
        await self._survey()
        bodies: list[str] = []
        seen: set[str] = set()
        while len(bodies) < want:
            await self._refill()
            batch = self._next_batch(want, seen)
            if not batch:
                break
            for position, body in await self._resolve(batch):
                self._check_known(position)
                bodies.append(body)
                if len(bodies) == want:
                    break
        if len(bodies) < want:
            self._check_known(None)
        page = bodies[: self._request.limit]
        if self._backwards:
            page.reverse()
        return Page(page, len(bodies) > self._request.limit)

    def _before(self, a: Position, b: Position) -> bool:
        """Whether ``a`` is read before ``b``."""
        return a < b if self._backwards else a > b

    def _past_cursor(self, position: Position) -> bool:
        return self._cursor is None or self._before(self._cursor.key(), position)

    async def _survey(self) -> None:
        """How far back each index holds every payment of its partition."""
        scores = await asyncio.gather(
            *(
                self._batcher.command("ZSCORE", index.key, keys.LIST_SINCE_MEMBER)
                for index in self._indexes
            )
        )
        for index, score in zip(self._indexes, scores, strict=True):
            # No index: the merchant never had a payment on the partition.
            index.since_ms = 0 if score is None else int(score)
            index.exhausted = score is None

    def _check_known(self, position: Position | None) -> None:
        """With PostgreSQL down, refuse to answer for what only it could know: a payment read
        after ``position`` (or after everything Redis had, at None) may be missing."""
        if not self._database_down:
            return
        reach = max(index.since_ms for index in self._indexes)
        if reach == 0:
            return  # Redis holds every payment the merchant ever had
        if position is None or self._backwards or position[0] < reach:
            raise Unavailable(
                "PostgreSQL is unavailable and this page reaches past what Redis holds; "
                "retry shortly."
            )

    async def _refill(self) -> None:
        empty = [s for s in (*self._indexes, self._history) if not s.buffer and not s.exhausted]
        await asyncio.gather(*(self._refill_one(source) for source in empty))

    async def _refill_one(self, source: _Source) -> None:
        if isinstance(source, _Index):
            await self._read_index(source)
        elif isinstance(source, _History):
            await self._read_history(source)

    async def _read_index(self, index: _Index) -> None:
        if self._status is not None and self._scanned >= INDEX_SCAN_ENTRIES_MAX:
            index.exhausted = True
            return
        if self._backwards:
            low = self._cursor.created_ms if self._cursor is not None else "-inf"
            bounds: tuple[object, ...] = (low, "+inf", "BYSCORE")
        else:
            high = self._cursor.created_ms if self._cursor is not None else "+inf"
            bounds = (high, "-inf", "BYSCORE", "REV")
        entries = await self._batcher.command(
            "ZRANGE", index.key, *bounds, "LIMIT", index.offset, INDEX_CHUNK_ENTRIES, "WITHSCORES"
        )
        index.offset += len(entries)
        self._scanned += len(entries)
        index.exhausted = len(entries) < INDEX_CHUNK_ENTRIES
        for member, score in entries:
            position = (int(score), member.decode())
            if position[1] != keys.LIST_SINCE_MEMBER and self._past_cursor(position):
                index.buffer.append(position)

    async def _read_history(self, history: _History) -> None:
        request = PageRequest(
            limit=self._request.limit + 1,
            starting_after=None if self._backwards else history.cursor,
            ending_before=history.cursor if self._backwards else None,
        )
        try:
            rows = await asyncio.to_thread(
                payments_page, self._engine, self._merchant_id, request, self._status
            )
        except DATABASE_ERRORS:
            self._database_down = True
            history.exhausted = True
            return
        history.exhausted = len(rows) <= request.limit
        for row in rows:
            history.rows[row.id] = row
            history.buffer.append((row.created_ms, row.id))
        if rows:
            history.cursor = Cursor(rows[-1].created_ms, rows[-1].id)

    def _next_batch(self, want: int, seen: set[str]) -> list[Position]:
        """Up to ``want`` unseen candidates in reading order, as far as every source that may
        still hold an earlier one has been read."""
        sources = [*self._indexes, self._history]
        batch: list[Position] = []
        while len(batch) < want:
            if any(not s.buffer and not s.exhausted for s in sources):
                break
            filled = [s for s in sources if s.buffer]
            if not filled:
                break
            best = filled[0]
            for source in filled[1:]:
                if self._before(source.buffer[0], best.buffer[0]):
                    best = source
            position = best.buffer.popleft()
            if position[1] not in seen:
                seen.add(position[1])
                batch.append(position)
        return batch

    async def _resolve(self, batch: list[Position]) -> list[tuple[Position, str]]:
        """The batch's payments that exist and match, as Redis shows them, else as the history
        does; in reading order."""
        raws = await asyncio.gather(
            *(self._batcher.command("HGETALL", self._record_key(pid)) for _, pid in batch)
        )
        missing = [
            pid
            for (_, pid), raw in zip(batch, raws, strict=True)
            if not raw and pid not in self._history.rows
        ]
        if missing and not self._database_down:
            try:
                found = await asyncio.to_thread(
                    payments_by_id, self._engine, self._merchant_id, missing
                )
                self._history.rows.update(found)
            except DATABASE_ERRORS:
                self._database_down = True
        resolved: list[tuple[Position, str]] = []
        for position, raw in zip(batch, raws, strict=True):
            if raw:
                record = PAYMENTS.decode(raw)
                status, body = record.status, json.dumps(view(record), separators=(",", ":"))
            elif position[1] in self._history.rows:
                row = self._history.rows[position[1]]
                status, body = row.status, row.body
            elif self._database_down:
                raise Unavailable(
                    "PostgreSQL is unavailable and holds part of this page; retry shortly."
                )
            else:
                continue  # its record expired before it published anything
            if self._status is None or status == self._status:
                resolved.append((position, body))
        return resolved

    def _record_key(self, payment_id: str) -> str:
        key = PAYMENTS.key_of(payment_id, len(self._indexes))
        if key is None:
            raise RuntimeError(f"Bug: {payment_id!r} in a list index is not a payment id")
        return key
