"""The Idempotency-Key header rules and the payload fingerprint, as properties."""

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import IdempotencyKeyInvalid, IdempotencyKeyMissing, InvalidRequest
from app.http.body import parse_json_object
from app.http.idempotency_header import KEY_CHARS_MAX, parse_key
from app.idempotency import fingerprint
from app.payments.request import validate

VISIBLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
KEYS = st.text(VISIBLE, min_size=1, max_size=KEY_CHARS_MAX)


def quote(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(KEYS)
def test_any_visible_ascii_key_is_itself(key: str) -> None:
    if len(key) >= 2 and key[0] == key[-1] == '"':
        return  # that is the quoted form, covered below
    assert parse_key({"idempotency-key": key}) == key
    assert parse_key({"x-idempotency-key": key}) == key


@given(KEYS)
def test_the_quoted_form_means_the_bare_key(key: str) -> None:
    assert parse_key({"idempotency-key": quote(key)}) == key


@given(st.text(min_size=1, max_size=40).filter(lambda k: any(not "!" <= c <= "~" for c in k)))
def test_keys_with_invisible_or_non_ascii_characters_are_refused(key: str) -> None:
    with pytest.raises(IdempotencyKeyInvalid):
        parse_key({"idempotency-key": key})


def test_missing_and_disagreeing_headers() -> None:
    with pytest.raises(IdempotencyKeyMissing):
        parse_key({})
    with pytest.raises(IdempotencyKeyInvalid):
        parse_key({"idempotency-key": "a", "x-idempotency-key": "b"})
    with pytest.raises(IdempotencyKeyInvalid):
        parse_key({"idempotency-key": "k" * (KEY_CHARS_MAX + 1)})


BODIES = st.fixed_dictionaries(
    {
        "amount": st.integers(1, 99_999_999),
        "currency": st.sampled_from(["usd", "USD", "Eur", "gbp"]),
        "payment_method": st.sampled_from(["pm_card_visa", "pm_card_chargeDeclined"]),
    },
    optional={
        "customer": st.fixed_dictionaries({}, optional={"email": st.just("a@b.co")}),
        "description": st.text(max_size=20),
        "metadata": st.dictionaries(
            st.text(min_size=1, max_size=5), st.text(max_size=5), max_size=4
        ),
    },
)


def fingerprint_of(raw: bytes) -> str:
    return fingerprint(validate(parse_json_object(raw)).canonical(), "POST /v1/payments")


@given(BODIES, st.randoms())
def test_key_order_whitespace_and_currency_case_keep_the_fingerprint(
    body: dict[str, Any], random: Any
) -> None:
    items = list(body.items())
    random.shuffle(items)
    shuffled = dict(items) | {"currency": body["currency"].swapcase()}
    compact = json.dumps(body, separators=(",", ":")).encode()
    spaced = json.dumps(shuffled, indent=3).encode()

    assert fingerprint_of(compact) == fingerprint_of(spaced)


@given(BODIES, st.integers(1, 99_999_999))
def test_a_different_amount_changes_the_fingerprint(body: dict[str, Any], amount: int) -> None:
    changed = body | {"amount": amount}
    same = amount == body["amount"]

    equal = fingerprint_of(json.dumps(body).encode()) == fingerprint_of(
        json.dumps(changed).encode()
    )

    assert equal == same


def test_the_fingerprint_is_bound_to_the_operation() -> None:
    canonical = validate({"amount": 1, "currency": "usd", "payment_method": "pm_x"}).canonical()

    assert fingerprint(canonical, "POST /v1/payments") != fingerprint(canonical, "POST /v1/refunds")


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
FIELD_NAMES = st.sampled_from(
    ["amount", "currency", "provider", "payment_method", "customer", "description", "metadata"]
)


@given(st.dictionaries(FIELD_NAMES | st.text(max_size=8), JSON_VALUES, max_size=8))
def test_any_json_object_is_either_a_payment_or_a_400_naming_a_field(
    document: dict[str, Any],
) -> None:
    try:
        request = validate(parse_json_object(json.dumps(document).encode()))
    except InvalidRequest as error:
        assert error.field is not None
        assert error.problem()["status"] == 400
    else:
        assert 1 <= request.amount <= 99_999_999
        assert request.currency == document["currency"].lower()


@given(BODIES, st.integers().filter(lambda amount: not 1 <= amount <= 99_999_999))
def test_amounts_out_of_range_are_refused(body: dict[str, Any], amount: int) -> None:
    with pytest.raises(InvalidRequest) as refused:
        validate(body | {"amount": amount})

    assert refused.value.field == "amount"
