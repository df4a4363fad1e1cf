"""The OpenAPI 3.1 description of the public HTTP surface.

Every operation is one entry of ``OPERATIONS``, keyed by method and path exactly as the app's
routes are: a test fails when a route is undocumented or a documented one does not exist, so
adding an operation is adding an entry. Every answer is documented with its ``Request-Id``, each
503 and 429 with its ``Retry-After``. The body schemas are written from the limits the
validators enforce (the same constants), and a schemathesis run over every operation, links
included, holds the two together: a body this document allows and the API refuses fails it.
"""

from typing import Any

from app.events.outbox import EVENT_TYPES
from app.history.pages import LIMIT_DEFAULT, LIMIT_MAX
from app.http.idempotency_header import KEY_CHARS_MAX
from app.money import AMOUNT_MAX, AMOUNT_MIN, ISO_4217_CODES
from app.payments.record import PAYMENT_STATUSES
from app.payments.request import (
    CUSTOMER_ID_CHARS_MAX,
    DESCRIPTION_CHARS_MAX,
    EMAIL_CHARS_MAX,
    EMAIL_PATTERN,
    METADATA_KEY_CHARS_MAX,
    METADATA_KEYS_MAX,
    METADATA_VALUE_CHARS_MAX,
    NAME_CHARS_MAX,
    PAYMENT_METHOD_CHARS_MAX,
    PAYMENT_METHOD_PREFIXES,
    PAYSTACK_CURRENCIES,
    PROVIDERS,
)
from app.queue import keys
from app.webhooks.deliveries import ALL_EVENTS
from app.webhooks.endpoints import ENDPOINTS_PER_MERCHANT_MAX
from app.webhooks.models import (
    ENABLED_EVENTS_MAX,
    ENDPOINT_STATUSES,
    RESPONSE_HEAD_BYTES_MAX,
    URL_LENGTH_MAX,
)

Schema = dict[str, Any]


def _ref(kind: str, name: str) -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(schema: str) -> Schema:
    return {"application/json": {"schema": _ref("schemas", schema)}}


def _problem(description: str, *, retry_after: bool = False) -> Schema:
    answer: Schema = {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("schemas", "Problem")}},
    }
    if retry_after:
        answer["headers"] = {"Retry-After": _ref("headers", "Retry-After")}
    return answer


ANY_JSON: Schema = {"application/json": {"schema": {"type": "object"}}}
UNAUTHORIZED = _problem("unauthorized: no or a wrong API key")
NOT_FOUND = _problem("not_found")
UNAVAILABLE = _problem(
    "unavailable: nothing stored; retry (a write with the same key)", retry_after=True
)

# ---- Bodies, from the validators' own limits.


def _currencies(lower_case: frozenset[str] | set[str]) -> list[str]:
    """Any case is taken (stored lower-case): both listed, so either validates."""
    return sorted(lower_case | {code.upper() for code in lower_case})


ALL_CURRENCIES = {code.lower() for code in ISO_4217_CODES}
STRIPE_DEFAULT_CURRENCIES = ALL_CURRENCIES - PAYSTACK_CURRENCIES


def _payment_method_pattern(provider: str) -> str:
    return f"^{PAYMENT_METHOD_PREFIXES[provider]}[A-Za-z0-9_]*$"


def _provider_rules(provider: str, currencies: set[str] | frozenset[str] | None) -> Schema:
    """What a body sent to ``provider`` must hold: named, or by default for ``currencies``."""
    properties: Schema = {
        "payment_method": {"pattern": _payment_method_pattern(provider)},
        # null, like no provider at all, means the currency's default.
        "provider": {"const": provider} if currencies is None else {"type": "null"},
    }
    if currencies is not None:
        properties["currency"] = {"enum": _currencies(currencies)}
    rules: Schema = {"properties": properties, "required": [] if currencies else ["provider"]}
    if provider == "paystack":
        properties["customer"] = {
            "type": "object",
            "required": ["email"],
            "properties": {"id": False},
        }
        rules["required"] = [*rules["required"], "customer"]
    return rules


