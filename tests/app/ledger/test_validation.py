"""The one-pass check agrees with the rules checked one by one, on any entry."""

from dataclasses import replace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.ledger import Entry, Posting
from app.ledger.errors import LedgerError
from app.ledger.validation import _check_every_rule, _passes_every_rule
from tests.app.ledger.support import capture

VALID = capture("pay_1")

#: Valid values mixed with edge cases of each rule: wrong types, bounds, unplain characters.
IDENTIFIERS = st.sampled_from(
    ["pay_1", "", "k" * 255, "k" * 256, 'a"b', "a\\b", "m\u00e9r", "pay\n1", "a\tb", " ", 7, None]
)
ACCOUNTS = st.sampled_from(
    ["provider:stripe:clearing", "merchant:mer_a:payable", "", "a" * 200, "a" * 201, 'a"b', 1]
)
DIRECTIONS = st.sampled_from(["debit", "credit", "sideways", "", None])
AMOUNTS = st.sampled_from([1, 1000, 10**15, 10**15 + 1, 0, -1000, True, 1000.0, "1000"])
CURRENCIES = st.sampled_from(["usd", "eur", "USD", "us", "usdx", "u1d", "\u00e9ur", 840])
KIND_VALUES = st.sampled_from(["payment_captured", "refund", "chargeback", "", 1])


def balanced_pair(account: Any, amount: Any, currency: Any) -> tuple[Posting, Posting]:
    return (
        Posting(account, "debit", amount, currency),
        Posting("merchant:mer_a:payable", "credit", amount, currency),
    )


POSTINGS = st.one_of(
    st.builds(balanced_pair, ACCOUNTS, AMOUNTS, CURRENCIES),
    st.lists(st.builds(Posting, ACCOUNTS, DIRECTIONS, AMOUNTS, CURRENCIES), max_size=4).map(tuple),
    st.builds(list, st.builds(balanced_pair, ACCOUNTS, AMOUNTS, CURRENCIES)),
    st.just(tuple(balanced_pair("a", 1, "usd")) * 33),
    st.just((("a", "debit", 1, "usd"), ("b", "credit", 1, "usd"))),
)


# A valid entry with one field or one posting field changed: mostly valid values, so both
# answers come up often; and entries built from edge cases throughout.
ONE_FIELD_CHANGED = st.one_of(
    st.just(VALID),
    st.builds(lambda key: replace(VALID, business_key=key), IDENTIFIERS),
    st.builds(lambda kind: replace(VALID, kind=kind), KIND_VALUES),
    st.builds(lambda reference: replace(VALID, reference=reference), IDENTIFIERS),
    st.builds(lambda merchant_id: replace(VALID, merchant_id=merchant_id), IDENTIFIERS),
    st.builds(lambda postings: replace(VALID, postings=postings), POSTINGS),
    st.builds(
        lambda account, direction, amount, currency: (
            replace(VALID, postings=balanced_pair(account, amount, currency))
            if direction == "debit"
            else replace(VALID, postings=(Posting(account, direction, amount, currency),) * 2)
        ),
        ACCOUNTS,
        DIRECTIONS,
        AMOUNTS,
        CURRENCIES,
    ),
)
ANY_FIELDS = st.builds(Entry, IDENTIFIERS, KIND_VALUES, IDENTIFIERS, IDENTIFIERS, POSTINGS)


@given(st.one_of(ONE_FIELD_CHANGED, ANY_FIELDS))
def test_the_one_pass_check_agrees_with_the_rules(entry: Entry) -> None:
    try:
        _check_every_rule(entry)
    except LedgerError:
        assert not _passes_every_rule(entry)
    else:
        assert _passes_every_rule(entry)
