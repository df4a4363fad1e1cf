"""Canonical encoding v1: the documented vectors, a JSON oracle, and what it refuses."""

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.ledger.canonical import (
    ENCODING_VERSION,
    GENESIS_HASH,
    PostingFields,
    chain_hash,
    encode_v1,
    format_timestamp,
)
from app.ledger.errors import CanonicalEncodingError
from tests.support.processes import ROOT

LEDGER_DOC = ROOT / "docs" / "ledger.md"
CREATED_AT = datetime(2026, 11, 23, 20, 12, 0, 123456, tzinfo=UTC)
FENCED_BLOCK = re.compile(r"```(?:json|text)\n(.*?)\n```", re.DOTALL)


def documented_vectors(path: Path) -> list[tuple[dict[str, Any], str, str]]:
    """(input, canonical text, hash hex) per "#### Vector" section of the doc."""
    section = path.read_text().split("### Test vectors", 1)[1].split("\n## ", 1)[0]
    vectors = []
    for part in section.split("#### Vector")[1:]:
        given_input, canonical, hash_hex = FENCED_BLOCK.findall(part)
        vectors.append((json.loads(given_input), canonical, hash_hex))
    return vectors


def encode(vector: dict[str, Any]) -> bytes:
    return encode_v1(
        seq=vector["seq"],
        transaction_id=vector["id"],
        kind=vector["kind"],
        business_key=vector["business_key"],
        reference=vector["reference"],
        merchant_id=vector["merchant_id"],
        created_at=datetime.fromisoformat(vector["created_at"]),
        postings=[tuple(posting) for posting in vector["postings"]],
    )


def oracle(vector: dict[str, Any]) -> bytes:
    """The encoding as its definition states it: sorted, compact, ASCII JSON."""
    value = {key: vector[key] for key in vector if key != "prev_hash"}
    value["v"] = ENCODING_VERSION
    utc = datetime.fromisoformat(vector["created_at"]).astimezone(UTC)
    value["created_at"] = utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return text.encode("ascii")


VECTORS = documented_vectors(LEDGER_DOC)


def test_the_doc_holds_three_chained_vectors() -> None:
    assert len(VECTORS) == 3
    assert VECTORS[0][0]["prev_hash"] == GENESIS_HASH.hex()
    for (_, _, previous_hash), (following, _, _) in zip(VECTORS, VECTORS[1:], strict=False):
        assert following["prev_hash"] == previous_hash


@pytest.mark.parametrize(("vector", "canonical", "hash_hex"), VECTORS)
def test_documented_vectors_are_reproduced_exactly(
    vector: dict[str, Any], canonical: str, hash_hex: str
) -> None:
    encoded = encode(vector)
    assert encoded == canonical.encode("ascii")
    assert encoded == oracle(vector)
    prev_hash = bytes.fromhex(vector["prev_hash"])
    assert chain_hash(prev_hash, encoded).hex() == hash_hex
    assert hashlib.sha256(prev_hash + canonical.encode("ascii")).hexdigest() == hash_hex


PLAIN_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\'),
    max_size=40,
)
POSTING = st.tuples(PLAIN_TEXT, PLAIN_TEXT, st.integers(min_value=0, max_value=10**15), PLAIN_TEXT)


@given(
    seq=st.integers(min_value=1, max_value=2**63 - 1),
    strings=st.lists(PLAIN_TEXT, min_size=5, max_size=5),
    moment=st.datetimes(timezones=st.just(UTC)),
    postings=st.lists(POSTING, max_size=6),
)
def test_encoding_equals_sorted_compact_json(
    seq: int, strings: list[str], moment: datetime, postings: list[PostingFields]
) -> None:
    transaction_id, kind, business_key, reference, merchant_id = strings
    vector = {
        "seq": seq,
        "id": transaction_id,
        "kind": kind,
        "business_key": business_key,
        "reference": reference,
        "merchant_id": merchant_id,
        "created_at": moment.isoformat(),
        "postings": [list(posting) for posting in postings],
    }
    assert encode(vector) == oracle(vector)


def test_timestamps_are_utc_with_six_fractional_digits() -> None:
    plus_one = timezone(timedelta(hours=1))
    assert format_timestamp(datetime(2026, 1, 2, 4, 5, 6, tzinfo=plus_one)) == (
        "2026-01-02T03:05:06.000000Z"
    )
    assert format_timestamp(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00.000000Z"


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(CanonicalEncodingError):
        format_timestamp(datetime(2026, 1, 1))


def valid_fields() -> dict[str, Any]:
    return {
        "seq": 1,
        "transaction_id": "ltx_1",
        "kind": "payment_captured",
        "business_key": "pay_1:payment_captured",
        "reference": "pay_1",
        "merchant_id": "mer_1",
        "created_at": CREATED_AT,
        "postings": [("a", "debit", 1, "usd"), ("b", "credit", 1, "usd")],
    }


def test_valid_fields_encode() -> None:
    assert encode_v1(**valid_fields()).startswith(b'{"business_key":"pay_1:payment_captured"')


@pytest.mark.parametrize(
    "unplain", ['has"quote', "back\\slash", "caf\u00e9", "tab\there", "new\nline", "del\x7f"]
)
@pytest.mark.parametrize("field", ["transaction_id", "business_key", "reference", "merchant_id"])
def test_strings_outside_plain_ascii_are_refused(field: str, unplain: str) -> None:
    fields = valid_fields() | {field: unplain}
    with pytest.raises(CanonicalEncodingError, match="plain"):
        encode_v1(**fields)


@pytest.mark.parametrize("unplain", ['a"b', "a\\b", "\u00e9"])
def test_posting_strings_outside_plain_ascii_are_refused(unplain: str) -> None:
    fields = valid_fields() | {
        "postings": [(unplain, "debit", 1, "usd"), ("b", "credit", 1, "usd")]
    }
    with pytest.raises(CanonicalEncodingError, match="plain"):
        encode_v1(**fields)


@pytest.mark.parametrize(
    "change",
    [
        {"seq": True},
        {"seq": 1.0},
        {"reference": 5},
        {"postings": [("a", "debit", True, "usd"), ("b", "credit", 1, "usd")]},
        {"postings": [("a", "debit", 1.5, "usd"), ("b", "credit", 1, "usd")]},
    ],
)
def test_wrong_types_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(CanonicalEncodingError):
        encode_v1(**(valid_fields() | change))


def test_the_hash_depends_on_the_previous_hash() -> None:
    canonical = encode_v1(**valid_fields())
    assert chain_hash(GENESIS_HASH, canonical) != chain_hash(b"\x01" * 32, canonical)
