"""Strict validation of a ``POST /v1/payments`` body into its canonical form.

The canonical form is what the fingerprint hashes: defaults filled in, currency lower-cased,
unknown fields refused, so two bodies that mean the same payment have the same fingerprint.
"""

import re
from dataclasses import dataclass
from typing import Any

from app.errors import InvalidRequest
from app.money import ISO_4217_CODES, validated_amount

DESCRIPTION_CHARS_MAX = 500
METADATA_KEYS_MAX = 50
METADATA_KEY_CHARS_MAX = 40
METADATA_VALUE_CHARS_MAX = 500
PAYMENT_METHOD_CHARS_MAX = 255
EMAIL_CHARS_MAX = 254
NAME_CHARS_MAX = 200
#: Stripe's object ids are far shorter; the bound only keeps a record small.
CUSTOMER_ID_CHARS_MAX = 255

PROVIDERS = ("stripe", "paystack")
PAYSTACK_CURRENCIES = frozenset({"ngn", "ghs", "zar", "kes"})
PAYMENT_METHOD_PREFIXES = {"stripe": "pm_", "paystack": "AUTH_"}

_FIELDS = frozenset(
    {"amount", "currency", "provider", "payment_method", "customer", "description", "metadata"}
)
_CUSTOMER_FIELDS = frozenset({"email", "name", "id"})
_PAYMENT_METHOD_PATTERN = re.compile(r"[A-Za-z0-9_]+")
#: A Stripe Customer id; whether it exists, and owns the payment method, is Stripe's to say.
_CUSTOMER_ID_PATTERN = re.compile(r"cus_[A-Za-z0-9]+")
# Deliberately loose: the provider is the authority on deliverability; we refuse only what
# cannot be an address at all. Spelled without \s, which Python and JSON Schema (ECMA-262) read
# differently, so the OpenAPI document states exactly this rule.
EMAIL_PATTERN = r"[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+\.[^@\x00-\x20\x7f]+"
_EMAIL_PATTERN = re.compile(EMAIL_PATTERN)


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


def _string(value: object, field: str, chars_max: int) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"'{field}' must be a string.", field=field)
    if len(value) > chars_max:
        raise InvalidRequest(f"'{field}' must be at most {chars_max} characters.", field=field)
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
    if "id" in value:
        customer["id"] = _customer_id(value["id"], provider)
    if provider == "paystack" and "email" not in customer:
        raise InvalidRequest("Paystack payments need 'customer.email'.", field="customer.email")
    return customer


def _customer_id(value: object, provider: str) -> str:
    customer_id = _string(value, "customer.id", CUSTOMER_ID_CHARS_MAX)
    if provider != "stripe":
        raise InvalidRequest("'customer.id' names a Stripe customer.", field="customer.id")
    if not _CUSTOMER_ID_PATTERN.fullmatch(customer_id):
        raise InvalidRequest(
            "'customer.id' must be a Stripe customer id ('cus_…').", field="customer.id"
        )
    return customer_id


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
    amount = validated_amount(document["amount"])
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
