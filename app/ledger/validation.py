"""The writer's gate: every entry is checked before anything is written."""

from collections.abc import Sequence

from app.ledger.entry import KINDS, Entry, Posting, posting_fields
from app.ledger.errors import BatchTooLarge, InvalidEntry, UnbalancedEntry
from app.ledger.limits import (
    ENTRIES_PER_BATCH_MAX,
    IDENTIFIER_LENGTH_MAX,
    POSTINGS_PER_ENTRY_MAX,
    POSTINGS_PER_ENTRY_MIN,
)
from app.ledger.rules import identifier_problem, posting_problem, unbalanced_currency


def validate_batch(entries: Sequence[Entry]) -> None:
    if len(entries) > ENTRIES_PER_BATCH_MAX:
        raise BatchTooLarge(len(entries), ENTRIES_PER_BATCH_MAX)
    for entry in entries:
        validate_entry(entry)


def validate_entry(entry: Entry) -> None:
    _check_identifiers(entry)
    if entry.kind not in KINDS:
        raise InvalidEntry(entry.business_key, f"kind {entry.kind!r} is not one of {sorted(KINDS)}")
    _check_postings(entry)
    unbalanced = unbalanced_currency(posting_fields(posting) for posting in entry.postings)
    if unbalanced is not None:
        raise UnbalancedEntry(entry.business_key, *unbalanced)


def _check_identifiers(entry: Entry) -> None:
    for name, value in (
        ("business_key", entry.business_key),
        ("reference", entry.reference),
        ("merchant_id", entry.merchant_id),
    ):
        problem = identifier_problem(name, value, IDENTIFIER_LENGTH_MAX)
        if problem is not None:
            raise InvalidEntry(entry.business_key, problem)


def _check_postings(entry: Entry) -> None:
    postings = entry.postings
    # A tuple keeps the frozen Entry comparable, which duplicate detection relies on.
    if type(postings) is not tuple:
        raise InvalidEntry(entry.business_key, "postings must be a tuple of Posting")
    if not POSTINGS_PER_ENTRY_MIN <= len(postings) <= POSTINGS_PER_ENTRY_MAX:
        raise InvalidEntry(
            entry.business_key,
            f"{len(postings)} postings; an entry has "
            f"{POSTINGS_PER_ENTRY_MIN}..{POSTINGS_PER_ENTRY_MAX}",
        )
    for posting in postings:
        if type(posting) is not Posting:
            raise InvalidEntry(entry.business_key, f"not a Posting: {posting!r}")
        problem = posting_problem(posting_fields(posting))
        if problem is not None:
            raise InvalidEntry(entry.business_key, problem)
