"""Paystack's wire format: JSON bodies in; ``{"status", "message", "data"}`` envelopes out."""

import json
import re
from dataclasses import dataclass
from typing import Any

from app.simulator.state import PaystackRefund, PaystackTransaction

#: Paystack caps a single charge at 10,000,000 major units, in subunits here.
AMOUNT_MAX = 1_000_000_000
REFERENCE_LENGTH_MAX = 100
EMAIL_LENGTH_MAX = 254
CURRENCY_DEFAULT = "NGN"
CURRENCIES = frozenset({"NGN", "GHS", "ZAR", "KES", "USD"})
#: The simulated account's integration id, which Paystack puts on every refund.
INTEGRATION_ID = 100_032
#: Paystack's documented rule: "Only -, ., = and alphanumeric characters allowed".
_REFERENCE = re.compile(r"^[A-Za-z0-9\-.=]+$")
REFERENCE_REFUSED_MESSAGE = "Invalid reference: only -, ., = and alphanumeric characters allowed"


class PaystackError(Exception):
    """A refused request: ``{"status": false, "message": …}`` with an HTTP status."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message

    def body(self) -> dict[str, Any]:
        return failure(self.message)


@dataclass(frozen=True, slots=True)
class ChargeAuthorization:
    email: str
    amount: int
    authorization_code: str
    #: None: Paystack generates one.
    reference: str | None
    currency: str
    metadata: Any


@dataclass(frozen=True, slots=True)
class CreateRefund:
    #: A transaction id (int) or reference (str).
    transaction: int | str
    amount: int | None


def success(message: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"status": True, "message": message, "data": data}


def failure(message: str) -> dict[str, Any]:
    return {"status": False, "message": message}


def decode_json(body: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise PaystackError(400, "Invalid JSON body") from error
    if not isinstance(decoded, dict):
        raise PaystackError(400, "Invalid JSON body: expected an object")
    return decoded


def parse_charge(body: dict[str, Any]) -> ChargeAuthorization:
    return ChargeAuthorization(
        email=_email(body),
        amount=_required_amount(body.get("amount")),
        authorization_code=_required_text(body, "authorization_code"),
        reference=_reference(body),
        currency=_currency(body),
        metadata=body.get("metadata"),
    )


def parse_refund(body: dict[str, Any]) -> CreateRefund:
    transaction = body.get("transaction")
    if isinstance(transaction, bool) or not isinstance(transaction, int | str) or transaction == "":
        raise PaystackError(400, "Transaction reference or id is required")
    return CreateRefund(transaction, _optional_amount(body.get("amount")))


def _required_text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or value == "":
        raise PaystackError(400, f"{name} is required")
    return value


def _email(body: dict[str, Any]) -> str:
    email = _required_text(body, "email")
    if "@" not in email or len(email) > EMAIL_LENGTH_MAX:
        raise PaystackError(400, "Invalid Email Address Passed")
    return email


def _required_amount(value: object) -> int:
    # Paystack accepts the amount as a number or as a string of digits.
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PaystackError(400, "amount is required and must be an integer in subunits")
    if value < 1 or value > AMOUNT_MAX:
        raise PaystackError(400, f"Invalid amount: must be within 1..{AMOUNT_MAX} subunits")
    return value


def _optional_amount(value: object) -> int | None:
    return None if value is None else _required_amount(value)


def _reference(body: dict[str, Any]) -> str | None:
    reference = body.get("reference")
    if reference is None:
        return None
    if (
        not isinstance(reference, str)
        or len(reference) > REFERENCE_LENGTH_MAX
        or _REFERENCE.match(reference) is None
    ):
        raise PaystackError(400, REFERENCE_REFUSED_MESSAGE)
    return reference


def _currency(body: dict[str, Any]) -> str:
    currency = body.get("currency", CURRENCY_DEFAULT)
    if not isinstance(currency, str) or currency.upper() not in CURRENCIES:
        raise PaystackError(400, "Currency not supported by merchant")
    return currency.upper()


#: Where a paused charge sends its customer (Paystack's checkout resumes it there).
AUTHORIZATION_URL_BASE = "https://checkout.paystack.com/resume/"


def transaction_json(transaction: PaystackTransaction) -> dict[str, Any]:
    if transaction.paused:
        return _transaction_json(transaction) | {
            "paused": True,
            "authorization_url": AUTHORIZATION_URL_BASE + transaction.reference,
        }
    return _transaction_json(transaction)


def _transaction_json(transaction: PaystackTransaction) -> dict[str, Any]:
    return {
        "id": transaction.id,
        "domain": "test",
        "status": transaction.status,
        "reference": transaction.reference,
        "amount": transaction.amount,
        "requested_amount": transaction.amount,
        "currency": transaction.currency,
        "gateway_response": transaction.gateway_response,
        "message": None,
        "channel": "card",
        "fees": transaction.fees,
        "metadata": transaction.metadata,
        "transaction_date": transaction.created_at,
        "created_at": transaction.created_at,
        "paid_at": transaction.paid_at,
        "authorization": _authorization_json(transaction.authorization_code),
        "customer": {"email": transaction.email},
        "plan": None,
        "log": None,
    }


def refund_json(refund: PaystackRefund) -> dict[str, Any]:
    """As Paystack answers a refund: notes and ``refunded_by`` are always strings there."""
    transaction = refund.transaction
    return {
        "id": refund.id,
        "integration": INTEGRATION_ID,
        "transaction": transaction_json(transaction),
        "amount": refund.amount,
        "deducted_amount": 0,
        "fully_deducted": False,
        "currency": transaction.currency,
        "channel": None,
        "domain": "test",
        "status": "pending",
        "refunded_by": transaction.email,
        "merchant_note": f"Refund for transaction {transaction.reference} by {transaction.email}",
        "customer_note": f"Refund for transaction {transaction.reference}",
        "expected_at": refund.created_at,
        "createdAt": refund.created_at,
        "updatedAt": refund.created_at,
    }


def refund_event_json(refund: PaystackRefund) -> dict[str, Any]:
    """A refund as Paystack's refund events describe it: the transaction by its reference."""
    return {
        "id": refund.id,
        "status": "processed",
        "transaction_reference": refund.transaction.reference,
        "refund_reference": None,
        "amount": refund.amount,
        "currency": refund.transaction.currency,
        "domain": "test",
        "customer": {"email": refund.transaction.email},
    }


def _authorization_json(authorization_code: str) -> dict[str, Any]:
    return {
        "authorization_code": authorization_code,
        "bin": "408408",
        "last4": "4081",
        "exp_month": "12",
        "exp_year": "2030",
        "channel": "card",
        "card_type": "visa",
        "bank": "TEST BANK",
        "country_code": "NG",
        "brand": "visa",
        "reusable": True,
    }
