"""Stripe's idempotency layer: the first answer to a key is stored and replayed, byte for byte.

A key is claimed (in flight) when execution begins and completed with the answer, or released
when the request is rejected before execution (bad parameters, an injected 500-before), so the
client may retry it. Keys are scoped per API key.
"""

import enum
import threading
import time
from dataclasses import dataclass

#: Stripe may prune a key once it is 24 h old; a reuse after that starts a new request.
KEY_TTL_S = 24 * 3600
KEY_LENGTH_MAX = 255
#: Expired records pruned per claim: bounded work per request, still faster than keys arrive.
PRUNE_BATCH_MAX = 8

Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status_code: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    request_id: str


@dataclass(slots=True)
class _Record:
    endpoint: str
    params: Params
    claimed_s: float
    answer: StoredAnswer | None = None


class ClaimKind(enum.Enum):
    NEW = "new"
    REPLAY = "replay"
    IN_FLIGHT = "in_flight"
    OTHER_ENDPOINT = "other_endpoint"
    OTHER_PARAMS = "other_params"


@dataclass(frozen=True, slots=True)
class Claim:
    kind: ClaimKind
    #: The stored answer for REPLAY; the first request's endpoint for OTHER_ENDPOINT.
    answer: StoredAnswer | None = None
    endpoint: str | None = None


class IdempotencyStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Insertion-ordered: the oldest record is always first, so pruning stops at the
        # first one still alive.
        self._records: dict[tuple[str, str], _Record] = {}

    def claim(self, scope: str, key: str, endpoint: str, params: Params) -> Claim:
        with self._lock:
            self._prune(time.monotonic())
            record = self._records.get((scope, key))
            if record is None:
                self._records[(scope, key)] = _Record(endpoint, params, time.monotonic())
                return Claim(ClaimKind.NEW)
            return _judge(record, endpoint, params)

    def complete(self, scope: str, key: str, answer: StoredAnswer) -> None:
        with self._lock:
            record = self._records.get((scope, key))
            if record is None:
                return  # a reset cleared it while the request ran
            if record.answer is not None:
                raise RuntimeError("an idempotency key was completed twice")
            record.answer = answer

    def release(self, scope: str, key: str) -> None:
        with self._lock:
            record = self._records.pop((scope, key), None)
            if record is not None and record.answer is not None:
                raise RuntimeError("a completed idempotency key was released")

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def _prune(self, now_s: float) -> None:
        for _ in range(PRUNE_BATCH_MAX):
            oldest = next(iter(self._records.items()), None)
            if oldest is None or now_s - oldest[1].claimed_s < KEY_TTL_S:
                return
            del self._records[oldest[0]]


def _judge(record: _Record, endpoint: str, params: Params) -> Claim:
    # A mismatch is reported even while the first request runs: it is a client bug, not a race.
    if record.endpoint != endpoint:
        return Claim(ClaimKind.OTHER_ENDPOINT, endpoint=record.endpoint)
    if record.params != params:
        return Claim(ClaimKind.OTHER_PARAMS)
    if record.answer is None:
        return Claim(ClaimKind.IN_FLIGHT)
    return Claim(ClaimKind.REPLAY, answer=record.answer)
