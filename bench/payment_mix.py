"""The benchmark's payments, shared by paystream's run, the naive peer's and the simulator
ceiling: payment number ``index`` always goes to the same provider, for the same amount."""

from dataclasses import dataclass

STRIPE_METHOD = "pm_card_visa"
PAYSTACK_METHOD = "AUTH_success"
#: Paystack charges an authorization on behalf of a customer email.
CUSTOMER_EMAIL = "bench@example.com"
#: Amounts in minor units vary a little, so no two consecutive payments look alike.
AMOUNT_MIN = 1_000
AMOUNT_SPREAD = 9_000
#: The provider share is counted per block of this many consecutive payments.
SHARE_BLOCK = 100


@dataclass(frozen=True)
class BenchPayment:
    provider: str
    amount: int
    currency: str
    payment_method: str


def bench_payment(index: int, paystack_percent: int) -> BenchPayment:
    """Every 100 consecutive payments hold exactly ``paystack_percent`` Paystack ones."""
    if not 0 <= paystack_percent <= SHARE_BLOCK:
        raise ValueError(f"paystack_percent must be within 0..{SHARE_BLOCK}")
    amount = AMOUNT_MIN + index % AMOUNT_SPREAD
    if index % SHARE_BLOCK < paystack_percent:
        return BenchPayment("paystack", amount, "ngn", PAYSTACK_METHOD)
    return BenchPayment("stripe", amount, "usd", STRIPE_METHOD)
