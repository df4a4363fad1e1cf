"""Stripe's wire format: form-encoded parameters in; JSON objects and error bodies out."""

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from app.simulator.state import PaymentIntent, StripeRefund
from app.simulator.stripe_cards import CARDS

#: More fields than any PaymentIntent call sends, even with 50 metadata keys.
FORM_FIELDS_MAX = 256
#: Stripe's own limits on an amount (eight digits) and on metadata.
AMOUNT_MAX = 99_999_999
METADATA_KEYS_MAX = 50
METADATA_KEY_LENGTH_MAX = 40
METADATA_VALUE_LENGTH_MAX = 500
TEXT_LENGTH_MAX = 1000
SEARCH_LIMIT_DEFAULT = 10
SEARCH_LIMIT_MAX = 100
DOC_URL_BASE = "https://stripe.com/docs/error-codes/"

# Parameters the simulator reads, plus real ones that change nothing it simulates. Anything
# else is refused as Stripe refuses a typo, so an adapter bug shows up here, not in production.
CREATE_INTENT_PARAMS = frozenset(
    {"amount", "currency", "payment_method", "confirm", "off_session", "customer"}
    | {"description", "metadata", "payment_method_types", "automatic_payment_methods"}
    | {"receipt_email", "return_url"}
    | {"statement_descriptor", "statement_descriptor_suffix"}
)
CONFIRM_INTENT_PARAMS = frozenset({"payment_method", "off_session", "return_url"})
CANCEL_INTENT_PARAMS = frozenset({"cancellation_reason"})
CANCELLATION_REASONS = frozenset({"abandoned", "duplicate", "fraudulent", "requested_by_customer"})
CREATE_CUSTOMER_PARAMS = frozenset({"email", "name", "description", "metadata"})
CREATE_REFUND_PARAMS = frozenset({"payment_intent", "amount", "reason", "metadata"})
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
#: ``off_session`` values meaning the customer is not in the flow; "false" means they are.
OFF_SESSION_TRUE_VALUES = frozenset({"true", "one_off", "recurring"})
OFF_SESSION_VALUES = OFF_SESSION_TRUE_VALUES | {"false"}

# `metadata[payment_id]` → ("metadata", "payment_id"); one level is all these endpoints take.
_NESTED_NAME = re.compile(r"^([a-z_]+)\[([^\[\]]+)\]$")
_CURRENCY = re.compile(r"^[a-z]{3}$")
_SEARCH_QUERY = re.compile(r"""^metadata\[(['"])(?P<key>[^'"]+)\1\]:(['"])(?P<value>[^'"]*)\3$""")

Pairs = list[tuple[str, str]]
Form = dict[str, str | dict[str, str]]


class StripeError(Exception):
    """A request refused before execution; it changes nothing and no idempotent answer is kept."""

    def __init__(
        self,
        status_code: int,
        error_type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_type = error_type
        self.message = message
        self.code = code
        self.param = param

    def body(self) -> dict[str, Any]:
        return error_body(self.error_type, self.message, code=self.code, param=self.param)


@dataclass(frozen=True, slots=True)
class CreateIntent:
    amount: int
    currency: str
    payment_method: str | None
    confirm: bool
    #: The customer is not in the flow: a card that wants authentication is refused (402).
    off_session: bool
    customer: str | None
    description: str | None
    metadata: dict[str, str]


@dataclass(frozen=True, slots=True)
class CreateCustomer:
    email: str | None


@dataclass(frozen=True, slots=True)
class ConfirmIntent:
    payment_method: str | None
    off_session: bool


@dataclass(frozen=True, slots=True)
class CreateRefund:
    payment_intent: str
    amount: int | None
    reason: str | None
    metadata: dict[str, str]


@dataclass(frozen=True, slots=True)
class SearchIntents:
    metadata_key: str
    metadata_value: str
    limit: int


def error_body(
    error_type: str, message: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"type": error_type, "message": message}
    if code is not None:
        error["code"] = code
        error["doc_url"] = DOC_URL_BASE + code
    if param is not None:
        error["param"] = param
    return {"error": error}


def invalid(message: str, *, code: str | None = None, param: str | None = None) -> StripeError:
    return StripeError(400, "invalid_request_error", message, code=code, param=param)


def no_such(kind: str, object_id: str, param: str, status_code: int) -> StripeError:
    message = f"No such {kind}: '{object_id}'"
    return StripeError(
        status_code, "invalid_request_error", message, code="resource_missing", param=param
    )


def decode_form(body: bytes) -> Pairs:
    try:
        return parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=FORM_FIELDS_MAX,
        )
    except (UnicodeDecodeError, ValueError) as error:
        raise invalid(f"Invalid form-encoded request body: {error}") from error


