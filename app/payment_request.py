"""Strict validation of a ``POST /v1/payments`` body into its canonical form.

The canonical form is what the fingerprint hashes: defaults filled in, currency lower-cased,
unknown fields refused, so two bodies that mean the same payment have the same fingerprint.
"""

import json
import re
from dataclasses import dataclass
from typing import Any

from app.currencies import ISO_4217_CODES
from app.errors import InvalidRequest

AMOUNT_MIN = 1
AMOUNT_MAX = 99_999_999
DESCRIPTION_CHARS_MAX = 500
METADATA_KEYS_MAX = 50
METADATA_KEY_CHARS_MAX = 40
METADATA_VALUE_CHARS_MAX = 500
PAYMENT_METHOD_CHARS_MAX = 255
EMAIL_CHARS_MAX = 254
NAME_CHARS_MAX = 200

PROVIDERS = ("stripe", "paystack")
PAYSTACK_CURRENCIES = frozenset({"ngn", "ghs", "zar", "kes"})
PAYMENT_METHOD_PREFIXES = {"stripe": "pm_", "paystack": "AUTH_"}

_FIELDS = frozenset(
    {"amount", "currency", "provider", "payment_method", "customer", "description", "metadata"}
)
_CUSTOMER_FIELDS = frozenset({"email", "name"})
_PAYMENT_METHOD_PATTERN = re.compile(r"[A-Za-z0-9_]+")
# Deliberately loose: the provider is the authority on deliverability; we refuse only what
# cannot be an address at all.
_EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class PaymentRequest:
    amount: int
    currency: str
    provider: str
    payment_method: str
    customer: dict[str, str]
    description: str | None
    metadata: dict[str, str]

    def canonical(self) -> dict[str, Any]:
        return {
            "amount": self.amount,
            "currency": self.currency,
            "provider": self.provider,
            "payment_method": self.payment_method,
            "customer": self.customer,
            "description": self.description,
            "metadata": self.metadata,
        }


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidRequest(f"Field '{key}' appears more than once.", field=key)
        result[key] = value
    return result


def _refuse_constant(name: str) -> None:
    raise InvalidRequest(f"'{name}' is not valid JSON.")


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(
            body,
            object_pairs_hook=_refuse_duplicate_keys,
            parse_constant=_refuse_constant,
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidRequest(f"The body is not valid JSON: {error}.") from None
    except RecursionError:
        raise InvalidRequest("The body nests too deeply.") from None
    if not isinstance(document, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return document


def _string(value: object, field: str, chars_max: int) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"'{field}' must be a string.", field=field)
    if len(value) > chars_max:
        raise InvalidRequest(f"'{field}' must be at most {chars_max} characters.", field=field)
    return value


def _amount(value: object) -> int:
    # bool is an int subclass in Python; true is not an amount.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest("'amount' must be an integer in minor units.", field="amount")
    if not AMOUNT_MIN <= value <= AMOUNT_MAX:
        raise InvalidRequest(
            f"'amount' must be between {AMOUNT_MIN} and {AMOUNT_MAX}.", field="amount"
        )
    return value


def _currency(value: object) -> str:
    currency = _string(value, "currency", 3).lower()
    if currency.upper() not in ISO_4217_CODES:
        raise InvalidRequest("'currency' must be an ISO 4217 alpha-3 code.", field="currency")
    return currency


def _provider(value: object, currency: str) -> str:
    if value is None:
        return "paystack" if currency in PAYSTACK_CURRENCIES else "stripe"
    if value not in PROVIDERS:
        raise InvalidRequest("'provider' must be 'stripe' or 'paystack'.", field="provider")
    return str(value)


def _payment_method(value: object, provider: str) -> str:
    method = _string(value, "payment_method", PAYMENT_METHOD_CHARS_MAX)
    prefix = PAYMENT_METHOD_PREFIXES[provider]
    if not method.startswith(prefix) or not _PAYMENT_METHOD_PATTERN.fullmatch(method):
        raise InvalidRequest(
            f"'payment_method' must be a {provider} payment method ('{prefix}…').",
            field="payment_method",
        )
    return method


def _customer(value: object, provider: str) -> dict[str, str]:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise InvalidRequest("'customer' must be an object.", field="customer")
    for key in value:
        if key not in _CUSTOMER_FIELDS:
            raise InvalidRequest(f"Unknown field 'customer.{key}'.", field=f"customer.{key}")
    customer: dict[str, str] = {}
    if "email" in value:
        email = _string(value["email"], "customer.email", EMAIL_CHARS_MAX)
        if not _EMAIL_PATTERN.fullmatch(email):
            raise InvalidRequest(
                "'customer.email' is not an email address.", field="customer.email"
            )
        customer["email"] = email
    if "name" in value:
        customer["name"] = _string(value["name"], "customer.name", NAME_CHARS_MAX)
    if provider == "paystack" and "email" not in customer:
        raise InvalidRequest("Paystack payments need 'customer.email'.", field="customer.email")
    return customer


def _metadata(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest("'metadata' must be an object of strings.", field="metadata")
    if len(value) > METADATA_KEYS_MAX:
        raise InvalidRequest(
            f"'metadata' allows at most {METADATA_KEYS_MAX} keys.", field="metadata"
        )
    for key, item in value.items():
        if not 1 <= len(key) <= METADATA_KEY_CHARS_MAX:
            raise InvalidRequest(
                f"'metadata' keys must be 1 to {METADATA_KEY_CHARS_MAX} characters.",
                field="metadata",
            )
        _string(item, f"metadata.{key}", METADATA_VALUE_CHARS_MAX)
    return dict(value)


def validate(document: dict[str, Any]) -> PaymentRequest:
    for key in document:
        if key not in _FIELDS:
            raise InvalidRequest(f"Unknown field '{key}'.", field=key)
    for required in ("amount", "currency", "payment_method"):
        if required not in document:
            raise InvalidRequest(f"'{required}' is required.", field=required)
    amount = _amount(document["amount"])
    currency = _currency(document["currency"])
    provider = _provider(document.get("provider"), currency)
    description = document.get("description")
    return PaymentRequest(
        amount=amount,
        currency=currency,
        provider=provider,
        payment_method=_payment_method(document["payment_method"], provider),
        customer=_customer(document.get("customer"), provider),
        description=None
        if description is None
        else _string(description, "description", DESCRIPTION_CHARS_MAX),
        metadata=_metadata(document.get("metadata")),
    )