PAYMENT_CREATE: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["amount", "currency", "payment_method"],
    "description": "null stands for an absent optional field. The provider defaults by "
    "currency (ngn, ghs, zar, kes: paystack; others: "
    "stripe). Stripe takes a PaymentMethod id (pm_…), Paystack an authorization code (AUTH_…) "
    "and needs customer.email; customer.id names a Stripe customer.",
    "properties": {
        "amount": {"type": "integer", "minimum": AMOUNT_MIN, "maximum": AMOUNT_MAX},
        "currency": {"type": "string", "enum": _currencies(ALL_CURRENCIES)},
        "provider": {"enum": [*PROVIDERS, None]},
        "payment_method": {"type": "string", "maxLength": PAYMENT_METHOD_CHARS_MAX},
        "customer": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": {
                "email": {
                    "type": "string",
                    "maxLength": EMAIL_CHARS_MAX,
                    "pattern": f"^{EMAIL_PATTERN}$",
                },
                "name": {"type": "string", "maxLength": NAME_CHARS_MAX},
                "id": {
                    "type": "string",
                    "pattern": "^cus_[A-Za-z0-9]+$",
                    "maxLength": CUSTOMER_ID_CHARS_MAX,
                },
            },
        },
        "description": {"type": ["string", "null"], "maxLength": DESCRIPTION_CHARS_MAX},
        "metadata": {
            "type": ["object", "null"],
            "maxProperties": METADATA_KEYS_MAX,
            "propertyNames": {"minLength": 1, "maxLength": METADATA_KEY_CHARS_MAX},
            "additionalProperties": {"type": "string", "maxLength": METADATA_VALUE_CHARS_MAX},
        },
    },
    "anyOf": [
        _provider_rules("stripe", None),
        _provider_rules("stripe", STRIPE_DEFAULT_CURRENCIES),
        _provider_rules("paystack", None),
        _provider_rules("paystack", PAYSTACK_CURRENCIES),
    ],
}

PAYMENT: Schema = {
    "type": "object",
    "required": ["id", "object", "status", "amount", "currency", "provider", "created"],
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "payment"},
        "status": {"enum": list(PAYMENT_STATUSES)},
        "amount": {"type": "integer"},
        "currency": {"type": "string"},
        "provider": {"type": "string"},
        "created": {"type": "integer"},
        "customer": {"type": "object", "additionalProperties": {"type": "string"}},
        "description": {"type": ["string", "null"]},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "amount_refunded": {"type": "integer"},
        "provider_reference": {"type": ["string", "null"]},
        "failure": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        },
        "ledger": {
            "type": "object",
            "properties": {"transaction_id": {"type": "string"}, "seq": {"type": "integer"}},
        },
        "next_action": {
            "type": "object",
            "description": "requires_action only: what the customer must do, and until when.",
            "properties": {
                "type": {"enum": ["redirect_to_url", "use_stripe_sdk"]},
                "redirect_url": {"type": "string"},
                "client_secret": {"type": "string"},
                "expires_at": {"type": ["integer", "null"]},
            },
        },
    },
}

REFUND_CREATE: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "amount": {
            "type": "integer",
            "minimum": AMOUNT_MIN,
            "maximum": AMOUNT_MAX,
            "description": "Minor units; default: what remains of the payment.",
        }
    },
}

REFUND: Schema = {
    "type": "object",
    "required": ["id", "object", "status", "amount", "currency", "payment", "created"],
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "refund"},
        "status": {"enum": ["pending", "succeeded", "failed"]},
        "amount": {"type": "integer"},
        "currency": {"type": "string"},
        "payment": {"type": "string"},
        "created": {"type": "integer"},
        "failure": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}


WEBHOOK_ENDPOINT_CREATE: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url", "enabled_events"],
    "properties": {
        "url": {
            "type": "string",
            "maxLength": URL_LENGTH_MAX,
            "description": "https:// (http:// only with WEBHOOK_ALLOW_PRIVATE_URLS); a host "
            "resolving to a private, loopback, link-local, multicast or reserved address is "
            "refused.",
        },
        "enabled_events": {
            "type": "array",
            "minItems": 1,
            "maxItems": ENABLED_EVENTS_MAX,
            "uniqueItems": True,
            "items": {"enum": [ALL_EVENTS, *EVENT_TYPES]},
        },
    },
}

WEBHOOK_ENDPOINT: Schema = {
    "type": "object",
    "required": ["id", "object", "url", "enabled_events", "status", "created"],
    "properties": {
        "id": {"type": "string", "pattern": "^we_"},
        "object": {"const": "webhook_endpoint"},
        "url": {"type": "string"},
        "enabled_events": {"type": "array", "items": {"type": "string"}},
        "status": {"enum": list(ENDPOINT_STATUSES)},
        "created": {"type": "integer"},
        "secret": {
            "type": "string",
            "pattern": "^whsec_",
            "description": "Only in the create answer (and its replay).",
        },
    },
}

