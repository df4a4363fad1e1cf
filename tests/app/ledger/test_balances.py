"""balances(): debits minus credits per account and currency, summed by the database."""

import pytest
from sqlalchemy import Engine

from app.ledger import append, refund_entry
from app.ledger.balances import balances
from tests.app.ledger.support import STRIPE_CLEARING, capture

PAYABLE_A = "merchant:mer_a:payable:usd"
PAYABLE_B = "merchant:mer_b:payable:usd"
PAYABLE_A_NGN = "merchant:mer_a:payable:ngn"
STRIPE_CLEARING_NGN = "provider:stripe:clearing:ngn"


@pytest.fixture
def recorded(engine: Engine) -> None:
    append(engine, [capture("pay_1", amount=1000), capture("pay_2", amount=500, merchant="mer_b")])
    append(engine, [capture("pay_3", amount=7000, currency="ngn")])
    refund = refund_entry(
        refund_id="re_1",
        payment_id="pay_1",
        merchant_id="mer_a",
        clearing_account=STRIPE_CLEARING,
        amount=300,
        currency="usd",
    )
    append(engine, [refund])


def test_an_empty_ledger_has_no_balances(engine: Engine) -> None:
    assert balances(engine) == {}


def test_balances_at_the_head(engine: Engine, recorded: None) -> None:
    assert balances(engine) == {
        STRIPE_CLEARING: {"usd": 1200},
        STRIPE_CLEARING_NGN: {"ngn": 7000},
        PAYABLE_A: {"usd": -700},
        PAYABLE_A_NGN: {"ngn": -7000},
        PAYABLE_B: {"usd": -500},
    }


def test_balances_sum_to_zero_per_currency(engine: Engine, recorded: None) -> None:
    totals: dict[str, int] = {}
    for nets in balances(engine).values():
        for currency, net in nets.items():
            totals[currency] = totals.get(currency, 0) + net
    assert totals == {"usd": 0, "ngn": 0}


def test_balances_as_of_a_seq(engine: Engine, recorded: None) -> None:
    assert balances(engine, as_of_seq=2) == {
        STRIPE_CLEARING: {"usd": 1500},
        PAYABLE_A: {"usd": -1000},
        PAYABLE_B: {"usd": -500},
    }
    assert balances(engine, as_of_seq=0) == {}


def test_balances_of_one_merchant(engine: Engine, recorded: None) -> None:
    assert balances(engine, merchant_id="mer_b") == {
        STRIPE_CLEARING: {"usd": 500},
        PAYABLE_B: {"usd": -500},
    }
    assert balances(engine, merchant_id="mer_a", as_of_seq=3) == {
        STRIPE_CLEARING: {"usd": 1000},
        STRIPE_CLEARING_NGN: {"ngn": 7000},
        PAYABLE_A: {"usd": -1000},
        PAYABLE_A_NGN: {"ngn": -7000},
    }
    assert balances(engine, merchant_id="mer_unknown") == {}


def test_a_seq_outside_the_chain_is_a_caller_error(engine: Engine, recorded: None) -> None:
    with pytest.raises(ValueError, match="beyond the head"):
        balances(engine, as_of_seq=5)
    with pytest.raises(ValueError, match="below 0"):
        balances(engine, as_of_seq=-1)