def nest(pairs: Pairs) -> Form:
    form: Form = {}
    for name, value in pairs:
        match = _NESTED_NAME.match(name)
        if match is None:
            form[name] = value
            continue
        outer, inner = match.groups()
        group = form.setdefault(outer, {})
        if not isinstance(group, dict):
            raise invalid(f"Invalid hash: {outer}", param=outer)
        group[inner] = value
    return form


def parse_create_intent(form: Form) -> CreateIntent:
    _refuse_unknown(form, CREATE_INTENT_PARAMS)
    off_session = _off_session(form)
    payment_method = _payment_method(form)
    confirm = _boolean(form, "confirm") or False
    if confirm and payment_method is None:
        raise invalid(
            "A payment_method is required to confirm on creation.",
            code="parameter_missing",
            param="payment_method",
        )
    return CreateIntent(
        amount=_required_amount(form),
        currency=_currency(form),
        payment_method=payment_method,
        confirm=confirm,
        off_session=off_session,
        customer=_text(form, "customer"),
        description=_text(form, "description"),
        metadata=_metadata(form),
    )


def parse_cancel_intent(form: Form) -> str | None:
    """The cancellation reason, if given."""
    _refuse_unknown(form, CANCEL_INTENT_PARAMS)
    reason = _text(form, "cancellation_reason")
    if reason is not None and reason not in CANCELLATION_REASONS:
        raise invalid(f"Invalid cancellation_reason: {reason}", param="cancellation_reason")
    return reason


def parse_create_customer(form: Form) -> CreateCustomer:
    _refuse_unknown(form, CREATE_CUSTOMER_PARAMS)
    _metadata(form)
    return CreateCustomer(email=_text(form, "email"))


def parse_confirm_intent(form: Form) -> ConfirmIntent:
    _refuse_unknown(form, CONFIRM_INTENT_PARAMS)
    return ConfirmIntent(payment_method=_payment_method(form), off_session=_off_session(form))


def parse_create_refund(form: Form) -> CreateRefund:
    _refuse_unknown(form, CREATE_REFUND_PARAMS)
    payment_intent = _text(form, "payment_intent")
    if payment_intent is None:
        raise invalid(
            "You must pass payment_intent.", code="parameter_missing", param="payment_intent"
        )
    reason = _text(form, "reason")
    if reason is not None and reason not in REFUND_REASONS:
        raise invalid(f"Invalid reason: {reason}", code="parameter_invalid_string", param="reason")
    return CreateRefund(payment_intent, _optional_amount(form), reason, _metadata(form))


def parse_search(query: str | None, limit: str | None) -> SearchIntents:
    """Only ``metadata['key']:'value'`` is understood: the query that finds our payment."""
    match = _SEARCH_QUERY.match(query or "")
    if match is None:
        raise invalid(
            "The simulator only supports queries of the form metadata['key']:'value'.",
            param="query",
        )
    count = SEARCH_LIMIT_DEFAULT if limit is None else _integer("limit", limit)
    if count < 1 or count > SEARCH_LIMIT_MAX:
        raise invalid(f"limit must be within 1..{SEARCH_LIMIT_MAX}", param="limit")
    return SearchIntents(match["key"], match["value"], count)


def _refuse_unknown(form: Form, known: frozenset[str]) -> None:
    for name in form:
        if name not in known:
            raise invalid(
                f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )


def _text(form: Form, name: str) -> str | None:
    value = form.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        raise invalid(f"Invalid string: {name} must be a string", param=name)
    if len(value) > TEXT_LENGTH_MAX:
        raise invalid(f"Invalid string: {name} is longer than {TEXT_LENGTH_MAX}", param=name)
    return value


def _integer(name: str, value: str) -> int:
    if not value.isdigit():
        raise invalid(f"Invalid integer: {value}", code="parameter_invalid_integer", param=name)
    return int(value)


def _required_amount(form: Form) -> int:
    amount = _optional_amount(form)
    if amount is None:
        raise invalid("Missing required param: amount.", code="parameter_missing", param="amount")
    return amount