WEBHOOK_ATTEMPT: Schema = {
    "type": "object",
    "properties": {
        "object": {"const": "webhook_attempt"},
        "id": {"type": "string"},
        "event_id": {"type": "string"},
        "endpoint_id": {"type": "string"},
        "attempted_at": {"type": "integer"},
        "status_code": {"type": ["integer", "null"]},
        "latency_ms": {"type": "integer"},
        "response_head": {"type": "string", "maxLength": RESPONSE_HEAD_BYTES_MAX},
        "error": {"type": ["string", "null"]},
    },
}


def _list_of(item: str, url: str | None) -> Schema:
    return {
        "type": "object",
        "required": ["object", "url", "has_more", "data"],
        "properties": {
            "object": {"const": "list"},
            # None: the list's URL names its parent object.
            "url": {"type": "string"} if url is None else {"const": url},
            "has_more": {"type": "boolean"},
            "data": {"type": "array", "items": _ref("schemas", item)},
        },
    }


PROBLEM: Schema = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "field": {"type": "string"},
    },
}

HEADERS: Schema = {
    "Request-Id": {
        "description": "The client's X-Request-Id when it sent a sane one, else a new id; the "
        "worker's log lines about a payment this request created carry it too.",
        "schema": {"type": "string"},
    },
    "Location": {"description": "Where the accepted object is read.", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "On a replay only: this is the key's first answer, byte for byte.",
        "schema": {"const": "true"},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    },
}

# ---- Parameters.

IDEMPOTENCY_KEY: Schema = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "1-255 visible ASCII characters; the RFC 8941 quoted form is accepted. "
    "X-Idempotency-Key is an alias. Keys are scoped per merchant and kept at least 24 h.",
    "schema": {"type": "string", "pattern": "^[!-~]+$", "maxLength": KEY_CHARS_MAX},
}


def _path_id(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _list_parameters(
    id_prefix: str, filter_name: str | None = None, values: tuple[str, ...] = ()
) -> list[Schema]:
    cursor = {
        "type": "string",
        "pattern": f"^{keys.id_pattern(id_prefix)}$",
        "description": f"An id ({id_prefix}…) from an earlier page; starting_after or "
        "ending_before, not both.",
    }
    parameters: list[Schema] = [
        {
            "name": "limit",
            "in": "query",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": LIMIT_MAX,
                "default": LIMIT_DEFAULT,
            },
        },
        {"name": "starting_after", "in": "query", "schema": cursor},
        {"name": "ending_before", "in": "query", "schema": cursor},
    ]
    if filter_name is not None:
        parameters.append({"name": filter_name, "in": "query", "schema": {"enum": list(values)}})
    return parameters


# ---- Operations: (method, path) -> the operation, as OpenAPI writes it.


def _accepted(schema: str, description: str, links: Schema) -> Schema:
    return {
        "description": description,
        "headers": {
            "Location": _ref("headers", "Location"),
            "Idempotent-Replayed": _ref("headers", "Idempotent-Replayed"),
        },
        "content": _json(schema),
        "links": links,
    }


def _link(operation_id: str, parameter: str) -> Schema:
    return {"operationId": operation_id, "parameters": {parameter: "$response.body#/id"}}


ACCEPT_PROBLEMS: Schema = {
    "413": _problem("payload_too_large"),
    "415": _problem("unsupported_media_type"),
    "422": _problem("idempotency_key_reused: the key was first used with another payload"),
    "429": _problem(
        "rate_limited: over the merchant's accept rate; nothing stored", retry_after=True
    ),
}


