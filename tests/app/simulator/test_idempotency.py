"""The Stripe idempotency store: claim, complete, replay, release, mismatch, scope, expiry."""

import pytest

from app.simulator import idempotency
from app.simulator.idempotency import ClaimKind, IdempotencyStore, StoredAnswer

ENDPOINT = "POST /v1/payment_intents"
PARAMS = (("amount", "100"), ("currency", "usd"))
ANSWER = StoredAnswer(200, b"{}", (), "req_1")


def test_a_completed_key_replays_its_answer() -> None:
    store = IdempotencyStore()

    assert store.claim("sk_a", "k", ENDPOINT, PARAMS).kind is ClaimKind.NEW
    assert store.claim("sk_a", "k", ENDPOINT, PARAMS).kind is ClaimKind.IN_FLIGHT
    store.complete("sk_a", "k", ANSWER)
    replay = store.claim("sk_a", "k", ENDPOINT, PARAMS)

    assert (replay.kind, replay.answer) == (ClaimKind.REPLAY, ANSWER)


def test_mismatches_are_reported_even_in_flight() -> None:
    store = IdempotencyStore()
    store.claim("sk_a", "k", ENDPOINT, PARAMS)

    other_endpoint = store.claim("sk_a", "k", "POST /v1/refunds", PARAMS)
    other_params = store.claim("sk_a", "k", ENDPOINT, (("amount", "101"),))

    assert (other_endpoint.kind, other_endpoint.endpoint) == (ClaimKind.OTHER_ENDPOINT, ENDPOINT)
    assert other_params.kind is ClaimKind.OTHER_PARAMS


def test_a_released_key_is_free_and_keys_are_scoped_per_api_key() -> None:
    store = IdempotencyStore()
    store.claim("sk_a", "k", ENDPOINT, PARAMS)

    assert store.claim("sk_b", "k", ENDPOINT, PARAMS).kind is ClaimKind.NEW
    store.release("sk_a", "k")
    assert store.claim("sk_a", "k", ENDPOINT, PARAMS).kind is ClaimKind.NEW


def test_a_completed_key_is_never_released_or_completed_again() -> None:
    store = IdempotencyStore()
    store.claim("sk_a", "k", ENDPOINT, PARAMS)
    store.complete("sk_a", "k", ANSWER)

    with pytest.raises(RuntimeError):
        store.complete("sk_a", "k", ANSWER)
    with pytest.raises(RuntimeError):
        store.release("sk_a", "k")


def test_keys_expire_after_their_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    store = IdempotencyStore()
    clock_s = [1000.0]
    monkeypatch.setattr(idempotency.time, "monotonic", lambda: clock_s[0])
    store.claim("sk_a", "k", ENDPOINT, PARAMS)
    store.complete("sk_a", "k", ANSWER)

    clock_s[0] += idempotency.KEY_TTL_S - 1
    assert store.claim("sk_a", "k", ENDPOINT, PARAMS).kind is ClaimKind.REPLAY
    clock_s[0] += 1
    assert store.claim("sk_a", "k", ENDPOINT, PARAMS).kind is ClaimKind.NEW
