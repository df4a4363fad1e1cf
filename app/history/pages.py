"""Cursor pagination, newest first, Stripe's way: a page starts after (or ends before) an
object named by its id. Ids carry the millisecond they were made, so ``(created_ms, id)``
orders objects totally and a cursor needs no lookup; a page is stable under concurrent inserts
(new objects sort before every cursor already handed out)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from app.queue import keys

Query = TypeVar("Query", bound=Select[*tuple[Any, ...]])

LIMIT_DEFAULT = 10
LIMIT_MAX = 100


@dataclass(frozen=True)
class Cursor:
    created_ms: int
    id: str

    @classmethod
    def of(cls, object_id: str, prefix: str) -> "Cursor":
        return cls(keys.created_ms_of(object_id, prefix), object_id)

    def key(self) -> tuple[int, str]:
        return (self.created_ms, self.id)


@dataclass(frozen=True)
class PageRequest:
    limit: int = LIMIT_DEFAULT
    #: Objects older than this one (the next page), or newer than ``ending_before`` (the
    #: previous); at most one of the two.
    starting_after: Cursor | None = None
    ending_before: Cursor | None = None


@dataclass(frozen=True)
class Page:
    #: The objects' JSON, newest first.
    bodies: list[str]
    has_more: bool


def keyset(
    query: Query,
    created_ms: InstrumentedAttribute[int],
    object_id: InstrumentedAttribute[str],
    page: PageRequest,
) -> Query:
    """``query`` limited to the page's side of its cursor, in the order to read it in (oldest
    first when paging backwards), one row more than the page so ``has_more`` is known."""
    position = tuple_(created_ms, object_id)
    if page.ending_before is not None:
        before = page.ending_before
        query = query.where(position > tuple_(before.created_ms, before.id))
        return query.order_by(created_ms.asc(), object_id.asc()).limit(page.limit + 1)
    if page.starting_after is not None:
        after = page.starting_after
        query = query.where(position < tuple_(after.created_ms, after.id))
    return query.order_by(created_ms.desc(), object_id.desc()).limit(page.limit + 1)


def page_of(rows: Sequence[str], page: PageRequest) -> Page:
    """The page from ``keyset``'s rows: newest first, ``has_more`` when a row was left over."""
    bodies = list(rows[: page.limit])
    if page.ending_before is not None:
        bodies.reverse()
    return Page(bodies, len(rows) > page.limit)