def _provider_webhook(provider: str, signature: str) -> Schema:
    return {
        "operationId": f"{provider}Webhook",
        "security": [],
        "description": f"{provider.title()}'s own events, verified by their {signature} "
        "header on the raw body; stored and deduplicated by event id before the 200.",
        "parameters": [
            {"name": signature, "in": "header", "required": True, "schema": {"type": "string"}}
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        "responses": {
            "200": {"description": "Taken in (or a duplicate, or about nothing of ours)."},
            "400": _problem("invalid_signature: missing, wrong or stale; nothing processed"),
            "413": _problem("payload_too_large: over 256 KiB"),
            "503": _problem(
                "unavailable: nothing stored; the provider delivers it again", retry_after=True
            ),
        },
    }


OPERATIONS: dict[tuple[str, str], Schema] = {
    ("post", "/v1/payments"): {
        "operationId": "createPayment",
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": {"required": True, "content": _json("PaymentCreate")},
        "responses": {
            "202": _accepted(
                "Payment",
                "Accepted; a replay carries Idempotent-Replayed: true.",
                {
                    "GetPayment": _link("getPayment", "payment_id"),
                    "CreateRefund": _link("createRefund", "payment_id"),
                },
            ),
            "400": _problem("invalid_request or idempotency_key_missing/invalid"),
            **ACCEPT_PROBLEMS,
        },
    },
    ("get", "/v1/payments"): {
        "operationId": "listPayments",
        "parameters": _list_parameters("pay_", "status", PAYMENT_STATUSES),
        "responses": {
            "200": {
                "description": "This merchant's payments, newest first.",
                "content": _json("PaymentList"),
            },
            "400": _problem("invalid_request naming the parameter"),
        },
    },
    ("get", "/v1/payments/{payment_id}"): {
        "operationId": "getPayment",
        "parameters": [_path_id("payment_id")],
        "responses": {
            "200": {"description": "The payment.", "content": _json("Payment")},
        },
    },
    ("post", "/v1/payments/{payment_id}/refunds"): {
        "operationId": "createRefund",
        "parameters": [_path_id("payment_id"), IDEMPOTENCY_KEY],
        "requestBody": {"required": False, "content": _json("RefundCreate")},
        "responses": {
            "202": _accepted(
                "Refund",
                "Accepted and reserved against the payment; a replay carries "
                "Idempotent-Replayed: true. Keys are scoped to the payment.",
                {"GetRefund": _link("getRefund", "refund_id")},
            ),
            "400": _problem(
                "invalid_request, idempotency_key_missing/invalid, refund_exceeds_payment "
                "or payment_not_refundable"
            ),
            "404": _problem("not_found: no such payment for this merchant"),
            **ACCEPT_PROBLEMS,
        },
    },
    ("get", "/v1/refunds/{refund_id}"): {
        "operationId": "getRefund",
        "parameters": [_path_id("refund_id")],
        "responses": {
            "200": {"description": "The refund.", "content": _json("Refund")},
        },
    },
    ("get", "/v1/events"): {
        "operationId": "listEvents",
        "parameters": _list_parameters("evt_", "type", EVENT_TYPES),
        "responses": {
            "200": {"description": "This merchant's events, newest first.", "content": ANY_JSON},
            "400": _problem("invalid_request naming the parameter"),
        },
    },
    ("get", "/v1/events/{event_id}"): {
        "operationId": "getEvent",
        "parameters": [_path_id("event_id")],
        "responses": {
            "200": {"description": "The event, as its webhooks carry it.", "content": ANY_JSON},
        },
    },
    ("post", "/v1/webhook_endpoints"): {
        "operationId": "createWebhookEndpoint",
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": {"required": True, "content": _json("WebhookEndpointCreate")},
        "responses": {
            "201": {
                "description": "Created, with its secret (shown here only); a replay carries "
                "Idempotent-Replayed: true.",
                "headers": {
                    "Location": _ref("headers", "Location"),
                    "Idempotent-Replayed": _ref("headers", "Idempotent-Replayed"),
                },
                "content": _json("WebhookEndpoint"),
                "links": {"GetWebhookEndpoint": _link("getWebhookEndpoint", "endpoint_id")},
            },
            "400": _problem(
                "invalid_request naming the field, idempotency_key_missing/invalid, or "
                f"webhook_endpoints_limit (at most {ENDPOINTS_PER_MERCHANT_MAX})"
            ),
            "413": _problem("payload_too_large"),
            "415": _problem("unsupported_media_type"),
            "422": _problem("idempotency_key_reused: the key was first used with another payload"),
        },
    },
    ("get", "/v1/webhook_endpoints"): {
        "operationId": "listWebhookEndpoints",
        "parameters": _list_parameters("we_"),
        "responses": {
            "200": {
                "description": "This merchant's endpoints, newest first, without secrets.",
                "content": _json("WebhookEndpointList"),
            },
            "400": _problem("invalid_request naming the parameter"),
        },
    },
    ("get", "/v1/webhook_endpoints/{endpoint_id}"): {
        "operationId": "getWebhookEndpoint",
        "parameters": [_path_id("endpoint_id")],
        "responses": {
            "200": {
                "description": "The endpoint, without its secret.",
                "content": _json("WebhookEndpoint"),
            },
        },
    },
    ("delete", "/v1/webhook_endpoints/{endpoint_id}"): {
        "operationId": "deleteWebhookEndpoint",
        "parameters": [_path_id("endpoint_id")],
        "responses": {
            "200": {"description": "Deleted: {id, object, deleted: true}.", "content": ANY_JSON},
        },
    },
    ("get", "/v1/events/{event_id}/attempts"): {
        "operationId": "listEventAttempts",
        "parameters": [_path_id("event_id")],
        "responses": {
            "200": {
                "description": "Every delivery attempt of the event, newest first.",
                "content": _json("WebhookAttemptList"),
            },
        },
    },
    ("post", "/v1/events/{event_id}/resend"): {
        "operationId": "resendEvent",
        "parameters": [_path_id("event_id")],
        "responses": {
            "202": {"description": "Every delivery of the event is due now.", "content": ANY_JSON},
            "409": _problem("delivery_in_flight: an attempt is under way", retry_after=True),
        },
    },
    ("post", "/v1/webhooks/stripe"): _provider_webhook("stripe", "Stripe-Signature"),
    ("post", "/v1/webhooks/paystack"): _provider_webhook("paystack", "x-paystack-signature"),
    ("get", "/healthz"): {
        "operationId": "healthz",
        "security": [],
        "responses": {"200": {"description": "Alive."}},
    },
    ("get", "/readyz"): {
        "operationId": "readyz",
        "security": [],
        "responses": {
            "200": {"description": "Redis reachable; PostgreSQL reported."},
            "503": {"description": "Redis unreachable."},
        },
    },
    ("get", "/metrics"): {
        "operationId": "metrics",
        "security": [],
        "responses": {"200": {"description": "Prometheus text exposition."}},
    },
    ("get", "/openapi.json"): {
        "operationId": "openapi",
        "security": [],
        "responses": {"200": {"description": "This document."}},
    },
}


def _with_request_id(operation: Schema) -> Schema:
    """Every answer carries Request-Id, whatever else it documents."""
    request_id = {"Request-Id": _ref("headers", "Request-Id")}
    responses = {
        status: answer | {"headers": answer.get("headers", {}) | request_id}
        for status, answer in operation["responses"].items()
    }
    return operation | {"responses": responses}


def _with_merchant_problems(path: str, operation: Schema) -> Schema:
    """What any merchant operation may answer besides its own: no or a wrong key, a store
    down, and, for an object named in the path, no such object for this merchant."""
    if operation.get("security") == []:
        return operation
    problems = {"401": UNAUTHORIZED, "503": UNAVAILABLE}
    if "{" in path:
        problems["404"] = NOT_FOUND
    responses = problems | operation["responses"]
    return operation | {"responses": dict(sorted(responses.items()))}


def _paths(operations: dict[tuple[str, str], Schema]) -> Schema:
    paths: Schema = {}
    for (method, path), operation in operations.items():
        documented = _with_merchant_problems(path, operation)
        paths.setdefault(path, {})[method] = _with_request_id(documented)
    return paths


SPEC: Schema = {
    "openapi": "3.1.0",
    "info": {"title": "paystream", "version": "1"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "headers": HEADERS,
        "schemas": {
            "Problem": PROBLEM,
            "PaymentCreate": PAYMENT_CREATE,
            "Payment": PAYMENT,
            "PaymentList": _list_of("Payment", "/v1/payments"),
            "RefundCreate": REFUND_CREATE,
            "Refund": REFUND,
            "WebhookEndpointCreate": WEBHOOK_ENDPOINT_CREATE,
            "WebhookEndpoint": WEBHOOK_ENDPOINT,
            "WebhookEndpointList": _list_of("WebhookEndpoint", "/v1/webhook_endpoints"),
            "WebhookAttempt": WEBHOOK_ATTEMPT,
            "WebhookAttemptList": _list_of("WebhookAttempt", None),
        },
    },
    "security": [{"bearer": []}],
    "paths": _paths(OPERATIONS),
}
