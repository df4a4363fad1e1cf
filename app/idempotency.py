"""Idempotent accepts: the payload fingerprint a key is bound to, and the stored answer a
repeated key gets back, byte for byte."""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.errors import IdempotencyKeyReused

FINGERPRINT_VERSION = "v1"
#: The status of every accept's first answer: taken, to be settled by a worker.
ACCEPTED_STATUS = 202


@dataclass(frozen=True)
class Answer:
    """What an accept answered (or first answered, when ``replayed``)."""

    status: int
    body: bytes
    location: str
    replayed: bool


def canonical_json(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def fingerprint(canonical_request: Mapping[str, Any], operation: str) -> str:
    """SHA-256 of the canonical validated body, bound to the operation it was sent to."""
    material = canonical_json(
        {"v": FINGERPRINT_VERSION, "op": operation, "body": canonical_request}
    )
    return hashlib.sha256(material).hexdigest()


def replayed(stored: Sequence[bytes], expected: str, client_key: str) -> Answer:
    """The stored first answer, from an accept script's ``{"replay", fingerprint, status, body,
    location}``; 422 when the key was first used with another payload."""
    _, stored_fingerprint, status, body, location = stored
    if stored_fingerprint.decode() != expected:
        raise IdempotencyKeyReused(
            f"Idempotency-Key '{client_key}' was already used with a different payload."
        )
    return Answer(int(status), body, location.decode(), replayed=True)
