"""Signed checkpoints: what they prove, and what they refuse."""

import json
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from app.ledger import append, checkpoint
from app.ledger.canonical import GENESIS_HASH
from app.ledger.checkpoint import CheckpointInvalid
from tests.app.ledger.support import captures
from tests.app.ledger.test_verify import forge, stored_hash

Connection = psycopg.Connection[Any]

KEY = b"k" * checkpoint.KEY_BYTES_MIN
LEDGER_TABLES = ["ledger_transactions", "ledger_postings", "ledger_head"]


@pytest.fixture
def signed(engine: Engine) -> str:
    """A checkpoint at seq 3, then three more transactions."""
    append(engine, captures("first", 3))
    text = checkpoint.to_json(checkpoint.create(engine, KEY))
    append(engine, captures("second", 3))
    return text


def tampered(text: str, **changes: Any) -> str:
    return json.dumps(json.loads(text) | changes)


def test_a_checkpoint_names_the_head_and_carries_no_key(engine: Engine, signed: str) -> None:
    value = json.loads(signed)
    assert set(value) == {"v", "seq", "hash", "signed_at", "signature"}
    assert (value["v"], value["seq"]) == (1, 3)
    assert KEY.decode() not in signed


def test_verify_from_a_checkpoint_proves_the_rest(engine: Engine, signed: str) -> None:
    report = checkpoint.verify_from(engine, checkpoint.from_json(signed, KEY))
    assert report.ok and report.entries_checked == 3 and report.head_seq == 6


def test_a_checkpoint_of_the_empty_ledger_proves_everything(engine: Engine) -> None:
    text = checkpoint.to_json(checkpoint.create(engine, KEY))
    append(engine, captures("later", 2))
    parsed = checkpoint.from_json(text, KEY)
    assert (parsed.seq, parsed.hash) == (0, GENESIS_HASH)
    assert checkpoint.verify_from(engine, parsed).entries_checked == 2


def offline_checkpoint() -> str:
    """A checkpoint signed without a database: the signature checks need none."""
    hash_value, signed_at = b"\x07" * 32, "2026-11-23T21:00:00Z"
    signature = checkpoint.sign(KEY, 3, hash_value, signed_at)
    return checkpoint.to_json(checkpoint.Checkpoint(3, hash_value, signed_at, signature))


def test_an_untouched_checkpoint_is_accepted() -> None:
    assert checkpoint.from_json(offline_checkpoint(), KEY).seq == 3


@pytest.mark.parametrize(
    "changes", [{"seq": 2}, {"hash": "00" * 32}, {"signed_at": "2020-01-01T00:00:00Z"}]
)
def test_a_tampered_checkpoint_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(CheckpointInvalid, match="signature"):
        checkpoint.from_json(tampered(offline_checkpoint(), **changes), KEY)


def test_another_key_is_refused() -> None:
    with pytest.raises(CheckpointInvalid, match="signature"):
        checkpoint.from_json(offline_checkpoint(), b"x" * checkpoint.KEY_BYTES_MIN)


@pytest.mark.parametrize("text", ["", "{}", '{"v": 2}', "[1]", '{"v":1,"seq":"a"}'])
def test_a_malformed_checkpoint_is_refused(text: str) -> None:
    with pytest.raises(CheckpointInvalid):
        checkpoint.from_json(text, KEY)


@pytest.mark.parametrize("value", [None, "", "short"])
def test_a_missing_or_short_key_is_refused(value: str | None) -> None:
    with pytest.raises(CheckpointInvalid, match="LEDGER_CHECKPOINT_KEY"):
        checkpoint.signing_key(value)


def test_history_rewritten_before_the_checkpoint_is_caught(
    engine: Engine, signed: str, superuser: Connection
) -> None:
    for table in LEDGER_TABLES:
        superuser.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
    superuser.execute("DELETE FROM ledger_postings WHERE transaction_seq >= 2")
    superuser.execute("DELETE FROM ledger_transactions WHERE seq >= 2")
    digest = stored_hash(superuser, 1)
    for seq in range(2, 7):
        digest = forge(superuser, seq, digest, amount=10_000)
    superuser.execute("UPDATE ledger_head SET hash = %s", (digest,))
    report = checkpoint.verify_from(engine, checkpoint.from_json(signed, KEY))
    assert (report.ok, report.first_bad_seq) == (False, 3)
    assert "signed hash" in (report.reason or "")


def test_a_head_moved_below_the_checkpoint_is_caught(
    engine: Engine, signed: str, superuser: Connection
) -> None:
    superuser.execute("ALTER TABLE ledger_head DISABLE TRIGGER ALL")
    superuser.execute("UPDATE ledger_head SET seq = 2, hash = %s", (stored_hash(superuser, 2),))
    report = checkpoint.verify_from(engine, checkpoint.from_json(signed, KEY))
    assert (report.ok, report.first_bad_seq) == (False, 3)
