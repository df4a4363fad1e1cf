"""The OpenAPI 3.1 description of the public HTTP surface."""

from typing import Any

from app.http.openapi_webhooks import OUTBOUND_WEBHOOK_PATHS
from app.money import AMOUNT_MAX, AMOUNT_MIN
from app.payments.request import (
    DESCRIPTION_CHARS_MAX,
    METADATA_KEY_CHARS_MAX,
    METADATA_KEYS_MAX,
    METADATA_VALUE_CHARS_MAX,
)

_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_PROBLEM_CONTENT = {"application/problem+json": {"schema": _PROBLEM}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": _PROBLEM_CONTENT}


_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "1-255 visible ASCII characters; the RFC 8941 quoted form is accepted. "
    "X-Idempotency-Key is an alias. Keys are scoped per merchant and kept at least 24 h.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 257},
}

_PAYMENT_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["amount", "currency", "payment_method"],
    "properties": {
        "amount": {"type": "integer", "minimum": AMOUNT_MIN, "maximum": AMOUNT_MAX},
        "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
        "provider": {"type": "string", "enum": ["stripe", "paystack"]},
        "payment_method": {"type": "string", "maxLength": 255},
        "customer": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "email": {"type": "string"},
                "name": {"type": "string"},
                "id": {"type": "string", "pattern": "^cus_[A-Za-z0-9]+$", "maxLength": 255},
            },
        },
        "description": {"type": ["string", "null"], "maxLength": DESCRIPTION_CHARS_MAX},
        "metadata": {
            "type": "object",
            "maxProperties": METADATA_KEYS_MAX,
            "propertyNames": {"minLength": 1, "maxLength": METADATA_KEY_CHARS_MAX},
            "additionalProperties": {"type": "string", "maxLength": METADATA_VALUE_CHARS_MAX},
        },
    },
}

_PAYMENT = {
    "type": "object",
    "required": ["id", "object", "status", "amount", "currency", "provider", "created"],
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "payment"},
        "status": {
            "enum": [
                "pending",
                "processing",
                "requires_action",
                "succeeded",
                "failed",
                "refunded",
                "partially_refunded",
            ]
        },
        "amount": {"type": "integer"},
        "currency": {"type": "string"},
        "provider": {"type": "string"},
        "created": {"type": "integer"},
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

_REFUND_CREATE = {
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

_REFUND = {
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


def _path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


_REFUND_PATHS: dict[str, Any] = {
    "/v1/payments/{payment_id}/refunds": {
        "post": {
            "operationId": "createRefund",
            "parameters": [_path_id("payment_id"), _IDEMPOTENCY_KEY],
            "requestBody": {"required": False, "content": _json("RefundCreate")},
            "responses": {
                "202": {
                    "description": "Accepted and reserved against the payment; a replay carries "
                    "Idempotent-Replayed: true. Keys are scoped to the payment.",
                    "content": _json("Refund"),
                },
                "400": _problem(
                    "invalid_request, idempotency_key_missing/invalid, refund_exceeds_payment "
                    "or payment_not_refundable"
                ),
                "401": _problem("unauthorized"),
                "404": _problem("not_found: no such payment for this merchant"),
                "413": _problem("payload_too_large"),
                "415": _problem("unsupported_media_type"),
                "422": _problem("idempotency_key_reused"),
                "503": _problem("unavailable: nothing stored, retry with the same key"),
            },
        }
    },
    "/v1/refunds/{refund_id}": {
        "get": {
            "operationId": "getRefund",
            "parameters": [_path_id("refund_id")],
            "responses": {
                "200": {"description": "The refund.", "content": _json("Refund")},
                "401": _problem("unauthorized"),
                "404": _problem("not_found"),
            },
        }
    },
}


def _provider_webhook(provider: str, signature: str) -> dict[str, Any]:
    return {
        "post": {
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
                "503": _problem("unavailable: nothing stored; the provider delivers it again"),
            },
        }
    }


_WEBHOOK_PATHS: dict[str, Any] = {
    "/v1/webhooks/stripe": _provider_webhook("stripe", "Stripe-Signature"),
    "/v1/webhooks/paystack": _provider_webhook("paystack", "x-paystack-signature"),
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "paystream", "version": "1"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Problem": {
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
            },
            "PaymentCreate": _PAYMENT_CREATE,
            "Payment": _PAYMENT,
            "RefundCreate": _REFUND_CREATE,
            "Refund": _REFUND,
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/v1/payments": {
            "post": {
                "operationId": "createPayment",
                "parameters": [_IDEMPOTENCY_KEY],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/PaymentCreate"}
                        }
                    },
                },
                "responses": {
                    "202": {
                        "description": "Accepted; a replay carries Idempotent-Replayed: true.",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Payment"}}
                        },
                    },
                    "400": _problem("invalid_request or idempotency_key_missing/invalid"),
                    "401": _problem("unauthorized"),
                    "413": _problem("payload_too_large"),
                    "415": _problem("unsupported_media_type"),
                    "422": _problem("idempotency_key_reused"),
                    "503": _problem("unavailable: nothing stored, retry with the same key"),
                },
            }
        },
        "/v1/payments/{payment_id}": {
            "get": {
                "operationId": "getPayment",
                "parameters": [
                    {
                        "name": "payment_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The payment.",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Payment"}}
                        },
                    },
                    "401": _problem("unauthorized"),
                    "404": _problem("not_found"),
                },
            }
        },
        **_REFUND_PATHS,
        **_WEBHOOK_PATHS,
        **OUTBOUND_WEBHOOK_PATHS,
        "/healthz": {"get": {"security": [], "responses": {"200": {"description": "Alive."}}}},
        "/readyz": {
            "get": {
                "security": [],
                "responses": {
                    "200": {"description": "Redis reachable; PostgreSQL reported."},
                    "503": {"description": "Redis unreachable."},
                },
            }
        },
        "/metrics": {"get": {"security": [], "responses": {"200": {"description": "Prometheus."}}}},
    },
}
