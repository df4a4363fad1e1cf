"""Stripe's test PaymentMethods the simulator knows, and what confirming with each one does."""

import enum
from dataclasses import dataclass


class CardOutcome(enum.Enum):
    SUCCEED = "succeed"
    DECLINE = "decline"
    REQUIRE_ACTION = "require_action"


@dataclass(frozen=True, slots=True)
class TestCard:
    outcome: CardOutcome
    brand: str
    #: For declines: Stripe's error ``code``, ``decline_code`` and customer-facing message.
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None


CARDS: dict[str, TestCard] = {
    "pm_card_visa": TestCard(CardOutcome.SUCCEED, "visa"),
    "pm_card_mastercard": TestCard(CardOutcome.SUCCEED, "mastercard"),
    "pm_card_chargeDeclined": TestCard(
        CardOutcome.DECLINE, "visa", "card_declined", "generic_decline", "Your card was declined."
    ),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        CardOutcome.DECLINE,
        "visa",
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    # Off-session, Stripe refuses it as a card error with this code; on-session it asks for 3DS.
    "pm_card_authenticationRequired": TestCard(
        CardOutcome.REQUIRE_ACTION,
        "visa",
        "authentication_required",
        "authentication_required",
        "Your card was declined. This transaction requires authentication.",
    ),
}
