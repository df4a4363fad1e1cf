"""Signed checkpoints of the chain head, to keep outside the database.

A checkpoint names a seq and its hash, signed with HMAC-SHA256 under a key the database never
sees. Whoever rewrites the history before that seq (the whole chain and the head included)
cannot produce a matching hash, and cannot re-sign without the key.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Engine

from app.db import psycopg_connection
from app.ledger.errors import LedgerError
from app.ledger.store import Head, read_head
from app.ledger.verify import VerifyReport, verify

CHECKPOINT_VERSION: Final = 1
#: Shorter keys are guessable; 32 bytes match the HMAC-SHA256 block strength.
KEY_BYTES_MIN = 32
KEY_ENVIRONMENT_VARIABLE: Final = "LEDGER_CHECKPOINT_KEY"


class CheckpointInvalid(LedgerError):
    """A checkpoint is malformed or its signature does not match: it proves nothing."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: bytes
    signed_at: str
    signature: str


def signing_key(value: str | None) -> bytes:
    if value is None or len(value.encode()) < KEY_BYTES_MIN:
        raise CheckpointInvalid(
            f"{KEY_ENVIRONMENT_VARIABLE} must be set to at least {KEY_BYTES_MIN} bytes"
        )
    return value.encode()


def _message(seq: int, hash_value: bytes, signed_at: str) -> bytes:
    # Fixed field order and separators: the signed bytes never depend on JSON formatting.
    fields = (f"v{CHECKPOINT_VERSION}", str(seq), hash_value.hex(), signed_at)
    return ":".join(("paystream-ledger-checkpoint", *fields)).encode()


def sign(key: bytes, seq: int, hash_value: bytes, signed_at: str) -> str:
    return hmac.new(key, _message(seq, hash_value, signed_at), hashlib.sha256).hexdigest()


def create(engine: Engine, key: bytes) -> Checkpoint:
    """Signs the current head."""
    with engine.connect() as connection, connection.begin():
        head = read_head(psycopg_connection(connection), for_update=False)
    signed_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Checkpoint(head.seq, head.hash, signed_at, sign(key, head.seq, head.hash, signed_at))


def to_json(checkpoint: Checkpoint) -> str:
    return json.dumps(
        {
            "v": CHECKPOINT_VERSION,
            "seq": checkpoint.seq,
            "hash": checkpoint.hash.hex(),
            "signed_at": checkpoint.signed_at,
            "signature": checkpoint.signature,
        },
        sort_keys=True,
    )


def from_json(text: str, key: bytes) -> Checkpoint:
    """Parses a checkpoint and checks its signature; raises CheckpointInvalid otherwise."""
    try:
        value: dict[str, Any] = json.loads(text)
        checkpoint = Checkpoint(
            int(value["seq"]),
            bytes.fromhex(value["hash"]),
            str(value["signed_at"]),
            str(value["signature"]),
        )
        version = value["v"]
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointInvalid(f"malformed checkpoint: {error}") from error
    if version != CHECKPOINT_VERSION:
        raise CheckpointInvalid(f"unknown checkpoint version {version!r}")
    expected = sign(key, checkpoint.seq, checkpoint.hash, checkpoint.signed_at)
    if not hmac.compare_digest(expected, checkpoint.signature):
        raise CheckpointInvalid("the signature does not match: wrong key or altered checkpoint")
    return checkpoint


def verify_from(engine: Engine, checkpoint: Checkpoint) -> VerifyReport:
    """Proves the chain from the checkpoint on: the stored hash at its seq must be the signed
    one, and everything after must chain from it."""
    stored, head = _stored_hash_and_head(engine, checkpoint.seq)
    if checkpoint.seq > head.seq or (checkpoint.seq > 0 and stored != checkpoint.hash):
        return VerifyReport(
            ok=False,
            entries_checked=0,
            first_bad_seq=checkpoint.seq,
            reason="the ledger no longer holds the checkpoint's seq with the signed hash",
            head_seq=head.seq,
            head_hash_hex=head.hash.hex(),
        )
    return verify(engine, from_seq=checkpoint.seq + 1, from_hash=checkpoint.hash)


def _stored_hash_and_head(engine: Engine, seq: int) -> tuple[bytes | None, Head]:
    with engine.connect() as connection, connection.begin():
        driver = psycopg_connection(connection)
        row = driver.execute(
            "SELECT hash FROM ledger_transactions WHERE seq = %s", (seq,)
        ).fetchone()
        head = read_head(driver, for_update=False)
    return None if row is None else bytes(row[0]), head
