"""Canonical encoding v1 of a ledger transaction, and the chain hash (see docs/ledger.md).

The one implementation, shared by the writer and the verifier. v1 is compact JSON with sorted
keys. Every string is "plain": printable ASCII without ``"`` or ``\\``, so strings need no
escaping at all and the bytes are the same in any language. The tests check the result against
``json.dumps(..., sort_keys=True, separators=(",", ":"))``.
"""

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final, TypedDict, Unpack

from app.ledger.errors import CanonicalEncodingError

ENCODING_VERSION: Final = 1
HASH_BYTES = 32
#: The prev_hash of seq 1.
GENESIS_HASH = bytes(HASH_BYTES)

#: (account, direction, amount, currency), in posting index order.
PostingFields = tuple[str, str, int, str]

#: Keys in sorted order; each ``%s`` is a plain string, each ``%d`` an integer.
_TRANSACTION_V1 = (
    '{"business_key":"%s","created_at":"%s","id":"%s","kind":"%s","merchant_id":"%s",'
    '"postings":[%s],"reference":"%s","seq":%d,"v":1}'
)
_POSTING_V1 = '["%s","%s",%d,"%s"]'
# Quotes in an encoding whose strings hold none; any extra one came from a string value.
_TRANSACTION_QUOTES = (_TRANSACTION_V1 % ("", "", "", "", "", "", "", 0)).count('"')
_POSTING_QUOTES = (_POSTING_V1 % ("", "", 0, "")).count('"')
#: A batch shares one timestamp, so a small cache turns formatting into a lookup.
_TIMESTAMPS_CACHED_MAX = 1024


def chain_hash(prev_hash: bytes, canonical: bytes) -> bytes:
    """SHA-256(prev_hash ‖ canonical bytes)."""
    return hashlib.sha256(prev_hash + canonical).digest()


def is_plain(value: str) -> bool:
    """Printable ASCII (0x20..0x7e) without ``"`` or ``\\``: encodable with no escaping."""
    return value.isascii() and value.isprintable() and '"' not in value and "\\" not in value


class TransactionFields(TypedDict):
    """What v1 encodes of a transaction besides its timestamp and postings."""

    seq: int
    transaction_id: str
    kind: str
    business_key: str
    reference: str
    merchant_id: str


def encode_v1(
    *, created_at: datetime, postings: Sequence[PostingFields], **fields: Unpack[TransactionFields]
) -> bytes:
    strings = (
        fields["transaction_id"],
        fields["kind"],
        fields["business_key"],
        fields["reference"],
        fields["merchant_id"],
    )
    _require_types(fields["seq"], strings, postings)
    text = encode_v1_text(timestamp=format_timestamp(created_at), postings=postings, **fields)
    # One scan of the whole text instead of one per string: every character outside the
    # string values is plain, so the text is plain exactly when all the strings are.
    quotes_expected = _TRANSACTION_QUOTES + _POSTING_QUOTES * len(postings)
    plain = text.isascii() and text.isprintable() and "\\" not in text
    if not plain or text.count('"') != quotes_expected:
        raise CanonicalEncodingError(_unplain_message(strings, postings))
    return text.encode("ascii")


def encode_v1_text(
    *, timestamp: str, postings: Sequence[PostingFields], **fields: Unpack[TransactionFields]
) -> str:
    """The v1 text without encode_v1's checks, for values already checked: the writer's, which
    validation has passed (types, plain strings), with ``timestamp`` from format_timestamp. The
    one template, so both produce the same bytes."""
    return _TRANSACTION_V1 % (
        fields["business_key"],
        timestamp,
        fields["transaction_id"],
        fields["kind"],
        fields["merchant_id"],
        ",".join([_POSTING_V1 % posting for posting in postings]),
        fields["reference"],
        fields["seq"],
    )


@lru_cache(maxsize=_TIMESTAMPS_CACHED_MAX)
def format_timestamp(moment: datetime) -> str:
    """UTC with exactly six fractional digits, e.g. ``2026-11-23T20:12:00.123456Z``."""
    if moment.utcoffset() is None:
        raise CanonicalEncodingError(f"timestamp without a time zone: {moment.isoformat()}")
    utc = moment.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}Z"
    )


def _require_types(seq: int, strings: tuple[str, ...], postings: Sequence[PostingFields]) -> None:
    # "%d" would print True as 1 and truncate 1.5; "%s" would print anything at all.
    if type(seq) is not int or not all([type(value) is str for value in strings]):
        raise CanonicalEncodingError("seq must be an int and every identifier a str")
    for account, direction, amount, currency in postings:
        if type(amount) is not int or not (
            type(account) is str and type(direction) is str and type(currency) is str
        ):
            raise CanonicalEncodingError("a posting must be (str, str, int, str)")


def _unplain_message(strings: tuple[str, ...], postings: Sequence[PostingFields]) -> str:
    posting_strings = (value for posting in postings for value in posting if type(value) is str)
    unplain = next(value for value in (*strings, *posting_strings) if not is_plain(value))
    return f"not a plain string (printable ASCII without '\"' or '\\'): {unplain!r}"