def _optional_amount(form: Form) -> int | None:
    value = _text(form, "amount")
    if value is None:
        return None
    amount = _integer("amount", value)
    if amount < 1:
        raise invalid("Amount must be at least 1.", code="amount_too_small", param="amount")
    if amount > AMOUNT_MAX:
        raise invalid(
            f"Amount must be no more than {AMOUNT_MAX}.", code="amount_too_large", param="amount"
        )
    return amount


def _boolean(form: Form, name: str) -> bool | None:
    value = _text(form, name)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise invalid(f"Invalid boolean: {value}", param=name)
    return value == "true"


def _off_session(form: Form) -> bool:
    value = _text(form, "off_session")
    if value is not None and value not in OFF_SESSION_VALUES:
        raise invalid(f"Invalid off_session: {value}", param="off_session")
    return value in OFF_SESSION_TRUE_VALUES


def _currency(form: Form) -> str:
    value = _text(form, "currency")
    if value is None:
        raise invalid(
            "Missing required param: currency.", code="parameter_missing", param="currency"
        )
    currency = value.lower()
    if _CURRENCY.match(currency) is None:
        raise invalid(
            f"Invalid currency: {value}", code="parameter_invalid_string", param="currency"
        )
    return currency


def _payment_method(form: Form) -> str | None:
    value = _text(form, "payment_method")
    if value is not None and value not in CARDS:
        raise no_such("PaymentMethod", value, "payment_method", 400)
    return value


def _metadata(form: Form) -> dict[str, str]:
    value = form.get("metadata", {})
    if value == "":
        return {}  # Stripe reads an empty string as "unset"
    if not isinstance(value, dict) or len(value) > METADATA_KEYS_MAX:
        raise invalid(f"Invalid metadata: at most {METADATA_KEYS_MAX} keys", param="metadata")
    for key, item in value.items():
        if len(key) > METADATA_KEY_LENGTH_MAX or len(item) > METADATA_VALUE_LENGTH_MAX:
            raise invalid(f"Invalid metadata entry: {key}", param=f"metadata[{key}]")
    return dict(value)


def intent_json(intent: PaymentIntent) -> dict[str, Any]:
    return {
        "id": intent.id,
        "object": "payment_intent",
        "amount": intent.amount,
        "amount_capturable": 0,
        "amount_received": intent.amount_received,
        "cancellation_reason": intent.cancellation_reason,
        "capture_method": "automatic",
        "client_secret": intent.client_secret,
        "confirmation_method": "automatic",
        "created": intent.created_s,
        "currency": intent.currency,
        "customer": intent.customer,
        "description": intent.description,
        "last_payment_error": intent.last_payment_error,
        "latest_charge": intent.latest_charge,
        "livemode": False,
        "metadata": intent.metadata,
        "next_action": intent.next_action,
        "payment_method": intent.payment_method,
        "payment_method_types": ["card"],
        "status": intent.status,
    }


def customer_json(customer_id: str, email: str | None) -> dict[str, Any]:
    return {"id": customer_id, "object": "customer", "email": email, "livemode": False}


def charge_json(intent: PaymentIntent, refund: dict[str, Any]) -> dict[str, Any]:
    """The intent's charge, as charge.refunded shows it, with the refund just made listed (as
    API versions that embed a charge's refunds do)."""
    return {
        "id": intent.latest_charge,
        "object": "charge",
        "amount": intent.amount_received,
        "amount_refunded": intent.amount_refunded,
        "currency": intent.currency,
        "metadata": intent.metadata,
        "payment_intent": intent.id,
        "refunded": intent.amount_refunded == intent.amount_received,
        "refunds": {"object": "list", "data": [refund], "has_more": False},
    }


def refund_json(refund: StripeRefund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "object": "refund",
        "amount": refund.amount,
        "balance_transaction": None,
        "charge": refund.intent.latest_charge,
        "created": refund.created_s,
        "currency": refund.intent.currency,
        "metadata": refund.metadata,
        "payment_intent": refund.intent.id,
        "reason": refund.reason,
        "status": "succeeded",
    }


def search_json(intents: list[PaymentIntent], has_more: bool) -> dict[str, Any]:
    return {
        "object": "search_result",
        "data": [intent_json(intent) for intent in intents],
        "has_more": has_more,
        "next_page": None,
        "url": "/v1/payment_intents/search",
    }
